"""The OpenAI-compatible routes: GET /v1/models, POST /v1/audio/speech and
POST /v1/audio/transcriptions. What they add to the engine (model names, transcription formats)
is in voice_service.openai_compat; their refusals take OpenAI's error shape in
voice_service.handlers (by path, through voice_service.errors.error_body)."""

from __future__ import annotations

import functools
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from voice_service.audio import ENCODED_FORMATS, encode_wav, pcm_frames
from voice_service.bodies import OpenAISpeech
from voice_service.errors import InvalidRequest
from voice_service.openai_compat import (
    SPEECH_MODEL_ALIASES,
    check_model,
    model_list,
    transcription_request,
    transcription_response,
)
from voice_service.openapi import (
    AUTHED,
    OPENAI_SYNTH_ERRORS,
    TRANSCRIPTION_BODY,
    TRANSCRIPTION_RESPONSES,
    WAV,
    ModelList,
    audio,
    openai_errors,
)
from voice_service.routes_http import speech_headers
from voice_service.state import voice_state

router = APIRouter()


@router.get("/v1/models", response_model=ModelList, responses=openai_errors(*AUTHED))
async def openai_models(request: Request) -> dict[str, Any]:
    backends = voice_state(request).backends
    return model_list(backends.stt.model, backends.tts.model)


@router.post(
    "/v1/audio/speech",
    response_class=Response,
    responses={
        **audio(WAV, "audio/pcm", *(f[3] for f in ENCODED_FORMATS.values())),
        **OPENAI_SYNTH_ERRORS,
    },
)
async def openai_speech(request: Request, body: OpenAISpeech) -> Response:
    state = voice_state(request)
    check_model(body.model, SPEECH_MODEL_ALIASES, state.backends.tts.model)
    speech = await run_in_threadpool(
        state.engine.synthesize,
        body.input,
        language=body.language,
        voice=body.voice,
        speed=body.speed,
    )
    headers = speech_headers(speech)
    if body.response_format == "pcm":  # 16-bit little-endian mono, as OpenAI's "pcm"
        return Response(pcm_frames(speech.wav), media_type="audio/pcm", headers=headers)
    if body.response_format == "wav":
        return Response(speech.wav, media_type=WAV, headers=headers)
    encoded = await run_in_threadpool(encode_wav, speech.wav, body.response_format)
    media_type = ENCODED_FORMATS[body.response_format][3]
    return Response(encoded, media_type=media_type, headers=headers)


@router.post(
    "/v1/audio/transcriptions",
    response_class=Response,
    responses=TRANSCRIPTION_RESPONSES,
    openapi_extra=TRANSCRIPTION_BODY,
)
async def openai_transcriptions(request: Request) -> Response:
    if not request.headers.get("content-type", "").startswith("multipart/form-data"):
        raise InvalidRequest("Send multipart/form-data with the audio in a `file` field.")
    state = voice_state(request)
    form = await request.form()
    upload = form.get("file")
    if upload is None or isinstance(upload, str):
        raise InvalidRequest("The audio must be sent in a multipart `file` field.")
    sound = await upload.read()
    asked = transcription_request(form, state.backends.stt.model)
    heard = await run_in_threadpool(
        functools.partial(state.engine.transcribe, timestamps=asked.timestamps, words=asked.words),
        sound,
        asked.language,
    )
    return transcription_response(heard, asked.response_format, words=asked.words)
