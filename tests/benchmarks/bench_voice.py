"""Speed of the voice service in local CPU mode: time to first audio byte (/ws/tts, /ws/stream,
/ws), end-to-end turn latency, Piper's real-time factor, STT latency and concurrent WebSocket
sessions held with 0 errors. A script, not a test: nothing asserts on time.

    .venv/bin/python -m tests.benchmarks.bench_voice [--runs N] [--sessions N] [--output PATH]

Runs the real stack on this machine: faster-whisper base int8, SmolLM2-135M-Instruct served by
cyllama (OpenAI-compatible), Piper en_US joe medium, the FastAPI app on uvicorn, real WebSocket
clients. Prints a table and writes every figure, raw samples included, to .fala/bench/voice.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import statistics
import threading
import time
from pathlib import Path
from typing import Any

import onnxruntime
from rich.console import Console
from rich.table import Table
from voice_service.app import create_app
from voice_service.backends import Backends, FasterWhisperSTT, OpenAIChatLLM, PiperTTS
from voice_service.backends.tts import packaged_piper_voices
from voice_service.cache import MemoryCache
from voice_service.local import free_port, local_llm_server, local_settings

ROOT = Path(__file__).resolve().parents[2]
CLIP = ROOT / "tests" / "fixtures" / "audio" / "checkin_9_45_en.wav"
DEFAULT_OUTPUT = ROOT / ".fala" / "bench" / "voice.json"
TOKEN = "bench-token"
AUTH = {"authorization": f"Bearer {TOKEN}"}
TARGET_PIPER_RTF = 0.1
TTS_TEXT = "Your check in is confirmed for nine forty five. See you soon!"


def p50(xs: list[float]) -> float:
    return statistics.median(xs)


def p95(xs: list[float]) -> float:
    ordered = sorted(xs)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


class Server:
    def __init__(self, app) -> None:
        import uvicorn

        self.port = free_port()
        config = uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()
        while not self.server.started:
            time.sleep(0.05)
        self.ws = f"ws://127.0.0.1:{self.port}"

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


async def ws_tts(url: str, text: str) -> tuple[float, float, int]:
    """(time to first audio byte, time to end, chunks) for one /ws/tts request."""
    from websockets.asyncio.client import connect

    async with connect(f"{url}/ws/tts", additional_headers=AUTH) as ws:
        started = time.perf_counter()
        await ws.send(json.dumps({"text": text, "language": "en"}))
        first, chunks = None, 0
        while True:
            message = await ws.recv()
            if isinstance(message, bytes):
                chunks += 1
                first = first or time.perf_counter() - started
                continue
            event = json.loads(message)
            if event.get("event") == "end":
                return first or 0.0, time.perf_counter() - started, chunks
            raise RuntimeError(f"/ws/tts answered {event}")


async def ws_turn(url: str, audio: bytes, route: str) -> tuple[float, float]:
    """(time to first audio byte, end-to-end) for one spoken turn over /ws or /ws/stream."""
    from websockets.asyncio.client import connect

    async with connect(f"{url}{route}?language=en", additional_headers=AUTH) as ws:
        started = time.perf_counter()
        await ws.send(audio)
        first = None
        while True:
            message = await ws.recv()
            if isinstance(message, bytes):
                first = first or time.perf_counter() - started
                if route == "/ws":
                    return first, time.perf_counter() - started
                continue
            event = json.loads(message)
            if event.get("event") == "error" or "error" in event:
                raise RuntimeError(f"{route} answered {event}")
            if event.get("event") == "end":
                return first or 0.0, time.perf_counter() - started


async def concurrent_sessions(url: str, n: int) -> dict[str, Any]:
    """Open n /ws/tts sessions at once, hold them all, then have each synthesize one sentence."""
    from websockets.asyncio.client import connect

    errors: list[str] = []
    sockets = []
    try:
        for _ in range(n):
            sockets.append(await connect(f"{url}/ws/tts", additional_headers=AUTH))

        async def one(i: int, ws) -> float:
            started = time.perf_counter()
            await ws.send(json.dumps({"text": f"Hello caller number {i}.", "language": "en"}))
            while isinstance(message := await ws.recv(), bytes):
                pass
            if json.loads(message).get("event") != "end":
                errors.append(message)
            return time.perf_counter() - started

        results = await asyncio.gather(
            *(one(i, ws) for i, ws in enumerate(sockets)), return_exceptions=True
        )
    finally:
        for ws in sockets:
            await ws.close()
    times = [r for r in results if isinstance(r, float)]
    errors += [repr(r) for r in results if not isinstance(r, float)]
    return {
        "sessions": n,
        "errors": len(errors),
        "error_samples": errors[:3],
        "p50_s": p50(times) if times else None,
        "max_s": max(times) if times else None,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--sessions", type=int, default=20)
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT)
    args = parser.parse_args()
    console = Console()
    audio = CLIP.read_bytes()

    with local_llm_server() as llm_url:
        settings = local_settings(llm_url, TOKEN)
        started = time.perf_counter()
        stt = FasterWhisperSTT(settings.whisper_model_dir, device="cpu")
        stt_load = time.perf_counter() - started
        started = time.perf_counter()
        piper = PiperTTS(packaged_piper_voices(), threads=settings.piper_threads)
        piper.warm_up()
        piper_load = time.perf_counter() - started
        llm = OpenAIChatLLM(llm_url, settings.llm_model, max_tokens=settings.llm_max_tokens)
        app = create_app(settings, Backends(stt=stt, llm=llm, tts=piper), cache=MemoryCache())
        server = Server(app)
        engine = app.state.engine
        try:
            # Warm-up: one of each path.
            engine.transcribe(audio, "en")
            asyncio.run(ws_tts(server.ws, "Warm up."))
            asyncio.run(ws_turn(server.ws, audio, "/ws"))

            stt_s = []
            for _ in range(args.runs):
                t = time.perf_counter()
                engine.transcribe(audio, "en")
                stt_s.append(time.perf_counter() - t)

            # Wall-clock RTF, and CPU seconds per audio second: on a shared machine the second
            # tells what the synthesis costs whatever else runs.
            rtf, cpu_rtf, tts_s, audio_s = [], [], [], 0.0
            for _ in range(args.runs):
                t, cpu = time.perf_counter(), time.process_time()
                chunks = list(piper.synthesize(TTS_TEXT, language="en"))
                elapsed, cpu = time.perf_counter() - t, time.process_time() - cpu
                audio_s = sum(c.samples.size / c.sample_rate for c in chunks)
                tts_s.append(elapsed)
                rtf.append(elapsed / audio_s)
                cpu_rtf.append(cpu / audio_s)
            threads = f"{piper.threads} thread(s)" if piper.threads else "one thread per core"
            piper_config = f"fp32, onnxruntime {onnxruntime.__version__}, {threads}"
            load_avg = os.getloadavg()[0]

            llm_s = []
            for _ in range(args.runs):
                t = time.perf_counter()
                engine.reply("What time is check in?")
                llm_s.append(time.perf_counter() - t)

            tts_first, tts_total = [], []
            for i in range(args.runs):  # distinct texts: no cache hits
                first, total, _ = asyncio.run(ws_tts(server.ws, f"{TTS_TEXT} Run {i}."))
                tts_first.append(first)
                tts_total.append(total)
            cached_first, _, _ = asyncio.run(ws_tts(server.ws, f"{TTS_TEXT} Run 0."))

            ws_first, ws_total, stream_first, stream_total = [], [], [], []
            for _ in range(args.runs):
                first, total = asyncio.run(ws_turn(server.ws, audio, "/ws"))
                ws_first.append(first)
                ws_total.append(total)
                first, total = asyncio.run(ws_turn(server.ws, audio, "/ws/stream"))
                stream_first.append(first)
                stream_total.append(total)

            sessions = asyncio.run(concurrent_sessions(server.ws, args.sessions))
        finally:
            server.stop()

    figures = {
        "machine": {"cpus": len(os.sched_getaffinity(0)), "python": platform.python_version()},
        "models": {
            "stt": "whisper base int8 (faster-whisper, CPU)",
            "llm": "SmolLM2-135M-Instruct Q4_1 (cyllama server)",
            "tts": f"Piper en_US joe medium ({piper_config})",
        },
        "load_s": {"stt": stt_load, "piper": piper_load},
        "stt_s": stt_s,
        "llm_reply_s": llm_s,
        "piper": {
            "config": piper_config,
            "threads": piper.threads,
            "synth_s": tts_s,
            "audio_s": audio_s,
            "rtf": rtf,
            "cpu_rtf": cpu_rtf,
            "load_avg_1m": load_avg,
            "target_rtf": TARGET_PIPER_RTF,
        },
        "ws_tts": {
            "first_audio_s": tts_first,
            "total_s": tts_total,
            "cached_first_s": cached_first,
        },
        "ws_turn": {"first_audio_s": ws_first, "end_to_end_s": ws_total},
        "ws_stream": {"first_audio_s": stream_first, "end_to_end_s": stream_total},
        "concurrent": sessions,
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(figures, indent=2))

    table = Table(title=f"Voice service, local CPU mode ({figures['machine']['cpus']} cores)")
    table.add_column("measure")
    table.add_column("p50", justify="right")
    table.add_column("p95", justify="right")
    table.add_column("note")

    def row(name: str, xs: list[float], note: str = "") -> None:
        table.add_row(name, f"{p50(xs):.3f} s", f"{p95(xs):.3f} s", note)

    row("STT (whisper base int8, 4.1 s clip)", stt_s)
    row("LLM reply (SmolLM2-135M)", llm_s)
    row("Piper synthesis", tts_s, f"{audio_s:.2f} s of audio")
    table.add_row(
        "Piper real-time factor",
        f"{p50(rtf):.3f}",
        f"{p95(rtf):.3f}",
        f"target ≤ {TARGET_PIPER_RTF}: {'met' if p50(rtf) <= TARGET_PIPER_RTF else 'NOT met'}; "
        f"CPU-s per audio-s {p50(cpu_rtf):.3f}; load {load_avg:.1f}; {piper_config}",
    )
    row("/ws/tts first audio byte", tts_first, f"cached: {cached_first * 1000:.0f} ms")
    row("/ws/tts whole reply", tts_total)
    row("/ws first audio byte (= turn)", ws_first, "seed contract: text, then whole WAV")
    row("/ws/stream first audio byte", stream_first, "first sentence synthesized")
    row("/ws/stream end to end", stream_total)
    table.add_row(
        f"{sessions['sessions']} concurrent /ws/tts sessions",
        f"{sessions['p50_s']:.3f} s" if sessions["p50_s"] else "-",
        f"{sessions['max_s']:.3f} s (max)" if sessions["max_s"] else "-",
        f"{sessions['errors']} errors",
    )
    console.print(table)
    console.print(f"Written to {args.output}")
    return 0 if sessions["errors"] == 0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
