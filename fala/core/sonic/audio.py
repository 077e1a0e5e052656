"""Audio for Nova Sonic: any input file → 16 kHz mono 16-bit LPCM in ~32 ms chunks; the 24 kHz
16-bit reply → WAV."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from fala.core.sonic.protocol import INPUT_SAMPLE_RATE, OUTPUT_SAMPLE_RATE
from fala.core.wav import to_pcm16
from fala.core.wav import wav_bytes as pcm16_wav

CHUNK_SECONDS = 0.032  # 512 samples at 16 kHz = 1,024 bytes per audioInput event
CHUNK_SAMPLES = int(INPUT_SAMPLE_RATE * CHUNK_SECONDS)
CHUNK_BYTES = CHUNK_SAMPLES * 2
LEADING_SILENCE_SECONDS = 0.5
# End of the user's turn is detected only from trailing silence (≥ 2 s); the session keeps sending
# silence after the clip until the assistant's final content ends.
END_OF_TURN_SILENCE_SECONDS = 2.0

SILENCE_CHUNK = bytes(CHUNK_BYTES)


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
    """The reply's 16-bit mono PCM (24 kHz) → a WAV file."""
    return pcm16_wav(pcm, rate=rate)


def rms(pcm: bytes) -> float:
    """Root mean square of 16-bit PCM, as a fraction of full scale."""
    if len(pcm) < 2:
        return 0.0
    samples = np.frombuffer(pcm[: len(pcm) // 2 * 2], dtype="<i2").astype(np.float32) / 32768.0
    return float(np.sqrt(np.mean(samples * samples)))
