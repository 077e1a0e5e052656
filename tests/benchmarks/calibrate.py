"""`confidence` fitted where no threshold was: every split but dev, across renders, real speech.

    make calibrate    # bench_robust on CALIBRATION_RUN (about an hour on one core), then this
    .venv/bin/python -m tests.benchmarks.calibrate RUN.json [RUN.json ...]   # refit from runs

The thresholds of the decision were set on the corpus' dev split, so `confidence` is fitted on
the others (bench_robust's evaluations: the holdouts, real human speech, the voice families added
since), through every render, each positive against its generated near misses. Each clip goes,
with all its renders and near misses, to the fit half or the report half (a hash of its split
and file). Per outcome group (fala.core.decision.confidence_group) `confidence` is the share of
the fit half's clips in it that say their phrase, at even odds (each label's clips weighing half
of all: as many clips that say their phrase as clips that do not; the runs' own mix, one
positive to two near misses, is a choice of the benchmark, not of users), add-one smoothed and
kept within [0.01, 0.99]. Prints the fitted table next to the engine's
(fala.core.decision.CALIBRATED_CONFIDENCE, REFIT where they differ); per split of the report
half, the Brier score at even odds and, per group, the share observed (and the Brier score per
render); and per split left out of the fit entirely, the Brier score of a table fitted without
it — how far `confidence` moves on a voice family it never heard. Writes
.fala/bench/calibration.json.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from collections.abc import Callable
from pathlib import Path

from fala.core.decision import CALIBRATED_CONFIDENCE, confidence_group
from tests.benchmarks.bench_accuracy import ROOT

OUTPUT = ROOT / ".fala" / "bench" / "calibration.json"
RUNS = ROOT / ".fala" / "bench" / "calibration-runs.json"
LOWEST, HIGHEST = 0.01, 0.99
# The evaluations the table is fitted on: every split but dev (the thresholds' own), every
# render, a seeded sample of 10 clips a split, each positive against 2 generated near misses.
CALIBRATION_RUN = [
    "--splits",
    "holdout,holdout2,holdout3,real_en,espeak_variants,flite,pico,pt_pt",
    "--max-clips",
    "10",
    "--near-misses",
    "2",
]


def fit_half(record: dict) -> bool:
    """Whether a clip's evaluations are fitted on (else reported on): half the clips of each
    split, all the renders and near misses of one clip on the same side."""
    digest = hashlib.sha256(f"{record['split']}|{record['file']}".encode()).digest()
    return digest[0] % 2 == 0


def group_of(record: dict) -> str | None:
    """The outcome group of an evaluation (None: silence, whose confidence is fixed at 0)."""
    if record["silent"]:
        return None
    return confidence_group(record["reason"], record["free_logprob"])


def calibration_fit(records: list[dict]) -> dict[str, dict]:
    """Per outcome group: how many positives and negatives fell in it, and the share of
    positives among them once both labels weigh the same in all (even odds), add-one smoothed
    ((positives + 1) / (clips + 2), in weighted clips) so that a small or empty group says little
    either way — the dev fit's smoothing until session 35, at even odds."""
    fitted = [(r, group_of(r)) for r in records]
    fitted = [(r, g) for r, g in fitted if g is not None]
    positives = sum(r["label"] == "accept" for r, _ in fitted)
    negatives = len(fitted) - positives
    # each label's clips weigh half of all of them
    weight_pos = len(fitted) / (2 * positives) if positives else 0.0
    weight_neg = len(fitted) / (2 * negatives) if negatives else 0.0
    fit = {}
    for group in CALIBRATED_CONFIDENCE:
        inside = [r for r, g in fitted if g == group]
        pos = sum(r["label"] == "accept" for r in inside)
        neg = len(inside) - pos
        share = (weight_pos * pos + 1) / (weight_pos * pos + weight_neg * neg + 2)
        fit[group] = {
            "positives": pos,
            "negatives": neg,
            "confidence": round(min(max(share, LOWEST), HIGHEST), 2),
        }
    return fit


def balanced_brier(records: list[dict], confidence: Callable[[dict], float]) -> float | None:
    """Brier score of `confidence` with positives and negatives weighing half each (even odds,
    as the table is fitted), or None without both."""
    pos = [(confidence(r) - 1) ** 2 for r in records if r["label"] == "accept"]
    neg = [confidence(r) ** 2 for r in records if r["label"] != "accept"]
    if not pos or not neg:
        return None
    return round(0.5 * sum(pos) / len(pos) + 0.5 * sum(neg) / len(neg), 4)


def applying(table: dict[str, dict]) -> Callable[[dict], float]:
    """An evaluation's confidence under a fitted table (0 for silence)."""

    def confidence(record: dict) -> float:
        group = group_of(record)
        return 0.0 if group is None else table[group]["confidence"]

    return confidence


def engine_table() -> dict[str, dict]:
    """The engine's committed table, in calibration_fit's shape."""
    return {group: {"confidence": value} for group, value in CALIBRATED_CONFIDENCE.items()}


def report(records: list[dict]) -> dict:
    """The fit on the fit half, its figures on the report half per split and render, and, per
    split, a fit without that split applied to all of it."""
    fitted = [r for r in records if fit_half(r)]
    held = [r for r in records if not fit_half(r)]
    fit, engine = calibration_fit(fitted), applying(engine_table())
    fitted_table = applying(fit)
    splits = dict.fromkeys(r["split"] for r in records)
    renders = dict.fromkeys(r["render"] for r in records)
    per_split = {}
    for split in splits:
        mine = [r for r in held if r["split"] == split]
        per_split[split] = {
            "evaluations": len(mine),
            "brier": balanced_brier(mine, fitted_table),
            "engine_brier": balanced_brier(mine, engine),
            "observed": calibration_fit(mine),
        }
    per_render = {}
    for render in renders:
        mine = [r for r in held if r["render"] == render]
        per_render[render] = {
            "evaluations": len(mine),
            "brier": balanced_brier(mine, fitted_table),
        }
    left_out = {}
    for split in splits:
        without = calibration_fit([r for r in fitted if r["split"] != split])
        mine = [r for r in records if r["split"] == split]
        left_out[split] = {
            "evaluations": len(mine),
            "brier": balanced_brier(mine, applying(without)),
            "engine_brier": balanced_brier(mine, engine),
            "fit_without": without,
            "observed": calibration_fit(mine),
        }
    return {
        "fit": fit,
        "report_half": per_split,
        "report_half_renders": per_render,
        "left_out": left_out,
    }


def print_report(result: dict) -> None:
    """Prints the report, REFIT where the engine's table differs from the fit."""
    fit, engine = result["fit"], engine_table()
    print("`confidence` per outcome group, fitted on the fit half (positives/negatives in it):")
    for group, row in fit.items():
        committed = engine[group]["confidence"]
        flag = "" if committed == row["confidence"] else "  REFIT"
        print(
            f"  {group:20} {row['positives']:>5}/{row['negatives']:<5} -> {row['confidence']:.2f}"
            f"   engine {committed:.2f}{flag}"
        )

    def cells(table: dict[str, dict]) -> str:
        return "  ".join(
            f"{g} {row['confidence']:.2f} ({row['positives']}/{row['negatives']})"
            for g, row in table.items()
            if row["positives"] + row["negatives"]
        )

    def fmt(brier: float | None) -> str:
        return "-" if brier is None else f"{brier:.3f}"

    print(
        "report half, per split: Brier at even odds of the fit (of the engine's table); per group,"
        " the confidence it observed (positives/negatives):"
    )
    for split, row in result["report_half"].items():
        print(
            f"  {split:16} {row['evaluations']:>5}  Brier {fmt(row['brier']):>5} "
            f"({fmt(row['engine_brier'])})  {cells(row['observed'])}"
        )
    print(
        "report half, per render: Brier at even odds of the fit: "
        + ", ".join(f"{k} {fmt(v['brier'])}" for k, v in result["report_half_renders"].items())
    )
    print(
        "each split left out of the fit: Brier of the table fitted without it, on all of it (of"
        " the engine's table), and that table:"
    )
    for split, row in result["left_out"].items():
        said = "  ".join(f"{g} {r['confidence']:.2f}" for g, r in row["fit_without"].items())
        print(
            f"  {split:16} {row['evaluations']:>5}  Brier {fmt(row['brier']):>5} "
            f"({fmt(row['engine_brier'])})  {said}"
        )


def load_records(paths: list[Path]) -> list[dict]:
    records = []
    for path in paths:
        records += json.loads(path.read_text())["evaluations"]
    return records


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="*", type=Path, help=f"bench_robust JSON (default {RUNS})")
    parser.add_argument("--run", action="store_true", help="run bench_robust first, into RUNS")
    parser.add_argument("--output", type=Path, default=OUTPUT)
    args = parser.parse_args(argv)
    if args.run:
        from tests.benchmarks import bench_robust

        if bench_robust.main([*CALIBRATION_RUN, "--json", str(RUNS)]) != 0:
            return 1
    records = load_records(args.runs or [RUNS])
    result = report(records)
    print_report(result)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
