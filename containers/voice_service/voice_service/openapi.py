"""What the OpenAPI document (GET /openapi.json, behind the token) says beyond what FastAPI infers:
the error shape of every refusal, the bodies of the routes that read the request themselves
(JSON or multipart on /generate-voice, multipart on /v1/audio/transcriptions), the audio
responses, and the bearer-token scheme. schemathesis checks the service against it.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from pydantic import BaseModel

WAV = "audio/wav"
BINARY = {"type": "string", "format": "binary"}


class ErrorBody(BaseModel):
    error: str  # a stable machine-readable code, e.g. "invalid_request", "text_too_long"
    message: str  # what went wrong and what to change


class OpenAIError(BaseModel):
    message: str
    type: str  # invalid_request_error, authentication_error, permission_error, server_error
    param: str | None
    code: str  # the same stable code as ErrorBody.error


class OpenAIErrorBody(BaseModel):
    """Refusals on /v1/*: OpenAI's error shape, which its SDKs read."""

    error: OpenAIError


class Health(BaseModel):
    status: str
    stt: str
    llm: str
    tts: str
    voice_cloning: bool
    cache: str


class BatchItem(BaseModel):
    text: str
    audio_base64: str
    content_type: str
    backend: str
    voice: str
    cached: bool


class BatchResult(BaseModel):
    items: list[BatchItem]


class TranscriptionSegment(BaseModel):
    id: int
    seek: int
    start: float
    end: float
    text: str
    tokens: list[int]
    temperature: float
    avg_logprob: float
    compression_ratio: float
    no_speech_prob: float


class TranscriptionWord(BaseModel):
    word: str
    start: float
    end: float


class Transcription(BaseModel):
    text: str
    task: str | None = None  # verbose_json only, like the rest
    language: str | None = None
    duration: float | None = None
    segments: list[TranscriptionSegment] | None = None
    words: list[TranscriptionWord] | None = None  # with timestamp_granularities[]=word


class ModelCard(BaseModel):
    id: str
    object: str
    created: int
    owned_by: str


class ModelList(BaseModel):
    object: str
    data: list[ModelCard]


_STATUS = {
    400: "The request is malformed (JSON, fields, content type, language tag)",
    401: "No credentials, or not `Bearer <token>`",
    403: "The token is not valid",
    404: "No such route",
    405: "Method not allowed on this route",
    408: "The client stopped sending its request",
    413: "Body over MAX_UPLOAD_BYTES, or text over MAX_TEXT_CHARS",
    422: "The audio cannot be decoded or is too long; the text has nothing to speak",
    501: "Voice cloning needs the XTTS backend (GPU)",
    503: "A model backend is unavailable",
}


def errors(*statuses: int, model: type[BaseModel] = ErrorBody) -> dict[int | str, dict[str, Any]]:
    return {s: {"model": model, "description": _STATUS[s]} for s in statuses}


def openai_errors(*statuses: int) -> dict[int | str, dict[str, Any]]:
    return errors(*statuses, model=OpenAIErrorBody)


AUTHED = (401, 403, 408, 413)
SYNTH_ERRORS = errors(400, *AUTHED, 422, 503)
OPENAI_SYNTH_ERRORS = openai_errors(400, *AUTHED, 422, 503)


def audio(*media_types: str) -> dict[int | str, dict[str, Any]]:
    return {
        200: {
            "description": "The synthesized speech",
            "content": {m: {"schema": BINARY} for m in media_types},
        }
    }


def _voice_fields() -> dict[str, Any]:
    return {
        "text": {"type": "string", "minLength": 1},
        "language": {"type": "string", "description": "e.g. pt-BR, en, auto"},
        "speed": {"type": "number", "minimum": 0.25, "maximum": 4.0, "default": 1.0},
        "voice": {"type": "string"},
    }


GENERATE_VOICE_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {
                "schema": {
                    "type": "object",
                    "properties": _voice_fields(),
                    "required": ["text"],
                    "additionalProperties": False,
                }
            },
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "properties": {**_voice_fields(), "sample": BINARY},
                    "required": ["text", "sample"],
                }
            },
        },
    }
}

TRANSCRIPTION_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "properties": {
                        "file": BINARY,
                        "model": {"type": "string"},
                        "language": {"type": "string"},
                        "response_format": {
                            "type": "string",
                            "enum": ["json", "text", "verbose_json", "srt", "vtt"],
                        },
                        "timestamp_granularities[]": {
                            "type": "array",
                            "items": {"type": "string", "enum": ["segment", "word"]},
                        },
                    },
                    "required": ["file"],
                }
            }
        },
    }
}

TRANSCRIPTION_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "What was heard (JSON; plain text with response_format text, srt or vtt)",
        "content": {
            "application/json": {"schema": Transcription.model_json_schema()},
            "text/plain": {"schema": {"type": "string"}},
        },
    },
    **openai_errors(400, *AUTHED, 422, 503),
}


def install(app: FastAPI) -> None:
    """Serve the document with the bearer scheme on every route but /health."""

    def document() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(title=app.title, version=app.version, routes=app.routes)
            schema.setdefault("components", {})["securitySchemes"] = {
                "bearer": {"type": "http", "scheme": "bearer"}
            }
            schema["security"] = [{"bearer": []}]
            schema["paths"]["/health"]["get"]["security"] = []
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = document  # type: ignore[method-assign]
