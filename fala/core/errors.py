"""Typed errors a user can act on.

The class name is the error name Step Functions sees (Lambda reports it as `errorType`), `code` is
the stable machine-readable code in API responses and result documents, and `status` the HTTP
status the Function URL answers with.
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


class UploadRejected(FalaError):
    """An S3 upload the pipeline will not process (size, format, metadata)."""

    code = "upload_rejected"
    status = 422


class UploadNotFound(FalaError):
    """The object named by the event is gone (deleted between the event and the read)."""

    code = "upload_not_found"
    status = 404
