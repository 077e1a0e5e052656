"""The speaker benchmark's bookkeeping (the benchmark itself needs Debian's prompt packs)."""

from pathlib import Path

import numpy as np
import pytest

from tests.benchmarks import bench_speaker
from tests.benchmarks.bench_speaker import VOICES, equal_error_rate, far_frr, pick


@pytest.fixture
def prompts(monkeypatch):
    paths = [Path(f"prompt-{n:03d}.wav") for n in range(40)]
    monkeypatch.setattr(bench_speaker, "voice_prompts", lambda voice: list(paths))
    return paths


def test_enrolments_of_three_and_five_clips_are_tried_on_the_same_prompts(prompts):
    three, tried_three = pick(VOICES[0], 20, 3)
    five, tried_five = pick(VOICES[0], 20, 5)
    assert three == five[:3] and len(five) == 5
    assert tried_three == tried_five and len(tried_five) == 20
    assert not set(five) & set(tried_five)
    assert pick(VOICES[0], 20, 3) == (three, tried_three)  # seeded


def test_a_larger_enrolment_never_takes_trial_prompts(prompts):
    eight, tried = pick(VOICES[0], 20, 8)
    assert len(eight) == 8 and not set(eight) & set(tried)


def test_error_rates_at_a_threshold_and_where_they_cross():
    targets, nontargets = np.array([0.9, 0.95, 0.7]), np.array([0.5, 0.6, 0.8])
    assert far_frr(targets, nontargets, 0.75) == pytest.approx((1 / 3, 1 / 3))
    assert equal_error_rate(targets, nontargets) == pytest.approx(1 / 3)  # at 0.8
