"""Model backends, each behind one small interface, and the set a service runs with."""

from __future__ import annotations

from dataclasses import dataclass

from voice_service.backends.llm import LLMBackend, OpenAIChatLLM
from voice_service.backends.stt import FasterWhisperSTT, STTBackend, Transcription
from voice_service.backends.tts import FallbackTTS, PiperTTS, TTSBackend, XTTSBackend

__all__ = [
    "Backends",
    "FallbackTTS",
    "FasterWhisperSTT",
    "LLMBackend",
    "OpenAIChatLLM",
    "PiperTTS",
    "STTBackend",
    "TTSBackend",
    "Transcription",
    "XTTSBackend",
]


@dataclass
class Backends:
    stt: STTBackend
    llm: LLMBackend
    tts: TTSBackend
