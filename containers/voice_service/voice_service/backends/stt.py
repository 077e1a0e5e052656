"""Speech to text: faster-whisper (CTranslate2), float16 on a GPU, int8 on CPU."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np

from fala.core.audio import SAMPLE_RATE
from fala.core.errors import UnsupportedLanguage

SILENCE_RMS = 1e-3  # about -60 dBFS: nothing to hear, skip the model


@dataclass(frozen=True)
class Transcription:
    text: str
    language: str  # Whisper's code ("pt", "en"), detected when none was asked for
    audio_seconds: float


class STTBackend(Protocol):
    name: str
    model: str

    def transcribe(self, audio: np.ndarray, language: str | None) -> Transcription:
        """16 kHz mono float32 → text; `language` is a Whisper code or None to detect."""
        ...


def cuda_available() -> bool:
    try:
        import ctranslate2

        return ctranslate2.get_cuda_device_count() > 0
    except Exception:
        return False


class FasterWhisperSTT:
    name = "faster-whisper"

    def __init__(
        self,
        model_dir: str | Path,
        *,
        device: str = "auto",
        compute_type: str | None = None,
        cpu_threads: int = 0,
    ) -> None:
        path = Path(model_dir)
        if not (path / "model.bin").is_file():
            # faster-whisper would take an unknown path for a hub name and try to download it.
            raise FileNotFoundError(f"No Whisper model (model.bin) in {path}")
        from faster_whisper import WhisperModel  # heavy import, only where a model is built

        self.device = ("cuda" if cuda_available() else "cpu") if device == "auto" else device
        self.compute_type = compute_type or ("float16" if self.device == "cuda" else "int8")
        self.model = path.name
        self._model = WhisperModel(
            str(path),
            device=self.device,
            compute_type=self.compute_type,
            cpu_threads=cpu_threads,
            local_files_only=True,
        )
        self._languages = set(self._model.supported_languages)
        # CTranslate2 models are thread-safe, but on 2 CPU cores two concurrent encodes only
        # slow each other down; one at a time keeps latency predictable.
        self._lock = threading.Lock()

    def transcribe(self, audio: np.ndarray, language: str | None) -> Transcription:
        seconds = audio.size / SAMPLE_RATE
        if language is not None and language not in self._languages:
            raise UnsupportedLanguage(
                f"Whisper does not know language {language!r}; send a supported tag or 'auto'."
            )
        if audio.size == 0 or float(np.sqrt(np.mean(np.square(audio, dtype=np.float64)))) < (
            SILENCE_RMS
        ):
            return Transcription("", language or "", seconds)
        with self._lock:
            # One greedy pass, no temperature fallback, no timestamps: the latency floor.
            segments, info = self._model.transcribe(
                audio,
                language=language,
                beam_size=1,
                temperature=0.0,
                without_timestamps=True,
                condition_on_previous_text=False,
            )
            text = " ".join(s.text.strip() for s in segments).strip()
        return Transcription(text, info.language, seconds)
