"""The service's typed errors (same `{"error","message"}` shape as fala.core.errors).

User errors answer 4xx; backend outages answer 503 (never a bare 500 with a stack trace).

The classes defined here are the HTTP API's own: authentication, slow clients, text limits, voice
cloning. A job never fails with them (the worker reports a job's failure by a name in the shared
registry, fala.core.errors.registered_type; a reply with nothing to speak is an LLMUnavailable),
so they stay out of the pipeline's registry. Backend outages, which jobs do report, live in
fala.core.errors and are re-exported here.
"""

from __future__ import annotations

from fala.core.errors import (
    BackendUnavailable,
    FalaError,
    InvalidRequest,
    LLMUnavailable,
    PayloadTooLarge,
    RouteNotFound,
    STTUnavailable,
    TTSUnavailable,
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
