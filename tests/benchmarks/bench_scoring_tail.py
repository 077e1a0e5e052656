"""How far scoring on the trimmed window moves a transcript's score from the whole window's.

    .venv/bin/python -m tests.benchmarks.bench_scoring_tail [--splits dev,real_en]
        [--renders clean,noise10] [--max-clips 12] [--tails 100,150,200,300]

The engine scores phrases against the encoder positions of the clip plus SCORE_TAIL_POSITIONS
of the window's silence after it (fala.core.validation), not the whole window, to make scoring
cheaper. This measures what that costs in fidelity: for each clip (bench_robust's splits and
renders) and each of its two passes (the fitted window and the 30 s one), the free transcript is
scored teacher-forced over the whole window and over the clip plus each tail; printed per split
x render and tail: the share of transcripts whose per-token mean moved by more than 0.3 nats,
and the largest move. Writes every measurement to .fala/bench/scoring_tail.json.

Session 28 found that audio noisy up to its last sample moved by 1.7-6 nats a token at 100
positions (2 s, the engine's tail until then) for 29-58 % of transcripts at 10-20 dB SNR, and
by at most 0.2 at 300 (6 s, its tail since); synthetic clean clips move by ~0.02, but the real
human prompts (real_en, 8 kHz telephony recordings) move even clean: 67 % of transcripts by
more than 0.3 at 2 s, 4-8 % at 6 s (up to 0.73). A script, not a test: nothing asserts.
"""

from __future__ import annotations

import argparse
import json
import sys
import time

import numpy as np

from tests.benchmarks import bench_robust
from tests.benchmarks.bench_accuracy import ROOT

OUTPUT = ROOT / ".fala" / "bench" / "scoring_tail.json"
MOVED = 0.3  # nats a token: a move this large changes what a decision's margins compare


def measure(validator, audio: np.ndarray, language: str, tails: list[int]) -> list[dict]:
    """Per pass: the whole window's score of the free transcript and each tail's difference."""
    from fala.core import whisper_window
    from fala.core.validation import scoring_memory

    rows = []
    for fitted in (True, False):
        transcript, state = validator._transcribe(audio, language, fitted=fitted)
        if state is None or not transcript.tokens:
            continue
        encoded, frames, _ = whisper_window.encode(validator.model, audio, fitted=fitted)
        whole = np.ascontiguousarray(np.asarray(encoded))
        tokens = [list(transcript.tokens)]
        reference = float(validator._score(state._replace(memory=whole), tokens)[0].mean())
        moves = {}
        for tail in tails:
            trimmed = state._replace(memory=scoring_memory(whole, frames, tail))
            moves[tail] = float(validator._score(trimmed, tokens)[0].mean()) - reference
        rows.append({"fitted": fitted, "text": transcript.text, "whole": reference, "moves": moves})
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--splits", default="dev,holdout,holdout2,holdout3,real_en")
    parser.add_argument("--renders", default="clean,phone8k,noise20,noise10")
    parser.add_argument("--max-clips", type=int, default=12, help="per split (a seeded sample)")
    parser.add_argument("--tails", default="100,150,200,300", help="positions after the clip")
    parser.add_argument("--json", type=str, default=str(OUTPUT))
    args = parser.parse_args(argv)
    tails = [int(t) for t in args.tails.split(",")]

    from fala.core.validation import SCORE_TAIL_POSITIONS, shared_validator
    from fala.model_store import whisper_model_dir

    validator = shared_validator(str(whisper_model_dir()))
    renders, _ = bench_robust.available_renders()
    render_names = [r for r in args.renders.split(",") if r in renders]
    started = time.perf_counter()
    results = []
    print(
        f"engine tail: {SCORE_TAIL_POSITIONS} positions; moved: |difference| > {MOVED} nats/token"
    )
    print(
        f"{'split':16} {'render':9} {'n':>4}  "
        + "  ".join(f"tail {t:>3}: moved / max" for t in tails)
    )
    for split in args.splits.split(","):
        clips, reason = bench_robust.split_clips(split)
        if reason:
            print(f"note: {reason}")
            continue
        clips = bench_robust.sample_clips(clips, args.max_clips, f"{split}|tail")
        for render in render_names:
            rows = []
            for clip in clips:
                audio = bench_robust.render_audio(renders, render, clip.load(), clip.file)
                for row in measure(validator, audio, clip.language[:2].lower(), tails):
                    rows.append({"split": split, "render": render, "file": clip.file, **row})
            results += rows
            cells = []
            for tail in tails:
                moves = np.abs([r["moves"][tail] for r in rows]) if rows else np.zeros(1)
                cells.append(f"{np.mean(moves > MOVED):>9.0%} / {moves.max():4.2f}")
            print(f"{split:16} {render:9} {len(rows):>4}  " + "  ".join(cells), flush=True)
    elapsed = time.perf_counter() - started
    report = {"seconds": round(elapsed, 1), "tails": tails, "measurements": results}
    OUTPUT.parent.mkdir(parents=True, exist_ok=True)
    with open(args.json, "w") as f:
        json.dump(report, f, indent=1, ensure_ascii=False)
    print(f"{len(results)} transcripts in {elapsed:.0f} s; wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
