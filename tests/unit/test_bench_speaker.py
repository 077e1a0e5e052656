"""The speaker benchmark's bookkeeping (the benchmark itself needs Debian's prompt packs)."""

import wave
from pathlib import Path

import numpy as np
import pytest

from tests.benchmarks import bench_speaker
from tests.benchmarks.bench_speaker import (
    VOICES,
    decide,
    equal_error_rate,
    far_frr,
    fit_telephone_threshold,
    pick,
    split_scores,
)


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


def trial(score: float, telephone_score: float, target: bool) -> dict:
    return {"score": score, "telephone_score": telephone_score, "target": target}


def test_a_trial_is_accepted_when_either_voiceprint_reaches_its_threshold():
    trials = [
        trial(0.84, 0.10, True),  # the wideband voiceprint
        trial(0.50, 0.86, True),  # the telephone one
        trial(0.82, 0.84, True),  # neither
        trial(0.70, 0.849, False),
    ]
    decide(trials, threshold=0.83, telephone_threshold=0.85)
    targets, nontargets = split_scores(trials, "decision")
    assert far_frr(targets, nontargets, 0.83) == pytest.approx((0.0, 1 / 3))
    assert [t["decision"] >= 0.83 for t in trials] == [True, True, False, False]


def test_the_telephone_threshold_adds_no_false_accept_to_the_wideband_one_s():
    trials = [
        trial(0.90, 0.95, False),  # let in by the wideband voiceprint anyway
        trial(0.50, 0.84, False),
        trial(0.60, 0.82, False),
        trial(0.40, 0.99, True),
    ]
    fitted = fit_telephone_threshold(trials, threshold=0.83)
    assert 0.84 < fitted < 0.8401
    decide(trials, 0.83, fitted)
    assert [t["decision"] >= 0.83 for t in trials] == [True, False, False, True]


def test_voices_are_found_by_their_glob_inside_the_package(tmp_path, monkeypatch):
    monkeypatch.setattr(bench_speaker, "CACHE", tmp_path)
    monkeypatch.setattr(bench_speaker, "prompt_seconds", lambda path: float(path.read_text()))
    small = next(v for v in VOICES if v.name == "cs_small")
    sound = tmp_path / small.package / "usr/share/games/fillets-ng/sound"
    for name, seconds in [
        ("city/cs/vit-m-hlava", 2.5),  # the small fish
        ("city/cs/vit-v-hlava", 2.5),  # the big fish
        ("city/nl/vit-m-hlava", 2.5),  # another language
        ("bar/cs/bar-m-kratke", 0.5),  # too short to count
    ]:
        path = sound / f"{name}.ogg"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(str(seconds))
    found = [p.relative_to(sound) for p in bench_speaker.voice_prompts(small)]
    assert found == [Path("city/cs/vit-m-hlava.ogg")]


def test_the_agreement_study_counts_refusals_and_caught_mix_ups(monkeypatch):
    rng = np.random.default_rng(0)

    def voice(direction: np.ndarray, spread: float) -> list[np.ndarray]:
        vectors = direction + spread * rng.standard_normal((12, direction.size))
        return list(vectors / np.linalg.norm(vectors, axis=1, keepdims=True))

    axes = np.eye(8)
    # two telephony voices far apart, clips tightly around each: nothing refused, all caught
    vectors = {"allison": voice(axes[0], 0.05), "carlo": voice(axes[1], 0.05)}
    rows = bench_speaker.agreement_rows(vectors)
    assert {(r["pool"], r["clips"]) for r in rows} == {("telephony", 3), ("telephony", 5)}
    for row in rows:
        assert row["own_refused"] == 0 and row["mixed_caught_any"] == 1
        assert row["mixed_caught_same_language"] is None  # en and it: no same-language pair
        assert row["enrolments"] == 2 * bench_speaker.AGREEMENT_DRAWS


def test_the_channel_study_refuses_an_enrolment_whose_odd_clip_sounds_like_someone_else():
    rng = np.random.default_rng(1)

    def unit(v: np.ndarray) -> np.ndarray:
        return v / np.linalg.norm(v)

    axes = np.eye(8)
    prompts = [
        {
            "clean": unit(axes[0] + 0.05 * rng.standard_normal(8)),
            "gsm": unit(axes[0] + 0.05 * rng.standard_normal(8)),  # the codec keeps the voice
            "phone8k": unit(axes[1] + 0.05 * rng.standard_normal(8)),  # the band loses it
        }
        for _ in range(12)
    ]
    rows = bench_speaker.channel_rows({"allison": prompts})
    refused = {(r["pool"], r["render"]): r["refused"] for r in rows}
    assert refused == {("telephony", "gsm"): 0.0, ("telephony", "phone8k"): 1.0}


def test_the_other_telephone_lines_keep_the_clip_s_length_and_cut_its_low_band():
    t = np.arange(16_000) / 16_000
    low_and_mid = (0.3 * np.sin(2 * np.pi * 100 * t) + 0.3 * np.sin(2 * np.pi * 1000 * t)).astype(
        np.float32
    )
    gsm = lambda audio, rng: audio  # noqa: E731 (stands in for the codec)
    lines = bench_speaker.line_renders({"gsm": gsm})
    assert set(lines) == set(bench_speaker.LINE_NAMES)
    for name, line in lines.items():
        through = line(low_and_mid, None)
        assert abs(through.size - low_and_mid.size) <= 2, name
        spectrum = np.abs(np.fft.rfft(through[4000:12000]))  # 2 Hz bins
        assert spectrum[50] < 0.2 * spectrum[500], name  # 100 Hz well under 1 kHz
    assert bench_speaker.line_renders({}).keys() == set(bench_speaker.LINE_NAMES) - {"phone8k_gsm"}


def write_word(path: Path, seconds: float, frequency: float) -> None:
    """A tone of `seconds` between 0.3 s silences, as a 22.05 kHz WAV (a recorded word)."""
    rate = 22_050
    tone = 0.5 * np.sin(2 * np.pi * frequency * np.arange(int(seconds * rate)) / rate)
    pcm = (np.concatenate([np.zeros(6615), tone, np.zeros(6615)]) * 32767).astype("<i2")
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(pcm.tobytes())


def test_a_volunteer_s_words_are_joined_into_utterances_each_word_once(tmp_path):
    voice = bench_speaker.volunteer("klettres-data", "pt_BR")
    words = tmp_path / "usr/share/klettres/pt_BR"
    (words / "alpha").mkdir(parents=True)
    for n in range(11):
        write_word(words / "alpha" / f"word{n:02d}.wav", 0.8, 200 + 50 * n)
    (words / "copy.wav").write_bytes((words / "alpha" / "word00.wav").read_bytes())  # two names
    (words / "speex.ogg").write_bytes(b"OggS" + bytes(60))  # undecodable: left out
    (words / "sounds.xml").write_text("<sounds/>")
    bench_speaker.join_words(tmp_path, voice)
    utterances = sorted((tmp_path / "utterances" / "kl_pt_BR").glob("*.wav"))
    seconds = [bench_speaker.prompt_seconds(p) for p in utterances]
    # 11 distinct words of 0.8 s (silences trimmed, 50-100 ms gaps, 0.2 s edges) make 2
    # utterances of 4 words; the 3 left are too short (the copy, counted, would make a third)
    assert len(utterances) == 2 and all(3.5 <= s < 4.5 for s in seconds)
    assert voice.language == "pt-BR" and voice.half == "volunteers"
    first = [p.read_bytes() for p in utterances]
    (tmp_path / "utterances" / "kl_pt_BR" / ".complete").unlink()
    bench_speaker.join_words(tmp_path, voice)
    assert [p.read_bytes() for p in utterances] == first  # seeded
