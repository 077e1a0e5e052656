"""The robustness benchmark's pure parts: near-miss generation, audio renders, prompt parsing."""

import dataclasses
import random
import sys
import wave

import av
import numpy as np
import pytest

from fala.core.audio import speech_rms
from tests.benchmarks import bench_robust
from tests.benchmarks.bench_robust import (
    SAMPLE_RATE,
    Clip,
    available_renders,
    check_failures,
    clock_phrase,
    clock_splice_words,
    evaluations,
    is_short_prompt,
    near_miss_candidates,
    parse_transcripts,
    pick_near_misses,
    render_audio,
    synthesized_clips,
    table_rows,
)

RENDERS, _ = available_renders()


def flat(candidates: dict[str, list[str]]) -> list[str]:
    return [phrase for phrases in candidates.values() for phrase in phrases]


def test_time_near_misses_change_one_minute_hour_or_action_and_never_give_the_phrase():
    candidates = near_miss_candidates("ENTRADA 13 40", "pt-BR", random.Random(0))
    assert set(candidates) == {"teen_hour", "minute", "hour", "action", "shorter"}
    assert candidates["shorter"] == ["ENTRADA 13"]  # stops short of what was said
    assert candidates["teen_hour"] == ["ENTRADA 3 40"]
    assert {"ENTRADA 13 41", "ENTRADA 13 39", "ENTRADA 13 45", "ENTRADA 13 35"} <= set(
        candidates["minute"]
    )
    assert {"ENTRADA 14 40", "ENTRADA 12 40"} <= set(candidates["hour"])
    assert candidates["action"] == ["SAIDA 13 40", "INTERVALO 13 40", "RETORNO 13 40"]
    assert len(candidates["minute"]) == 5 and len(candidates["hour"]) == 3
    assert "ENTRADA 13 40" not in flat(candidates)


def test_opt_in_kinds_stop_short_go_on_or_say_the_hour_alike_and_are_never_sampled_by_default():
    code = near_miss_candidates("CODIGO 3150", "pt-BR", random.Random(0))
    assert code["shorter"] == ["CODIGO 315"]
    assert code["longer"] == ["CODIGO 31500", "CODIGO 31505"]
    spaced = near_miss_candidates("CODE 9 3 1 6", "en-US", random.Random(0))
    assert spaced["longer"] == ["CODE 9 3 1 6 0", "CODE 9 3 1 6 5"]
    assert "longer" not in near_miss_candidates("ENTRADA 13 40", "pt-BR", random.Random(0))
    assert near_miss_candidates("CODE 9 3 1 6", "en-US", random.Random(0))["shorter"] == [
        "CODE 9 3 1"
    ]
    assert "shorter" not in near_miss_candidates("ENTRADA 13 00", "pt-BR", random.Random(0))
    alike = near_miss_candidates("ENTRADA 14 20", "pt-BR", random.Random(0))["alike_hour"]
    assert alike == ["ENTRADA 12 20"]  # "duas e vinte da tarde" against "doze e vinte"
    assert "alike_hour" not in near_miss_candidates("CHECK IN 2 20", "en-US", random.Random(0))
    picked = pick_near_misses("ENTRADA 14 20", "pt-BR", 50, "clip")
    assert "ENTRADA 14" not in picked and "ENTRADA 12 20" not in picked
    picked = pick_near_misses("CODIGO 3150", "pt-BR", 50, "clip")
    assert "CODIGO 315" not in picked and "CODIGO 31500" not in picked


def test_an_english_teen_or_ty_minute_meets_its_partner_first():
    candidates = near_miss_candidates("CHECK IN 7 15", "en-US", random.Random(0))
    assert next(iter(candidates)) == "teen_ty" and candidates["teen_ty"] == ["CHECK IN 7 50"]
    assert near_miss_candidates("CHECK OUT 17 30", "en-US", random.Random(0))["teen_ty"] == [
        "CHECK OUT 17 13"
    ]
    assert pick_near_misses("CHECK IN 7 50", "en-US", 1, "clip") == ["CHECK IN 7 15"]
    assert "teen_ty" not in near_miss_candidates("ENTRADA 13 40", "pt-BR", random.Random(0))
    assert "teen_ty" not in near_miss_candidates("CHECK IN 7 45", "en-US", random.Random(0))


def test_an_hour_meets_itself_with_or_without_its_teen_before_other_hours():
    assert near_miss_candidates("CHECK IN 7 45", "en-US", random.Random(0))["teen_hour"] == [
        "CHECK IN 17 45"
    ]
    assert pick_near_misses("SAIDA 18 15", "pt-BR", 1, "clip") == ["SAIDA 8 15"]
    for phrase in ("ENTRADA 12 00", "ENTRADA 22 10", "CHECK IN 10 30", "CHECK IN 1 40"):
        assert "teen_hour" not in near_miss_candidates(phrase, "pt-BR", random.Random(0))


def test_the_random_hour_never_shares_the_hour_on_a_12_hour_clock():
    for seed in range(50):
        hours = near_miss_candidates("CHECK IN 1 40", "en-US", random.Random(seed))["hour"]
        assert all(int(phrase.split()[2]) % 12 != 1 for phrase in hours)


def test_a_time_written_with_its_half_of_the_day_meets_the_other_half_first():
    candidates = near_miss_candidates("THE TIME IS 7 45 PM", "en-US", random.Random(0))
    assert next(iter(candidates)) == "day_half"
    assert candidates["day_half"] == ["THE TIME IS 7 45 AM"]
    assert "teen_hour" not in candidates  # no one says "seventeen forty-five p m"
    assert {"THE TIME IS 8 45 PM", "THE TIME IS 6 45 PM"} <= set(candidates["hour"])
    assert all(1 <= int(p.split()[3]) <= 12 and p.endswith(" PM") for p in candidates["hour"])
    assert "THE TIME IS 7 46 PM" in candidates["minute"]
    assert near_miss_candidates("CHECK IN 12 05 a.m.", "en-US", random.Random(0))["day_half"] == [
        "CHECK IN 12 05 pm"
    ]
    assert pick_near_misses("THE TIME IS 7 45 PM", "en-US", 1, "clip") == ["THE TIME IS 7 45 AM"]


def test_saytime_words_decode_from_headerless_mu_law(tmp_path):
    # saytime's .au files are raw 8 kHz G.711 mu-law; a tone written that way reads back as one
    tone = (0.5 * np.sin(2 * np.pi * 440 * np.arange(8000) / 8000) * 32767).astype(np.int16)
    path = tmp_path / "7.au"
    with av.open(str(path), "w", format="mulaw") as out:
        stream = out.add_stream("pcm_mulaw", rate=8000, layout="mono")
        frame = av.AudioFrame.from_ndarray(tone.reshape(1, -1), format="s16", layout="mono")
        frame.rate = 8000
        for packet in [*stream.encode(frame), *stream.encode(None)]:
            out.mux(packet)
    assert path.stat().st_size == 8000  # one byte a sample, no header

    audio = bench_robust.decode_mulaw(path)
    assert audio.dtype == np.float32 and abs(audio.size - SAMPLE_RATE) <= 32
    assert 0.3 < float(np.sqrt(np.mean(audio**2))) < 0.4  # a 0.5 sine's RMS, 0.354


def test_english_near_misses_keep_bare_hours_and_swap_the_action():
    candidates = near_miss_candidates("CHECK IN 9 45", "en-US", random.Random(0))
    assert "CHECK IN 10 45" in candidates["hour"] and "CHECK IN 8 45" in candidates["hour"]
    assert candidates["action"] == ["CHECK OUT 9 45", "BREAK 9 45", "BACK 9 45"]
    padded = near_miss_candidates("ENTRADA 08 30", "pt-BR", random.Random(0))
    assert "ENTRADA 07 30" in padded["hour"]


def test_code_near_misses_are_three_single_digit_substitutions():
    for phrase, spaced in (("CODIGO 3150", False), ("CODIGO 3 1 5 0", True)):
        candidates = near_miss_candidates(phrase, "pt-BR", random.Random(0))
        assert list(candidates) == ["digit", "shorter", "longer"] and len(candidates["digit"]) == 3
        for miss in candidates["digit"]:
            digits = "".join(miss.split()[1:])
            assert len(miss.split()) == len(phrase.split())
            assert sum(a != b for a, b in zip(digits, "3150", strict=True)) == 1, (miss, spaced)


def test_word_near_misses_reverse_the_meaning_and_keep_case_and_punctuation():
    assert flat(near_miss_candidates("Agent Logged off.", "en-US", random.Random(0))) == [
        "Agent Logged on.",
        "Agent Logged in.",  # never "out": logged off and logged out mean the same
    ]
    assert near_miss_candidates("AGENT LOGGED IN 9 45", "en-US", random.Random(0))["word"] == [
        "AGENT LOGGED OUT 9 45",
        "AGENT LOGGED OFF 9 45",
    ]
    assert flat(near_miss_candidates("De-activated.", "en-US", random.Random(0))) == ["Activated."]
    assert flat(near_miss_candidates("Enabled.", "en-US", random.Random(0))) == ["Disabled."]
    assert "You are now muted" in flat(
        near_miss_candidates("You are now unmuted", "en-US", random.Random(0))
    )
    assert flat(near_miss_candidates("Press 0 for help.", "en-US", random.Random(0))) == [
        "Press 1 for help."
    ]
    assert near_miss_candidates("Hello world.", "en-US", random.Random(0)) == {}


def test_picked_near_misses_take_each_category_in_turn_seeded_and_honour_exclusions():
    picked = pick_near_misses("ENTRADA 13 40", "pt-BR", 4, "clip-a")
    assert len(picked) == 4
    assert picked == pick_near_misses("ENTRADA 13 40", "pt-BR", 4, "clip-a")
    teen_hour, minute, hour, action = picked
    assert teen_hour == "ENTRADA 3 40"
    assert minute.split()[:2] == ["ENTRADA", "13"]
    assert hour.split()[0::2] == ["ENTRADA", "40"]
    assert action.split()[1:] == ["13", "40"]
    assert pick_near_misses("ENTRADA 13 40", "pt-BR", 40, "clip-a").count(minute) == 1
    assert len(pick_near_misses("ENTRADA 13 40", "pt-BR", 40, "clip-a")) == 12
    excluded = pick_near_misses("Agent Logged off.", "en-US", 4, "x", exclude={"agentloggedon"})
    assert excluded == ["Agent Logged in."]


def test_a_near_miss_kind_gives_a_clip_every_near_miss_of_that_kind_and_no_other():
    clip = Clip("dev", "a.ogg", "ENTRADA 13 40", "pt-BR", "accept", "positive", lambda: None)
    assert evaluations(clip, 4, set(), "teen_hour") == [
        ("ENTRADA 13 40", "accept", "positive"),
        ("ENTRADA 3 40", "reject", "generated_near_miss"),
    ]
    assert len(evaluations(clip, 4, set())) == 5  # the default: 4 picked across categories
    other = dataclasses.replace(clip, expected="ENTRADA 12 40")
    assert evaluations(other, 4, set(), "teen_hour") == [("ENTRADA 12 40", "accept", "positive")]


def speech_like(seconds: float = 1.5, level: float = 0.1) -> np.ndarray:
    """Voiced harmonics with a syllable envelope between quiet edges, at about -20 dBFS."""
    t = np.arange(int(seconds * SAMPLE_RATE)) / SAMPLE_RATE
    voiced = sum(np.sin(2 * np.pi * 150 * k * t) / k for k in range(1, 30))
    syllables = 0.5 - 0.5 * np.cos(2 * np.pi * 3 * t)
    edge = np.zeros(SAMPLE_RATE // 4)
    return np.concatenate([edge, level * voiced * syllables / 2, edge]).astype(np.float32)


@pytest.mark.parametrize("name", list(RENDERS))
def test_every_render_gives_finite_float32_16k_mono_audio_that_is_reproducible(name):
    audio = speech_like()
    rendered = render_audio(RENDERS, name, audio, "clip")
    assert rendered.dtype == np.float32 and rendered.ndim == 1
    assert np.isfinite(rendered).all() and np.abs(rendered).max() <= 1.0
    assert 0.8 * audio.size <= rendered.size <= audio.size + 1.2 * SAMPLE_RATE
    assert np.array_equal(rendered, render_audio(RENDERS, name, audio, "clip"))


@pytest.mark.parametrize(
    ("name", "factor"),
    [("fast15", 1.15), ("slow15", 0.85), ("pitch_up2", 1.0), ("pitch_down2", 1.0)],
)
def test_tempo_and_pitch_renders_last_as_long_as_their_tempo_says(name, factor):
    audio = speech_like()
    expected = audio.size / factor
    assert abs(render_audio(RENDERS, name, audio, "clip").size - expected) <= 0.2 * expected


@pytest.mark.parametrize(("name", "snr_db"), [("noise20", 20), ("noise10", 10)])
def test_noise_renders_reach_their_signal_to_noise_ratio_within_1_db(name, snr_db):
    audio = speech_like()
    noise = render_audio(RENDERS, name, audio, "clip") - audio
    measured = 20 * np.log10(speech_rms(audio) / np.sqrt(np.mean(noise.astype(np.float64) ** 2)))
    assert abs(measured - snr_db) <= 1.0


def band_power(audio: np.ndarray, low: float, high: float) -> float:
    spectrum = np.abs(np.fft.rfft(audio.astype(np.float64))) ** 2
    freqs = np.fft.rfftfreq(audio.size, 1 / SAMPLE_RATE)
    return float(spectrum[(freqs >= low) & (freqs < high)].sum())


def test_phone8k_keeps_the_telephone_band_and_nothing_above_4_khz():
    noise = (0.1 * np.random.default_rng(0).standard_normal(2 * SAMPLE_RATE)).astype(np.float32)
    phone = render_audio(RENDERS, "phone8k", noise, "clip")
    total = band_power(phone, 0, SAMPLE_RATE / 2)
    assert band_power(phone, 4000, SAMPLE_RATE / 2) < 1e-4 * total
    assert band_power(phone, 0, 150) < 0.01 * total
    assert band_power(phone, 300, 3400) > 0.9 * total


@pytest.mark.skipif("gsm" not in RENDERS, reason="no GSM encoder in PyAV or sox here")
def test_gsm_is_a_lossy_narrow_band_round_trip_of_the_same_length():
    audio = speech_like()
    gsm = render_audio(RENDERS, "gsm", audio, "clip")
    assert abs(gsm.size - audio.size) <= 0.05 * SAMPLE_RATE
    total = band_power(gsm, 0, SAMPLE_RATE / 2)
    assert band_power(gsm, 4000, SAMPLE_RATE / 2) < 0.01 * total  # sampled at 8 kHz
    # a 13 kbit/s codec: the speech survives, changed
    kept = gsm[: audio.size].astype(np.float64)
    correlation = np.corrcoef(kept, audio[: kept.size])[0, 1]
    assert 0.5 < correlation < 0.999


def test_fixture_pads_0_4_s_and_0_6_s_and_peaks_at_minus_3_dbfs():
    audio = speech_like()
    fixture = render_audio(RENDERS, "fixture", audio, "clip")
    assert fixture.size == audio.size + SAMPLE_RATE
    assert not fixture[: int(0.4 * SAMPLE_RATE)].any()
    assert not fixture[-int(0.6 * SAMPLE_RATE) :].any()
    assert abs(20 * np.log10(np.abs(fixture).max()) + 3) < 0.01


TRANSCRIPTS = """; Core Asterisk Sounds in English

agent-loggedoff: Agent Logged off.
agent-loginok: Agent logged in.
ascending-2tone: [ascending tones]
screen-callee-options: You have these options: Dial 1 if you wish.
confbridge-leave-in: To leave the conference...
digits/9: nine
empty:
"""


def test_asterisk_transcripts_parse_to_names_and_whole_transcripts():
    transcripts = parse_transcripts(TRANSCRIPTS)
    assert transcripts == {
        "agent-loggedoff": "Agent Logged off.",
        "agent-loginok": "Agent logged in.",
        "ascending-2tone": "[ascending tones]",
        "screen-callee-options": "You have these options: Dial 1 if you wish.",
        "confbridge-leave-in": "To leave the conference...",
        "digits/9": "nine",
    }
    short = [name for name, text in transcripts.items() if is_short_prompt(name, text)]
    assert short == ["agent-loggedoff", "agent-loginok"]


def test_clock_splices_say_the_time_the_way_people_do():
    assert clock_splice_words(9, 45) == ["9", "40", "5"]
    assert clock_splice_words(9, 5) == ["9", "oh", "5"]
    assert clock_splice_words(9, 0) == ["9", "oclock"]
    assert clock_splice_words(12, 13) == ["12", "13"]
    assert clock_splice_words(3, 30) == ["3", "30"]


def test_clock_phrases_for_the_synthetic_voices():
    assert clock_phrase("SAIDA", 6, 12, "pt-BR") == ("Saída, seis e doze.", "SAIDA 06 12")
    assert clock_phrase("ENTRADA", 21, 0, "pt-BR") == (
        "Entrada, vinte e uma em ponto.",
        "ENTRADA 21 00",
    )
    assert clock_phrase("CHECK IN", 9, 45, "en-US") == (
        "Check in, nine forty five.",
        "CHECK IN 9 45",
    )
    assert clock_phrase("BREAK", 8, 5, "en-US") == ("Break, eight oh five.", "BREAK 8 05")


def write_silence(voice: str, said: str, path: str) -> list[str]:
    """A synthesizer command stand-in: python writing 0.1 s of silence to `path`."""
    code = (
        "import sys, wave; w = wave.open(sys.argv[1], 'wb'); w.setnchannels(1); "
        "w.setsampwidth(2); w.setframerate(16000); w.writeframes(bytes(3200)); w.close()"
    )
    return [sys.executable, "-c", code, path]


def test_synthesized_clips_are_seeded_clock_phrases_in_the_splits_language(tmp_path, monkeypatch):
    monkeypatch.setattr(bench_robust, "CACHE", tmp_path)
    pt = synthesized_clips("pt_pt", ("pt", "mb-pt1"), 3, write_silence, language="pt")
    assert pt == synthesized_clips("pt_pt", ("pt", "mb-pt1"), 3, write_silence, language="pt")
    assert [c.language for c in pt] == ["pt"] * 6
    assert {c.label for c in pt} == {"accept"} and len({c.file for c in pt}) == 6
    for clip in pt:
        action, hour, minute = clip.expected.rsplit(" ", 2)
        assert action in ("ENTRADA", "SAIDA", "INTERVALO", "RETORNO")
        assert 6 <= int(hour) <= 22 and 0 <= int(minute) < 60
        with wave.open(str(tmp_path / "pt_pt" / clip.file)) as written:
            assert written.getnframes() == 1600
    english = synthesized_clips("pico", ("en-GB", "kal16"), 2, write_silence)
    assert [c.language for c in english] == ["en-GB", "en-GB", "en-US", "en-US"]
    assert all(1 <= int(c.expected.split()[-2]) <= 12 for c in english)


def evaluation(split: str, label: str, validated: bool, confidence: float) -> dict:
    return {
        "split": split,
        "render": "clean",
        "label": label,
        "kind": "positive" if label == "accept" else "generated_near_miss",
        "validated": validated,
        "reason": "match" if validated else "mismatch",
        "confidence": confidence,
        "seconds": 0.1,
    }


def split_results(split: str, false_accept_confidences: list[float]) -> list[dict]:
    """One accepted positive, nine rejected negatives, and the false accepts given."""
    results = [evaluation(split, "accept", True, 0.9)]
    results += [evaluation(split, "reject", False, 0.1)] * 9
    return results + [evaluation(split, "reject", True, c) for c in false_accept_confidences]


def test_check_fails_on_far_above_half_a_percent_or_a_confident_false_accept():
    results = split_results("dev", []) + split_results("holdout", [0.4])
    rows = table_rows(results, ["dev", "holdout"], ["clean"])
    assert [(r["split"], r["far"], r["max_false_accept_confidence"]) for r in rows] == [
        ("dev", 0.0, None),
        ("holdout", 0.1, 0.4),
        ("all", 0.0526, 0.4),
    ]
    assert check_failures(rows) == ["holdout x clean: FAR 0.1000 > 0.005"]
    assert check_failures(table_rows(split_results("dev", [0.9]), ["dev"], ["clean"])) == [
        "dev x clean: FAR 0.1000 > 0.005",
        "dev x clean: a false accept with confidence 0.90 > 0.5",
    ]
    assert check_failures(table_rows(split_results("dev", []), ["dev"], ["clean"])) == []


def test_quiet45_peaks_at_minus_45_dbfs_in_16_bit_steps():
    quiet = render_audio(RENDERS, "quiet45", speech_like(), "clip")
    assert 20 * np.log10(np.abs(quiet).max()) == pytest.approx(-45, abs=0.05)
    steps = quiet.astype(np.float64) * 32767
    assert np.allclose(steps, np.round(steps), atol=1e-3)


def test_babble_talks_over_the_clip_at_its_signal_to_noise_ratio():
    audio = speech_like()
    talkers = [speech_like(0.7, level) for level in (0.05, 0.2, 0.1)]
    rng = np.random.default_rng(3)
    talk = bench_robust.add_babble(audio, rng, snr_db=15, sources=talkers) - audio
    measured = 20 * np.log10(speech_rms(audio) / speech_rms(talk))
    assert abs(measured - 15) <= 1.0


def test_babble_is_made_of_prompts_without_numbers():
    assert {"one", "fifteen", "forty", "oh", "first"} <= bench_robust.NUMBER_WORDS
    assert not {"please", "call", "the"} & bench_robust.NUMBER_WORDS
