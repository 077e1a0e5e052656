"""Audio bytes in, 16 kHz mono float32 samples out (what Whisper consumes).

PyAV (FFmpeg) demuxes and decodes from memory, soxr resamples. Every failure on bad bytes is an
`InvalidAudio` or `AudioTooLong`, never a decoder library's own exception type. Decoded audio can
also go through FFmpeg filters (`filter_graph`), a model of a telephone line
(`telephone_channel`, for the speaker check's second voiceprint) and, before Whisper hears it,
`prepare_speech` (no DC offset, quiet speech raised).
"""

from __future__ import annotations

import io
import logging

import av
import av.filter
import numpy as np
import soxr

from fala.core.errors import AudioTooLong, InvalidAudio
from fala.core.formats import sniff_format

__all__ = [
    "SAMPLE_RATE",
    "SUPPORTED_FORMATS",
    "decode_audio",
    "describe_bytes",
    "filter_graph",
    "prepare_speech",
    "raise_quiet_speech",
    "sharpest_fall_db",
    "sniff_format",
    "speech_rms",
    "telephone_channel",
    "through_8k",
]

SAMPLE_RATE = 16_000
SUPPORTED_FORMATS = "WAV (8/16/24/32-bit PCM or float), MP3, OGG (Opus/Vorbis), FLAC, M4A/AAC, WebM"

# FFmpeg logs every malformed header it meets to stderr; the caller gets InvalidAudio instead.
av.logging.set_level(av.logging.PANIC)
logging.getLogger("libav").setLevel(logging.CRITICAL)


def describe_bytes(data: bytes) -> str:
    """What was received, for error messages: size and the recognized format or first bytes."""
    if not data:
        return "received 0 bytes"
    fmt = sniff_format(data[:16])
    if fmt:
        return f"received {len(data)} bytes that look like {fmt.upper()}"
    return f"received {len(data)} bytes starting with {data[:16]!r}"


def decode_audio(data: bytes, *, max_seconds: float) -> np.ndarray:
    """Decode any supported audio file to 16 kHz mono float32 in [-1, 1].

    Decoding stops as soon as more than `max_seconds` of audio has come out, so a long file costs
    no more than the limit.
    """
    if not data:
        raise InvalidAudio(
            f"The audio is empty ({describe_bytes(data)}). Send {SUPPORTED_FORMATS}."
        )
    try:
        chunks, rate = _decode_native(data, max_seconds=max_seconds)
    except (InvalidAudio, AudioTooLong, TypeError, AttributeError, NameError):
        raise  # ours, or a bug in this module (not something bad bytes cause)
    except Exception as exc:
        # FFmpeg reports corrupt input through many exception types (InvalidDataError, EOFError,
        # ValueError from a bogus header, ...); to the caller they all mean "not audio we can read".
        raise InvalidAudio(
            f"The audio could not be decoded ({describe_bytes(data)}: {_short(exc)}). "
            f"Send {SUPPORTED_FORMATS}."
        ) from exc

    samples = np.concatenate(chunks) if chunks else np.zeros(0, np.float32)
    if samples.size and rate != SAMPLE_RATE:
        # (a clip of a sample or two resamples to none: that is checked next, after it)
        samples = soxr.resample(samples, rate, SAMPLE_RATE, quality="HQ")
    if samples.size == 0:
        raise InvalidAudio(
            f"The audio decoded to no samples ({describe_bytes(data)}). "
            f"Send a non-empty recording in {SUPPORTED_FORMATS}."
        )
    # Float WAVs may carry NaN/inf or overshoot; Whisper's log-mel expects finite samples.
    samples = np.clip(np.nan_to_num(samples, nan=0.0, posinf=1.0, neginf=-1.0), -1.0, 1.0)
    return samples.astype(np.float32, copy=False)


def filter_graph(audio: np.ndarray, *filters: tuple[str, str]) -> np.ndarray:
    """16 kHz mono float32 `audio` through a chain of FFmpeg audio filters (name, arguments)."""
    graph = av.filter.Graph()
    nodes = [graph.add_abuffer(format="flt", sample_rate=SAMPLE_RATE, layout="mono")]
    nodes += [graph.add(name, args) for name, args in filters]
    nodes.append(graph.add("abuffersink"))
    graph.link_nodes(*nodes).configure()
    frame = av.AudioFrame.from_ndarray(
        np.ascontiguousarray(audio, np.float32)[None, :], format="flt", layout="mono"
    )
    frame.sample_rate = SAMPLE_RATE
    graph.push(frame)
    graph.push(None)
    chunks = []
    while True:
        try:
            chunks.append(graph.pull().to_ndarray().reshape(-1))
        except (av.error.EOFError, BlockingIOError):
            break
    return np.concatenate(chunks) if chunks else np.zeros(0, np.float32)


def telephone_channel(audio: np.ndarray) -> np.ndarray:
    """16 kHz `audio` as a telephone line would carry it: the low band cut (two 2-pole high-pass
    filters at 250 Hz) and sampled at 8 kHz (nothing above 4 kHz), back at 16 kHz.

    The speaker check's model of a phone call (fala.core.voiceprints), deliberately not the
    benchmarks' own telephone render (tests/benchmarks/bench_robust.phone8k, G.712's 300-3400 Hz
    with steeper skirts), so that what they measure is a channel the model was not built from.
    """
    low_cut = filter_graph(audio, ("highpass", "f=250"), ("highpass", "f=250"))
    return through_8k(low_cut).astype(np.float32, copy=False)


# The level in 10 ms frames, averaged over three; a fall is measured from frames of speech (within
# 20 dB of the clip's 95th-percentile level) to the frame 80 ms later.
_FRAME = SAMPLE_RATE // 100
_LOUD_DB = 20.0
_FALL_FRAMES = 8


def sharpest_fall_db(audio: np.ndarray) -> float:
    """How far (dB) the level falls within 80 ms of speech at the clip's sharpest word ending.

    In a clean recording a word ends in near silence within tens of milliseconds (40 dB and more
    for a close microphone); a noise floor stops the fall at the noise, a room's reverberation
    spreads it over the decay time. So a shallow sharpest fall says the audio is noisy or
    reverberant, whatever the cause, without knowing either. inf: too short to tell."""
    frames = audio.size // _FRAME
    if frames < _FALL_FRAMES + 3:
        return float("inf")
    blocks = audio[: frames * _FRAME].astype(np.float64).reshape(frames, _FRAME)
    level = 10 * np.log10(np.mean(np.square(blocks), axis=1) + 1e-18)
    level = np.convolve(level, np.ones(3) / 3, mode="valid")
    falls = level[:-_FALL_FRAMES] - level[_FALL_FRAMES:]
    speech = level[:-_FALL_FRAMES] >= np.percentile(level, 95) - _LOUD_DB
    return float(falls[speech].max()) if speech.any() else float("inf")


# Whisper's log-mel features are not level-invariant: speech recorded far below a normal level (a
# phone held away, a microphone with little gain) is heard as nothing. Session 34, 35 true phrases
# of five splits with their peak at -45 dBFS: 2 accepted and 33 "no speech" (most below the
# silence gate, at confidence 0); raised to SPEECH_LEVEL_DBFS first, 31 accepted, as clean (32).
# Only quieter speech than QUIET_SPEECH_DBFS is raised: every clip the thresholds were set on is
# louder, and stays as it was.
QUIET_SPEECH_DBFS = -30.0
SPEECH_LEVEL_DBFS = -20.0
MAX_GAIN_DB = 40.0  # past this a recording's own noise and quantization are all there is
INAUDIBLE_DBFS = -70.0  # a loudest 20 ms below this has nothing to raise
_SPEECH_FRAME = SAMPLE_RATE // 50


def _frame_rms(audio: np.ndarray) -> np.ndarray:
    usable = audio[: audio.size // _SPEECH_FRAME * _SPEECH_FRAME].astype(np.float64)
    return np.sqrt(np.mean(usable.reshape(-1, _SPEECH_FRAME) ** 2, axis=1))


def speech_rms(audio: np.ndarray) -> float:
    """RMS of the 20 ms frames within 30 dB of the loudest: the speech, not the pauses around it."""
    frame_rms = _frame_rms(audio)
    if not frame_rms.size:
        return float(np.sqrt(np.mean(np.square(audio, dtype=np.float64)))) if audio.size else 0.0
    return _speech_rms_of(frame_rms)


def _speech_rms_of(frame_rms: np.ndarray) -> float:
    active = frame_rms[frame_rms >= frame_rms.max() * 10 ** (-30 / 20)]
    return float(np.sqrt(np.mean(active**2)))


# A constant offset (a cheap sound card's DC) is no sound, but Whisper's features see it: at 0.05
# (-26 dBFS) 21 of 25 true phrases were accepted against 23 without it (session 34, a probe of
# dev, holdout2, real_en and pico). Offsets below this are left alone, so clips without one are
# unchanged.
DC_OFFSET_LIMIT = 1e-3


def prepare_speech(audio: np.ndarray) -> np.ndarray:
    """`audio` as Whisper should hear it: without a DC offset, and quiet speech raised
    (raise_quiet_speech); a clip with neither is returned as it is."""
    offset = float(np.mean(audio, dtype=np.float64)) if audio.size else 0.0
    if abs(offset) >= DC_OFFSET_LIMIT:
        audio = (audio - offset).astype(np.float32)
    return raise_quiet_speech(audio)


def raise_quiet_speech(audio: np.ndarray) -> np.ndarray:
    """`audio` with its speech raised to SPEECH_LEVEL_DBFS when it is quieter than
    QUIET_SPEECH_DBFS (by MAX_GAIN_DB at most, its peak kept below full scale); else itself."""
    frame_rms = _frame_rms(audio)
    if not frame_rms.size or 20 * np.log10(frame_rms.max() + 1e-12) < INAUDIBLE_DBFS:
        return audio
    level_db = 20 * np.log10(_speech_rms_of(frame_rms))
    if level_db >= QUIET_SPEECH_DBFS:
        return audio
    headroom_db = -1.0 - 20 * np.log10(float(np.abs(audio).max()))
    gain_db = min(SPEECH_LEVEL_DBFS - level_db, MAX_GAIN_DB, headroom_db)
    if gain_db <= 0:  # a click near full scale leaves no room: never lowered
        return audio
    return (audio * 10 ** (gain_db / 20)).astype(np.float32)


def through_8k(audio: np.ndarray) -> np.ndarray:
    """16 kHz `audio` sampled at 8 kHz (a telephone's rate: nothing above 4 kHz) and back."""
    narrow = soxr.resample(audio, SAMPLE_RATE, 8000, quality="HQ")
    return soxr.resample(narrow, 8000, SAMPLE_RATE, quality="HQ")


def _decode_native(data: bytes, *, max_seconds: float) -> tuple[list[np.ndarray], int]:
    """Mono float32 chunks at the file's own sample rate."""
    chunks: list[np.ndarray] = []
    total = 0
    rate = 0
    resampler: av.AudioResampler | None = None
    with av.open(io.BytesIO(data), mode="r") as container:
        if not container.streams.audio:
            raise InvalidAudio(
                f"The file has no audio stream ({describe_bytes(data)}). Send {SUPPORTED_FORMATS}."
            )
        stream = container.streams.audio[0]
        for frame in container.decode(stream):
            if resampler is None:
                # Only a sample-format conversion (to planar float) at the first frame's rate and
                # layout; soxr does the rate conversion, the channel mean does the downmix.
                rate = frame.sample_rate
                resampler = av.AudioResampler(format="fltp", layout=frame.layout.name, rate=rate)
            for converted in resampler.resample(frame):
                planes = converted.to_ndarray()  # (channels, samples)
                chunks.append(planes.mean(axis=0, dtype=np.float32))
                total += planes.shape[1]
            if total > max_seconds * rate:
                raise AudioTooLong(_too_long_message(container, total / rate, max_seconds))
    return chunks, rate


def _too_long_message(container: av.container.InputContainer, decoded: float, limit: float) -> str:
    declared = container.duration / av.time_base if container.duration else None
    length = (
        f"{declared:.1f} s long" if declared and declared > decoded else f"over {decoded:.1f} s"
    )
    return (
        f"The audio is {length}; the limit is {limit:g} s. "
        "Send a shorter clip (trim silence or split the recording)."
    )


def _short(exc: Exception) -> str:
    # FFmpeg errors carry "[Errno -1094995529] Invalid data found ...: '<none>'"; keep the words.
    text = (getattr(exc, "strerror", None) or str(exc)).strip() or type(exc).__name__
    return text if len(text) <= 120 else text[:117] + "..."
