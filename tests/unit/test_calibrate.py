"""How `confidence` is fitted (tests/benchmarks/calibrate.py: no model)."""

import json
from pathlib import Path

from tests.benchmarks.calibrate import (
    applying,
    balanced_brier,
    calibration_fit,
    fit_half,
    report,
)


def evaluation(label: str, reason: str, *, split="holdout", file="a.wav", free=-0.5, **extra):
    return {
        "split": split,
        "file": file,
        "render": "clean",
        "label": label,
        "reason": reason,
        "free_logprob": free,
        "silent": False,
        **extra,
    }


def test_each_group_earns_the_probability_of_the_phrase_at_even_odds():
    records = [evaluation("accept", "match")] * 3 + [evaluation("accept", "acoustic match")]
    records += [evaluation("accept", "mismatch")]
    records += [evaluation("reject", "mismatch")] * 5
    fit = calibration_fit(records)
    # as many positives as negatives: (positives + 1) / (clips + 2)
    assert fit["accept"] == {"positives": 4, "negatives": 0, "confidence": 0.83}  # 5/6
    assert fit["mismatch"] == {"positives": 1, "negatives": 5, "confidence": 0.25}  # 2/8
    # a group nobody fell in says nothing either way
    assert fit["uncertain"]["confidence"] == 0.5
    # three times as many negatives still weigh as much as the positives, each 2/3:
    # (2 * 1 + 1) / (2 * 1 + 2/3 * 15 + 2) = 0.21 (unweighted: 2 / 18 = 0.11)
    tripled = calibration_fit(records + [r for r in records if r["label"] == "reject"] * 2)
    assert tripled["mismatch"]["confidence"] == 0.21


def test_the_benchmarks_mix_of_positives_and_negatives_does_not_move_the_fit():
    records = [evaluation("accept", "match")] * 80 + [evaluation("accept", "uncertain")] * 20
    records += [evaluation("reject", "uncertain")] * 20 + [evaluation("reject", "mismatch")] * 80
    more_negatives = records + [r for r in records if r["label"] == "reject"] * 3
    fitted, diluted = calibration_fit(records), calibration_fit(more_negatives)
    for group in ("uncertain", "mismatch"):  # both kinds of clip in them: a matter of rates
        assert abs(fitted[group]["confidence"] - diluted[group]["confidence"]) <= 0.01
    # no negative was accepted: more of them can only make that likelier to hold
    assert fitted["accept"]["confidence"] <= diluted["accept"]["confidence"]


def test_confidence_is_never_certain_and_silence_is_not_fitted():
    records = [evaluation("accept", "match")] * 500 + [evaluation("reject", "mismatch")] * 500
    silence = evaluation("accept", "no speech", silent=True)
    fit = calibration_fit([*records, *[silence] * 50])
    assert fit["accept"]["confidence"] == 0.99
    assert fit["mismatch"]["confidence"] == 0.01
    assert fit["no speech"] == {"positives": 0, "negatives": 0, "confidence": 0.5}
    assert applying(fit)(silence) == 0.0


def test_a_clip_goes_whole_to_one_half_and_the_halves_are_about_even():
    files = [f"clip{i}.wav" for i in range(400)]
    sides = [fit_half(evaluation("accept", "match", file=f)) for f in files]
    assert 160 <= sum(sides) <= 240
    clip = [evaluation("reject", "mismatch", file="x.wav") | {"render": r} for r in ("a", "b")]
    assert len({fit_half(r) for r in clip}) == 1


def test_balanced_brier_weighs_positives_and_negatives_half_each():
    records = [evaluation("accept", "match")] + [evaluation("reject", "mismatch")] * 9
    table = {"accept": {"confidence": 1.0}, "mismatch": {"confidence": 0.5}}
    # positives: 0 error; negatives: 0.25 each -> 0.5 * 0 + 0.5 * 0.25
    assert balanced_brier(records, applying(table)) == 0.125
    assert balanced_brier(records[:1], applying(table)) is None


def test_a_split_left_out_is_judged_by_a_fit_that_never_saw_it():
    garbled = [
        evaluation("accept", "mismatch", split="pt_pt", file=f"p{i}.wav") for i in range(20)
    ] + [evaluation("reject", "mismatch", split="pt_pt", file=f"p{i}.wav") for i in range(20)]
    clear = [
        evaluation("accept", "match", split="holdout2", file=f"h{i}.wav") for i in range(20)
    ] + [evaluation("reject", "mismatch", split="holdout2", file=f"h{i}.wav") for i in range(20)]
    result = report(garbled + clear)
    without_pt = result["left_out"]["pt_pt"]["fit_without"]
    assert without_pt["mismatch"]["positives"] == 0  # holdout2 alone
    assert result["left_out"]["pt_pt"]["observed"]["mismatch"]["confidence"] == 0.5
    assert set(result["report_half"]) == {"pt_pt", "holdout2"}


def test_make_calibrate_runs_the_benchmark_on_every_split_but_dev_then_fits(
    tmp_path, monkeypatch, capsys
):
    from tests.benchmarks import bench_robust, calibrate

    asked = []

    def fake_bench(argv):  # writes what bench_robust would, for a few clips
        asked.append(argv)
        records = [evaluation("accept", "match", file=f"{i}.wav") for i in range(6)]
        records += [evaluation("reject", "mismatch", file=f"{i}.wav") for i in range(6)]
        path = argv[argv.index("--json") + 1]
        Path(path).write_text(json.dumps({"evaluations": records}))
        return 0

    monkeypatch.setattr(bench_robust, "main", fake_bench)
    monkeypatch.setattr(calibrate, "RUNS", tmp_path / "runs.json")
    assert calibrate.main(["--run", "--output", str(tmp_path / "out.json")]) == 0
    splits = asked[0][asked[0].index("--splits") + 1].split(",")
    assert "dev" not in splits and {"holdout", "real_en", "pt_pt"} <= set(splits)
    assert json.loads((tmp_path / "out.json").read_text())["fit"]["accept"]["positives"] >= 1
    assert "REFIT" in capsys.readouterr().out  # six clips do not give the engine's table
