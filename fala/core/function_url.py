"""The validation API over a Lambda Function URL (payload format 2.0).

`POST /` with JSON `{"expected_speech": str, "audio": "<base64>", "language"?: str,
"speaker_id"?: str}`, or with `"challenge_token"` from `POST /challenge` (`{"action"?: str,
"language"?: str}`: a phrase to say and its single-use token, fala.core.challenge) in place of
`expected_speech`. `POST /speakers/{id}` (`{"clips": ["<base64>", ...]}`) enrols a voice and
`DELETE /speakers/{id}` erases it (fala.core.voiceprints); `speaker_id` then checks the voice too.
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
from urllib.parse import unquote

import numpy as np

from fala.core.audio import decode_audio
from fala.core.challenge import ChallengeStore, issue_challenge
from fala.core.errors import (
    AudioTooLong,
    FalaError,
    InvalidAudio,
    InvalidRequest,
    MethodNotAllowed,
    RouteNotFound,
)
from fala.core.models import Validation
from fala.core.settings import ValidationSettings
from fala.core.speech_check import SpeechCheck, Tables, Validate, validate_recording
from fala.core.validation import check_expected_speech, resolve_language
from fala.core.voiceprints import check_speaker_id, enroll, forget

FIELDS = ("expected_speech", "audio", "language", "challenge_token", "speaker_id")
CHALLENGE_FIELDS = ("action", "language")
ENROLMENT_FIELDS = ("clips",)
SPEAKERS = "/speakers/"
_DATA_URL = re.compile(r"^data:[\w.+-]+/[\w.+-]+(?:;[\w.+-]+=[\w.+-]+)*;base64,", re.IGNORECASE)
_WHITESPACE = re.compile(r"\s+")
JSON_HEADERS = {"content-type": "application/json"}


@dataclass(frozen=True)
class ValidationRequest:
    expected_speech: str | None  # None: the challenge's phrase
    audio: bytes
    language: str | None  # the caller's tag, or None to detect
    challenge_token: str | None = None
    speaker_id: str | None = None


@dataclass(frozen=True)
class Route:
    name: str  # "validate", "challenge", "enroll" or "forget"
    speaker_id: str | None = None


@dataclass(frozen=True)
class ChallengeRequest:
    action: str | None
    language: str


def route_of(event: Mapping[str, Any]) -> Route:
    """The route of a request; a FalaError for any other method or path."""
    http = (event.get("requestContext") or {}).get("http") or {}
    method = str(http.get("method") or "").upper()
    path = event.get("rawPath") or http.get("path") or "/"
    if path.startswith(SPEAKERS):
        # rawPath keeps the client's percent-encoding (an e-mail's "@" arrives as %40)
        speaker_id = check_speaker_id(unquote(path.removeprefix(SPEAKERS)), "The path's id")
        allowed = {"POST": "enroll", "DELETE": "forget"}
        if method not in allowed:
            raise MethodNotAllowed(
                f"Method {method or '(none)'} is not allowed on {SPEAKERS}{{id}}; POST enrols "
                "a voice, DELETE erases it.",
                allow="POST, DELETE",
            )
        return Route(allowed[method], speaker_id)
    if path not in ("/", "/challenge"):
        raise RouteNotFound(
            f"No route {path!r}; send POST / (validate), POST /challenge or POST|DELETE "
            f"{SPEAKERS}{{id}}."
        )
    if method != "POST":
        raise MethodNotAllowed(
            f"Method {method or '(none)'} is not allowed; send POST / with a JSON body."
        )
    return Route("validate" if path == "/" else "challenge")


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
    speaker_id = body.get("speaker_id")
    if speaker_id is not None:
        check_speaker_id(speaker_id)
    audio = _audio_field(_string_field(body, "audio"))
    default = None if token is not None else settings.default_language  # the challenge's
    language = _language_field(body, default)
    return ValidationRequest(expected, audio, language, token, speaker_id)


def parse_enrolment(event: Mapping[str, Any]) -> list[bytes]:
    """The clips of `POST /speakers/{id}`: `{"clips": ["<base64>", ...]}`."""
    body = _json_body(event)
    _refuse_unknown(body, ENROLMENT_FIELDS)
    clips = body.get("clips")
    if not isinstance(clips, list) or not all(isinstance(c, str) for c in clips):
        raise InvalidRequest(
            'Field "clips" must be an array of base64 audio files (three or more recordings '
            "of the speaker)."
        )
    return [_audio_field(clip, f'"clips"[{n}]') for n, clip in enumerate(clips)]


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


def _audio_field(value: str, field: str = '"audio"') -> bytes:
    """Standard or URL-safe base64, optionally a data: URL, whitespace and padding forgiven."""
    text = _WHITESPACE.sub("", _DATA_URL.sub("", value.strip(), count=1))
    if not text:
        raise InvalidRequest(f"Field {field} is empty; send the audio file as base64.")
    text = text.rstrip("=").replace("-", "+").replace("_", "/")
    text += "=" * (-len(text) % 4)
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise InvalidRequest(
            f"Field {field} is not valid base64; send the audio file's bytes base64-encoded "
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


def response(status: int, document: Mapping[str, Any], **headers: str) -> dict[str, Any]:
    return {
        "statusCode": status,
        "headers": {**JSON_HEADERS, **headers},
        "body": json.dumps(document),
    }


def error_response(error: FalaError) -> dict[str, Any]:
    if isinstance(error, MethodNotAllowed):
        return response(error.status, error.to_dict(), allow=error.allow)
    return response(error.status, error.to_dict())


def success_response(validation: Validation, **extra: Any) -> dict[str, Any]:
    return response(200, {**validation.model_dump(mode="json"), **extra})


def handle_validation_request(
    event: Mapping[str, Any],
    validate: Validate,
    settings: ValidationSettings,
    challenges: ChallengeStore | None = None,
    speakers: Any = None,
    on_verdict: Callable[[Validation], None] | None = None,
) -> dict[str, Any]:
    """Parse, decode, validate, answer: the whole Function URL request in one place.

    `challenges` is the challenge store (its table and signing key), `speakers` the voiceprint
    table (a boto3 DynamoDB Table), None where the deployment has none; `on_verdict` sees each
    validation (metrics, logs)."""
    try:
        route = route_of(event)
        if route.name == "challenge":
            wanted = parse_challenge_request(event, settings)
            challenge = issue_challenge(
                challenges,
                action=wanted.action,
                language=wanted.language,
                ttl_seconds=settings.challenge_ttl_seconds,
                utc_offset_minutes=settings.challenge_utc_offset_minutes,
            )
            return response(201, challenge.to_dict())
        if route.name == "enroll":
            assert route.speaker_id is not None
            clips = [
                _decode_clip(clip, number, settings)
                for number, clip in enumerate(parse_enrolment(event), 1)
            ]
            enrolment = enroll(
                speakers, route.speaker_id, clips, retention_days=settings.speaker_retention_days
            )
            return response(201, enrolment.to_dict())
        if route.name == "forget":
            assert route.speaker_id is not None
            forget(speakers, route.speaker_id)
            return response(200, {"speaker_id": route.speaker_id, "erased": True})
        request = parse_request(event, settings)
        check = SpeechCheck(
            request.expected_speech,
            request.language,
            request.challenge_token,
            request.speaker_id,
        )
        tables = Tables(challenges, speakers)
        validation = validate_recording(
            request.audio, check, validate=validate, settings=settings, tables=tables
        )
        if on_verdict is not None:
            on_verdict(validation)
        verified = {"challenge": {"verified": True}} if request.challenge_token else {}
        return success_response(validation, **verified)
    except FalaError as error:
        return error_response(error)


def _decode_clip(clip: bytes, number: int, settings: ValidationSettings) -> np.ndarray:
    try:
        return decode_audio(clip, max_seconds=settings.max_audio_seconds)
    except (InvalidAudio, AudioTooLong) as error:
        raise type(error)(f"Enrolment clip {number}: {error.message}") from error
