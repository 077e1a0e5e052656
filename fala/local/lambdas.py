"""Running the app's Lambda functions in-process, found from the synthesized template.

Zip functions run from their bundled asset folder with `Handler`; image functions from a task root
rebuilt from their Dockerfile's `COPY … ${LAMBDA_TASK_ROOT}` lines with the image's CMD. Third-party
packages come from this virtualenv, the function's own code from the asset, so what runs is what
`cdk deploy` would ship.
"""

from __future__ import annotations

import contextlib
import importlib.util
import io
import json
import logging
import os
import re
import shlex
import shutil
import sys
import threading
import time
import traceback
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any
from urllib.parse import unquote

from botocore.awsrequest import AWSResponse
from botocore.response import StreamingBody

from fala.local.assembly import Resolver, Stack


class _OneAtATime:
    """Functions run one at a time: os.environ is process-wide, each needs its own environment.
    Remembers which one runs, and in which thread, so that a run that never ends can say what it
    is waiting behind (`running_now`)."""

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._running: tuple[int, str, float] | None = None  # thread id, function, since

    @contextlib.contextmanager
    def run(self, function: str) -> Iterator[None]:
        with self._lock:
            outer, self._running = (
                self._running,
                (threading.get_ident(), function, time.monotonic()),
            )
            try:
                yield
            finally:
                self._running = outer

    def running_now(self) -> str | None:
        """ "<function> for 12 s, at <file>:<line> <code> < …" (its thread's innermost frames now),
        or None."""
        running = self._running
        if running is None:
            return None
        thread, function, since = running
        frame = sys._current_frames().get(thread)
        stack = traceback.extract_stack(frame)[-3:] if frame is not None else []
        where = " < ".join(f"{Path(f.filename).name}:{f.lineno} {f.name}" for f in reversed(stack))
        return f"{function} for {time.monotonic() - since:.0f} s, at {where or '?'}"


_ONE_AT_A_TIME = _OneAtATime()


def function_running_now() -> str | None:
    """Which function runs now, for how long and where (None when none does)."""
    return _ONE_AT_A_TIME.running_now()


class _LogSink(io.TextIOBase):
    """Stands in for stdout while handlers run: what they print is the function's log (CloudWatch
    on AWS), kept with the invocation instead of mixing with the CLI's output. Loggers keep a
    reference to the stream they were created with, so this one object stays and the capture
    behind it changes per invocation."""

    def __init__(self) -> None:
        self.capture: list[str] | None = None

    def write(self, text: str) -> int:
        if self.capture is not None:
            self.capture.append(text)
        return len(text)


_SINK = _LogSink()


@dataclass
class LambdaContext:
    """The attributes of Lambda's context object that handlers and Powertools read."""

    function_name: str
    memory_limit_in_mb: int
    invoked_function_arn: str
    timeout_seconds: int
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    function_version: str = "$LATEST"
    log_group_name: str = ""
    log_stream_name: str = "local"
    _deadline: float = 0.0

    def __post_init__(self) -> None:
        self.log_group_name = f"/aws/lambda/{self.function_name}"
        self._deadline = time.monotonic() + self.timeout_seconds

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


@dataclass
class LocalFunction:
    logical_id: str
    name: str
    arn: str
    task_root: Path
    handler: str  # "module.path.function"
    environment: dict[str, str]
    memory_mb: int
    timeout_seconds: int
    image: ImageTaskRoot | None = None
    _entry: Callable[[Any, Any], Any] | None = None

    def invoke(self, event: Any, *, logs: list[str] | None = None) -> Any:
        """Call the handler as Lambda would; exceptions propagate to the caller."""
        running = _ONE_AT_A_TIME.run(self.name)
        with running, scoped_environment(self.environment), _capture_stdout(logs):
            entry = self._load()
            context = LambdaContext(self.name, self.memory_mb, self.arn, self.timeout_seconds)
            return entry(event, context)

    def load(self) -> None:
        """Import the handler module now (the cold start), in the function's environment."""
        running = _ONE_AT_A_TIME.run(self.name)
        with running, scoped_environment(self.environment), _capture_stdout(None):
            self._load()

    def _load(self) -> Callable[[Any, Any], Any]:
        if self._entry is None:
            if self.image is not None:
                self.image.build(self.task_root)
            module_path, _, function = self.handler.rpartition(".")
            module = _import_from(self.task_root, module_path, alias=f"_fala_fn_{self.logical_id}")
            _log_into_sink(module)
            self._entry = getattr(module, function)
        return self._entry


class LocalLambdaRuntime:
    """All functions of a stack, and a botocore hook that answers `lambda:Invoke` with them."""

    def __init__(
        self, stack: Stack, resolver: Resolver, *, work_dir: Path, overrides: dict[str, str]
    ):
        self.functions: dict[str, LocalFunction] = {}
        for logical_id, resource in stack.of_type("AWS::Lambda::Function").items():
            if "ZipFile" in resource["Properties"].get("Code", {}):
                continue  # the CDK's inline custom-resource handlers: the emulator does their work
            fn = _local_function(stack, resolver, logical_id, resource, work_dir, overrides)
            self.functions[fn.name] = fn
            reserve_c_environment(fn.environment)
        self.invocations: list[dict[str, Any]] = []

    def by_logical_prefix(self, prefix: str) -> LocalFunction:
        matches = [f for f in self.functions.values() if f.logical_id.startswith(prefix)]
        if len(matches) != 1:
            raise KeyError(f"{len(matches)} functions have a logical id starting with {prefix!r}")
        return matches[0]

    def find(self, function_name_or_arn: str) -> LocalFunction:
        name = function_name_or_arn.split(":function:")[-1].split(":")[0]
        if name not in self.functions:
            raise KeyError(f"No function {name!r} in the template")
        return self.functions[name]

    def register(self, session: Any) -> None:
        """Hook every client made from `session` (botocore copies emitters at client creation)."""
        session.events.register("before-call.lambda.Invoke", self._on_invoke)

    def invoke(self, function: LocalFunction, event: Any) -> tuple[int, bytes, str | None]:
        """(status, payload, FunctionError) exactly as Lambda reports a synchronous invoke."""
        started = time.perf_counter()
        error: str | None = None
        logs: list[str] = []
        try:
            result = function.invoke(event, logs=logs)
            payload = json.dumps(result).encode()
        except Exception as exc:
            error = "Unhandled"
            payload = json.dumps(
                {
                    "errorMessage": str(exc),
                    "errorType": type(exc).__name__,
                    "requestId": "",
                    "stackTrace": traceback.format_exception(exc)[-5:],
                }
            ).encode()
        self.invocations.append(
            {
                "function": function.logical_id,
                "seconds": round(time.perf_counter() - started, 3),
                "error": error,
                "logs": "".join(logs)[-20_000:],
            }
        )
        return 200, payload, error

    def _on_invoke(self, model: Any, params: dict[str, Any], **_: Any) -> tuple[AWSResponse, dict]:
        match = re.search(r"/functions/([^/]+)/invocations", params["url_path"])
        if match is None:
            raise ValueError(f"Unexpected Invoke path {params['url_path']}")
        function = self.find(unquote(match.group(1)))
        body = params.get("body") or b"{}"
        event = json.loads(body.decode() if isinstance(body, bytes) else body)
        status, payload, error = self.invoke(function, event)
        parsed: dict[str, Any] = {
            "StatusCode": status,
            "ExecutedVersion": "$LATEST",
            "Payload": StreamingBody(io.BytesIO(payload), len(payload)),
        }
        headers = {"x-amz-executed-version": "$LATEST"}
        if error:
            parsed["FunctionError"] = error
            headers["x-amz-function-error"] = error
        return AWSResponse("https://lambda.local", status, headers, None), parsed


def _local_function(
    stack: Stack,
    resolver: Resolver,
    logical_id: str,
    resource: dict[str, Any],
    work_dir: Path,
    overrides: dict[str, str],
) -> LocalFunction:
    props = resource["Properties"]
    name = resolver.physical_name(logical_id)
    environment = {
        k: str(v)
        for k, v in resolver.resolve(props.get("Environment", {}).get("Variables", {})).items()
    }
    asset = stack.asset_dir(logical_id)
    image = None
    if props.get("PackageType") == "Image":
        dockerfile = asset / resource["Metadata"].get("aws:asset:dockerfile-path", "Dockerfile")
        image = ImageTaskRoot.from_dockerfile(asset, dockerfile)
        task_root = work_dir / logical_id
        handler = props.get("ImageConfig", {}).get("Command", image.cmd)[0]
        environment = {**image.env, **environment}
    else:
        task_root, handler = asset, props["Handler"]
    environment |= {
        "AWS_LAMBDA_FUNCTION_NAME": name,
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(props.get("MemorySize", 128)),
        "AWS_REGION": resolver.region,
        "AWS_DEFAULT_REGION": resolver.region,
        "LAMBDA_TASK_ROOT": str(task_root),
        "POWERTOOLS_TRACE_DISABLED": "true",  # no X-Ray daemon here
        "POWERTOOLS_DEV": "false",
    }
    environment |= overrides
    return LocalFunction(
        logical_id=logical_id,
        name=name,
        arn=resolver.arn(logical_id),
        task_root=task_root,
        handler=handler,
        environment=environment,
        memory_mb=int(props.get("MemorySize", 128)),
        timeout_seconds=int(props.get("Timeout", 3)),
        image=image,
    )


@dataclass
class ImageTaskRoot:
    """What an image puts in /var/task, read from its Dockerfile: COPY into ${LAMBDA_TASK_ROOT},
    ENV and CMD. Other instructions (pip installs, model download) are this virtualenv's job."""

    context: Path
    copies: list[tuple[list[str], str]]
    env: dict[str, str]
    cmd: list[str]

    @classmethod
    def from_dockerfile(cls, context: Path, dockerfile: Path) -> ImageTaskRoot:
        copies: list[tuple[list[str], str]] = []
        env: dict[str, str] = {}
        cmd: list[str] = []
        for instruction in _dockerfile_instructions(dockerfile.read_text()):
            op, _, rest = instruction.partition(" ")
            op = op.upper()
            if op == "ENV":
                for item in shlex.split(rest):
                    key, _, value = item.partition("=")
                    env[key] = value
            elif op == "CMD":
                cmd = json.loads(rest)
            elif op == "COPY" and "${LAMBDA_TASK_ROOT}" in rest:
                *sources, dest = [a for a in shlex.split(rest) if not a.startswith("--")]
                copies.append((sources, dest))
        return cls(context, copies, env, cmd)

    def build(self, target: Path) -> None:
        if target.exists():
            shutil.rmtree(target)
        target.mkdir(parents=True)
        for sources, dest in self.copies:
            dest_dir = target / dest.replace("${LAMBDA_TASK_ROOT}", "").strip("/")
            into_dir = dest.endswith("/") or len(sources) > 1
            for source in sources:  # Docker semantics: a folder's contents, a file by name
                src = self.context / source
                if not src.exists():
                    raise FileNotFoundError(
                        f"Dockerfile COPY source {source} is not in {self.context}"
                    )
                if src.is_dir():
                    skip = shutil.ignore_patterns("__pycache__")
                    shutil.copytree(src, dest_dir, dirs_exist_ok=True, ignore=skip)
                else:
                    file_dest = dest_dir / src.name if into_dir else dest_dir
                    file_dest.parent.mkdir(parents=True, exist_ok=True)
                    shutil.copy2(src, file_dest)


def _dockerfile_instructions(text: str) -> Iterator[str]:
    logical = ""
    for line in text.splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        if stripped.endswith("\\"):
            logical += stripped[:-1] + " "
            continue
        yield (logical + stripped).strip()
        logical = ""


def _import_from(task_root: Path, module_path: str, *, alias: str) -> ModuleType:
    """Import `module_path` from `task_root` under a unique name, so every function's `handler`
    module stays separate; its imports of third-party packages resolve from this virtualenv."""
    relative = Path(*module_path.split("."))
    file = task_root / relative.with_suffix(".py")
    if not file.exists():
        file = task_root / relative / "__init__.py"
    if not file.exists():
        raise ModuleNotFoundError(f"Handler module {module_path!r} not found in {task_root}")
    if "." in module_path:
        return _import_packaged(task_root, module_path)
    spec = importlib.util.spec_from_file_location(alias, file)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[alias] = module
    spec.loader.exec_module(module)
    return module


def _import_packaged(task_root: Path, module_path: str) -> ModuleType:
    """A packaged handler (whisper_validation.api), which imports its siblings by package name,
    with a package of its own, as its own Lambda process would have it: the package's modules
    (an engine's caches, the environment it read at import) are not shared with another function
    of the same image, or with whatever imported a package of that name before (a test)."""
    top = module_path.split(".")[0]

    def in_package(name: str) -> bool:
        return name == top or name.startswith(top + ".")

    before = {name: sys.modules.pop(name) for name in list(sys.modules) if in_package(name)}
    sys.path.insert(0, str(task_root))
    try:
        return importlib.import_module(module_path)
    finally:
        sys.path.remove(str(task_root))
        for name in [name for name in sys.modules if in_package(name)]:
            del sys.modules[name]
        sys.modules.update(before)


def _log_into_sink(module: ModuleType) -> None:
    """Point the handler module's Powertools loggers at the sink. A logger keeps the stream it was
    first made with, and one per service name is shared process-wide: where the same service's
    logger was made before the emulation loaded the function (a test importing the handler, a
    notebook), the function's log lines would go to that stream, not to its invocation's log."""
    for value in vars(module).values():
        handler = getattr(value, "registered_handler", None)
        if isinstance(handler, logging.StreamHandler) and handler.stream is not _SINK:
            handler.setStream(_SINK)


@contextlib.contextmanager
def _capture_stdout(into: list[str] | None) -> Iterator[None]:
    saved_stdout, saved_capture = sys.stdout, _SINK.capture
    sys.stdout, _SINK.capture = _SINK, into
    try:
        yield
    finally:
        sys.stdout, _SINK.capture = saved_stdout, saved_capture


@contextlib.contextmanager
def scoped_environment(values: dict[str, str]) -> Iterator[None]:
    """`values` in os.environ for the duration, the previous values (or none) after.

    Python's view (os.environ, os.getenv: what handlers and boto3 read) is exact. The C
    environment (what C code reads: awscrt's SSL_CERT_FILE) gets the values too but never loses
    a variable: adding one makes glibc reallocate its array, and a thread whose C code reads it
    meanwhile (getaddrinfo, localtime) can crash the process (a segmentation fault in make test,
    session 34). Replacing a value is done in place; see reserve_c_environment."""
    saved = {key: os.environ.get(key) for key in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, old in saved.items():
            if old is None:  # gone for Python; C code may still see the value
                vars(os.environ)["_data"].pop(os.environ.encodekey(key), None)
            else:
                os.environ[key] = old


def reserve_c_environment(values: dict[str, str]) -> None:
    """Add the C environment's variables for `values` now, while no function runs in another
    thread, so that scoped_environment only replaces them (see there). Python's view is
    unchanged."""
    for key, value in values.items():
        if key not in os.environ:
            os.putenv(key, value)
