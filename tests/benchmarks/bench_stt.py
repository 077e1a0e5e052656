"""Speech to text on a fitted encoder window against Whisper's 30 s window: word error rate and
latency, side by side, on the same clips in one run.

    make bench-stt             # = .venv/bin/python -m tests.benchmarks.bench_stt
    make bench-stt ARGS="--max-clips 20 --renders clean,phone8k --check"

The voice service's speech to text (HTTP /stt, /v1/audio/transcriptions, the WebSocket turn and
the job worker) transcribes clips of up to 30 s over a window fitted to them
(fala.core.whisper_window); faster-whisper's own path encodes the whole 30 s window. Each clip is
transcribed both ways back to back (the order alternates), with the voice service's backend
(Whisper base int8, 2 threads by default). Clips: every split of the labelled corpus (what it
says is in labels.csv's `spoken`) and `real_en`, one professional human speaker (Debian's
asterisk-core-sounds-en prompts and their transcripts, fetched with apt-get download). Texts are
compared after fala.core.normalize (case, punctuation, numbers as digits), with jiwer: WER on
the words; CER and exact matches on the comparison key (no spaces, as validation compares:
"Code 4-7-2-9" and "code 4729" are the same digits), which no formatting choice moves.

Prints WER, CER, exact matches and p50/p95 latency per split x render and writes
.fala/bench/stt.json. `--check` exits 1 when the fitted window's CER is more than CHECK_POINTS
above the 30 s window's on any split x render.
"""

from __future__ import annotations

import argparse
import gzip
import json
import platform
import random
import re
import sys
import time
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import jiwer
import numpy as np
from rich.console import Console
from rich.table import Table

from fala.core.normalize import comparison_key, normalize
from tests.benchmarks import bench_robust
from tests.benchmarks.bench_accuracy import CORPUS, ROOT, load_rows
from tests.benchmarks.bench_accuracy import SPLITS as CORPUS_SPLITS

sys.path.insert(0, str(ROOT / "containers" / "voice_service"))

OUTPUT = ROOT / ".fala" / "bench" / "stt.json"
SPLITS = (*CORPUS_SPLITS, "real_en")
SEED = 20261204
REAL_EN_PROMPTS = 80
CHECK_POINTS = 1.0  # the "within 1 point" of the 30 s window
PROGRESS_EVERY = 25

console = Console(width=max(Console().width, 190))
progress_console = Console(stderr=True)


@dataclass(frozen=True)
class Clip:
    split: str
    name: str
    language: str  # Whisper code
    said: str
    load: Any  # () -> 16 kHz float32


def corpus_clips(split: str) -> list[Clip]:
    return [
        Clip(
            split,
            row["file"],
            row["language"].split("-")[0].lower(),
            row["spoken"],
            partial(bench_robust.decode_file, CORPUS / row["file"]),
        )
        for row in load_rows(CORPUS)
        if row["split"] == split
    ]


def real_en_clips() -> list[Clip]:
    """Transcribed prompts (sound effects and fragments left out), up to 30 words."""
    transcripts = bench_robust.parse_transcripts(
        gzip.decompress(bench_robust.ASTERISK_TRANSCRIPTS.read_bytes()).decode()
    )
    usable = sorted(
        (name, text)
        for name, text in transcripts.items()
        if not name.startswith(bench_robust.ASTERISK_SKIPPED)
        and len(text.split()) <= 30
        and not re.search(r"[][<>()\"]|\.\.|…", text)
        and (bench_robust.ASTERISK_SOUNDS / f"{name}.wav").is_file()
    )
    picked = random.Random(SEED).sample(usable, min(REAL_EN_PROMPTS, len(usable)))
    return [
        Clip(
            "real_en",
            name,
            "en",
            text,
            partial(bench_robust.decode_file, bench_robust.ASTERISK_SOUNDS / f"{name}.wav"),
        )
        for name, text in sorted(picked)
    ]


def split_clips(split: str) -> tuple[list[Clip], str | None]:
    if split in CORPUS_SPLITS:
        return corpus_clips(split), None
    reason = bench_robust.fetch_asterisk()
    return ([], reason) if reason else (real_en_clips(), None)


def words(text: str, language: str) -> str:
    return normalize(text, language) or "<empty>"


def key(text: str, language: str) -> str:
    """The text as validation compares it (no spaces): "Code 4-7-2-9" and "code 4729" agree."""
    return comparison_key(normalize(text, language)) or "<empty>"


def transcribe(stt: Any, audio: np.ndarray, language: str, *, fitted: bool) -> tuple[float, str]:
    """(seconds, text) with the backend's fitted path on or off."""
    from voice_service.backends import stt as stt_module

    saved = stt_module.FITTED_MAX_SECONDS
    stt_module.FITTED_MAX_SECONDS = saved if fitted else -1.0
    try:
        started = time.perf_counter()
        text = stt.transcribe(audio, language).text
        return time.perf_counter() - started, text
    finally:
        stt_module.FITTED_MAX_SECONDS = saved


def run(clips: list[Clip], render_names: list[str], threads: int) -> list[dict]:
    from voice_service.backends import FasterWhisperSTT

    from fala.model_store import whisper_model_dir

    stt = FasterWhisperSTT(whisper_model_dir(), device="cpu", cpu_threads=threads)
    renders, _ = bench_robust.available_renders()
    rows = []
    total = len(clips) * len(render_names)
    started = time.perf_counter()
    for n, (clip, render) in enumerate(((c, r) for c in clips for r in render_names), start=1):
        audio = bench_robust.render_audio(renders, render, clip.load(), f"{clip.split}|{clip.name}")
        first_fitted = n % 2 == 0  # alternate the order: neither pays the other's cache misses
        runs = {}
        for fitted in (first_fitted, not first_fitted):
            runs[fitted] = transcribe(stt, audio, clip.language, fitted=fitted)
        rows.append(
            {
                "split": clip.split,
                "clip": clip.name,
                "render": render,
                "language": clip.language,
                "seconds": round(audio.size / 16_000, 2),
                "said": clip.said,
                "full_text": runs[False][1],
                "fitted_text": runs[True][1],
                "full_s": runs[False][0],
                "fitted_s": runs[True][0],
            }
        )
        if n % PROGRESS_EVERY == 0 or n == total:
            elapsed = time.perf_counter() - started
            progress_console.print(
                f"[dim]· {n}/{total} transcriptions x 2 ({elapsed:.0f} s, "
                f"~{elapsed / n * (total - n):.0f} s left)[/dim]"
            )
    return rows


def summarize(rows: list[dict]) -> dict:
    said = [words(r["said"], r["language"]) for r in rows]
    full = [words(r["full_text"], r["language"]) for r in rows]
    fitted = [words(r["fitted_text"], r["language"]) for r in rows]
    said_keys = [key(r["said"], r["language"]) for r in rows]
    full_keys = [key(r["full_text"], r["language"]) for r in rows]
    fitted_keys = [key(r["fitted_text"], r["language"]) for r in rows]
    return {
        "clips": len(rows),
        "wer_full": round(jiwer.wer(said, full), 4),
        "wer_fitted": round(jiwer.wer(said, fitted), 4),
        "cer_full": round(jiwer.cer(said_keys, full_keys), 4),
        "cer_fitted": round(jiwer.cer(said_keys, fitted_keys), 4),
        "exact_full": sum(a == b for a, b in zip(said_keys, full_keys, strict=True)),
        "exact_fitted": sum(a == b for a, b in zip(said_keys, fitted_keys, strict=True)),
        "transcripts_differ": sum(a != b for a, b in zip(full, fitted, strict=True)),
        "full_p50_ms": round(float(np.percentile([r["full_s"] for r in rows], 50)) * 1000),
        "full_p95_ms": round(float(np.percentile([r["full_s"] for r in rows], 95)) * 1000),
        "fitted_p50_ms": round(float(np.percentile([r["fitted_s"] for r in rows], 50)) * 1000),
        "fitted_p95_ms": round(float(np.percentile([r["fitted_s"] for r in rows], 95)) * 1000),
        # per clip, then the median: one slow moment of the machine moves both of its runs
        "ratio_p50": round(float(np.median([r["fitted_s"] / r["full_s"] for r in rows])), 3),
    }


def table(rows: list[dict], splits: list[str], render_names: list[str]) -> list[dict]:
    out = []
    for render in render_names:
        for split in [*splits, "all"]:
            cell = [r for r in rows if r["render"] == render and split in (r["split"], "all")]
            if cell:
                out.append({"split": split, "render": render, **summarize(cell)})
    return out


def print_table(cells: list[dict]) -> None:
    t = Table(title="Speech to text: fitted window vs Whisper's 30 s window (WER, latency)")
    for column in (
        "render",
        "split",
        "clips",
        "WER 30 s",
        "WER fitted",
        "CER 30 s",
        "CER fitted",
        "exact 30 s",
        "exact fitted",
        "differ",
        "p50 30 s",
        "p50 fitted",
        "p95 30 s",
        "p95 fitted",
        "fitted/30 s",
    ):
        t.add_column(column, justify="left" if column in ("render", "split") else "right")
    for c in cells:
        t.add_row(
            c["render"],
            c["split"],
            str(c["clips"]),
            f"{c['wer_full']:.3f}",
            f"{c['wer_fitted']:.3f}",
            f"{c['cer_full']:.3f}",
            f"{c['cer_fitted']:.3f}",
            str(c["exact_full"]),
            str(c["exact_fitted"]),
            str(c["transcripts_differ"]),
            f"{c['full_p50_ms']} ms",
            f"{c['fitted_p50_ms']} ms",
            f"{c['full_p95_ms']} ms",
            f"{c['fitted_p95_ms']} ms",
            f"{c['ratio_p50']:.2f}x",
        )
    console.print(t)


def check_failures(cells: list[dict]) -> list[str]:
    return [
        f"{c['split']} x {c['render']}: fitted CER {c['cer_fitted']:.3f} is more than "
        f"{CHECK_POINTS:g} point above the 30 s window's {c['cer_full']:.3f}"
        for c in cells
        if c["cer_fitted"] - c["cer_full"] > CHECK_POINTS / 100
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--splits", default=",".join(SPLITS))
    parser.add_argument("--renders", default="clean", help="bench_robust's render names")
    parser.add_argument("--max-clips", type=int, default=None, help="per split (a seeded sample)")
    parser.add_argument("--threads", type=int, default=2, help="CPU threads of the model")
    parser.add_argument("--check", action="store_true")
    parser.add_argument("--output", type=Path, default=OUTPUT)
    args = parser.parse_args(argv)
    splits = [s.strip() for s in args.splits.split(",") if s.strip()]
    unknown = sorted(set(splits) - set(SPLITS))
    available, notes = bench_robust.available_renders()
    render_names = [r.strip() for r in args.renders.split(",") if r.strip()]
    missing = sorted(set(render_names) - set(available))
    if unknown or missing:
        parser.error(
            f"unknown split(s) {unknown} (known: {', '.join(SPLITS)}); "
            f"render(s) not available here {missing} ({'; '.join(notes) or 'see bench_robust'})"
        )
    clips, kept_splits = [], []
    for split in splits:
        found, reason = split_clips(split)
        if reason:
            console.print(f"[yellow]{reason}[/yellow]")
            continue
        if args.max_clips is not None and len(found) > args.max_clips:
            found = sorted(
                random.Random(f"{SEED}|{split}").sample(found, args.max_clips),
                key=lambda c: c.name,
            )
        clips += found
        kept_splits.append(split)
    rows = run(clips, render_names, args.threads)
    cells = table(rows, kept_splits, render_names)
    print_table(cells)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    report = {
        "machine": {"cpu": platform.processor() or platform.machine(), "threads": args.threads},
        "cells": cells,
        "rows": rows,
    }
    args.output.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n")
    console.print(f"wrote {args.output}")
    failures = check_failures(cells)
    for failure in failures:
        console.print(f"[red]check failed: {failure}[/red]")
    return 1 if args.check and failures else 0


if __name__ == "__main__":
    sys.exit(main())
