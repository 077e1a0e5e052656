"""Speech to text: faster-whisper (CTranslate2), float16 on a GPU, int8 on CPU."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np

from fala.core import whisper_window
from fala.core.audio import SAMPLE_RATE
from fala.core.errors import UnsupportedLanguage

SILENCE_RMS = 1e-3  # about -60 dBFS: nothing to hear, skip the model


@dataclass(frozen=True)
class Word:
    word: str
    start: float
    end: float


@dataclass(frozen=True)
class Segment:
    """One decoded segment, with the fields OpenAI's verbose_json reports."""

    id: int
    seek: int
    start: float
    end: float
    text: str
    tokens: tuple[int, ...]
    temperature: float
    avg_logprob: float
    compression_ratio: float
    no_speech_prob: float
    words: tuple[Word, ...] = ()


@dataclass(frozen=True)
class Transcription:
    text: str
    language: str  # Whisper's code ("pt", "en"), detected when none was asked for
    audio_seconds: float
    segments: tuple[Segment, ...] = ()  # with timestamps=True only


class STTBackend(Protocol):
    name: str
    model: str

    def transcribe(
        self,
        audio: np.ndarray,
        language: str | None,
        *,
        detect_among: tuple[str, ...] = (),
        timestamps: bool = False,
        words: bool = False,
    ) -> Transcription:
        """16 kHz mono float32 → text; `language` is a Whisper code, or None to detect it (the
        likeliest of `detect_among`, when given); segments with times when `timestamps`, each
        with its words' times when `words`."""
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

    def _detect(self, audio: np.ndarray, candidates: tuple[str, ...]) -> str:
        _, _, ranked = self._model.detect_language(audio)
        return _pick_language(ranked, candidates)

    def _fitted(
        self, audio: np.ndarray, language: str | None, detect_among: tuple[str, ...]
    ) -> Transcription | None:
        """One greedy pass over an encoder window fitted to a short clip (fala.core.whisper_window;
        at the 20 s floor about half the time of faster-whisper's 30 s path); None when the
        transcript looks like a repetition loop or fills its length bound, which the 30 s window
        then transcribes."""
        from faster_whisper.tokenizer import Tokenizer

        seconds = audio.size / SAMPLE_RATE
        encoded, _, _ = whisper_window.encode(
            self._model, audio, fitted=True, floor=FITTED_FLOOR_FRAMES
        )
        if language is None:
            ranked = self._model.model.detect_language(encoded)[0]
            language = _pick_language([(t.strip("<|>"), p) for t, p in ranked], detect_among)
        tokenizer = Tokenizer(self._model.hf_tokenizer, True, task="transcribe", language=language)
        prompt_length = len(tokenizer.sot_sequence) + 1  # and <|notimestamps|>
        heard = whisper_window.greedy(
            self._model, encoded, tokenizer, seconds, cap=MAX_LENGTH - prompt_length
        )
        if heard.filled_its_bound or whisper_window.looks_looped(heard.text):
            return None
        text = heard.text
        if whisper_window.filled_silence(text, heard.avg_logprob, heard.no_speech_prob):
            text = ""
        return Transcription(text, language, seconds)

    def transcribe(
        self,
        audio: np.ndarray,
        language: str | None,
        *,
        detect_among: tuple[str, ...] = (),
        timestamps: bool = False,
        words: bool = False,
    ) -> Transcription:
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
            if not (timestamps or words) and seconds <= FITTED_MAX_SECONDS:
                heard = self._fitted(audio, language, detect_among)
                if heard is not None:
                    return heard
            if language is None and detect_among:
                language = self._detect(audio, detect_among)
            # One greedy pass, no temperature fallback: the latency floor; timestamps on demand.
            segments, info = self._model.transcribe(
                audio,
                language=language,
                beam_size=1,
                temperature=0.0,
                without_timestamps=not (timestamps or words),
                word_timestamps=words,
                condition_on_previous_text=False,
            )
            decoded = list(segments)
        text = " ".join(s.text.strip() for s in decoded).strip()
        timed = tuple(_segment(s) for s in decoded) if timestamps or words else ()
        return Transcription(text, info.language, seconds, timed)


# A detected language is taken at this probability or more; below it, the first of the candidates
# (STT_LANGUAGES: Portuguese first). Whisper base ranks an espeak-ng "Entrada, treze e quarenta"
# en 0.15, la 0.14, th 0.12 … with pt nowhere in the first six, and a Piper English clip en 0.87.
DETECTION_CONFIDENCE = 0.5
# Clips up to Whisper's window are transcribed over a window fitted to them; longer audio (and
# any request for timestamps) takes faster-whisper's own path, window by window.
FITTED_MAX_SECONDS = 30.0
# A floor of 20 s, not the validator's 15 s: transcripts are what this service returns. On the
# better voices, 15 s changed them measurably (`make bench-stt`, clean, exactly right of N:
# RHVoice 138 → 131 of 156, Piper 72 → 69 of 87, real speech 69 → 68 of 80); 20 s kept them
# within 2 (136, 70, 69) at 0.52x the 30 s window's time (15 s: 0.41x).
FITTED_FLOOR_FRAMES = 2000
MAX_LENGTH = 448  # Whisper's decoder positions: prompt and transcript together


def _pick_language(ranked: list[tuple[str, float]], candidates: tuple[str, ...]) -> str:
    """From Whisper's ranked (code, probability): the likeliest of `candidates` when Whisper is
    sure of it, else the first of them (unrestricted, Whisper takes Brazilian Portuguese for
    Spanish or Galician, and synthetic or telephone speech for almost anything); with no
    candidates, Whisper's first choice."""
    if not candidates:
        return ranked[0][0]
    code, probability = next(((c, p) for c, p in ranked if c in candidates), (None, 0.0))
    return code if code and probability >= DETECTION_CONFIDENCE else candidates[0]


def _segment(s) -> Segment:
    words = tuple(Word(w.word, round(w.start, 3), round(w.end, 3)) for w in s.words or ())
    return Segment(
        id=s.id,
        seek=s.seek,
        start=round(s.start, 3),
        end=round(s.end, 3),
        text=s.text,
        tokens=tuple(s.tokens),
        temperature=s.temperature or 0.0,
        avg_logprob=s.avg_logprob,
        compression_ratio=s.compression_ratio,
        no_speech_prob=s.no_speech_prob,
        words=words,
    )
