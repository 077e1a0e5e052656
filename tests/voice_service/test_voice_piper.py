"""Piper on CPU: the onnxruntime session it is built with (PIPER_THREADS) and what Whisper hears.

Piper's noise comes from onnxruntime random nodes seeded when a session is made, so
`onnxruntime.set_seed` just before loading makes a voice's audio reproducible.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import onnxruntime
import pytest
from voice_service.audio import wav_bytes
from voice_service.backends import PiperTTS
from voice_service.backends.tts import load_piper_voice, packaged_piper_voices
from voice_service.metrics import Metrics
from voice_service.service import build_tts
from voice_service.settings import VoiceSettings

from fala.core.audio import decode_audio
from fala.core.normalize import normalize

TEXT = "Your table is ready, please come to the front desk."
JOE = packaged_piper_voices()["en"]


SPINNING = "session.intra_op.allow_spinning"


def seeded_speech(threads: int, seed: int = 11) -> tuple[np.ndarray, int, Any]:
    """(samples, sample rate, session options) of TEXT from a fresh session."""
    onnxruntime.set_seed(seed)
    voice = load_piper_voice(JOE, threads=threads)
    samples = np.concatenate([chunk.audio_float_array for chunk in voice.synthesize(TEXT)])
    return samples, voice.config.sample_rate, voice.session.get_session_options()


def test_thread_count_changes_speed_not_the_voice():
    one, rate, one_options = seeded_speech(threads=1)
    pool, _, pool_options = seeded_speech(threads=2)
    assert (one_options.intra_op_num_threads, pool_options.intra_op_num_threads) == (1, 2)
    assert pool_options.get_session_config_entry(SPINNING) == "0"  # a pool that waits, idle
    assert one.size > rate  # over a second of speech
    assert np.array_equal(one, pool)  # the same samples, bit for bit


def test_the_one_thread_voice_is_what_whisper_hears(stt):
    samples, rate, _ = seeded_speech(threads=1)
    heard = stt.transcribe(decode_audio(wav_bytes(samples, rate), max_seconds=30), "en")
    assert normalize(heard.text, "en") == normalize(TEXT, "en")


def test_piper_threads_setting_reaches_the_session(monkeypatch):
    assert VoiceSettings().piper_threads == 0  # one per core
    monkeypatch.setenv("PIPER_THREADS", "2")
    settings = VoiceSettings(tts_backend="piper", device="cpu")
    tts = build_tts(settings, Metrics())
    assert isinstance(tts, PiperTTS) and tts.threads == 2
    chunks = list(tts.synthesize("Hello.", language="en"))
    assert chunks and chunks[0].samples.size > 0
    options = tts._loaded["en"].session.get_session_options()  # loaded once, by build_tts
    assert options.intra_op_num_threads == 2 and options.get_session_config_entry(SPINNING) == "0"
    monkeypatch.setenv("PIPER_THREADS", "-1")
    with pytest.raises(ValueError):
        VoiceSettings()
