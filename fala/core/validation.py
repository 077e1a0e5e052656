"""The speech-validation engine: did the audio say the expected text?

One code path for every entry point (Function URL, state machine task, local emulation).

Decision: the clip is validated when the transcript and the expected text have the same
`comparison_key` (see fala.core.normalize: case, accents, punctuation, number words, time
formats and hesitations do not matter). It is an equality, not "the expected words appear
somewhere": extra spoken words can change the meaning ("não", "saída, não entrada").

`confidence` is how sure the recognizer is of its own transcript (the geometric mean of its token
probabilities), not of the verdict; 0 when there is no speech.
"""

from __future__ import annotations

import functools
import logging
import math
import os
import time
import unicodedata
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from fala.core.audio import SAMPLE_RATE
from fala.core.errors import InvalidAudio, InvalidExpectedSpeech, UnsupportedLanguage
from fala.core.models import Validation
from fala.core.normalize import comparison_key, normalize

logger = logging.getLogger(__name__)

# Accepted language tags (case-insensitive) → Whisper language code.
LANGUAGES = {"pt-br": "pt", "pt": "pt", "en": "en", "en-us": "en", "en-gb": "en"}
SUPPORTED_LANGUAGES = ("pt-BR", "pt", "en", "en-US", "en-GB")
AUTO_LANGUAGE = "auto"  # what a caller sends to ask for detection

REASON_MATCH = "match"
REASON_MISMATCH = "mismatch"
REASON_NO_SPEECH = "no speech"

DEFAULT_MAX_EXPECTED_CHARS = 200
# Below this RMS level (about -60 dBFS) there is nothing to hear; skip the model entirely.
SILENCE_RMS = 1e-3
# The expected text is at most a few hundred characters; a transcript far longer than that is a
# mismatch anyway, and the cap stops a hallucination loop from decoding 448 tokens (≈2.5 s).
MAX_NEW_TOKENS = 160
# Whisper's own no-speech rule (faster-whisper defaults): a segment whose no-speech probability
# is high *and* whose text is improbable is silence the decoder filled with words.
NO_SPEECH_THRESHOLD = 0.6
LOG_PROB_THRESHOLD = -1.0


def resolve_language(language: str | None) -> str | None:
    """Whisper's code for an accepted tag; None (or "auto") means detect."""
    if language is None or language.strip().lower() in ("", AUTO_LANGUAGE):
        return None
    code = LANGUAGES.get(language.strip().lower().replace("_", "-"))
    if code is None:
        raise UnsupportedLanguage(
            f"Language {language!r} is not supported; use one of "
            f"{', '.join(SUPPORTED_LANGUAGES)}, or {AUTO_LANGUAGE!r} to detect it."
        )
    return code


def check_expected_speech(expected: str | None, *, max_chars: int) -> str:
    """The expected text, stripped; raises InvalidExpectedSpeech when it cannot be compared."""
    if expected is None or not expected.strip():
        raise InvalidExpectedSpeech(
            "expected_speech is empty; send the words the audio should contain, "
            'e.g. "ENTRADA 13 40".'
        )
    text = expected.strip()
    if len(text) > max_chars:
        raise InvalidExpectedSpeech(
            f"expected_speech has {len(text)} characters; the limit is {max_chars}. "
            "Validate a shorter phrase."
        )
    controls = sorted({f"U+{ord(c):04X}" for c in text if unicodedata.category(c) == "Cc"})
    if controls:
        raise InvalidExpectedSpeech(
            f"expected_speech contains control characters ({', '.join(controls)}); "
            "send plain text on one line."
        )
    if not normalize(text, "pt") and not normalize(text, "en"):
        raise InvalidExpectedSpeech(
            f"expected_speech {text!r} has no words to compare (only punctuation or "
            "hesitations); send the words the audio should contain."
        )
    return text


@dataclass(frozen=True)
class Transcript:
    text: str
    language: str  # Whisper code, requested or detected
    confidence: float
    no_speech: bool


class SpeechValidator:
    """Whisper (CTranslate2) loaded once per process; `validate` is safe to call repeatedly."""

    def __init__(
        self,
        model_dir: str | Path,
        *,
        compute_type: str = "int8",
        cpu_threads: int | None = None,
        beam_size: int = 1,
        max_expected_chars: int = DEFAULT_MAX_EXPECTED_CHARS,
    ) -> None:
        model_path = Path(model_dir)
        if not (model_path / "model.bin").is_file():
            # Checked here because faster-whisper would take an unknown path for a hub model
            # name and try to download it.
            raise FileNotFoundError(f"No Whisper model (model.bin) in {model_path}")
        from faster_whisper import WhisperModel  # heavy import, only where a model is built

        self.cpu_threads = cpu_threads or available_cpus()
        self.beam_size = beam_size
        self.max_expected_chars = max_expected_chars
        started = time.perf_counter()
        self.model = WhisperModel(
            str(model_path),
            device="cpu",
            compute_type=compute_type,
            cpu_threads=self.cpu_threads,
            local_files_only=True,
        )
        self.load_seconds = time.perf_counter() - started
        logger.info(
            "Whisper model loaded",
            extra={"model_dir": str(model_path), "seconds": round(self.load_seconds, 3)},
        )

    def transcribe(self, audio: np.ndarray, whisper_language: str | None) -> Transcript:
        if audio.size == 0:
            raise InvalidAudio("The audio has no samples.")
        if float(np.sqrt(np.mean(np.square(audio, dtype=np.float64)))) < SILENCE_RMS:
            return Transcript("", whisper_language or "", 0.0, no_speech=True)
        # One temperature (no fallback re-decodes), greedy by default, no timestamp tokens and
        # no previous-text conditioning: the floor is one encoder pass plus a few decoder steps.
        segments, info = self.model.transcribe(
            audio,
            language=whisper_language,
            beam_size=self.beam_size,
            temperature=0.0,
            without_timestamps=True,
            condition_on_previous_text=False,
            no_speech_threshold=NO_SPEECH_THRESHOLD,
            log_prob_threshold=LOG_PROB_THRESHOLD,
            max_new_tokens=MAX_NEW_TOKENS,
            vad_filter=False,
        )
        texts: list[str] = []
        logprob_sum = 0.0
        token_count = 0
        for segment in segments:  # a generator: decoding happens here
            if not segment.text.strip():
                continue
            texts.append(segment.text.strip())
            n = max(len(segment.tokens), 1)
            logprob_sum += segment.avg_logprob * n
            token_count += n
        text = " ".join(texts)
        confidence = math.exp(logprob_sum / token_count) if token_count else 0.0
        return Transcript(
            text=text,
            language=info.language,
            confidence=min(max(confidence, 0.0), 1.0),
            no_speech=not text,
        )

    def validate(
        self,
        audio: np.ndarray,
        expected_speech: str,
        language: str | None,
        *,
        max_expected_chars: int | None = None,
    ) -> Validation:
        """Transcribe `audio` (16 kHz mono float32) and compare it with `expected_speech`."""
        expected = check_expected_speech(
            expected_speech, max_chars=max_expected_chars or self.max_expected_chars
        )
        whisper_language = resolve_language(language)
        started = time.perf_counter()
        transcript = self.transcribe(audio, whisper_language)
        normalized_spoken = normalize(transcript.text, transcript.language)
        normalized_expected = normalize(expected, transcript.language or whisper_language)
        if transcript.no_speech or not normalized_spoken:
            reason = REASON_NO_SPEECH
        elif comparison_key(normalized_spoken) == comparison_key(normalized_expected):
            reason = REASON_MATCH
        else:
            reason = REASON_MISMATCH
        logger.info(
            "Speech validated",
            extra={
                "reason": reason,
                "audio_seconds": round(audio.size / SAMPLE_RATE, 2),
                "seconds": round(time.perf_counter() - started, 3),
            },
        )
        return Validation(
            validated=reason == REASON_MATCH,
            spoken_text_in_audio=transcript.text,
            expected_speech=expected,
            normalized_expected=normalized_expected,
            normalized_spoken=normalized_spoken,
            confidence=round(transcript.confidence if reason != REASON_NO_SPEECH else 0.0, 4),
            language=_reported_language(language, transcript.language),
            reason=reason,
        )


@functools.cache
def shared_validator(model_dir: str) -> SpeechValidator:
    """The process-wide validator for `model_dir`: every entry point in a process (the API and
    task handlers, the local emulation, the tests) shares one loaded model."""
    return SpeechValidator(model_dir)


def _reported_language(requested: str | None, detected: str) -> str:
    """The caller's tag in canonical case ("pt-BR"), else the detected Whisper code."""
    if requested and resolve_language(requested):
        wanted = requested.strip().lower().replace("_", "-")
        return next(tag for tag in SUPPORTED_LANGUAGES if tag.lower() == wanted)
    return detected or "unknown"


def available_cpus() -> int:
    """CPUs this process may run on (the Lambda/cgroup share, not the host's count)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux (a developer's Mac)
        return os.cpu_count() or 1
