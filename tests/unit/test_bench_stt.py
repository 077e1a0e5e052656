"""The speech-to-text benchmark's arithmetic and one small real run (tests/benchmarks/
bench_stt.py); bench_speed's Lambda memory-size fit."""

from __future__ import annotations

import json

import pytest

from tests.benchmarks import bench_speed, bench_stt


def row(said: str, full: str, fitted: str, split: str = "dev") -> dict:
    return {
        "split": split,
        "render": "clean",
        "language": "pt",
        "said": said,
        "full_text": full,
        "fitted_text": fitted,
        "full_s": 0.6,
        "fitted_s": 0.3,
    }


def test_exact_matches_and_cer_read_numbers_however_they_are_written():
    cell = bench_stt.summarize(
        [
            row("Código quatro, sete, dois, nove.", "Código 4-7-2-9", "Código 4729."),
            row("Entrada, treze e quarenta.", "Entrada, treze e quarenta.", "Entrada 3 e 40"),
        ]
    )
    assert (cell["exact_full"], cell["exact_fitted"]) == (2, 1)
    assert cell["cer_full"] == 0 < cell["cer_fitted"]
    assert cell["wer_fitted"] > cell["cer_fitted"]  # "4729" is one word against four
    assert cell["ratio_p50"] == 0.5


def test_check_fails_when_the_fitted_window_is_over_a_point_worse():
    good = {"split": "dev", "render": "clean", "cer_full": 0.100, "cer_fitted": 0.109}
    bad = {"split": "real_en", "render": "phone8k", "cer_full": 0.100, "cer_fitted": 0.111}
    assert bench_stt.check_failures([good]) == []
    (failure,) = bench_stt.check_failures([good, bad])
    assert failure.startswith("real_en x phone8k")


def test_a_small_run_writes_every_transcript_both_ways(whisper_model_path, tmp_path):
    out = tmp_path / "stt.json"
    assert bench_stt.main(["--splits", "holdout3", "--max-clips", "2", "--output", str(out)]) == 0
    report = json.loads(out.read_text())
    assert len(report["rows"]) == 2
    assert all(r["full_text"] and r["fitted_text"] for r in report["rows"])
    assert {c["split"] for c in report["cells"]} == {"holdout3", "all"}


@pytest.mark.parametrize("parallel_share", [0.3, 0.7])
def test_the_memory_fit_is_the_cheapest_size_within_a_tenth_of_3008_mbs_time(parallel_share):
    one_thread = 2.0
    two_threads = one_thread * (1 - parallel_share / 2)
    cost = bench_speed.cost_model(
        warm={"a.wav": {"audio_s": 4.0}},
        handler={"model_mix_s": two_threads, "overhead_p50_s": 0.01},
        threads={
            "validator_cpu_threads": 2,
            "by_threads": {
                "1": {"validate_p50_s": one_thread},
                "2": {"validate_p50_s": two_threads},
            },
        },
        cold={"engine": {"import_engine_s": 0.8}},
    )
    by_size = {r["memory_mb"]: r for r in cost["memory_sizes"]}
    reference = by_size[bench_speed.REFERENCE_MEMORY_MB]
    limit = reference["request_s"] * (1 + bench_speed.MEMORY_SLOWDOWN)
    fit = cost["memory_fit_mb"]
    assert by_size[fit]["request_s"] <= limit
    smaller = [mb for mb in by_size if mb < fit]
    assert all(by_size[mb]["request_s"] > limit for mb in smaller)
    assert by_size[fit]["usd_per_1000"] < reference["usd_per_1000"]
