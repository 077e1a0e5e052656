"""The voice service's speech to text (faster-whisper, real model): a clip of up to 30 s is
transcribed over an encoder window fitted to it; longer audio, timestamps and a transcript that
loops take faster-whisper's own 30 s path."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from voice_service.backends import stt as stt_module

from fala.core import whisper_window
from fala.core.audio import SAMPLE_RATE, decode_audio
from fala.core.normalize import comparison_key, normalize
from fala.core.whisper_window import N_FRAMES

AUDIO = Path(__file__).resolve().parents[1] / "fixtures" / "audio"


def clip(name: str) -> np.ndarray:
    return decode_audio((AUDIO / name).read_bytes(), max_seconds=60)


@pytest.fixture
def windows(stt, monkeypatch) -> list[int]:
    """The mel frames of every window the encoder is given, in order."""
    seen: list[int] = []
    encode = stt._model.encode
    monkeypatch.setattr(stt._model, "encode", lambda f: seen.append(f.shape[-1]) or encode(f))
    return seen


def heard_as(text: str, language: str) -> str:
    return comparison_key(normalize(text, language))


# every CPU (tests/with_isa.sh) hears "Check in 945" in this clip, on either window
CHECK_IN = "checkin_9_45_en_piper.wav"


def test_a_short_clip_is_heard_over_a_window_fitted_to_it(stt, windows):
    heard = stt.transcribe(clip(CHECK_IN), "en")
    assert heard_as(heard.text, "en") == heard_as("check in 9 45", "en")
    assert heard.language == "en"
    assert windows == [stt_module.FITTED_FLOOR_FRAMES]


def test_the_language_is_detected_on_the_fitted_window_among_the_candidates(stt, windows):
    heard = stt.transcribe(clip(CHECK_IN), None, detect_among=("pt", "en"))
    assert heard.language == "en"
    assert heard_as(heard.text, "en") == heard_as("check in 9 45", "en")
    assert windows == [stt_module.FITTED_FLOOR_FRAMES]  # one pass: detection and decoding


def test_timestamps_take_faster_whispers_path(stt, windows):
    heard = stt.transcribe(clip("entrada_13_40_pt.wav"), "pt", timestamps=True)
    assert heard.segments and heard.segments[0].end > heard.segments[0].start
    assert set(windows) == {N_FRAMES}


def test_audio_longer_than_a_window_takes_faster_whispers_path(stt, windows):
    one = clip(CHECK_IN)
    gap = np.zeros(SAMPLE_RATE, dtype=np.float32)
    long = np.concatenate([np.concatenate([one, gap])] * 12)
    assert long.size / SAMPLE_RATE > stt_module.FITTED_MAX_SECONDS
    heard = stt.transcribe(long, "en")
    assert normalize(heard.text, "en").count("check in") >= 6  # both windows were heard
    assert set(windows) == {N_FRAMES} and len(windows) >= 2


def test_a_transcript_that_loops_is_heard_again_over_the_30_s_window(stt, windows, monkeypatch):
    looped = []
    real = whisper_window.looks_looped
    monkeypatch.setattr(whisper_window, "looks_looped", lambda text: looped.append(text) or True)
    heard = stt.transcribe(clip(CHECK_IN), "en")
    assert looped and not real(looped[0])  # asked of the fitted window's transcript
    assert windows[0] == stt_module.FITTED_FLOOR_FRAMES and set(windows[1:]) == {N_FRAMES}
    assert heard_as(heard.text, "en") == heard_as("check in 9 45", "en")


def test_silence_is_no_words_without_the_model(stt, windows):
    heard = stt.transcribe(np.zeros(3 * SAMPLE_RATE, dtype=np.float32), "pt")
    assert heard.text == "" and windows == []


def test_the_transcript_bound_grows_with_the_clip_and_stops_at_the_decoders_room():
    assert whisper_window.max_new_tokens(2.0, cap=444) < whisper_window.max_new_tokens(
        10.0, cap=444
    )
    assert whisper_window.max_new_tokens(30.0, cap=444) == 444


def test_the_services_window_has_its_own_floor():
    assert whisper_window.encoder_window(300, floor=stt_module.FITTED_FLOOR_FRAMES) == 2000
    assert whisper_window.encoder_window(2500, floor=stt_module.FITTED_FLOOR_FRAMES) == 2700
    assert whisper_window.encoder_window(300) == whisper_window.WINDOW_FLOOR_FRAMES  # validation's
