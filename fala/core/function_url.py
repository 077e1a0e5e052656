"""The validation API over a Lambda Function URL (payload format 2.0).

`POST /` with JSON `{"expected_speech": str, "audio": "<base64>", "language"?: str}`, or with
`"challenge_token"` from `POST /challenge` (`{"action"?: str, "language"?: str}`: a phrase to say
and its single-use token, fala.core.challenge) in place of `expected_speech`.
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
from fala.core.challenge import check_phrase, issue_challenge, redeem_challenge
from fala.core.errors import (
    FalaError,
    InvalidRequest,
    MethodNotAllowed,
    RouteNotFound,
)
from fala.core.models import Validation
from fala.core.settings import ValidationSettings
from fala.core.validation import check_expected_speech, resolve_language

FIELDS = ("expected_speech", "audio", "language", "challenge_token")
CHALLENGE_FIELDS = ("action", "language")
ROUTES = ("/", "/challenge")
_DATA_URL = re.compile(r"^data:[\w.+-]+/[\w.+-]+(?:;[\w.+-]+=[\w.+-]+)*;base64,", re.IGNORECASE)
_WHITESPACE = re.compile(r"\s+")
JSON_HEADERS = {"content-type": "application/json"}


@dataclass(frozen=True)
class ValidationRequest:
    expected_speech: str | None  # None: the challenge's phrase
    audio: bytes
    language: str | None  # the caller's tag, or None to detect
    challenge_token: str | None = None


@dataclass(frozen=True)
class ChallengeRequest:
    action: str | None
    language: str


def route_of(event: Mapping[str, Any]) -> str:
    """The route ("/" or "/challenge") of a POST; a FalaError for any other method or path."""
    http = (event.get("requestContext") or {}).get("http") or {}
    method = str(http.get("method") or "").upper()
    if method != "POST":
        raise MethodNotAllowed(
            f"Method {method or '(none)'} is not allowed; send POST / with a JSON body."
        )
    path = event.get("rawPath") or http.get("path") or "/"
    if path not in ROUTES:
        raise RouteNotFound(
            f"No route {path!r}; send POST / (validate) or POST /challenge with a JSON body."
        )
    return path


def parse_request(event: Mapping[str, Any], settings: ValidationSettings) -> ValidationRequest:
    """The validation request in a Function URL event; a FalaError on anything malformed."""
    route_of(event)
    body = _json_body(event)
    _refuse_unknown(body, FIELDS)
    token = body.get("challenge_token")
    if token is not None and not isinstance(token, str):
        raise InvalidRequest(f'Field "challenge_token" must be a string, got {_json_type(token)}.')
    expected = None
    if token is None or "expected_speech" in body:
        expected = _string_field(body, "expected_speech")
        check_expected_speech(expected, max_chars=settings.max_expected_speech_chars)
    audio = _audio_field(_string_field(body, "audio"))
    default = None if token is not None else settings.default_language  # the challenge's
    language = _language_field(body, default)
    return ValidationRequest(expected, audio, language, token)


def parse_challenge_request(
    event: Mapping[str, Any], settings: ValidationSettings
) -> ChallengeRequest:
    """`POST /challenge` with an optional JSON body `{"action"?, "language"?}`."""
    body = _json_body(event) if event.get("body") else {}
    _refuse_unknown(body, CHALLENGE_FIELDS)
    action = body.get("action")
    if action is not None and not isinstance(action, str):
        raise InvalidRequest(f'Field "action" must be a string, got {_json_type(action)}.')
    language = _language_field(body, settings.default_language)
    if language is None or resolve_language(language) is None:
        raise InvalidRequest('A challenge needs a language ("pt-BR" or "en"), not "auto".')
    return ChallengeRequest(action, language)


def _refuse_unknown(body: Mapping[str, Any], fields: tuple[str, ...]) -> None:
    unknown = sorted(set(body) - set(fields))
    if unknown:
        raise InvalidRequest(
            f"Unknown field(s) {', '.join(map(repr, unknown))}; accepted fields are "
            f"{', '.join(fields)}."
        )


def _language_field(body: Mapping[str, Any], default: str | None) -> str | None:
    language = body.get("language", default)
    if language is not None and not isinstance(language, str):
        raise InvalidRequest(
            f'Field "language" must be a string such as "pt-BR", got {_json_type(language)}.'
        )
    resolve_language(language)  # fail before decoding audio
    return language


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


def success_response(validation: Validation, **extra: Any) -> dict[str, Any]:
    return response(200, {**validation.model_dump(mode="json"), **extra})


Validate = Callable[[np.ndarray, str, str | None], Validation]


def handle_validation_request(
    event: Mapping[str, Any],
    validate: Validate,
    settings: ValidationSettings,
    challenges: Any = None,
) -> dict[str, Any]:
    """Parse, decode, validate, answer: the whole Function URL request in one place.

    `challenges` is the challenge table (a boto3 DynamoDB Table), None where there is none."""
    try:
        if route_of(event) == "/challenge":
            wanted = parse_challenge_request(event, settings)
            challenge = issue_challenge(
                challenges,
                action=wanted.action,
                language=wanted.language,
                ttl_seconds=settings.challenge_ttl_seconds,
                utc_offset_minutes=settings.challenge_utc_offset_minutes,
            )
            return response(201, challenge.to_dict())
        request = parse_request(event, settings)
        # Decoded before the token is spent: unreadable audio must not burn the challenge.
        audio = decode_audio(request.audio, max_seconds=settings.max_audio_seconds)
        if request.challenge_token is None:
            assert request.expected_speech is not None  # parse_request requires one
            return success_response(validate(audio, request.expected_speech, request.language))
        redeemed = redeem_challenge(challenges, request.challenge_token)
        check_phrase(request.expected_speech, redeemed, "expected_speech")
        language = request.language or redeemed.language
        validation = validate(audio, redeemed.expected_speech, language)
        return success_response(validation, challenge={"verified": True})
    except FalaError as error:
        return error_response(error)
