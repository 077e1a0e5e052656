"""SDK and stream exceptions → the typed errors the state machine routes on (fala.core.errors).

Matched by class name so this module does not import the SDK. Retryable (the state machine
retries, then falls back to the GPU voice service): SonicThrottled, SonicUnavailable,
SonicStreamError, SonicTimeout. SonicModelNotFound is a configuration problem (wrong model id,
model access not granted, end of life): retrying does not help, falling back does.
"""

from __future__ import annotations

from typing import Literal

from fala.core.errors import (
    ConversationError,
    SonicModelNotFound,
    SonicStreamError,
    SonicThrottled,
    SonicUnavailable,
)

Phase = Literal["invoke", "stream"]

_THROTTLED = {"ThrottlingException", "ServiceQuotaExceededException", "TooManyRequestsException"}
_UNAVAILABLE = {
    "ServiceUnavailableException",
    "InternalServerException",
    "ModelNotReadyException",
    "ConnectionError",
    "ConnectionRefusedError",
}
_STREAM = {"ModelStreamErrorException", "ModelTimeoutException", "ModelErrorException"}
_NOT_FOUND = {"ResourceNotFoundException", "AccessDeniedException"}
_MODEL_WORDS = ("model identifier", "end of life", "not found", "does not exist", "access to")


def service_message(exc: BaseException) -> str:
    message = getattr(exc, "message", None) or str(exc) or type(exc).__name__
    message = " ".join(str(message).split())
    return message if len(message) <= 300 else message[:297] + "..."


def map_exception(exc: BaseException, *, phase: Phase, model_id: str) -> ConversationError:
    """The typed error for an exception raised while invoking (`invoke`: up to the initial
    response) or while streaming (`stream`)."""
    if isinstance(exc, ConversationError):
        return exc
    names = {cls.__name__ for cls in type(exc).__mro__}
    text = service_message(exc)
    if names & _THROTTLED:
        return SonicThrottled(f"Bedrock throttled Nova Sonic ({model_id}): {text}")
    if names & _STREAM:
        return SonicStreamError(f"The Nova Sonic stream failed: {text}")
    if names & _NOT_FOUND:
        return SonicModelNotFound(
            f"Model {model_id} is not available to this account/region ({text}). "
            "Check the model id, the region and the model access settings in the Bedrock console."
        )
    if "ValidationException" in names:
        if phase == "invoke" or any(w in text.lower() for w in _MODEL_WORDS):
            return SonicModelNotFound(
                f"Bedrock rejected model {model_id} ({text}). The model id may be wrong, "
                "past its end of life, or not offered in this region."
            )
        return SonicStreamError(f"Nova Sonic ended the stream with an error: {text}")
    if names & _UNAVAILABLE:
        return SonicUnavailable(f"Nova Sonic is unavailable: {text}")
    if phase == "invoke":
        return SonicUnavailable(f"Could not open a Nova Sonic stream: {type(exc).__name__}: {text}")
    return SonicStreamError(f"The Nova Sonic stream broke: {type(exc).__name__}: {text}")
