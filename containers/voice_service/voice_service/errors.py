"""The service's own typed errors, on top of fala.core.errors (same `{"error","message"}` shape).

User errors answer 4xx; backend outages answer 503 (never a bare 500 with a stack trace).
"""

from __future__ import annotations

from fala.core.errors import (
    FalaError,
    InvalidRequest,
    PayloadTooLarge,
    RouteNotFound,
    VoiceServiceError,
)

__all__ = [
    "BackendUnavailable",
    "FalaError",
    "Forbidden",
    "InvalidRequest",
    "LLMUnavailable",
    "NothingToSpeak",
    "PayloadTooLarge",
    "RequestTimeout",
    "RouteNotFound",
    "STTUnavailable",
    "TTSUnavailable",
    "TextTooLong",
    "Unauthorized",
    "VoiceCloningUnavailable",
    "VoiceServiceError",
]


class Unauthorized(FalaError):
    code = "unauthorized"
    status = 401


class Forbidden(FalaError):
    code = "forbidden"
    status = 403


class RequestTimeout(FalaError):
    """The client stopped sending its request (a stalled or deliberately slow body)."""

    code = "request_timeout"
    status = 408


class TextTooLong(InvalidRequest):
    code = "text_too_long"
    status = 413


class NothingToSpeak(InvalidRequest):
    """The text has nothing a voice can say (only punctuation, symbols, invisible characters)."""

    code = "nothing_to_speak"
    status = 422


class VoiceCloningUnavailable(FalaError):
    """A `sample` was sent but the running TTS backend cannot clone (Piper, the CPU default)."""

    code = "voice_cloning_unavailable"
    status = 501


class BackendUnavailable(VoiceServiceError):
    """A model backend cannot answer now (endpoint down, timed out, engine failed)."""

    code = "backend_unavailable"
    status = 503


class LLMUnavailable(BackendUnavailable):
    code = "llm_unavailable"


class STTUnavailable(BackendUnavailable):
    code = "stt_unavailable"


class TTSUnavailable(BackendUnavailable):
    code = "tts_unavailable"
