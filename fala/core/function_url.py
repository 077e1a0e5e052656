"""The validation API over a Lambda Function URL (payload format 2.0).

`POST /` with JSON `{"expected_speech": str, "audio": "<base64>", "language"?: str}`.
Parsing is strict and every problem is a FalaError naming the field, so callers get a 4xx that
says what to fix; `handle_validation_request` turns any FalaError into its JSON response.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from fala.core.audio import decode_audio
from fala.core.errors import FalaError, InvalidRequest, MethodNotAllowed, RouteNotFound
from fala.core.models import Validation
from fala.core.settings import ValidationSettings
from fala.core.validation import check_expected_speech, resolve_language

FIELDS = ("expected_speech", "audio", "language")
_DATA_URL = re.compile(r"^data:[\w.+-]+/[\w.+-]+(?:;[\w.+-]+=[\w.+-]+)*;base64,", re.IGNORECASE)
_WHITESPACE = re.compile(r"\s+")
JSON_HEADERS = {"content-type": "application/json"}


@dataclass(frozen=True)
class ValidationRequest:
    expected_speech: str
    audio: bytes
    language: str | None  # the caller's tag, or None to detect


def parse_request(event: Mapping[str, Any], settings: ValidationSettings) -> ValidationRequest:
    """The request in a Function URL event; raises a FalaError on anything malformed."""
    http = (event.get("requestContext") or {}).get("http") or {}
    method = str(http.get("method") or "").upper()
    if method != "POST":
        raise MethodNotAllowed(
            f"Method {method or '(none)'} is not allowed; send POST / with a JSON body."
        )
    path = event.get("rawPath") or http.get("path") or "/"
    if path != "/":
        raise RouteNotFound(f"No route {path!r}; send POST / with a JSON body.")

    body = _json_body(event)
    unknown = sorted(set(body) - set(FIELDS))
    if unknown:
        raise InvalidRequest(
            f"Unknown field(s) {', '.join(map(repr, unknown))}; accepted fields are "
            f"{', '.join(FIELDS)}."
        )
    expected = _string_field(body, "expected_speech")
    audio = _audio_field(_string_field(body, "audio"))
    language = body.get("language", settings.default_language)
    if language is not None and not isinstance(language, str):
        raise InvalidRequest(
            f'Field "language" must be a string such as "pt-BR", got {_json_type(language)}.'
        )
    resolve_language(language)  # fail before decoding audio
    check_expected_speech(expected, max_chars=settings.max_expected_speech_chars)
    return ValidationRequest(expected_speech=expected, audio=audio, language=language)


def _json_body(event: Mapping[str, Any]) -> dict[str, Any]:
    raw = event.get("body")
    if raw is None or raw == "":
        raise InvalidRequest(
            'The request has no body; send JSON {"expected_speech": "...", "audio": "<base64>"}.'
        )
    if not isinstance(raw, str):
        raise InvalidRequest("The request body must be text (JSON).")
    if event.get("isBase64Encoded"):
        try:
            raw = base64.b64decode(raw, validate=True).decode("utf-8")
        except (binascii.Error, ValueError) as exc:
            raise InvalidRequest("The request body is not UTF-8 JSON.") from exc
    try:
        body = json.loads(raw)
    except (ValueError, RecursionError) as exc:
        raise InvalidRequest(f"The request body is not valid JSON ({_first_line(exc)}).") from exc
    if not isinstance(body, dict):
        raise InvalidRequest(
            f"The request body must be a JSON object, got {_json_type(body)}; send "
            '{"expected_speech": "...", "audio": "<base64>"}.'
        )
    return body


def _string_field(body: Mapping[str, Any], name: str) -> str:
    if name not in body:
        raise InvalidRequest(f'Field "{name}" is required.')
    value = body[name]
    if not isinstance(value, str):
        raise InvalidRequest(f'Field "{name}" must be a string, got {_json_type(value)}.')
    return value


def _audio_field(value: str) -> bytes:
    """Standard or URL-safe base64, optionally a data: URL, whitespace and padding forgiven."""
    text = _WHITESPACE.sub("", _DATA_URL.sub("", value.strip(), count=1))
    if not text:
        raise InvalidRequest('Field "audio" is empty; send the audio file as base64.')
    text = text.rstrip("=").replace("-", "+").replace("_", "/")
    text += "=" * (-len(text) % 4)
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise InvalidRequest(
            'Field "audio" is not valid base64; send the audio file\'s bytes base64-encoded '
            "(standard or URL-safe alphabet)."
        ) from exc


def _json_type(value: object) -> str:
    names = {dict: "an object", list: "an array", str: "a string", bool: "a boolean"}
    if value is None:
        return "null"
    if isinstance(value, int | float) and not isinstance(value, bool):
        return "a number"
    return names.get(type(value), type(value).__name__)


def _first_line(exc: BaseException) -> str:
    return (str(exc).splitlines() or [type(exc).__name__])[0][:120]


def response(status: int, document: Mapping[str, Any]) -> dict[str, Any]:
    headers = dict(JSON_HEADERS)
    if status == MethodNotAllowed.status:
        headers["allow"] = "POST"
    return {"statusCode": status, "headers": headers, "body": json.dumps(document)}


def error_response(error: FalaError) -> dict[str, Any]:
    return response(error.status, error.to_dict())


def success_response(validation: Validation) -> dict[str, Any]:
    return response(200, validation.model_dump(mode="json"))


Validate = Callable[[np.ndarray, str, str | None], Validation]


def handle_validation_request(
    event: Mapping[str, Any], validate: Validate, settings: ValidationSettings
) -> dict[str, Any]:
    """Parse, decode, validate, answer: the whole Function URL request in one place."""
    try:
        request = parse_request(event, settings)
        audio = decode_audio(request.audio, max_seconds=settings.max_audio_seconds)
        return success_response(validate(audio, request.expected_speech, request.language))
    except FalaError as error:
        return error_response(error)
