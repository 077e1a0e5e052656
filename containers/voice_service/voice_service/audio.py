"""WAV encoding of float samples and language tags (decoding is fala.core.audio's job)."""

from __future__ import annotations

import io
import wave

import numpy as np

from fala.core.errors import UnsupportedLanguage
from fala.core.languages import is_auto, language_family
from fala.core.wav import to_pcm16
from fala.core.wav import wav_bytes as pcm16_wav


def wav_bytes(samples: np.ndarray, sample_rate: int) -> bytes:
    """16-bit PCM mono WAV of float samples in [-1, 1]."""
    return pcm16_wav(to_pcm16(samples), rate=sample_rate)


def wav_duration(data: bytes) -> float:
    with wave.open(io.BytesIO(data), "rb") as wav:
        return wav.getnframes() / float(wav.getframerate())


def pcm_frames(data: bytes) -> bytes:
    with wave.open(io.BytesIO(data), "rb") as wav:
        return wav.readframes(wav.getnframes())


def wav_sample_rate(data: bytes) -> int:
    with wave.open(io.BytesIO(data), "rb") as wav:
        return wav.getframerate()


def base_language(tag: str | None) -> str | None:
    """The base language: "pt-BR" → "pt", "en_US" → "en"; None, "auto" or "" → None (detect).

    Raises UnsupportedLanguage on a malformed tag."""
    if is_auto(tag):
        return None
    primary = language_family(tag)
    if not (2 <= len(primary) <= 3 and primary.isalpha()):
        raise UnsupportedLanguage(
            f"Language {tag!r} is not a language tag; send e.g. 'pt-BR', 'en' or 'auto'."
        )
    return primary


def join_wavs(wavs: list[bytes]) -> bytes:
    """Concatenate WAVs of one format into one."""
    frames = []
    params = None
    for data in wavs:
        with wave.open(io.BytesIO(data), "rb") as wav:
            params = params or wav.getparams()
            frames.append(wav.readframes(wav.getnframes()))
    if params is None:
        raise ValueError("no WAV to join")
    out = io.BytesIO()
    with wave.open(out, "wb") as wav:
        wav.setnchannels(params.nchannels)
        wav.setsampwidth(params.sampwidth)
        wav.setframerate(params.framerate)
        wav.writeframes(b"".join(frames))
    return out.getvalue()


# OpenAI's speech formats besides wav and pcm: (codec, container, sample rate or None to keep the
# voice's, media type). Opus runs at 48 kHz; MP3 and AAC take Piper's and XTTS's rates as they are.
ENCODED_FORMATS = {
    "mp3": ("libmp3lame", "mp3", None, "audio/mpeg"),
    "opus": ("libopus", "ogg", 48_000, "audio/ogg"),
    "aac": ("aac", "adts", None, "audio/aac"),
    "flac": ("flac", "flac", None, "audio/flac"),
}


def encode_wav(data: bytes, fmt: str) -> bytes:
    """A 16-bit mono WAV re-encoded as `fmt` (a key of ENCODED_FORMATS) with PyAV, in memory."""
    import av
    import soxr

    codec, container, wanted_rate, _ = ENCODED_FORMATS[fmt]
    with wave.open(io.BytesIO(data), "rb") as wav:
        rate = wav.getframerate()
        samples = np.frombuffer(wav.readframes(wav.getnframes()), "<i2").astype(np.float32) / 32768
    if wanted_rate and wanted_rate != rate:
        samples = soxr.resample(samples, rate, wanted_rate).astype(np.float32)
        rate = wanted_rate
    buffer = io.BytesIO()
    with av.open(buffer, "w", format=container) as output:
        stream = output.add_stream(codec, rate=rate, layout="mono")
        assert isinstance(stream, av.AudioStream)  # an audio codec makes an audio stream
        frame = av.AudioFrame.from_ndarray(samples[None, :], format="flt", layout="mono")
        frame.sample_rate = rate
        # PyAV re-frames to the encoder's frame size and converts the sample format itself.
        for packet in [*stream.encode(frame), *stream.encode(None)]:
            output.mux(packet)
    return buffer.getvalue()
