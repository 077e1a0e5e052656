"""The JSON bodies the routes accept (pydantic models), and a validation failure as the
service's `invalid_request` message."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from voice_service.errors import InvalidRequest

Speed = Annotated[float, Field(ge=0.25, le=4.0)]


class _Request(BaseModel):
    model_config = ConfigDict(extra="forbid")


class GenerateVoice(_Request):
    text: str = Field(min_length=1)
    language: str | None = None
    speed: Speed = 1.0
    voice: str | None = None


class GenerateVoiceBatch(_Request):
    items: list[GenerateVoice] = Field(min_length=1)


class TTSMessage(_Request):
    text: str = Field(min_length=1)
    language: str | None = None
    speed: Speed = 1.0
    voice: str | None = None


class OpenAISpeech(BaseModel):
    model_config = ConfigDict(extra="ignore")  # OpenAI clients send fields we do not use

    input: str = Field(min_length=1)
    model: str | None = None
    voice: str | None = None
    speed: Speed = 1.0
    response_format: Literal["mp3", "opus", "aac", "flac", "wav", "pcm"] = "mp3"  # OpenAI's default
    language: str | None = None  # an extension: OpenAI infers it from the text


def validation_message(exc: ValidationError | RequestValidationError) -> str:
    parts = []
    for err in exc.errors():
        where = ".".join(str(p) for p in err.get("loc", ()) if p not in ("body",)) or "body"
        parts.append(f"{where}: {err.get('msg')}")
    return "; ".join(parts) or "invalid request"


def parse(model: type[BaseModel], data: Any) -> Any:
    """`data` validated as `model`; InvalidRequest (400) when it is not."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise InvalidRequest(validation_message(exc)) from exc
