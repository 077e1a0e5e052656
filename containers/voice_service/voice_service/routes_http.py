"""The service's own HTTP routes: GET /health, GET /metrics, POST /generate-voice (JSON, or
multipart with a `sample` to clone a voice) and POST /generate-voice/batch."""

from __future__ import annotations

import base64
import time
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from voice_service.bodies import GenerateVoice, GenerateVoiceBatch, parse
from voice_service.engine import Speech
from voice_service.errors import InvalidRequest
from voice_service.metrics import CONTENT_TYPE_LATEST
from voice_service.openapi import (
    AUTHED,
    GENERATE_VOICE_BODY,
    SYNTH_ERRORS,
    WAV,
    BatchResult,
    Health,
    audio,
    errors,
)
from voice_service.state import voice_state

router = APIRouter()


def speech_headers(speech: Speech) -> dict[str, str]:
    return {
        "x-fala-tts-backend": speech.backend,
        "x-fala-voice": speech.voice,
        "x-fala-cache": "hit" if speech.cached else "miss",
    }


@router.get("/health", response_model=Health)
async def health(request: Request) -> dict[str, Any]:
    state = voice_state(request)
    backends = state.backends
    return {
        "status": "ok",
        "stt": f"{backends.stt.name}:{backends.stt.model}",
        "llm": f"{backends.llm.name}:{backends.llm.model}",
        "tts": f"{backends.tts.name}:{backends.tts.model}",
        "voice_cloning": backends.tts.supports_cloning,
        "cache": state.cache.name,
    }


@router.get(
    "/metrics",
    response_class=Response,
    responses={
        200: {"description": "Prometheus text format", "content": {"text/plain": {}}},
        **errors(401, 403),
    },
)
async def prometheus(request: Request) -> Response:
    return Response(voice_state(request).metrics.render(), media_type=CONTENT_TYPE_LATEST)


async def voice_request(request: Request) -> tuple[GenerateVoice, bytes | None]:
    """The fields of a /generate-voice request, and the voice sample when it clones one."""
    content_type = request.headers.get("content-type", "")
    if content_type.startswith("multipart/form-data"):
        form = await request.form()
        fields = {k: v for k, v in form.items() if isinstance(v, str)}
        upload = form.get("sample")
        if upload is None or isinstance(upload, str):
            raise InvalidRequest(
                "A multipart request clones the voice in a `sample` file field; "
                "send JSON instead to use a built-in voice."
            )
        sample = await upload.read()
        return parse(GenerateVoice, fields), sample
    if content_type.startswith("application/json") or not content_type:
        try:
            data = await request.json()
        except (ValueError, RecursionError) as exc:  # RecursionError: nested too deep
            raise InvalidRequest("The body is not valid JSON.") from exc
        return parse(GenerateVoice, data), None
    raise InvalidRequest(
        f"Content-Type {content_type!r} is not accepted; send application/json, or "
        "multipart/form-data with a `sample` file to clone a voice."
    )


@router.post(
    "/generate-voice",
    response_class=Response,
    responses={**audio(WAV), **errors(400, *AUTHED, 422, 501, 503)},
    openapi_extra=GENERATE_VOICE_BODY,
)
async def generate_voice(request: Request) -> Response:
    started = time.perf_counter()
    state = voice_state(request)
    engine = state.engine
    req, sample = await voice_request(request)

    def work() -> Speech:
        speaker = engine.speaker(sample) if sample is not None else None
        return engine.synthesize(
            req.text, language=req.language, voice=req.voice, speed=req.speed, speaker=speaker
        )

    speech = await run_in_threadpool(work)
    state.metrics.first_audio_seconds.labels("/generate-voice").observe(
        time.perf_counter() - started
    )
    return Response(speech.wav, media_type=WAV, headers=speech_headers(speech))


@router.post("/generate-voice/batch", response_model=BatchResult, responses=SYNTH_ERRORS)
async def generate_voice_batch(request: Request, batch: GenerateVoiceBatch) -> dict[str, Any]:
    state = voice_state(request)
    engine = state.engine
    if len(batch.items) > state.settings.max_batch_items:
        raise InvalidRequest(
            f"The batch has {len(batch.items)} items; the limit is "
            f"{state.settings.max_batch_items}. Split it."
        )
    for item in batch.items:  # all-or-nothing: check every text before synthesizing any
        engine.check_text(item.text)

    def work() -> list[dict[str, Any]]:
        out = []
        for item in batch.items:
            speech = engine.synthesize(
                item.text, language=item.language, voice=item.voice, speed=item.speed
            )
            out.append(
                {
                    "text": item.text,
                    "audio_base64": base64.b64encode(speech.wav).decode(),
                    "content_type": WAV,
                    "backend": speech.backend,
                    "voice": speech.voice,
                    "cached": speech.cached,
                }
            )
        return out

    return {"items": await run_in_threadpool(work)}
