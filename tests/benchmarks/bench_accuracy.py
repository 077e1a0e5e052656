"""Accuracy of the real validation engine on the labelled corpus (tests/fixtures/corpus/).

    make bench-accuracy        # = .venv/bin/python -m tests.benchmarks.bench_accuracy
    make bench-accuracy ARGS="--split dev --check"   # exit 1 when a split misses the target

Runs SpeechValidator (Whisper base int8, the production settings) over every clip and reports,
per split: TAR (accepted positives / positives), FAR (accepted negatives / negatives), counts,
and how many verdicts were "uncertain" (an uncertain verdict is a reject). Writes the whole run
to .fala/bench/accuracy.json. Errors are listed for the dev split only: the holdout splits are
for measuring, not for tuning (`--show-holdout-errors` if you really must look). `holdout2` is
another synthesizer (RHVoice) added once `holdout` had informed several choices; `holdout3` is
English neural speech (Piper), added after every threshold was set. `confidence` is measured
here (Brier score, reliability per band); it is fitted on bench_robust's evaluations of the
other splits by tests/benchmarks/calibrate.py (`make calibrate`).
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import itertools
import json
import math
import platform
import sys
import time
from collections import Counter
from pathlib import Path

from rich.console import Console
from rich.progress import track

ROOT = Path(__file__).resolve().parents[2]
CORPUS = ROOT / "tests" / "fixtures" / "corpus"
OUTPUT = ROOT / ".fala" / "bench" / "accuracy.json"
TARGET_TAR = 0.90
TARGET_FAR = 0.02
SPLITS = ("dev", "holdout", "holdout2", "holdout3")


def load_rows(corpus: Path) -> list[dict[str, str]]:
    with (corpus / "labels.csv").open(newline="") as f:
        return list(csv.DictReader(f))


def summarize(results: list[dict]) -> dict:
    positives = [r for r in results if r["label"] == "accept"]
    negatives = [r for r in results if r["label"] == "reject"]
    accepted_pos = sum(r["validated"] for r in positives)
    accepted_neg = sum(r["validated"] for r in negatives)
    return {
        "clips": len(results),
        "positives": len(positives),
        "negatives": len(negatives),
        "accepted_positives": accepted_pos,
        "accepted_negatives": accepted_neg,
        "tar": round(accepted_pos / len(positives), 4) if positives else None,
        "far": round(accepted_neg / len(negatives), 4) if negatives else None,
        "uncertain": sum(r["reason"] == "uncertain" for r in results),
        "uncertain_positives": sum(r["reason"] == "uncertain" for r in positives),
        "by_kind": {
            kind: {
                "clips": sum(r["kind"] == kind for r in results),
                "accepted": sum(r["validated"] for r in results if r["kind"] == kind),
            }
            for kind in sorted({r["kind"] for r in results})
        },
        "reasons": dict(Counter(r["reason"] for r in results)),
        "brier": brier(results),
        "reliability": reliability(results),
        "seconds_per_clip": round(sum(r["seconds"] for r in results) / len(results), 3)
        if results
        else None,
    }


# Confidence bins of the reliability table, around the values of
# fala.core.decision.CALIBRATED_CONFIDENCE: silence and a clear mismatch, a garbled mismatch,
# (none since session 35), no speech and uncertain, the accepts.
CONFIDENCE_BINS = (0.0, 0.1, 0.3, 0.5, 0.9, 1.0001)


def brier(results: list[dict]) -> float | None:
    """Mean squared error of `confidence` as a probability that the clip says the phrase."""
    if not results:
        return None
    errors = [(r["confidence"] - (r["label"] == "accept")) ** 2 for r in results]
    return round(sum(errors) / len(errors), 4)


def reliability(results: list[dict]) -> list[dict]:
    """Per confidence bin: clips, mean confidence, and the share that really say the phrase."""
    rows = []
    for low, high in itertools.pairwise(CONFIDENCE_BINS):
        inside = [r for r in results if low <= r["confidence"] < high]
        if inside:
            rows.append(
                {
                    "bin": f"{low:.2f}-{min(high, 1.0):.2f}",
                    "clips": len(inside),
                    "mean_confidence": round(sum(r["confidence"] for r in inside) / len(inside), 3),
                    "positive_share": round(
                        sum(r["label"] == "accept" for r in inside) / len(inside), 3
                    ),
                }
            )
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=CORPUS)
    parser.add_argument("--output", type=Path, default=OUTPUT)
    parser.add_argument("--split", choices=SPLITS, help="only this split")
    parser.add_argument("--show-holdout-errors", action="store_true")
    parser.add_argument(
        "--check",
        action="store_true",
        help=f"exit 1 when a split misses the target (TAR >= {TARGET_TAR}, FAR <= {TARGET_FAR})",
    )
    args = parser.parse_args(argv)

    from fala.core.audio import decode_audio
    from fala.core.validation import SpeechValidator
    from fala.model_store import whisper_model_dir

    started = time.perf_counter()
    validator = SpeechValidator(whisper_model_dir())
    rows = load_rows(args.corpus)
    if args.split:
        rows = [r for r in rows if r["split"] == args.split]
    results: list[dict] = []
    for row in track(rows, description="validating", console=Console(stderr=True), transient=True):
        audio = decode_audio((args.corpus / row["file"]).read_bytes(), max_seconds=30)
        t0 = time.perf_counter()
        v, ev = validator.assess(audio, row["expected_speech"], row["language"])
        results.append(
            {
                **row,
                "validated": v.validated,
                "reason": v.reason,
                "confidence": v.confidence,
                "spoken_text_in_audio": v.spoken_text_in_audio,
                "normalized_spoken": v.normalized_spoken,
                "normalized_expected": v.normalized_expected,
                "seconds": round(time.perf_counter() - t0, 3),
                "evidence": {
                    k: (round(x, 4) if isinstance(x, float) and math.isfinite(x) else x)
                    for k, x in dataclasses.asdict(ev).items()
                    if not (isinstance(x, float) and not math.isfinite(x))
                },
            }
        )

    splits = {s: summarize([r for r in results if r["split"] == s]) for s in SPLITS}
    splits = {s: v for s, v in splits.items() if v["clips"]}
    splits["all"] = summarize(results)
    header = f"{'split':8} {'clips':>5} {'pos':>4} {'neg':>4} {'TAR':>6} {'FAR':>6} "
    header += f"{'acc+':>5} {'acc-':>5} {'uncert':>6} {'s/clip':>6}"
    print(header)
    for name, s in splits.items():
        tar = f"{s['tar']:.3f}" if s["tar"] is not None else "-"
        far = f"{s['far']:.3f}" if s["far"] is not None else "-"
        print(
            f"{name:8} {s['clips']:>5} {s['positives']:>4} {s['negatives']:>4} {tar:>6} "
            f"{far:>6} {s['accepted_positives']:>5} {s['accepted_negatives']:>5} "
            f"{s['uncertain']:>6} {s['seconds_per_clip']:>6}"
        )
    print(f"target: TAR >= {TARGET_TAR} at FAR <= {TARGET_FAR}")
    print("reliability of `confidence` (share of clips that say the phrase, per confidence bin):")
    for name, s in splits.items():
        bins = "  ".join(
            f"{b['bin']}: {b['positive_share']:.2f} of {b['clips']} "
            f"(mean {b['mean_confidence']:.2f})"
            for b in s["reliability"]
        )
        print(f"  {name:8} Brier {s['brier']:.3f}  {bins}")
    print("(`confidence` is fitted by `make calibrate` on other data, at even odds)")
    for r in results:
        wrong = r["validated"] != (r["label"] == "accept")
        if wrong and (r["split"] == "dev" or args.show_holdout_errors):
            print(
                f"  WRONG {r['split']} {r['kind']:14} expected={r['expected_speech']!r} "
                f"said={r['spoken']!r} heard={r['spoken_text_in_audio']!r} "
                f"reason={r['reason']} conf={r['confidence']} ({r['voice']} {r['speed']})"
            )
    elapsed = time.perf_counter() - started
    print(f"{len(results)} clips in {elapsed:.1f} s (model load {validator.load_seconds:.1f} s)")

    args.output.parent.mkdir(parents=True, exist_ok=True)
    report = {
        "model": "whisper-base int8",
        "cpu_threads": validator.cpu_threads,
        "machine": platform.machine(),
        "seconds": round(elapsed, 1),
        "target": {"tar": TARGET_TAR, "far": TARGET_FAR},
        "splits": splits,
        "clips": results,
    }
    args.output.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n")
    shown = args.output.relative_to(ROOT) if args.output.is_relative_to(ROOT) else args.output
    print(f"wrote {shown}")
    missed = missed_targets(splits)
    for line in missed:
        print(f"MISSED {line}")
    return 1 if args.check and missed else 0


def missed_targets(splits: dict[str, dict]) -> list[str]:
    """Each split that misses the target, said plainly (what --check fails on)."""
    missed = []
    for name, s in splits.items():
        if s["tar"] is not None and s["tar"] < TARGET_TAR:
            missed.append(f"{name}: TAR {s['tar']:.3f} < {TARGET_TAR}")
        if s["far"] is not None and s["far"] > TARGET_FAR:
            missed.append(f"{name}: FAR {s['far']:.3f} > {TARGET_FAR}")
    return missed


if __name__ == "__main__":
    sys.exit(main())
