"""Audio for Nova Sonic: any input file → 16 kHz mono 16-bit LPCM in ~32 ms chunks; the 24 kHz
16-bit reply → WAV."""

from __future__ import annotations

import io
import wave
from collections.abc import Iterator

import numpy as np

from fala.core.sonic.protocol import INPUT_SAMPLE_RATE, OUTPUT_SAMPLE_RATE

CHUNK_SECONDS = 0.032  # 512 samples at 16 kHz = 1,024 bytes per audioInput event
CHUNK_SAMPLES = int(INPUT_SAMPLE_RATE * CHUNK_SECONDS)
CHUNK_BYTES = CHUNK_SAMPLES * 2
LEADING_SILENCE_SECONDS = 0.5
# End of the user's turn is detected only from trailing silence (≥ 2 s); the session keeps sending
# silence after the clip until the assistant's final content ends.
END_OF_TURN_SILENCE_SECONDS = 2.0

SILENCE_CHUNK = bytes(CHUNK_BYTES)


def to_pcm16(samples: np.ndarray) -> bytes:
    """float32 [-1, 1] samples → little-endian signed 16-bit PCM bytes."""
    clipped = np.clip(np.nan_to_num(samples.astype(np.float32, copy=False)), -1.0, 1.0)
    return (clipped * 32767.0).round().astype("<i2").tobytes()


def decode_to_pcm16(data: bytes, *, max_seconds: float) -> bytes:
    """Any supported file (WAV/MP3/OGG/FLAC/M4A, any rate, stereo) → 16 kHz mono 16-bit LPCM.

    Raises InvalidAudio for bytes that are not audio and AudioTooLong past `max_seconds`.
    """
    from fala.core.audio import decode_audio  # PyAV + soxr, shared with the validator

    return to_pcm16(decode_audio(data, max_seconds=max_seconds))


def pcm_seconds(pcm: bytes, rate: int = INPUT_SAMPLE_RATE) -> float:
    return len(pcm) / 2 / rate


def chunks(pcm: bytes, size: int = CHUNK_BYTES) -> Iterator[bytes]:
    """Fixed-size chunks; the last one is padded with silence so every chunk is `size` bytes."""
    for start in range(0, len(pcm), size):
        piece = pcm[start : start + size]
        yield piece if len(piece) == size else piece + bytes(size - len(piece))


def silence(seconds: float) -> bytes:
    samples = round(seconds * INPUT_SAMPLE_RATE)
    return bytes(samples * 2)


def wav_bytes(pcm: bytes, *, rate: int = OUTPUT_SAMPLE_RATE) -> bytes:
    """16-bit mono PCM → a WAV file."""
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(pcm)
    return buffer.getvalue()


def rms(pcm: bytes) -> float:
    """Root mean square of 16-bit PCM, as a fraction of full scale."""
    if len(pcm) < 2:
        return 0.0
    samples = np.frombuffer(pcm[: len(pcm) // 2 * 2], dtype="<i2").astype(np.float32) / 32768.0
    return float(np.sqrt(np.mean(samples * samples)))
