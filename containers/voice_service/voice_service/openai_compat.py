"""What the OpenAI-compatible routes (/v1/*) add to the engine: the model names OpenAI clients
send, the transcription formats (json, text, verbose_json, srt, vtt) and the model list. The
routes themselves are in voice_service.routes_openai; their refusals take OpenAI's error shape
(voice_service.errors.error_body)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fastapi.responses import JSONResponse, PlainTextResponse, Response
from starlette.datastructures import FormData

from fala.core.languages import AUTO
from voice_service.backends.stt import Segment, Transcription
from voice_service.errors import InvalidRequest

# OpenAI's model names are accepted for what this service runs in their place, as are the names of
# the models it runs (GET /v1/models lists both).
STT_MODEL_ALIASES = ("whisper-1", "gpt-4o-transcribe", "gpt-4o-mini-transcribe")
SPEECH_MODEL_ALIASES = ("tts-1", "tts-1-hd", "gpt-4o-mini-tts")
TRANSCRIPTION_FORMATS = ("json", "text", "verbose_json", "srt", "vtt")


def check_model(model: str | None, aliases: tuple[str, ...], served: str) -> None:
    """Refuse a model this service does not run (None: the client named none, any will do)."""
    if model is None or model in aliases or model == served:
        return
    raise InvalidRequest(
        f"Model {model!r} is not served here; use one of {', '.join([*aliases, served])} "
        "(GET /v1/models lists them)."
    )


@dataclass(frozen=True)
class TranscriptionRequest:
    language: str  # a tag, or "auto": OpenAI detects when none is named (here among STT_LANGUAGES)
    response_format: str
    words: bool  # timestamp_granularities[] has "word"

    @property
    def timestamps(self) -> bool:
        return self.response_format in ("verbose_json", "srt", "vtt")


def transcription_request(form: FormData, stt_model: str) -> TranscriptionRequest:
    """The fields of a multipart transcription request besides the file, checked."""
    model = form.get("model")
    check_model(model if isinstance(model, str) else None, STT_MODEL_ALIASES, stt_model)
    fmt = form.get("response_format") or "json"
    if fmt not in TRANSCRIPTION_FORMATS:
        raise InvalidRequest(
            f"response_format {fmt!r} is not supported; use {', '.join(TRANSCRIPTION_FORMATS)}."
        )
    granularities = form.getlist("timestamp_granularities[]")
    if unknown := set(granularities) - {"segment", "word"}:
        raise InvalidRequest(
            f"timestamp_granularities {sorted(map(str, unknown))} are not supported; "
            "use segment, word."
        )
    words = "word" in granularities
    if words and fmt != "verbose_json":
        raise InvalidRequest("timestamp_granularities[]=word needs response_format=verbose_json.")
    language = form.get("language")
    return TranscriptionRequest(
        language=language if isinstance(language, str) and language else AUTO,
        response_format=str(fmt),
        words=words,
    )


def model_list(stt_model: str, tts_model: str) -> dict[str, Any]:
    names = [*STT_MODEL_ALIASES, stt_model, *SPEECH_MODEL_ALIASES, tts_model]
    return {
        "object": "list",
        "data": [
            {"id": name, "object": "model", "created": 0, "owned_by": "fala"}
            for name in dict.fromkeys(names)
        ],
    }


def transcription_response(heard: Transcription, fmt: str, *, words: bool) -> Response:
    if fmt == "text":
        return PlainTextResponse(heard.text)
    if fmt in ("srt", "vtt"):
        return PlainTextResponse(subtitles(heard.segments, fmt))
    body: dict[str, Any] = {"text": heard.text}
    if fmt == "verbose_json":
        body |= {
            "task": "transcribe",
            "language": heard.language,
            "duration": round(heard.audio_seconds, 3),
            "segments": [_segment_json(s) for s in heard.segments],
        }
        if words:
            body["words"] = [
                {"word": w.word.strip(), "start": w.start, "end": w.end}
                for s in heard.segments
                for w in s.words
            ]
    return JSONResponse(body)


def _segment_json(segment: Segment) -> dict[str, Any]:
    return {
        "id": segment.id,
        "seek": segment.seek,
        "start": segment.start,
        "end": segment.end,
        "text": segment.text,
        "tokens": list(segment.tokens),
        "temperature": segment.temperature,
        "avg_logprob": segment.avg_logprob,
        "compression_ratio": segment.compression_ratio,
        "no_speech_prob": segment.no_speech_prob,
    }


def subtitles(segments: tuple[Segment, ...], fmt: str) -> str:
    """SubRip (srt) or WebVTT (vtt) cues, one per segment."""
    separator = "," if fmt == "srt" else "."
    cues = []
    for number, segment in enumerate(segments, start=1):
        timing = (
            f"{_clock(segment.start, separator)} --> {_clock(segment.end, separator)}\n"
            f"{segment.text.strip()}\n"
        )
        cues.append(f"{number}\n{timing}" if fmt == "srt" else timing)
    header = "WEBVTT\n\n" if fmt == "vtt" else ""
    return header + "\n".join(cues)


def _clock(seconds: float, separator: str) -> str:
    millis = round(seconds * 1000)
    hours, millis = divmod(millis, 3_600_000)
    minutes, millis = divmod(millis, 60_000)
    whole, millis = divmod(millis, 1000)
    return f"{hours:02d}:{minutes:02d}:{whole:02d}{separator}{millis:03d}"
