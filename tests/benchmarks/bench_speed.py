"""Speed of speech validation: cold start, warm latency against the encoder floor, handler overhead
and cost per 1,000 validations. A script, not a test: nothing asserts on time.

    .venv/bin/python -m tests.benchmarks.bench_speed [--quick] [--output PATH]

Whisper base int8 on this machine's CPUs (the validator's own thread count), on the committed
clips of at most 5 s. Prints a table and writes every figure, raw samples included, to
.fala/bench/speed.json.

The old floor: Whisper's own path encodes a 30 s mel window, one log-mel computation plus one
encoder pass; the engine first encodes a window fitted to the clip (fala.core.whisper_window),
so a warm validation is compared with that floor (issue #21's targets: p50 ≤ 0.5x, p95 ≤ 0.8x,
0.6x with language "auto"). The encoders run interleaved with the validations so machine noise
hits all alike. Lambda memory sizes are weighed from the 1- and n-thread times (Amdahl).
"""

from __future__ import annotations

import argparse
import ast
import base64
import contextlib
import importlib
import json
import math
import os
import platform
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from rich.console import Console
from rich.table import Table

ROOT = Path(__file__).resolve().parents[2]
AUDIO = ROOT / "tests" / "fixtures" / "audio"
CONTAINER = ROOT / "containers" / "whisper_validation"
WORD_CACHES = ROOT / ".fala" / "cache" / "words"
DEFAULT_OUTPUT = ROOT / ".fala" / "bench" / "speed.json"

# Targets (issue "Speech validation that can be trusted").
# Issue #21's targets ("encode only the audio"), against the 30 s window's encoder time
TARGET_COLD_START_S = 1.5
TARGET_P50_RATIO = 0.5
TARGET_P95_RATIO = 0.8
TARGET_AUTO_P50_RATIO = 0.6
TARGET_USD_PER_1000 = 0.015
TARGET_HANDLER_OVERHEAD = 0.05

# Prices (us-east-1, x86, on-demand).
LAMBDA_GB_SECOND_USD = 0.0000166667
LAMBDA_REQUEST_USD = 0.20 / 1_000_000
LAMBDA_MB_PER_VCPU = 1769  # Lambda gives one vCPU at 1,769 MB, proportionally up to 6 vCPUs
# Memory sizes weighed (the fit: the cheapest within MEMORY_SLOWDOWN of REFERENCE_MEMORY_MB's time)
MEMORY_SIZES_MB = (1024, 1536, 1769, 2048, 2304, 2560, 2816, 3008, 3538, 4096)
REFERENCE_MEMORY_MB = 3008
MEMORY_SLOWDOWN = 0.10
TRANSCRIBE_USD_PER_MINUTE = 0.024
TRANSCRIBE_MINIMUM_S = 15  # billed per second, 15 s minimum per request


@dataclass(frozen=True)
class Clip:
    file: str
    expected: str
    language: str


# Committed clips ≤ 5 s (tests/fixtures/make_fixtures.sh), so any machine measures the same audio.
CLIPS = (
    Clip("entrada_13_40_pt.wav", "ENTRADA 13 40", "pt-BR"),
    Clip("saida_13_40_pt.wav", "SAÍDA 13 40", "pt-BR"),
    Clip("entrada_13_45_pt.wav", "ENTRADA 13 45", "pt-BR"),
    Clip("checkin_9_45_en.wav", "CHECK IN 9 45", "en-US"),
)
# "language": "auto" as a separate case. This phrase's words say Portuguese, so it is heard in
# Portuguese (fala.core.phrase_language); only a phrase of digits or names pays for detection
# from the audio (one more decoder step on the encoded window, ≈ 40 ms).
AUTO_CASE = Clip("entrada_13_40_pt.wav", "ENTRADA 13 40", "auto")
# A wrong phrase (another minute) against a clip heard clearly: settled on the fitted window
# (fala.core.validation.another_phrase_heard). Like the "auto" case, not part of the cost's mix.
NEAR_MISS_CASE = Clip("checkin_9_45_en.wav", "CHECK IN 9 55", "en-US")
EXTRA_CASES = (AUTO_CASE, NEAR_MISS_CASE)


@dataclass(frozen=True)
class Repetitions:
    cold: int  # fresh processes per cold-start measurement
    warm: int  # validations per clip (the encoder floor runs every other repetition)
    auto: int  # validations of each extra case ("auto", a near miss)
    handler: int  # Function URL requests per clip
    threads: int  # 1-thread encoder + validation runs (first clip)
    bare: int  # faster-whisper default transcriptions per clip
    bare_clips: int


FULL = Repetitions(cold=2, warm=10, auto=5, handler=3, threads=4, bare=1, bare_clips=4)
QUICK = Repetitions(cold=1, warm=3, auto=2, handler=1, threads=2, bare=1, bare_clips=2)

COLD_VALIDATOR = r"""
import json, sys, time
t0 = time.perf_counter()
import fala.core.validation as validation
t1 = time.perf_counter()
import faster_whisper
t2 = time.perf_counter()
v = validation.SpeechValidator(sys.argv[1])
t3 = time.perf_counter()
print(json.dumps({"import_fala_validation_s": t1 - t0, "import_faster_whisper_s": t2 - t1,
                  "model_load_s": t3 - t2, "total_s": t3 - t0, "cpu_threads": v.cpu_threads}))
"""
COLD_ENGINE = r"""
import json, time
t0 = time.perf_counter()
import whisper_validation.engine as engine
t1 = time.perf_counter()
print(json.dumps({"import_engine_s": t1 - t0, "model_load_s": engine.validator().load_seconds}))
"""

console = Console(width=max(Console().width, 160))
progress_console = Console(stderr=True)


def progress(message: str) -> None:
    progress_console.print(f"[dim]· {message}[/dim]")


def pct(values: list[float], q: float) -> float:
    return float(np.percentile(values, q))


def p50(values: list[float]) -> float:
    return pct(values, 50)


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    started = time.perf_counter()
    result = fn()
    return time.perf_counter() - started, result


@contextlib.contextmanager
def silenced() -> Iterator[None]:
    """Send fd 1 and 2 to /dev/null: the handler's JSON logs and EMF metrics are still written
    (their cost is part of the overhead), just not shown."""
    sys.stdout.flush()
    sys.stderr.flush()
    saved = os.dup(1), os.dup(2)
    with open(os.devnull, "w") as null:
        os.dup2(null.fileno(), 1)
        os.dup2(null.fileno(), 2)
        try:
            yield
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            os.close(saved[0])
            os.close(saved[1])


def handler_environment(model_dir: Path) -> dict[str, str]:
    """The image's environment (containers/whisper_validation/Dockerfile): its model, and the word
    lists pre-read at build time (prepare_cache.py, done here as well)."""
    from fala.core.phrase_language import PHRASE_LANGUAGES
    from fala.core.spelling import WORD_CACHE_ENV, write_word_cache

    write_word_cache(WORD_CACHES, PHRASE_LANGUAGES)
    return {
        "WHISPER_MODEL_DIR": str(model_dir),
        WORD_CACHE_ENV: str(WORD_CACHES),
        "POWERTOOLS_TRACE_DISABLED": "true",
        "POWERTOOLS_METRICS_NAMESPACE": "Fala",
        "AWS_DEFAULT_REGION": os.environ.get("AWS_DEFAULT_REGION", "us-east-1"),
    }


# --- cold start ---------------------------------------------------------------------------------


def run_fresh(code: str, model_dir: Path) -> dict[str, Any]:
    env = os.environ | handler_environment(model_dir)
    env["PYTHONPATH"] = os.pathsep.join(
        [str(CONTAINER), str(ROOT), *filter(None, [env.get("PYTHONPATH")])]
    )
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-c", code, str(model_dir)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    figures = json.loads(done.stdout.strip().splitlines()[-1])
    figures["process_wall_s"] = time.perf_counter() - started
    return figures


def measure_cold_start(model_dir: Path, runs: int) -> dict[str, Any]:
    validator_runs = [run_fresh(COLD_VALIDATOR, model_dir) for _ in range(runs)]
    engine_runs = [run_fresh(COLD_ENGINE, model_dir) for _ in range(runs)]

    def median(rows: list[dict[str, Any]], key: str) -> float:
        return p50([row[key] for row in rows])

    return {
        "runs": runs,
        "validator": {
            key: median(validator_runs, key)
            for key in (
                "import_fala_validation_s",
                "import_faster_whisper_s",
                "model_load_s",
                "total_s",
                "process_wall_s",
            )
        },
        "engine": {
            key: median(engine_runs, key)
            for key in ("import_engine_s", "model_load_s", "process_wall_s")
        },
        "cpu_threads": validator_runs[0]["cpu_threads"],
        "samples": {"validator": validator_runs, "engine": engine_runs},
        "note": "fresh interpreter per run, median; the model file is in the page cache "
        "(a Lambda container's first read of the image layer is slower)",
    }


# --- warm ---------------------------------------------------------------------------------------


def load_audio(clip: Clip) -> np.ndarray:
    from fala.core.audio import decode_audio

    return decode_audio((AUDIO / clip.file).read_bytes(), max_seconds=30)


def encoder_floor(model: Any, audio: np.ndarray) -> tuple[float, float]:
    """(log-mel seconds, log-mel + pad + encode seconds) for one clip, as faster-whisper does it:
    features of the clip, padded to the 30 s window (3000 frames), one encoder pass."""
    from faster_whisper.audio import pad_or_trim

    started = time.perf_counter()
    features = model.feature_extractor(audio)
    mel = time.perf_counter() - started
    model.encode(pad_or_trim(features[..., :-1]))
    return mel, time.perf_counter() - started


def fitted_encoder(model: Any, audio: np.ndarray) -> float:
    """Log-mel + pad + encode seconds over the window the engine fits to the clip (its first
    pass: fala.core.whisper_window.encoder_window)."""
    from faster_whisper.audio import pad_or_trim

    from fala.core.whisper_window import encoder_window

    started = time.perf_counter()
    features = model.feature_extractor(audio)
    window = encoder_window(min(features.shape[-1], 3000))
    model.encode(pad_or_trim(features[..., :window], length=window))
    return time.perf_counter() - started


def measure_warm(validator: Any, audio: dict[str, np.ndarray], reps: Repetitions) -> dict:
    cases = [*CLIPS, *EXTRA_CASES]
    rows: dict[str, dict[str, Any]] = {
        case_key(case): {"mel_s": [], "floor_s": [], "fitted_s": [], "validate_s": []}
        for case in cases
    }
    results: dict[str, Any] = {}
    for rep in range(reps.warm):
        for clip in CLIPS:
            row = rows[case_key(clip)]
            if rep % 2 == 0:
                mel, floor = encoder_floor(validator.model, audio[clip.file])
                row["mel_s"].append(mel)
                row["floor_s"].append(floor)
                row["fitted_s"].append(fitted_encoder(validator.model, audio[clip.file]))
            seconds, results[case_key(clip)] = timed(
                lambda clip=clip: validator.validate(audio[clip.file], clip.expected, clip.language)
            )
            row["validate_s"].append(seconds)
        for case in EXTRA_CASES if rep < reps.auto else ():
            seconds, results[case_key(case)] = timed(
                lambda case=case: validator.validate(audio[case.file], case.expected, case.language)
            )
            rows[case_key(case)]["validate_s"].append(seconds)
    for case in EXTRA_CASES:
        # Same audio as its clip's, so the same floor.
        for figure in ("mel_s", "floor_s", "fitted_s"):
            rows[case_key(case)][figure] = rows[case.file][figure]

    out = {}
    for case in cases:
        row = rows[case_key(case)]
        floor = p50(row["floor_s"])
        result = results[case_key(case)]
        out[case_key(case)] = {
            "file": case.file,
            "language": case.language,
            "expected": case.expected,
            "audio_s": audio[case.file].size / 16_000,
            "mel_p50_s": p50(row["mel_s"]),
            "floor_p50_s": floor,
            "fitted_encoder_p50_s": p50(row["fitted_s"]),
            "validate_p50_s": p50(row["validate_s"]),
            "validate_p95_s": pct(row["validate_s"], 95),
            "p50_ratio": p50(row["validate_s"]) / floor,
            "p95_ratio": pct(row["validate_s"], 95) / floor,
            "runs": len(row["validate_s"]),
            "floor_runs": len(row["floor_s"]),
            "transcript": result.spoken_text_in_audio,
            "reason": result.reason,
            "samples": row,
        }
    return out


def case_key(case: Clip) -> str:
    if case == AUTO_CASE:
        return f"{case.file} (auto)"
    return case.file if case in CLIPS else f"{case.file} ({case.expected})"


# --- threads ------------------------------------------------------------------------------------


def measure_threads(
    model_dir: Path, validator: Any, audio: dict[str, np.ndarray], runs: int
) -> dict:
    """Every clip with a 1-thread model and the shared (all-CPU) model, interleaved: a match
    gains less from a second thread than a clip that is scored (its decoder steps are serial)."""
    from fala.core.validation import SpeechValidator, available_cpus

    single = SpeechValidator(model_dir, cpu_threads=1)
    samples: dict[int, dict[str, Any]] = {
        1: {"floor_s": [], "validate_s": {c.file: [] for c in CLIPS}},
        validator.cpu_threads: {"floor_s": [], "validate_s": {c.file: [] for c in CLIPS}},
    }
    for _ in range(runs):
        for v in (single, validator):
            floor = encoder_floor(v.model, audio[CLIPS[0].file])[1]
            samples[v.cpu_threads]["floor_s"].append(floor)
            for clip in CLIPS:
                seconds, _ = timed(
                    lambda v=v, c=clip: v.validate(audio[c.file], c.expected, c.language)
                )
                samples[v.cpu_threads]["validate_s"][clip.file].append(seconds)
    del single
    by_threads = {
        str(n): {
            "floor_p50_s": p50(s["floor_s"]),
            # the clips' mix, as the cost model's: the sum of their medians
            "validate_p50_s": sum(p50(times) for times in s["validate_s"].values()),
            "samples": s,
        }
        for n, s in samples.items()
    }
    return {
        "clip": f"floor: {CLIPS[0].file}; validate: the {len(CLIPS)} clips, summed",
        "available_cpus": available_cpus(),
        "validator_cpu_threads": validator.cpu_threads,
        "by_threads": by_threads,
    }


# --- faster-whisper defaults --------------------------------------------------------------------


def measure_bare(model: Any, audio: dict[str, np.ndarray], reps: Repetitions) -> dict:
    out = {}
    for clip in CLIPS[: reps.bare_clips]:
        samples = []
        text = language = ""
        for _ in range(reps.bare):

            def run(clip: Clip = clip) -> tuple[str, str]:
                segments, info = model.transcribe(audio[clip.file])  # every option default
                return " ".join(s.text.strip() for s in segments), info.language

            seconds, (text, language) = timed(run)
            samples.append(seconds)
        out[clip.file] = {
            "p50_s": p50(samples),
            "runs": len(samples),
            "transcript": text,
            "detected_language": language,
            "samples": samples,
        }
    return out


# --- handler ------------------------------------------------------------------------------------


class Context:
    function_name = "whisper-validation"
    memory_limit_in_mb = 3008
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:whisper-validation"
    aws_request_id = "bench"


def import_handler(model_dir: Path) -> tuple[Any, Any]:
    """whisper_validation.api as the image imports it; its engine loads the shared model."""
    os.environ.update(handler_environment(model_dir))
    if str(CONTAINER) not in sys.path:
        sys.path.insert(0, str(CONTAINER))
    api = importlib.import_module("whisper_validation.api")
    return api, sys.modules["whisper_validation.engine"]


def url_event(clip: Clip) -> dict[str, Any]:
    """A payload 2.0 Function URL event with a base64 JSON body, as a client would send it."""
    body = {
        "expected_speech": clip.expected,
        "audio": base64.b64encode((AUDIO / clip.file).read_bytes()).decode(),
        "language": clip.language,
    }
    return {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": "/",
        "rawQueryString": "",
        "headers": {"content-type": "application/json"},
        "requestContext": {
            "requestId": "bench",
            "http": {"method": "POST", "path": "/", "protocol": "HTTP/1.1"},
        },
        "isBase64Encoded": True,
        "body": base64.b64encode(json.dumps(body).encode()).decode(),
    }


def measure_handler(api: Any, validator: Any, runs: int) -> dict:
    """End-to-end handler time minus the time spent in SpeechValidator.validate (the model)."""
    model_s: list[float] = []
    original = validator.validate

    def timed_validate(*args: Any, **kwargs: Any) -> Any:
        started = time.perf_counter()
        try:
            return original(*args, **kwargs)
        finally:
            model_s.append(time.perf_counter() - started)

    events = {clip.file: url_event(clip) for clip in CLIPS}
    total_s: list[float] = []
    statuses: list[int] = []
    validator.validate = timed_validate
    try:
        with silenced():
            for _ in range(runs):
                for clip in CLIPS:
                    seconds, answer = timed(
                        lambda clip=clip: api.handler(events[clip.file], Context())
                    )
                    total_s.append(seconds)
                    statuses.append(answer["statusCode"])
    finally:
        del validator.validate  # back to the class's method
    overhead = [t - m for t, m in zip(total_s, model_s, strict=True)]
    by_clip = {clip.file: p50(model_s[i :: len(CLIPS)]) for i, clip in enumerate(CLIPS)}
    return {
        "requests": len(total_s),
        "statuses": sorted(set(statuses)),
        "total_p50_s": p50(total_s),
        "model_p50_s": p50(model_s),
        "model_p50_by_clip_s": by_clip,
        # Every request is billed: the cost of the clips' mix is the mean of their times (the
        # p50 of all requests falls between two clips and ignores the slowest).
        "model_mix_s": float(np.mean(list(by_clip.values()))),
        "overhead_p50_s": p50(overhead),
        "overhead_p95_s": pct(overhead, 95),
        "overhead_fraction": p50(overhead) / p50(model_s),
        "body_bytes_mean": float(np.mean([len(e["body"]) for e in events.values()])),
        "samples": {"total_s": total_s, "model_s": model_s},
        "note": "overhead = parse + base64 + decode_audio + Powertools logger/metrics + JSON "
        "response; model = SpeechValidator.validate",
    }


# --- cost ---------------------------------------------------------------------------------------


def lambda_memory_mb() -> int:
    """FalaConfig.validation_memory_mb's default, read from infra/config.py's source: importing
    it imports aws_cdk, which starts a Node.js process."""
    tree = ast.parse((ROOT / "infra" / "config.py").read_text())
    config = next(n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == "FalaConfig")
    for node in config.body:
        if (
            isinstance(node, ast.AnnAssign)
            and isinstance(node.target, ast.Name)
            and node.target.id == "validation_memory_mb"
            and isinstance(node.value, ast.Call)
        ):
            return int(ast.literal_eval(node.value.args[0]))
    raise LookupError("FalaConfig.validation_memory_mb has no default in infra/config.py")


def cost_model(warm: dict, handler: dict, threads: dict, cold: dict) -> dict:
    memory_mb = lambda_memory_mb()
    gb = memory_mb / 1024
    lambda_vcpus = min(6.0, memory_mb / LAMBDA_MB_PER_VCPU)
    n = threads["validator_cpu_threads"]
    t1 = threads["by_threads"]["1"]["validate_p50_s"]
    tn = threads["by_threads"][str(n)]["validate_p50_s"]
    # Amdahl from the measured 1-thread and n-thread times: parallel share p, then the time on
    # Lambda's fractional vCPUs. Lambda's cores may also be slower or faster than these.
    parallel = 0.0
    if n > 1 and t1 > tn:
        parallel = min(1.0, max(0.0, (1 - tn / t1) / (1 - 1 / n)))
    vcpus = min(lambda_vcpus, n)
    factor = ((1 - parallel) + parallel / vcpus) / ((1 - parallel) + parallel / n)
    model_here = handler["model_mix_s"]
    overhead = handler["overhead_p50_s"]
    request_here = model_here + overhead
    request_lambda = model_here * factor + overhead  # the overhead is single-threaded Python

    def per_1000(seconds: float, mb: int = memory_mb) -> float:
        billed = math.ceil(seconds * 1000) / 1000  # billed per millisecond
        return 1000 * (billed * mb / 1024 * LAMBDA_GB_SECOND_USD + LAMBDA_REQUEST_USD)

    def on_lambda(mb: int) -> float:
        """The request's seconds at `mb` (Amdahl, as above)."""
        v = min(min(6.0, mb / LAMBDA_MB_PER_VCPU), n)
        f = ((1 - parallel) + parallel / v) / ((1 - parallel) + parallel / n)
        return model_here * f + overhead

    sizes = [
        {"memory_mb": mb, "request_s": on_lambda(mb), "usd_per_1000": per_1000(on_lambda(mb), mb)}
        for mb in MEMORY_SIZES_MB
    ]
    reference = on_lambda(REFERENCE_MEMORY_MB)
    fitting = [row for row in sizes if row["request_s"] <= reference * (1 + MEMORY_SLOWDOWN)]
    extra = {case_key(case) for case in EXTRA_CASES}
    durations = [row["audio_s"] for key, row in warm.items() if key not in extra]
    transcribe_clip_usd = [
        max(TRANSCRIBE_MINIMUM_S, math.ceil(d)) / 60 * TRANSCRIBE_USD_PER_MINUTE for d in durations
    ]
    init_s = cold["engine"]["import_engine_s"]
    return {
        "lambda_memory_mb": memory_mb,
        "lambda_vcpus": lambda_vcpus,
        "parallel_fraction": parallel,
        "lambda_time_factor": factor,
        "request_here_s": request_here,
        "request_lambda_estimate_s": request_lambda,
        "lambda_usd_per_1000_here": per_1000(request_here),
        "lambda_usd_per_1000_estimate": per_1000(request_lambda),
        "cold_start_usd_each": init_s * factor * gb * LAMBDA_GB_SECOND_USD,
        "memory_sizes": sizes,
        # the smallest size whose request takes at most MEMORY_SLOWDOWN longer than at 3,008 MB
        "memory_fit_mb": min(row["memory_mb"] for row in fitting),
        "clip_durations_s": durations,
        "transcribe_usd_per_1000": 1000 * float(np.mean(transcribe_clip_usd)),
        "prices": {
            "lambda_gb_second_usd": LAMBDA_GB_SECOND_USD,
            "lambda_request_usd": LAMBDA_REQUEST_USD,
            "transcribe_usd_per_minute": TRANSCRIBE_USD_PER_MINUTE,
            "transcribe_minimum_s": TRANSCRIBE_MINIMUM_S,
        },
        "note": f"Lambda at {memory_mb} MB has ~{lambda_vcpus:.2f} vCPU against {n} cores here; "
        "the model time is scaled by Amdahl's law from the measured 1- and "
        f"{n}-thread times, the overhead is not scaled. INIT is billed for container images.",
    }


# --- report -------------------------------------------------------------------------------------


def ms(seconds: float) -> str:
    return f"{seconds * 1000:,.0f} ms"


def mark(ok: bool) -> str:
    return "[green]met[/green]" if ok else "[red]missed[/red]"


def print_report(report: dict) -> None:
    cold = report["cold_start"]
    table = Table(title="Cold start (fresh interpreter, median)", title_justify="left")
    for column in ("component", "time"):
        table.add_column(column, justify="right" if column == "time" else "left")
    v = cold["validator"]
    table.add_row("import fala.core.validation", ms(v["import_fala_validation_s"]))
    table.add_row("import faster_whisper", ms(v["import_faster_whisper_s"]))
    table.add_row(
        f"SpeechValidator(model_dir) (model load, {cold['cpu_threads']} threads)",
        ms(v["model_load_s"]),
    )
    table.add_row("[b]imports + model load[/b]", f"[b]{ms(v['total_s'])}[/b]")
    table.add_row("python -c … process wall (incl. interpreter start)", ms(v["process_wall_s"]))
    e = cold["engine"]
    table.add_row(
        "import whisper_validation.engine (Lambda init: + Powertools, settings)",
        ms(e["import_engine_s"]),
    )
    console.print(table)

    table = Table(
        title=f"Warm validation, {report['environment']['cpu_threads']} threads "
        f"(floor = log-mel + one 30 s encoder pass)",
        title_justify="left",
    )
    for column in (
        "clip",
        "audio",
        "log-mel p50",
        "floor p50",
        "fitted enc p50",
        "validate p50",
        "validate p95",
        "p50 / floor",
        "p95 / floor",
        "runs",
        "verdict: transcript",
    ):
        table.add_column(
            column, justify="left" if column.startswith(("clip", "verdict")) else "right"
        )
    for key, row in report["warm"].items():
        table.add_row(
            key,
            f"{row['audio_s']:.2f} s",
            ms(row["mel_p50_s"]),
            ms(row["floor_p50_s"]),
            ms(row["fitted_encoder_p50_s"]),
            ms(row["validate_p50_s"]),
            ms(row["validate_p95_s"]),
            f"{row['p50_ratio']:.2f}x",
            f"{row['p95_ratio']:.2f}x",
            str(row["runs"]),
            f"{row['reason']}: {row['transcript']}",
        )
    console.print(table)

    table = Table(title="faster-whisper defaults (model.transcribe(audio))", title_justify="left")
    for column in ("clip", "p50", "x validate p50", "runs", "detected", "transcript"):
        table.add_column(column, justify="right" if column in ("p50", "x validate p50") else "left")
    for key, row in report["faster_whisper_defaults"].items():
        table.add_row(
            key,
            f"{row['p50_s']:.2f} s",
            f"{row['p50_s'] / report['warm'][key]['validate_p50_s']:.1f}x",
            str(row["runs"]),
            row["detected_language"],
            row["transcript"],
        )
    console.print(table)

    th = report["threads"]
    table = Table(
        title=f"Threads ({th['clip']}; available_cpus() = {th['available_cpus']}, "
        f"SpeechValidator.cpu_threads = {th['validator_cpu_threads']})",
        title_justify="left",
    )
    for column in ("cpu_threads", "floor p50", "validate p50 (sum)"):
        table.add_column(column, justify="right")
    for n, row in th["by_threads"].items():
        table.add_row(n, ms(row["floor_p50_s"]), ms(row["validate_p50_s"]))
    console.print(table)

    h = report["handler"]
    table = Table(title="Function URL handler (api.handler, payload 2.0)", title_justify="left")
    table.add_column("figure")
    table.add_column("value", justify="right")
    table.add_row("requests (statuses)", f"{h['requests']} ({', '.join(map(str, h['statuses']))})")
    table.add_row("end to end p50", ms(h["total_p50_s"]))
    table.add_row("model (SpeechValidator.validate) p50", ms(h["model_p50_s"]))
    table.add_row("model, mean of the clips' p50 (the cost's mix)", ms(h["model_mix_s"]))
    table.add_row("overhead p50 / p95", f"{ms(h['overhead_p50_s'])} / {ms(h['overhead_p95_s'])}")
    table.add_row("[b]overhead / model time[/b]", f"[b]{h['overhead_fraction']:.1%}[/b]")
    console.print(table)

    c = report["cost"]
    table = Table(title="Cost per 1,000 validations (us-east-1, x86)", title_justify="left")
    table.add_column("")
    table.add_column("duration / request", justify="right")
    table.add_column("USD per 1,000", justify="right")
    table.add_row(
        f"Lambda {c['lambda_memory_mb']} MB, at this machine's speed",
        ms(c["request_here_s"]),
        f"${c['lambda_usd_per_1000_here']:.4f}",
    )
    table.add_row(
        f"Lambda {c['lambda_memory_mb']} MB, ~{c['lambda_vcpus']:.2f} vCPU (x"
        f"{c['lambda_time_factor']:.2f} on the model time)",
        ms(c["request_lambda_estimate_s"]),
        f"${c['lambda_usd_per_1000_estimate']:.4f}",
    )
    table.add_row(
        "Amazon Transcribe (15 s minimum per request)",
        f"{np.mean(c['clip_durations_s']):.1f} s audio",
        f"${c['transcribe_usd_per_1000']:.2f}",
    )
    table.add_row("Lambda cold start (INIT billed), each", "", f"${c['cold_start_usd_each']:.6f}")
    console.print(table)
    console.print(f"[dim]{c['note']}[/dim]")

    table = Table(
        title=f"Lambda memory sizes (estimated as above; fit: the cheapest within "
        f"{MEMORY_SLOWDOWN:.0%} of {REFERENCE_MEMORY_MB} MB's duration)",
        title_justify="left",
    )
    for column in ("memory", "duration / request", "USD per 1,000", ""):
        table.add_column(column, justify="right")
    for row in c["memory_sizes"]:
        table.add_row(
            f"{row['memory_mb']} MB",
            ms(row["request_s"]),
            f"${row['usd_per_1000']:.4f}",
            "fit" if row["memory_mb"] == c["memory_fit_mb"] else "",
        )
    console.print(table)

    table = Table(title="Targets", title_justify="left")
    for column in ("target", "measured", ""):
        table.add_column(column)
    for target in report["targets"]:
        table.add_row(target["name"], target["measured"], mark(target["met"]))
    console.print(table)


def targets(report: dict) -> list[dict[str, Any]]:
    explicit = {k: row for k, row in report["warm"].items() if "(auto)" not in k}
    worst_p50 = max(row["p50_ratio"] for row in explicit.values())
    worst_p95 = max(row["p95_ratio"] for row in explicit.values())
    auto = next(row for k, row in report["warm"].items() if "(auto)" in k)
    cold = report["cold_start"]["validator"]["total_s"]
    overhead = report["handler"]["overhead_fraction"]
    cost = report["cost"]
    return [
        {
            "name": f"cold start (imports + model load) ≤ {TARGET_COLD_START_S:g} s",
            "measured": f"{cold:.2f} s",
            "met": cold <= TARGET_COLD_START_S,
        },
        {
            "name": f"validate p50 ≤ {TARGET_P50_RATIO:g}x floor (worst clip, language given)",
            "measured": f"{worst_p50:.2f}x",
            "met": worst_p50 <= TARGET_P50_RATIO,
        },
        {
            "name": f"validate p95 ≤ {TARGET_P95_RATIO:g}x floor (worst clip, language given)",
            "measured": f"{worst_p95:.2f}x",
            "met": worst_p95 <= TARGET_P95_RATIO,
        },
        {
            "name": f"validate p50 ≤ {TARGET_AUTO_P50_RATIO:g}x floor, language 'auto'",
            "measured": f"{auto['p50_ratio']:.2f}x",
            "met": auto["p50_ratio"] <= TARGET_AUTO_P50_RATIO,
        },
        {
            "name": f"cost per 1,000 validations ≤ ${TARGET_USD_PER_1000:g} "
            f"(Lambda {cost['lambda_memory_mb']} MB, estimated)",
            "measured": f"${cost['lambda_usd_per_1000_estimate']:.4f}",
            "met": cost["lambda_usd_per_1000_estimate"] <= TARGET_USD_PER_1000,
        },
        {
            "name": f"handler overhead ≤ {TARGET_HANDLER_OVERHEAD:.0%} of model time",
            "measured": f"{overhead:.1%}",
            "met": overhead <= TARGET_HANDLER_OVERHEAD,
        },
    ]


def environment(validator: Any) -> dict[str, Any]:
    import ctranslate2
    import faster_whisper

    cpu = (
        next(
            (
                line.split(":", 1)[1].strip()
                for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")
            ),
            platform.processor(),
        )
        if Path("/proc/cpuinfo").exists()
        else platform.processor()
    )
    return {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpu": cpu,
        "cpu_threads": validator.cpu_threads,
        "faster_whisper": faster_whisper.__version__,
        "ctranslate2": ctranslate2.__version__,
        "model": "whisper base (CTranslate2), int8",
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer repetitions (CI smoke run)")
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT, help="JSON report path")
    parser.add_argument("--check", action="store_true", help="exit 1 when a target is missed")
    args = parser.parse_args(argv)
    reps = QUICK if args.quick else FULL
    started = time.perf_counter()
    load_before = os.getloadavg()[0]

    from fala.model_store import whisper_model_dir

    model_dir = whisper_model_dir()
    progress(f"cold start: {reps.cold} fresh process(es) x 2")
    cold = measure_cold_start(model_dir, reps.cold)

    progress("loading the handler (and the shared model)")
    api, engine = import_handler(model_dir)
    validator = engine.validator()
    audio = {clip.file: load_audio(clip) for clip in CLIPS}
    for clip in CLIPS:  # first calls allocate; not measured
        validator.validate(audio[clip.file], clip.expected, clip.language)
        encoder_floor(validator.model, audio[clip.file])

    progress(f"warm: {reps.warm} validations per clip, encoder floor interleaved")
    warm = measure_warm(validator, audio, reps)
    progress(f"handler: {reps.handler} request(s) per clip")
    handler = measure_handler(api, validator, reps.handler)
    progress(f"threads: 1 vs {validator.cpu_threads}, {reps.threads} run(s) each")
    threads = measure_threads(model_dir, validator, audio, reps.threads)
    progress(f"faster-whisper defaults: {reps.bare} run(s) on {reps.bare_clips} clip(s)")
    bare = measure_bare(validator.model, audio, reps)

    report: dict[str, Any] = {
        "mode": "quick" if args.quick else "full",
        "environment": environment(validator),
        "repetitions": reps.__dict__,
        "cold_start": cold,
        "warm": warm,
        "faster_whisper_defaults": bare,
        "threads": threads,
        "handler": handler,
    }
    report["cost"] = cost_model(warm, handler, threads, cold)
    report["targets"] = targets(report)
    report["bench_seconds"] = time.perf_counter() - started
    report["load_average_1min"] = {"before": load_before, "after": os.getloadavg()[0]}

    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n")
    print_report(report)
    busy = max(report["load_average_1min"].values())
    if busy > 0.5:
        console.print(
            f"[yellow]Other processes were running (1-minute load average up to {busy:.1f} on "
            f"{validator.cpu_threads} CPUs): absolute times are noisy; the floor runs interleaved "
            "with the validations, so the ratios are the robust figures.[/yellow]"
        )
    shown = args.output.relative_to(ROOT) if args.output.is_relative_to(ROOT) else args.output
    console.print(f"Wrote {shown} in {report['bench_seconds']:.0f} s ({report['mode']} run).")
    missed = [t["name"] for t in report["targets"] if not t["met"]]
    for name in missed:
        console.print(f"[red]MISSED[/red] {name}")
    return 1 if args.check and missed else 0


if __name__ == "__main__":
    sys.exit(main())
