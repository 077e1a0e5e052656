"""The service's typed errors (same `{"error","message"}` shape as fala.core.errors; on the
OpenAI-compatible routes, /v1/*, OpenAI's `{"error": {"message", "type", "param", "code"}}`, so
that its SDKs show the message and code: `error_body`).

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
    "OPENAI_PREFIX",
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
    "error_body",
]

OPENAI_PREFIX = "/v1/"
# OpenAI's error `type` by HTTP status (its API reference); any other 4xx is the caller's request.
_OPENAI_TYPES = {
    401: "authentication_error",
    403: "permission_error",
    429: "rate_limit_error",
}


def error_body(code: str, message: str, status: int, path: str) -> dict:
    """The JSON body of a refusal on `path`: Fala's flat shape, or OpenAI's on /v1/*."""
    if not path.startswith(OPENAI_PREFIX):
        return {"error": code, "message": message}
    kind = "server_error" if status >= 500 else _OPENAI_TYPES.get(status, "invalid_request_error")
    return {"error": {"message": message, "type": kind, "param": None, "code": code}}


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
