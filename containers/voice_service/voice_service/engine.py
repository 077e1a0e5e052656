"""One spoken turn and its parts (STT, LLM, TTS), with the cache and the metrics around them.

Everything here is synchronous and thread-safe: the HTTP/WebSocket handlers run it in worker
threads, the job worker calls `turn` directly.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from fala.core.audio import decode_audio
from fala.core.errors import InvalidAudio, InvalidRequest
from voice_service.audio import base_language, join_wavs, wav_bytes, wav_sample_rate
from voice_service.backends import Backends, Transcription
from voice_service.backends.llm import ChatReply
from voice_service.backends.tts import SpeechChunk
from voice_service.cache import Cache, MemoryCache, cache_key
from voice_service.errors import (
    FalaError,
    LLMUnavailable,
    NothingToSpeak,
    TextTooLong,
    TTSUnavailable,
)
from voice_service.metrics import Metrics
from voice_service.settings import VoiceSettings

# A reply sentence is synthesized as soon as it is complete (streaming turns).
_SENTENCE_END = re.compile(r"(?<=[.!?…])\s+")

# How the system prompt names a reply language (by base language; others are left unsaid).
LANGUAGE_NAMES = {"pt": "Brazilian Portuguese", "en": "English", "es": "Spanish"}


def speakable(text: str) -> str:
    """A model's reply made safe to speak: the control characters and unpaired surrogates that
    `check_text` refuses from callers become spaces."""
    return "".join(" " if unicodedata.category(c) in ("Cc", "Cs") else c for c in text).strip()


@dataclass(frozen=True)
class Speech:
    wav: bytes
    backend: str
    voice: str
    sample_rate: int
    cached: bool


@dataclass(frozen=True)
class TurnResult:
    """What the job worker and /ws hand back: the JobWorker `turn` callable returns this."""

    user_text: str
    assistant_text: str
    wav: bytes
    language: str  # the tag used for the reply (asked for, or detected by Whisper)
    model: str  # the LLM that wrote the reply
    voice: str  # the TTS voice that spoke it
    tts_backend: str
    usage: dict[str, int]


class VoiceEngine:
    def __init__(
        self,
        settings: VoiceSettings,
        backends: Backends,
        *,
        cache: Cache | None = None,
        metrics: Metrics | None = None,
    ) -> None:
        self.settings = settings
        self.backends = backends
        self.cache = cache or MemoryCache(settings.cache_max_items, settings.cache_max_bytes)
        self.metrics = metrics or Metrics()

    # --- parts ----------------------------------------------------------------------------

    def language(self, tag: str | None) -> str | None:
        """The request's tag, the default when none was sent; None means "detect"."""
        return self.settings.default_language if tag is None else tag

    def transcribe(
        self, audio: bytes, language: str | None, *, timestamps: bool = False, words: bool = False
    ) -> Transcription:
        """`language` None: the default language; "auto": detected among STT_LANGUAGES (the
        first of them when Whisper is unsure)."""
        samples = decode_audio(audio, max_seconds=self.settings.max_audio_seconds)
        stt = self.backends.stt
        detect_among = tuple(c.strip() for c in self.settings.stt_languages.split(",") if c.strip())
        with self.metrics.stage("stt", stt.name):
            return stt.transcribe(
                samples,
                base_language(self.language(language)),
                detect_among=detect_among,
                timestamps=timestamps,
                words=words,
            )

    def messages(self, user_text: str, language: str | None = None) -> list[dict[str, str]]:
        """The chat for one turn: the system prompt, told which language to answer in (small
        local models otherwise drift into another one), then what the user said."""
        system = self.settings.llm_system_prompt
        name = LANGUAGE_NAMES.get(base_language(language) or "")
        if name:
            system = f"{system} Answer in {name}."
        return [{"role": "system", "content": system}, {"role": "user", "content": user_text}]

    def reply(self, user_text: str, language: str | None = None) -> ChatReply:
        llm = self.backends.llm
        with self.metrics.stage("llm", llm.name):
            return llm.chat(self.messages(user_text, language))

    def check_text(self, text: str) -> str:
        text = (text or "").strip()
        if not text:
            raise InvalidRequest("`text` is empty; send the words to speak.")
        if len(text) > self.settings.max_text_chars:
            raise TextTooLong(
                f"`text` has {len(text)} characters; the limit is {self.settings.max_text_chars}."
                " Split it into several requests (or use /generate-voice/batch)."
            )
        if any(unicodedata.category(c) in ("Cc", "Cs") and c not in "\t\n\r" for c in text):
            raise InvalidRequest(
                "`text` contains control characters or unpaired surrogates (such as NUL or "
                "\\ud800); send plain text."
            )
        return text

    def speaker(self, sample: bytes) -> bytes:
        """The speaker embedding of a reference recording, from the cache when seen before."""
        if not sample:
            raise InvalidAudio("The voice `sample` is empty; send a 3 to 30 s WAV of the voice.")
        tts = self.backends.tts
        if not tts.supports_cloning:
            return tts.speaker_from_sample(sample)  # raises VoiceCloningUnavailable
        decode_audio(sample, max_seconds=self.settings.max_audio_seconds)  # typed 4xx if bad
        key = cache_key("speaker", backend=tts.name, sha256=hashlib.sha256(sample).hexdigest())
        found = self._cache_get("speaker", key)
        if found is not None:
            return found
        embedding = tts.speaker_from_sample(sample)
        self.cache.set(key, embedding)
        return embedding

    def _cache_get(self, kind: str, key: str) -> bytes | None:
        value = self.cache.get(key)
        self.metrics.cache.labels(kind, "miss" if value is None else "hit").inc()
        return value

    def _speech_key(self, text, language, voice, speed, speaker) -> str:
        return cache_key(
            "speech",
            text=text,
            language=base_language(language),
            voice=voice,
            speed=round(float(speed), 3),
            speaker=hashlib.sha256(speaker).hexdigest() if speaker else None,
            backend=self.backends.tts.name,
        )

    def synthesize_chunks(
        self,
        text: str,
        *,
        language: str | None,
        voice: str | None = None,
        speed: float = 1.0,
        speaker: bytes | None = None,
    ) -> Iterator[Speech]:
        """One WAV per sentence as it is synthesized (a cached reply comes back as one WAV)."""
        text = self.check_text(text)
        language = self.language(language)
        key = self._speech_key(text, language, voice, speed, speaker)
        cached = self._cache_get("synthesis", key)
        if cached is not None:
            backend, _, rest = cached.partition(b"\n")
            name, _, wav = rest.partition(b"\n")
            yield Speech(wav, backend.decode(), name.decode(), wav_sample_rate(wav), cached=True)
            return
        tts = self.backends.tts
        parts: list[SpeechChunk] = []
        stage = self.metrics.stage("tts", tts.name)
        stage.__enter__()
        try:
            for chunk in tts.synthesize(
                text, language=language, voice=voice, speed=speed, speaker=speaker
            ):
                parts.append(chunk)
                yield Speech(
                    wav_bytes(chunk.samples, chunk.sample_rate),
                    chunk.backend,
                    chunk.voice,
                    chunk.sample_rate,
                    cached=False,
                )
        except FalaError:
            raise
        except Exception as exc:
            raise TTSUnavailable(f"Speech synthesis failed ({type(exc).__name__}: {exc}).") from exc
        finally:
            stage.__exit__(None, None, None)
        if not parts:  # only punctuation, symbols or invisible characters
            raise NothingToSpeak(
                f"Nothing in `text` can be spoken ({text[:40]!r}); send words or numbers."
            )
        whole = wav_bytes(np.concatenate([p.samples for p in parts]), parts[0].sample_rate)
        meta = f"{parts[0].backend}\n{parts[0].voice}\n".encode()
        self.cache.set(key, meta + whole)

    def synthesize(
        self,
        text: str,
        *,
        language: str | None,
        voice: str | None = None,
        speed: float = 1.0,
        speaker: bytes | None = None,
    ) -> Speech:
        """The whole reply as one WAV (cached by text, language, voice, speed and speaker)."""
        chunks = list(
            self.synthesize_chunks(
                text, language=language, voice=voice, speed=speed, speaker=speaker
            )
        )
        first = chunks[0]
        wav = first.wav if len(chunks) == 1 else join_wavs([c.wav for c in chunks])
        return Speech(wav, first.backend, first.voice, first.sample_rate, first.cached)

    # --- a whole turn ---------------------------------------------------------------------

    def turn(self, audio: bytes, language: str | None = None, voice: str | None = None):
        """Audio in → (what was heard, the reply text, the reply WAV). The JobWorker's `turn`."""
        heard = self.transcribe(audio, language)
        if not heard.text:
            raise InvalidAudio(
                "No speech was heard in the audio (silence or noise); record the question again."
            )
        reply_language = self.reply_language(language, heard)
        answer = self.reply(heard.text, reply_language)
        try:
            speech = self.synthesize(
                speakable(answer.text) or "…", language=reply_language, voice=voice
            )
        except NothingToSpeak as exc:  # the model's fault, not the caller's: worth a retry
            raise LLMUnavailable(
                f"The model's reply has nothing to speak ({answer.text[:40]!r})."
            ) from exc
        return TurnResult(
            user_text=heard.text,
            assistant_text=answer.text,
            wav=speech.wav,
            language=reply_language,
            model=self.backends.llm.model,
            voice=speech.voice,
            tts_backend=speech.backend,
            usage=answer.usage,
        )

    def reply_language(self, asked: str | None, heard: Transcription) -> str:
        asked = self.language(asked)
        if base_language(asked) is None:
            return heard.language or "en"
        return asked or heard.language

    @staticmethod
    def sentences(buffer: str) -> tuple[list[str], str]:
        """Complete sentences in `buffer` and the unfinished rest."""
        parts = _SENTENCE_END.split(buffer)
        return [p for p in parts[:-1] if p.strip()], parts[-1]
