"""The speech-to-text benchmark's arithmetic and one small real run (tests/benchmarks/
bench_stt.py); bench_speed's Lambda memory-size fit and the cost of its clips' mix."""

from __future__ import annotations

import base64
import json
import types

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


def test_the_cost_of_the_clips_mix_is_the_mean_of_their_times(monkeypatch):
    # Every request is billed: three quick clips and a slow one cost the mean of their times,
    # not the p50 of all requests (it falls between two clips and ignores the slowest).
    seconds = dict(zip((c.expected for c in bench_speed.CLIPS), (0.2, 2.0, 0.9, 0.3), strict=True))
    clock = [0.0]
    monkeypatch.setattr(bench_speed, "time", types.SimpleNamespace(perf_counter=lambda: clock[0]))

    class Validator:
        def validate(self, audio, expected, language):
            clock[0] += seconds[expected]

    validator = Validator()

    def handler(event, context):
        body = json.loads(base64.b64decode(event["body"]))
        validator.validate(None, body["expected_speech"], body["language"])
        clock[0] += 0.01  # parsing, logging, the response
        return {"statusCode": 200}

    report = bench_speed.measure_handler(types.SimpleNamespace(handler=handler), validator, 3)

    assert report["model_mix_s"] == pytest.approx(0.85)
    assert report["model_p50_s"] == pytest.approx(0.6)  # between the 0.3 s and 0.9 s clips
    assert report["overhead_p50_s"] == pytest.approx(0.01)
    one_thread = {"validate_p50_s": 3.4}
    cost = bench_speed.cost_model(
        warm={"a.wav": {"audio_s": 4.0}},
        handler=report,
        threads={"validator_cpu_threads": 2, "by_threads": {"1": one_thread, "2": one_thread}},
        cold={"engine": {"import_engine_s": 0.8}},
    )
    assert cost["request_here_s"] == pytest.approx(0.86)
