"""The accuracy benchmark's calibration figures (pure functions; no model)."""

from tests.benchmarks.bench_accuracy import brier, reliability


def clip(label: str, confidence: float, reason: str = "") -> dict:
    return {"label": label, "confidence": confidence, "reason": reason}


def test_brier_is_zero_for_certain_and_right_and_one_for_certain_and_wrong():
    assert brier([clip("accept", 1.0), clip("reject", 0.0)]) == 0.0
    assert brier([clip("accept", 0.0), clip("reject", 1.0)]) == 1.0
    assert brier([clip("accept", 0.5), clip("reject", 0.5)]) == 0.25
    assert brier([]) is None


def test_reliability_bins_by_confidence_and_counts_the_clips_that_say_the_phrase():
    results = [clip("accept", 0.95), clip("accept", 0.92), clip("reject", 0.6), clip("reject", 0.1)]
    results.append(clip("accept", 0.6))
    table = {row["bin"]: row for row in reliability(results)}
    assert set(table) == {"0.10-0.30", "0.50-0.90", "0.90-1.00"}
    assert table["0.90-1.00"] == {
        "bin": "0.90-1.00",
        "clips": 2,
        "mean_confidence": 0.935,
        "positive_share": 1.0,
    }
    assert (table["0.50-0.90"]["clips"], table["0.50-0.90"]["positive_share"]) == (2, 0.5)
    assert table["0.10-0.30"]["positive_share"] == 0.0


def test_missed_targets_name_each_split_below_the_tar_or_above_the_far_target():
    from tests.benchmarks.bench_accuracy import TARGET_FAR, TARGET_TAR, missed_targets

    splits = {
        "dev": {"tar": TARGET_TAR, "far": 0.0},
        "holdout": {"tar": 0.86, "far": TARGET_FAR + 0.01},
        "empty": {"tar": None, "far": None},
    }
    assert missed_targets(splits) == [
        f"holdout: TAR 0.860 < {TARGET_TAR}",
        f"holdout: FAR 0.030 > {TARGET_FAR}",
    ]
