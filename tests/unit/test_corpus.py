"""The labelled accuracy corpus (tests/fixtures/corpus/) is whole and its splits are apart."""

import csv
from collections import Counter
from pathlib import Path

CORPUS = Path(__file__).resolve().parents[1] / "fixtures" / "corpus"


def rows() -> list[dict[str, str]]:
    with (CORPUS / "labels.csv").open(newline="") as f:
        return list(csv.DictReader(f))


def test_every_labelled_clip_exists_and_every_clip_is_labelled():
    labelled = {r["file"] for r in rows()}
    on_disk = {f"clips/{p.name}" for p in (CORPUS / "clips").glob("*.ogg")}
    assert labelled == on_disk
    assert all(r["label"] == ("accept" if r["kind"] == "positive" else "reject") for r in rows())


def test_every_split_has_positives_and_every_kind_of_negative():
    kinds = Counter((r["split"], r["kind"]) for r in rows())
    for split in ("dev", "holdout", "holdout2", "holdout3"):
        assert kinds[(split, "positive")] >= 40
        for kind in ("near_minute", "near_hour", "near_action", "near_digit", "silence", "noise"):
            assert kinds[(split, kind)] >= 1, (split, kind)
    assert len(rows()) >= 80


def test_no_voice_is_heard_in_two_splits():
    # Thresholds are set on dev; each holdout must be speech they were never fitted to.
    voices = {
        split: {r["voice"] for r in rows() if r["split"] == split and r["voice"]}
        for split in ("dev", "holdout", "holdout2", "holdout3")
    }
    assert not voices["dev"] & voices["holdout"]
    assert not voices["holdout2"] & (voices["dev"] | voices["holdout"])
    assert not voices["holdout3"] & (voices["dev"] | voices["holdout"] | voices["holdout2"])
