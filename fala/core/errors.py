"""Typed errors a user can act on: the shared registry.

The class name is the error name Step Functions sees (Lambda reports it as `errorType`), `code` is
the stable machine-readable code in API responses and result documents, and `status` the HTTP
status the Function URL answers with.

Every error that can cross a process boundary — a Lambda's error, a voice job's task failure —
lives here, so the state machine's retry lists and the result documents (written by another
Lambda) know it. The voice service adds HTTP-only errors of its own (voice_service/errors.py:
Unauthorized, RequestTimeout, NothingToSpeak, …) that a job never reports; `error_types` leaves
them out, so what a process happens to import cannot change the registry.
"""

from __future__ import annotations


class FalaError(Exception):
    """Base of every error Fala reports to a user."""

    code = "internal_error"
    status = 500

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def to_dict(self) -> dict[str, str]:
        return {"error": self.code, "message": self.message}


class InvalidRequest(FalaError):
    """The request is not what the API accepts (JSON shape, fields, types, encoding)."""

    code = "invalid_request"
    status = 400


class UnsupportedLanguage(InvalidRequest):
    """A language the validator does not handle; the message lists the supported ones."""

    code = "unsupported_language"


class MethodNotAllowed(FalaError):
    code = "method_not_allowed"
    status = 405

    def __init__(self, message: str, allow: str = "POST") -> None:
        super().__init__(message)
        self.allow = allow  # the Allow header's value


class RouteNotFound(FalaError):
    code = "not_found"
    status = 404


class PayloadTooLarge(FalaError):
    code = "payload_too_large"
    status = 413


class InvalidAudio(FalaError):
    """The bytes are not decodable audio, or decode to nothing."""

    code = "invalid_audio"
    status = 422


class AudioTooLong(FalaError):
    code = "audio_too_long"
    status = 422


class InvalidExpectedSpeech(FalaError):
    code = "invalid_expected_speech"
    status = 422


class ChallengeNotFound(FalaError):
    """No challenge was issued with this token (its record is gone: long expired)."""

    code = "challenge_not_found"
    status = 404


class ChallengeForged(FalaError):
    """The token's signature does not verify: not issued by this deployment, or altered."""

    code = "challenge_forged"
    status = 403


class ChallengeExpired(FalaError):
    code = "challenge_expired"
    status = 410


class ChallengeUsed(FalaError):
    """The token was already used: a replay, or a second request with one token."""

    code = "challenge_used"
    status = 409


class ChallengesDisabled(FalaError):
    code = "challenges_disabled"
    status = 404


class SpeakerNotFound(FalaError):
    """No voiceprint is enrolled under this speaker id (never enrolled, erased or expired)."""

    code = "speaker_not_found"
    status = 404


class SpeakersDisabled(FalaError):
    code = "speakers_disabled"
    status = 404


class UploadRejected(FalaError):
    """An S3 upload the pipeline will not process (size, format, metadata)."""

    code = "upload_rejected"
    status = 422


class UploadNotFound(FalaError):
    """The object named by the event is gone (deleted between the event and the read)."""

    code = "upload_not_found"
    status = 404


# --- Conversation backends -------------------------------------------------------------------
# The class names are the error names the state machine routes on (infra/constructs/pipeline.py):
# retried, then fallen back to the GPU voice service, except ConversationFailed (final).


class ConversationError(FalaError):
    """A conversation backend could not answer; the subclass says why."""

    code = "conversation_failed"
    status = 502


class SonicThrottled(ConversationError):
    """Bedrock throttled the stream (ThrottlingException / HTTP 429)."""

    code = "sonic_throttled"
    status = 429


class SonicUnavailable(ConversationError):
    """Bedrock could not serve the model now (ServiceUnavailable, InternalServer, 5xx)."""

    code = "sonic_unavailable"
    status = 503


class SonicStreamError(ConversationError):
    """The stream failed or ended mid-reply (ModelStreamError, ModelTimeout, in-stream error)."""

    code = "sonic_stream_error"
    status = 502


class SonicModelNotFound(ConversationError):
    """The model id is unknown, not enabled for the account, or past its end of life."""

    code = "sonic_model_not_found"
    status = 502


class SonicNotConfigured(ConversationError):
    """No Nova Sonic endpoint to call: the local emulation, which never reaches AWS, unless it is
    pointed at a fake (AWS_ENDPOINT_URL_BEDROCK_RUNTIME). Not retried; the voice service answers."""

    code = "sonic_not_configured"
    status = 503


class SonicTimeout(ConversationError):
    """A time-boxed step (invoke, first output, next event, close) ran out of time."""

    code = "sonic_timeout"
    status = 504


class VoiceServiceError(ConversationError):
    """The GPU voice service failed the job (it reports the cause)."""

    code = "voice_service_failed"
    status = 502


# The voice service's backend outages: its worker retries a job on them, then fails the job's
# task token with the class name (LLMUnavailable, ...), which the result document explains.


class BackendUnavailable(VoiceServiceError):
    """A model backend cannot answer now (endpoint down, timed out, engine failed); the service's
    logs and its /health say which. Redrive the execution once it is back."""

    code = "backend_unavailable"
    status = 503


class LLMUnavailable(BackendUnavailable):
    """The LLM (the Ollama sidecar) is down, still pulling its model, or replied with nothing to
    speak."""

    code = "llm_unavailable"


class STTUnavailable(BackendUnavailable):
    """Speech recognition (faster-whisper) failed to load or run."""

    code = "stt_unavailable"


class TTSUnavailable(BackendUnavailable):
    """Speech synthesis (XTTS, and Piper as its fallback) failed."""

    code = "tts_unavailable"


def error_types() -> dict[str, type[FalaError]]:
    """Every Fala error type of this registry by class name — the error name Step Functions sees.
    Subclasses defined elsewhere (the voice service's HTTP-only errors) are not in it."""
    found: dict[str, type[FalaError]] = {}
    pending: list[type[FalaError]] = [FalaError]
    while pending:
        cls = pending.pop()
        if cls.__module__ == __name__:
            found[cls.__name__] = cls
        pending.extend(cls.__subclasses__())
    return found


def registered_type(error: FalaError) -> type[FalaError]:
    """The error's own type if the registry has it, else its nearest registered base (an HTTP-only
    TextTooLong is reported as InvalidRequest): the name to report across a process boundary."""
    registry = error_types()
    for cls in type(error).__mro__:
        if registry.get(cls.__name__) is cls:
            return cls
    return FalaError


def needs_new_upload(cls: type[FalaError]) -> bool:
    """Another try cannot help: the input must change. A busy or failing backend (even a 429)
    is not such an error."""
    return cls.status < 500 and not issubclass(cls, ConversationError)
