"""16-bit mono PCM and WAV files: what the reply paths write (Nova Sonic, the voice service)."""

from __future__ import annotations

import io
import wave

import numpy as np


def to_pcm16(samples: np.ndarray) -> bytes:
    """float32 [-1, 1] samples → little-endian signed 16-bit PCM bytes."""
    clipped = np.clip(np.nan_to_num(np.asarray(samples, dtype=np.float32)), -1.0, 1.0)
    return (clipped * 32767.0).round().astype("<i2").tobytes()


def wav_bytes(pcm: bytes, *, rate: int) -> bytes:
    """16-bit mono PCM → a WAV file."""
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(pcm)
    return buffer.getvalue()
