"""Decoding every accepted format to 16 kHz mono float32, and refusing everything else."""

import contextlib
import io
import wave
from pathlib import Path

import av
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fala.core.audio import (
    MAX_GAIN_DB,
    SAMPLE_RATE,
    SPEECH_LEVEL_DBFS,
    decode_audio,
    prepare_speech,
    raise_quiet_speech,
    sharpest_fall_db,
    sniff_format,
    speech_rms,
    telephone_channel,
)
from fala.core.decision import DEGRADED_FALL_DB
from fala.core.errors import AudioTooLong, InvalidAudio
from tests.benchmarks.bench_robust import add_noise, reverb

AUDIO_FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "audio"
DEMO = AUDIO_FIXTURES / "entrada_13_40_pt.wav"
DEMO_SECONDS = 3.8313


@pytest.mark.parametrize(
    ("name", "audio_length_s"),
    [
        ("entrada_13_40_pt.wav", DEMO_SECONDS),
        ("entrada_13_40_pt.flac", DEMO_SECONDS),
        ("entrada_13_40_pt.mp3", DEMO_SECONDS),
        ("entrada_13_40_pt.ogg", DEMO_SECONDS),
        ("entrada_13_40_pt.m4a", DEMO_SECONDS),
        ("entrada_13_40_pt_8k_u8.wav", DEMO_SECONDS),
        ("entrada_13_40_pt_stereo_48k.wav", 1.2),
        ("silence.wav", 2.0),
        ("checkin_9_45_en.wav", 4.316),
    ],
)
def test_every_fixture_format_decodes_to_16k_mono_float32(name, audio_length_s):
    samples = decode_audio((AUDIO_FIXTURES / name).read_bytes(), max_seconds=30)

    assert samples.dtype == np.float32
    assert samples.ndim == 1
    assert samples.size / SAMPLE_RATE == pytest.approx(audio_length_s, abs=0.03)
    assert np.abs(samples).max() <= 1.0


def test_lossy_and_lossless_copies_decode_to_the_same_signal():
    reference = decode_audio(DEMO.read_bytes(), max_seconds=30)
    for name in ("entrada_13_40_pt.flac", "entrada_13_40_pt.mp3", "entrada_13_40_pt.m4a"):
        other = decode_audio((AUDIO_FIXTURES / name).read_bytes(), max_seconds=30)
        n = min(reference.size, other.size)
        assert np.corrcoef(reference[:n], other[:n])[0, 1] > 0.9, name


def test_stereo_is_downmixed_to_the_channel_mean():
    rate = 16_000
    left = np.full(rate, 0.5, np.float32)
    right = np.zeros(rate, np.float32)
    samples = decode_audio(_wav(np.stack([left, right], axis=1), rate, "pcm_f32le"), max_seconds=5)
    assert samples[100:-100] == pytest.approx(0.25, abs=1e-3)


@pytest.mark.parametrize("codec", ["pcm_s16le", "pcm_s24le", "pcm_s32le", "pcm_f32le", "pcm_f64le"])
@pytest.mark.parametrize("rate", [8_000, 22_050, 44_100])
def test_wav_sample_formats_and_rates_resample_to_16k(codec, rate):
    tone = 0.5 * np.sin(2 * np.pi * 440 * np.arange(rate) / rate).astype(np.float32)
    samples = decode_audio(_wav(tone[:, None], rate, codec), max_seconds=5)

    assert samples.size == pytest.approx(SAMPLE_RATE, abs=2)
    assert np.abs(samples).max() == pytest.approx(0.5, abs=0.02)


def test_float_wav_with_nan_is_sanitized():
    data = np.zeros((16_000, 1), np.float32)
    data[10] = np.nan
    data[20] = 7.0
    samples = decode_audio(_wav(data, 16_000, "pcm_f32le"), max_seconds=5)
    assert np.isfinite(samples).all()
    assert np.abs(samples).max() <= 1.0


@pytest.mark.parametrize(
    "data",
    [
        b"",
        (AUDIO_FIXTURES / "not_audio.txt").read_bytes(),
        b"\x00" * 4096,
        DEMO.read_bytes()[:10],  # cut inside the RIFF header
        DEMO.read_bytes()[:44],  # a header and no samples
        b"RIFF\xff\xff\xff\xffWAVEfmt " + bytes(range(256)) * 4,  # header of garbage
        b"ID3" + b"\xff" * 2000,  # claims MP3, holds nothing
        b"OggS" + bytes(4000),
        # one 8-bit sample at 73,536 Hz, its data chunk claiming more (found by the fuzzer):
        # resampled to 16 kHz, a single sample becomes none
        b"RIFF\xe0w\x00\x00WAVEfmt \x10\x00\x00\x00\x01\x00\x01\x00@\x1f\x01\x00"
        b"@\x1f\x00\x00\x01\x00\x08\x00data\xbbw\x00\x00\x80",
    ],
    ids=[
        "empty",
        "text",
        "zeros",
        "cut-header",
        "header-only",
        "garbage-wav",
        "fake-mp3",
        "fake-ogg",
        "one-sample",
    ],
)
def test_bytes_that_are_not_audio_raise_invalid_audio(data):
    with pytest.raises(InvalidAudio) as raised:
        decode_audio(data, max_seconds=30)
    assert f"{len(data)} bytes" in raised.value.message
    assert "WAV" in raised.value.message and "MP3" in raised.value.message


def test_invalid_audio_message_says_what_was_received():
    with pytest.raises(InvalidAudio, match="starting with b'This is a text f'"):
        decode_audio((AUDIO_FIXTURES / "not_audio.txt").read_bytes(), max_seconds=30)


def test_too_long_audio_names_the_limit_and_the_duration():
    with pytest.raises(AudioTooLong) as raised:
        decode_audio(DEMO.read_bytes(), max_seconds=2)
    assert "limit is 2 s" in raised.value.message
    assert "3.8 s" in raised.value.message


def test_an_hour_of_audio_is_refused_without_decoding_it_all():
    hour = 3600 * 8_000
    data = _wav_header_pcm16(n_samples=hour, rate=8_000) + bytes(hour * 2)

    # The declared length is reported, so the refusal came from the header, not a full decode.
    with pytest.raises(AudioTooLong, match=r"3600\.0 s long"):
        decode_audio(data, max_seconds=30)


@settings(max_examples=150, deadline=None)
@given(st.binary(max_size=2048))
def test_arbitrary_bytes_raise_only_fala_errors(data):
    with contextlib.suppress(InvalidAudio, AudioTooLong):
        decode_audio(data, max_seconds=1)


@settings(max_examples=60, deadline=None)
@given(st.integers(min_value=0, max_value=len(DEMO.read_bytes())), st.binary(max_size=64))
def test_truncated_or_corrupted_files_raise_only_fala_errors(cut, junk):
    mp3 = (AUDIO_FIXTURES / "entrada_13_40_pt.mp3").read_bytes()
    for source in (DEMO.read_bytes(), mp3):
        with contextlib.suppress(InvalidAudio, AudioTooLong):
            decode_audio(source[:cut] + junk, max_seconds=30)


@pytest.mark.parametrize(
    ("name", "fmt"),
    [
        ("entrada_13_40_pt.wav", "wav"),
        ("entrada_13_40_pt.mp3", "mp3"),
        ("entrada_13_40_pt.ogg", "ogg"),
        ("entrada_13_40_pt.flac", "flac"),
        ("entrada_13_40_pt.m4a", "m4a"),
        ("not_audio.txt", None),
    ],
)
def test_sniff_format_from_the_first_bytes(name, fmt):
    assert sniff_format((AUDIO_FIXTURES / name).read_bytes()[:16]) == fmt


def test_sniff_format_knows_webm_and_rejects_short_heads():
    assert sniff_format(b"\x1a\x45\xdf\xa3\x9f\x42\x86\x81") == "webm"
    assert sniff_format(b"") is None
    assert sniff_format(b"RI") is None


def _wav(samples: np.ndarray, rate: int, codec: str) -> bytes:
    """Encode (frames, channels) float samples as a WAV in memory with PyAV."""
    buffer = io.BytesIO()
    layout = "mono" if samples.shape[1] == 1 else "stereo"
    with av.open(buffer, "w", format="wav") as container:
        stream = container.add_stream(codec, rate=rate, layout=layout)
        frame = av.AudioFrame.from_ndarray(
            np.ascontiguousarray(samples.T.astype(np.float32)), format="fltp", layout=layout
        )
        frame.sample_rate = rate
        resampler = av.AudioResampler(format=stream.format.name, layout=layout, rate=rate)
        for converted in resampler.resample(frame):
            container.mux(stream.encode(converted))
        container.mux(stream.encode(None))
    return buffer.getvalue()


def _wav_header_pcm16(*, n_samples: int, rate: int) -> bytes:
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.setnframes(n_samples)
        w.writeframes(b"")
    header = bytearray(buffer.getvalue())
    # wave rewrites the sizes on close; declare the full length again.
    header[4:8] = (36 + n_samples * 2).to_bytes(4, "little")
    header[40:44] = (n_samples * 2).to_bytes(4, "little")
    return bytes(header)


def test_the_telephone_channel_cuts_the_low_band_and_everything_above_4_khz():
    t = np.arange(SAMPLE_RATE) / SAMPLE_RATE
    tones = {hz: np.sin(2 * np.pi * hz * t).astype(np.float32) * 0.3 for hz in (80, 1000, 5000)}

    def kept(hz: int) -> float:  # the tone's RMS through the line, over its RMS before
        through = telephone_channel(tones[hz])
        assert through.dtype == np.float32 and abs(through.size - SAMPLE_RATE) <= 2
        middle = slice(SAMPLE_RATE // 4, 3 * SAMPLE_RATE // 4)  # away from the edges
        return float(np.std(through[middle]) / np.std(tones[hz][middle]))

    assert kept(1000) > 0.95  # speech's band passes
    assert kept(80) < 0.05  # the low band that tells voices apart on a microphone is gone
    assert kept(5000) < 0.01  # sampled at 8 kHz: nothing above 4 kHz


@pytest.mark.parametrize(
    "name", ["entrada_13_40_pt.wav", "entrada_13_40_pt.mp3", "checkin_9_45_en.wav"]
)
def test_the_sharpest_fall_of_the_level_is_shallow_in_noise_and_in_reverberation(name):
    speech = decode_audio((AUDIO_FIXTURES / name).read_bytes(), max_seconds=30)

    def seeded() -> np.random.Generator:
        return np.random.default_rng(7)

    # words end in near silence: clean, through a phone line, quieter, or in a quiet room
    assert sharpest_fall_db(speech) > DEGRADED_FALL_DB + 10
    assert sharpest_fall_db(telephone_channel(speech)) > DEGRADED_FALL_DB + 10
    assert sharpest_fall_db(speech * 0.05) > DEGRADED_FALL_DB + 10
    assert sharpest_fall_db(add_noise(speech, seeded(), snr_db=30)) > DEGRADED_FALL_DB + 10
    # a noise floor 10 dB under the speech, or a room's echo tail, stops every fall short
    assert sharpest_fall_db(add_noise(speech, seeded(), snr_db=10)) < DEGRADED_FALL_DB
    assert sharpest_fall_db(reverb(speech, seeded())) < DEGRADED_FALL_DB
    # under a tenth of a second there is no word ending to measure
    assert sharpest_fall_db(speech[: SAMPLE_RATE // 10]) == float("inf")


def dbfs(value: float) -> float:
    return 20 * np.log10(value)


def test_quiet_speech_is_raised_to_a_normal_level_below_full_scale():
    speech = decode_audio(DEMO.read_bytes(), max_seconds=30)
    far_away = speech * (10 ** (-40 / 20) / np.abs(speech).max())  # peak at -40 dBFS

    raised = raise_quiet_speech(far_away)

    assert raised.dtype == np.float32
    assert dbfs(speech_rms(raised)) == pytest.approx(SPEECH_LEVEL_DBFS, abs=0.1)
    assert np.abs(raised).max() < 1.0
    assert np.allclose(raised / np.abs(raised).max(), speech / np.abs(speech).max(), atol=1e-5)


def test_speech_at_a_normal_level_and_silence_are_left_as_they_are():
    speech = decode_audio(DEMO.read_bytes(), max_seconds=30)
    assert raise_quiet_speech(speech) is speech  # the level every threshold was set at
    silence = np.zeros(SAMPLE_RATE, np.float32)
    assert raise_quiet_speech(silence) is silence
    dither = (1e-5 * np.random.default_rng(0).standard_normal(SAMPLE_RATE)).astype(np.float32)
    assert raise_quiet_speech(dither) is dither  # -100 dBFS: nothing to hear
    assert raise_quiet_speech(np.zeros(0, np.float32)).size == 0


def test_the_gain_is_capped_and_keeps_the_peak_under_full_scale():
    speech = decode_audio(DEMO.read_bytes(), max_seconds=30)
    faint = speech * (10 ** (-60 / 20) / np.abs(speech).max())  # speech at about -78 dBFS
    raised = raise_quiet_speech(faint)
    assert dbfs(np.abs(raised).max() / np.abs(faint).max()) == pytest.approx(MAX_GAIN_DB, abs=0.01)
    clicked = speech * (10 ** (-50 / 20) / np.abs(speech).max())
    clicked[SAMPLE_RATE] = 0.99  # a click at full scale: no room to raise, and never lowered
    assert raise_quiet_speech(clicked) is clicked
    spiky = speech * (10 ** (-50 / 20) / np.abs(speech).max())
    spiky[SAMPLE_RATE] = 0.01  # a click at -40 dBFS: raising the speech 30 dB would clip it
    assert dbfs(np.abs(raise_quiet_speech(spiky)).max()) == pytest.approx(-1, abs=0.01)


def test_a_dc_offset_is_removed_and_a_clip_without_one_is_left_as_it_is():
    speech = decode_audio(DEMO.read_bytes(), max_seconds=30)
    assert prepare_speech(speech) is speech
    shifted = (speech + 0.05).astype(np.float32)
    assert np.allclose(prepare_speech(shifted), speech - np.mean(speech), atol=1e-6)
    offset_only = np.full(SAMPLE_RATE, 0.2, np.float32)
    assert not prepare_speech(offset_only).any()  # a constant is silence
