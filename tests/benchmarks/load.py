"""Load on the local validation server or the local voice service: concurrent clients on loopback
for a bounded time.

    .venv/bin/python -m tests.benchmarks.load [--clients 8] [--requests 1000] [--seconds 300]
    .venv/bin/python -m tests.benchmarks.load --service voice [--clients 8] [--requests 1000]

Starts the server `fala serve` runs (fala.local.function_url.make_server around the synthesized
validation function, model loaded before the first request) in a subprocess on 127.0.0.1, then
drives `--clients` concurrent clients until `--requests` requests are answered or `--seconds`
have passed. The mix: real speech from tests/fixtures/audio (the model runs), silence (valid, the
model is skipped) and invalid requests (malformed JSON, wrong types, non-audio, wrong method or
path, over-long expected speech, over 6 MB). Each answer is checked against the status its
request expects.

Prints requests/s, p50/p95/p99 latency (all requests, and per kind), the error count (5xx,
connection errors, or an unexpected status — target 0) and the server process's RSS before and
after the run; writes everything to .fala/bench/load.json. A script, not a test: nothing asserts.

The hook for other services: `drive(base_url, make_request, ...)` takes any base URL and a
request factory (`RequestFactory`: a random generator in, a `Request` out).

`--service voice` loads the GPU voice service as `fala voice` builds it on CPU
(voice_service.service.build_app: faster-whisper base int8, Piper en_US joe, the bounded in-memory
cache; uvicorn with voice_service.server's options) in a subprocess. The mix (`voice_requests`):
cached synthesis of a few phrases, synthesis of a new phrase every time (Piper runs), OpenAI
speech (WAV and PCM), OpenAI transcription of a real English clip (Whisper runs), and invalid
requests (bad JSON, no or wrong token, text too long or unspeakable, non-audio, unknown route,
wrong method, JSON nested 50,000 deep, a body over MAX_UPLOAD_BYTES). The HTTP routes never call
the LLM, so no LLM server is started. The synthesis cache is capped at 4 MB and filled during the
warm-up, so RSS "after" against "before" shows growth other than a cache filling up.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import http.client
import json
import math
import os
import platform
import random
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from rich.console import Console
from rich.progress import Progress, TextColumn

ROOT = Path(__file__).resolve().parents[2]
AUDIO = ROOT / "tests" / "fixtures" / "audio"
OUTPUT = ROOT / ".fala" / "bench" / "load.json"
OUTPUT_VOICE = ROOT / ".fala" / "bench" / "load-voice.json"


@dataclass(frozen=True)
class Request:
    kind: str  # label for the per-kind latency table
    method: str
    path: str
    body: bytes
    expect: int  # the status the server must answer
    headers: dict[str, str] = field(default_factory=lambda: {"content-type": "application/json"})


RequestFactory = Callable[[random.Random], Request]


@dataclass
class Sample:
    kind: str
    status: int | None  # None: connection error
    seconds: float
    error: str | None = None


# Servers run as deployed: glibc gives every thread that mallocs its own arena (up to 8 per core),
# so a threaded server's RSS climbs with concurrency and never comes back; the voice image sets
# the same (containers/voice_service/Dockerfile). Measured: validation RSS 575 → 728 MB over
# 1,000 requests without it, 416 → 415 MB with it.
SERVER_ENV = {"MALLOC_ARENA_MAX": "2"}


# --- requests for the validation Function URL -------------------------------------------------


def validation_requests(speech_share: float = 0.05, silence_share: float = 0.35) -> RequestFactory:
    """The mix for the validation server: `speech_share` real clips (the model runs),
    `silence_share` silence (valid, no model run), the rest invalid requests of many kinds."""
    speech = [
        (p.read_bytes(), phrase)
        for p, phrase in [
            (AUDIO / "entrada_13_40_pt.wav", "ENTRADA 13 40"),
            (AUDIO / "saida_13_40_pt.wav", "SAIDA 13 40"),
            (AUDIO / "entrada_13_45_pt.wav", "ENTRADA 13 45"),
            (AUDIO / "checkin_9_45_en.wav", "CHECK IN 9 45"),
        ]
    ]
    silence = (AUDIO / "silence.wav").read_bytes()

    def seed(audio: bytes, phrase: str, **extra: Any) -> bytes:
        return json.dumps(
            {"expected_speech": phrase, "audio": base64.b64encode(audio).decode(), **extra}
        ).encode()

    invalid = [
        Request("invalid", "POST", "/", b'{"expected_speech": "X", "audio": ', 400),
        Request("invalid", "POST", "/", json.dumps({"expected_speech": 1}).encode(), 400),
        Request("invalid", "POST", "/", seed(b"not audio at all", "ENTRADA 13 40"), 422),
        Request("invalid", "POST", "/", seed(silence[:44], "ENTRADA 13 40"), 422),
        Request("invalid", "POST", "/", seed(silence, "X" * 500), 422),
        Request("invalid", "POST", "/", seed(silence, "X", language="xx"), 400),
        Request("invalid", "GET", "/", b"", 405),
        Request("invalid", "POST", "/nope", seed(silence, "X"), 404),
        Request("invalid", "POST", "/", b"[" * 50_000, 400),
        Request("invalid", "POST", "/", b"x" * (6 * 1024 * 1024 + 1), 413),
    ]

    def make(rng: random.Random) -> Request:
        draw = rng.random()
        if draw < speech_share:
            audio, phrase = rng.choice(speech)
            return Request("speech", "POST", "/", seed(audio, phrase), 200)
        if draw < speech_share + silence_share:
            return Request("silence", "POST", "/", seed(silence, "ENTRADA 13 40"), 200)
        return rng.choice(invalid[:-1] if rng.random() < 0.98 else invalid[-1:])

    return make


# --- requests for the voice service ---------------------------------------------------------

VOICE_CACHE_BYTES = 4 * 1024 * 1024
VOICE_MAX_UPLOAD_BYTES = 2 * 1024 * 1024
PHRASES = [
    "Good morning.",
    "Your room is ready.",
    "Breakfast is served at seven.",
    "The lift is on your left.",
    "Checkout is at noon.",
    "Thank you for waiting.",
    "Your taxi has arrived.",
    "The pool opens at nine.",
]


def voice_requests(
    token: str,
    speech_share: float = 0.05,
    *,
    cached_share: float = 0.35,
    new_share: float = 0.10,
    openai_share: float = 0.05,
) -> RequestFactory:
    """The mix for the voice service: synthesis of a few phrases (cached after the first time),
    synthesis of a new phrase (Piper runs), OpenAI speech, transcription of a real clip
    (`speech_share`, Whisper runs), the rest invalid requests."""
    auth = {"authorization": f"Bearer {token}"}
    as_json = {"content-type": "application/json", **auth}
    clip = (AUDIO / "checkin_9_45_en.wav").read_bytes()
    boundary = "fala-load-boundary"

    def multipart(audio: bytes, **fields: str) -> bytes:
        out = b""
        for name, value in fields.items():
            out += f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'.encode()
            out += value.encode() + b"\r\n"
        out += f'--{boundary}\r\nContent-Disposition: form-data; name="file"; '.encode()
        out += b'filename="clip.wav"\r\nContent-Type: audio/wav\r\n\r\n' + audio + b"\r\n"
        return out + f"--{boundary}--\r\n".encode()

    as_form = {"content-type": f"multipart/form-data; boundary={boundary}", **auth}

    def speak(text: str, **extra: Any) -> bytes:
        return json.dumps({"text": text, "language": "en", **extra}).encode()

    invalid = [
        Request("invalid", "POST", "/generate-voice", b'{"text": "Hel', 400, as_json),
        Request("invalid", "POST", "/generate-voice", speak("Hi."), 401, {}),
        Request(
            "invalid", "POST", "/generate-voice", speak("Hi."), 403, {"authorization": "Bearer x"}
        ),
        Request("invalid", "POST", "/generate-voice", speak("x" * 2001), 413, as_json),
        Request("invalid", "POST", "/generate-voice", speak("?!..."), 422, as_json),
        Request("invalid", "POST", "/generate-voice", speak("Hi.", speed=9), 400, as_json),
        Request("invalid", "POST", "/generate-voice", b"[" * 50_000, 400, as_json),
        Request(
            "invalid",
            "POST",
            "/v1/audio/transcriptions",
            multipart(b"not audio at all"),
            422,
            as_form,
        ),
        Request("invalid", "POST", "/v1/audio/nope", speak("Hi."), 404, as_json),
        Request("invalid", "GET", "/generate-voice", b"", 405, auth),
        Request(
            "invalid", "POST", "/generate-voice", b"x" * (VOICE_MAX_UPLOAD_BYTES + 1), 413, as_json
        ),
    ]

    def make(rng: random.Random) -> Request:
        draw = rng.random()
        if draw < cached_share:
            return Request(
                "speak-cached", "POST", "/generate-voice", speak(rng.choice(PHRASES)), 200, as_json
            )
        if draw < (draw_new := cached_share + new_share):
            room, hour, minute = (
                rng.randrange(100, 10_000),
                rng.randrange(1, 13),
                rng.randrange(10, 60),
            )
            text = f"Room {room} is ready at {hour} {minute}."
            return Request("speak-new", "POST", "/generate-voice", speak(text), 200, as_json)
        if draw < (draw_openai := draw_new + openai_share):
            body = {"model": "tts-1", "input": rng.choice(PHRASES), "voice": "alloy"}
            body["response_format"] = rng.choice(["wav", "pcm"])
            return Request(
                "openai-speech", "POST", "/v1/audio/speech", json.dumps(body).encode(), 200, as_json
            )
        if draw < draw_openai + speech_share:
            body = multipart(clip, model="whisper-1", language="en")
            return Request("transcribe", "POST", "/v1/audio/transcriptions", body, 200, as_form)
        return rng.choice(invalid[:-1] if rng.random() < 0.98 else invalid[-1:])

    return make


def serve_voice(port: int) -> None:
    """The voice service as `fala voice` builds it (minus the LLM server: nothing here calls
    it), on `port`, token from VOICE_API_TOKEN. Runs in the subprocess."""
    import uvicorn
    from voice_service.local import free_port, local_settings
    from voice_service.server import uvicorn_options
    from voice_service.service import build_app

    settings = local_settings(
        "http://127.0.0.1:9/v1",  # unused by the HTTP routes
        os.environ["VOICE_API_TOKEN"],
        cache_max_bytes=VOICE_CACHE_BYTES,
        max_upload_bytes=VOICE_MAX_UPLOAD_BYTES,
    )
    app = build_app(settings)  # loads Whisper and Piper
    port = port or free_port()
    print(f"PORT {port}", flush=True)
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", **uvicorn_options(settings))


def start_voice_server(token: str) -> tuple[subprocess.Popen[str], str]:
    command = [sys.executable, "-m", "tests.benchmarks.load", "--serve-voice", "--port", "0"]
    env = os.environ | SERVER_ENV | {"VOICE_API_TOKEN": token}
    process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, text=True, env=env)
    assert process.stdout is not None
    line = process.stdout.readline()  # after the models are loaded
    if not line.startswith("PORT "):
        process.kill()
        raise RuntimeError(f"The voice service did not start (exit {process.wait()}): {line!r}")
    base_url = f"http://127.0.0.1:{int(line.split()[1])}"
    deadline = time.monotonic() + 120
    while True:
        health = send(base_url, Request("health", "GET", "/health", b"", 200, {}), timeout=5)
        if health.error is None:
            return process, base_url
        if time.monotonic() > deadline or process.poll() is not None:
            process.kill()
            raise RuntimeError(f"The voice service did not answer /health: {health.error}")
        time.sleep(0.2)


# --- the driver (the hook) --------------------------------------------------------------------


def send(base_url: str, request: Request, *, timeout: float = 300.0) -> Sample:
    url = urlsplit(base_url)
    started = time.perf_counter()
    connection = http.client.HTTPConnection(url.hostname, url.port, timeout=timeout)
    try:
        # A server may answer (413) and close before the whole body is sent: read the answer.
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            connection.request(
                request.method, request.path, body=request.body, headers=request.headers
            )
        response = connection.getresponse()
        response.read()
        status: int | None = response.status
        error = None
        if status >= 500 or status != request.expect:
            error = f"{request.method} {request.path} ({request.kind}): {status}, "
            error += f"expected {request.expect}"
    except (OSError, http.client.HTTPException) as exc:
        status, error = None, f"{request.kind}: {type(exc).__name__}: {exc}"
    finally:
        connection.close()
    return Sample(request.kind, status, time.perf_counter() - started, error)


def drive(
    base_url: str,
    make_request: RequestFactory,
    *,
    clients: int = 8,
    requests: int = 1000,
    seconds: float = 300.0,
    seed: int = 0,
    progress: Callable[[int], None] | None = None,
) -> tuple[list[Sample], float]:
    """`clients` threads send requests from `make_request` to `base_url` until `requests` are
    answered or `seconds` have passed; returns the samples and the wall time."""
    samples: list[Sample] = []
    lock = threading.Lock()
    deadline = time.monotonic() + seconds
    issued = iter(range(requests))

    def client(index: int) -> None:
        rng = random.Random(seed * 1000 + index)
        while time.monotonic() < deadline:
            with lock:
                if next(issued, None) is None:
                    return
            sample = send(base_url, make_request(rng))
            with lock:
                samples.append(sample)
                done = len(samples)
            if progress is not None:
                progress(done)

    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=clients) as pool:
        list(pool.map(client, range(clients)))
    return samples, time.perf_counter() - started


# --- the server under test ----------------------------------------------------------------------


def serve(port: int, cdk_out: str | None) -> None:
    """What `fala serve` does (synth, runtime, cold start, make_server), on `port` (0: any),
    printing `READY <port>` when it answers. Runs in the subprocess."""
    from fala.cli import _local_overrides
    from fala.local.assembly import REPO_ROOT, Resolver, load_stack, synth
    from fala.local.function_url import make_server, url_function
    from fala.local.lambdas import LocalLambdaRuntime

    stack = load_stack(Path(cdk_out) if cdk_out else synth())
    resolver = Resolver(stack)
    runtime = LocalLambdaRuntime(
        stack, resolver, work_dir=REPO_ROOT / ".fala" / "task-roots", overrides=_local_overrides()
    )
    function = url_function(stack, runtime, resolver)
    function.load()
    server = make_server(function, "127.0.0.1", port)
    server.RequestHandlerClass.log_message = lambda *args: None  # type: ignore[method-assign]
    print(f"READY {server.server_port}", flush=True)
    server.serve_forever()


def start_server(cdk_out: str | None) -> tuple[subprocess.Popen[str], str]:
    command = [sys.executable, "-m", "tests.benchmarks.load", "--serve", "--port", "0"]
    if cdk_out:
        command += ["--cdk-out", cdk_out]
    env = os.environ | SERVER_ENV
    process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, text=True, env=env)
    assert process.stdout is not None
    line = process.stdout.readline()  # blocks through synth and the model load
    if not line.startswith("READY "):
        process.kill()
        raise RuntimeError(f"The server did not start (exit {process.wait()}): {line!r}")
    return process, f"http://127.0.0.1:{int(line.split()[1])}"


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return math.nan


# --- report -------------------------------------------------------------------------------------


def percentile(values: list[float], q: float) -> float:
    if not values:
        return math.nan
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q / 100 * len(ordered)) - 1))]


def latency(samples: list[Sample]) -> dict[str, float]:
    ms = [s.seconds * 1000 for s in samples]
    return {
        "count": len(ms),
        "p50_ms": round(percentile(ms, 50), 1),
        "p95_ms": round(percentile(ms, 95), 1),
        "p99_ms": round(percentile(ms, 99), 1),
        "max_ms": round(max(ms), 1) if ms else math.nan,
    }


def summarize(samples: list[Sample], wall: float) -> dict[str, Any]:
    errors = [s.error for s in samples if s.error]
    kinds = sorted({s.kind for s in samples})
    statuses: dict[str, int] = {}
    for s in samples:
        statuses[str(s.status)] = statuses.get(str(s.status), 0) + 1
    return {
        "requests": len(samples),
        "seconds": round(wall, 2),
        "requests_per_second": round(len(samples) / wall, 1) if wall else math.nan,
        "latency": latency(samples),
        "latency_by_kind": {k: latency([s for s in samples if s.kind == k]) for k in kinds},
        "statuses": dict(sorted(statuses.items())),
        "errors": len(errors),
        "server_errors_5xx": sum(1 for s in samples if s.status and s.status >= 500),
        "connection_errors": sum(1 for s in samples if s.status is None),
        "error_examples": sorted(set(errors))[:10],
    }


def measure(
    process: subprocess.Popen[str],
    base_url: str,
    make_request: RequestFactory,
    warm_up: Callable[[], None],
    args: argparse.Namespace,
) -> dict[str, Any]:
    """Warm up, read RSS, drive the load (RSS at 25/50/75 %), read RSS again, check the server
    still answers; stops the server."""
    try:
        warm_up()
        rss_before = rss_mb(process.pid)
        checkpoints = {round(args.requests * q) for q in (0.25, 0.5, 0.75)}
        rss_during: dict[int, float] = {}

        def record_rss(done: int) -> None:
            if done in checkpoints:
                rss_during[done] = round(rss_mb(process.pid), 1)

        print(
            f"Driving {args.clients} clients at {base_url} for up to {args.requests} requests "
            f"or {args.seconds:.0f} s…",
            file=sys.stderr,
        )
        with Progress(
            *Progress.get_default_columns(),
            TextColumn("{task.completed}/{task.total} requests"),
            console=Console(stderr=True),
            transient=True,
        ) as bar:
            task = bar.add_task("load", total=args.requests)

            def on_answer(done: int) -> None:
                record_rss(done)
                bar.update(task, completed=done)

            samples, wall = drive(
                base_url,
                make_request,
                clients=args.clients,
                requests=args.requests,
                seconds=args.seconds,
                progress=on_answer,
            )
        rss_after = rss_mb(process.pid)
        alive = send(base_url, make_request(random.Random(2))).error is None
    finally:
        process.terminate()
        process.wait(timeout=30)
    return {
        "base_url": base_url,
        "clients": args.clients,
        "requested": args.requests,
        "time_limit_seconds": args.seconds,
        **summarize(samples, wall),
        "server_rss_mb": {
            "before": round(rss_before, 1),
            "after": round(rss_after, 1),
            "growth": round(rss_after - rss_before, 1),
            "at_requests": dict(sorted(rss_during.items())),
        },
        "server_alive_after": alive,
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
    }


def load_validation(args: argparse.Namespace) -> dict[str, Any]:
    print("Starting the local validation server (synth + model load)…", file=sys.stderr)
    process, base_url = start_server(args.cdk_out)
    speech_share = 0.05 if args.speech_share is None else args.speech_share
    make_request = validation_requests(speech_share=speech_share)

    def warm_up() -> None:
        # The first validations build caches, the first 8 concurrent requests their buffers.
        # Measured: RSS climbs by ~150 MB over the first few dozen concurrent validations (a
        # malloc arena per server thread meeting the model's buffers), then stays flat.
        speech_only = validation_requests(speech_share=1.0)
        drive(base_url, speech_only, clients=args.clients, requests=args.warmup, seed=98)
        drive(base_url, make_request, clients=args.clients, requests=100, seed=99)

    report = measure(process, base_url, make_request, warm_up, args)
    return {
        "service": "validation Function URL (local, fala serve)",
        "speech_share": speech_share,
        "warmup_validations": args.warmup,
        **report,
    }


def load_voice(args: argparse.Namespace) -> dict[str, Any]:
    print("Starting the local voice service (Whisper + Piper load)…", file=sys.stderr)
    token = base64.urlsafe_b64encode(os.urandom(18)).decode()
    process, base_url = start_voice_server(token)
    speech_share = 0.05 if args.speech_share is None else args.speech_share
    make_request = voice_requests(token, speech_share=speech_share)

    def warm_up() -> None:
        # The cached phrases, enough new phrases (about 50 of 110 KB) to fill the 4 MB cache,
        # transcriptions on the server's threads, then the mix: RSS "before" is read after.
        fill = voice_requests(token, 0.1, cached_share=0.25, new_share=0.6, openai_share=0.05)
        drive(base_url, fill, clients=args.clients, requests=2 * args.warmup, seed=98)
        drive(base_url, make_request, clients=args.clients, requests=100, seed=99)

    report = measure(process, base_url, make_request, warm_up, args)
    return {
        "service": "voice service (local CPU: faster-whisper base, Piper)",
        "transcription_share": speech_share,
        "warmup_requests": 2 * args.warmup + 100,
        "cache_max_bytes": VOICE_CACHE_BYTES,
        "max_upload_bytes": VOICE_MAX_UPLOAD_BYTES,
        **report,
    }


def print_report(report: dict[str, Any], output: Path) -> None:
    lat = report["latency"]
    print(f"\n{report['service']} — {report['clients']} clients, loopback")
    print(f"  requests        {report['requests']} in {report['seconds']} s")
    print(f"  requests/s      {report['requests_per_second']}")
    print(
        f"  latency (all)   p50 {lat['p50_ms']} ms  p95 {lat['p95_ms']} ms  p99 {lat['p99_ms']} ms"
    )
    for kind, k in report["latency_by_kind"].items():
        print(
            f"    {kind:<13} n={k['count']:<5} p50 {k['p50_ms']} ms  p95 {k['p95_ms']} ms  "
            f"p99 {k['p99_ms']} ms"
        )
    print(f"  statuses        {report['statuses']}")
    print(
        f"  errors          {report['errors']} (5xx {report['server_errors_5xx']}, "
        f"connection {report['connection_errors']})"
    )
    for example in report["error_examples"]:
        print(f"    {example}")
    rss = report["server_rss_mb"]
    print(
        f"  server RSS      {rss['before']} MB before, {rss['after']} MB after "
        f"({rss['growth']:+} MB over {report['requests']} requests)"
    )
    during = ", ".join(f"{mb} MB at {n}" for n, mb in rss["at_requests"].items())
    print(f"  RSS during      {during}")
    print(f"  alive after     {report['server_alive_after']}")
    print(f"  written to      {output}")


def failures(report: dict[str, Any]) -> list[str]:
    """What --check fails on: the load must be served whole, and the server live after it."""
    out = []
    if report["errors"]:
        out.append(f"{report['errors']} errors ({report['error_examples'][:1]})")
    if not report["server_alive_after"]:
        out.append("the server did not answer after the load")
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--service", choices=["validation", "voice"], default="validation", help="what to load"
    )
    parser.add_argument("--clients", type=int, default=8, help="concurrent clients")
    parser.add_argument("--requests", type=int, default=1000, help="stop after this many")
    parser.add_argument("--seconds", type=float, default=300.0, help="or after this long")
    parser.add_argument(
        "--speech-share",
        type=float,
        default=None,
        help="share of real clips (validation: 0.05; voice, transcriptions: 0.05)",
    )
    parser.add_argument(
        "--warmup", type=int, default=40, help="warm-up requests before RSS 'before' is read"
    )
    parser.add_argument("--output", type=Path, help="default: .fala/bench/load[-voice].json")
    parser.add_argument("--cdk-out", help="an already synthesized cloud assembly (default: synth)")
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--serve-voice", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument(
        "--check",
        action="store_true",
        help="exit 1 on any error, 5xx or lost connection, or a server dead after the load",
    )
    args = parser.parse_args(argv)
    if args.serve:
        serve(args.port, args.cdk_out)
        return 0
    if args.serve_voice:
        serve_voice(args.port)
        return 0

    report = load_voice(args) if args.service == "voice" else load_validation(args)
    output = args.output or (OUTPUT_VOICE if args.service == "voice" else OUTPUT)
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(report, indent=2) + "\n")
    print_report(report, output)
    missed = failures(report)
    for line in missed:
        print(f"FAILED {line}")
    return 1 if args.check and missed else 0


if __name__ == "__main__":
    sys.exit(main())
