"""The WebSocket routes (the session plumbing they share is voice_service.ws_session):
  /ws          a binary WAV in → {"transcription","llama"}, the reply WAV, then {"event":"end"}
  /ws/stream   the same turn, streamed: events and one WAV per sentence
  /ws/tts      {"text","language"} in → WAV chunks, then {"event":"end"}
  any other    refused at the handshake with JSON, like an unknown HTTP route
/ws and /ws/stream take ?language=pt-BR|en|auto&voice=<id>."""

from __future__ import annotations

import functools
import json
import time
from collections.abc import Iterator

from fastapi import APIRouter, WebSocket
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from voice_service.bodies import TTSMessage, parse
from voice_service.engine import speakable
from voice_service.errors import FalaError, InvalidRequest, NothingToSpeak, RouteNotFound
from voice_service.state import VoiceState, voice_state
from voice_service.ws_session import pump, receive_audio, receive_message, ws_session

router = APIRouter()


@router.websocket("/ws")
async def ws_turn(websocket: WebSocket) -> None:
    route = "/ws"
    state = voice_state(websocket)
    language = websocket.query_params.get("language")
    voice = websocket.query_params.get("voice")

    async def one_turn() -> bool:
        audio = await receive_audio(websocket)
        if audio is None:
            return False
        started = time.perf_counter()
        result = await run_in_threadpool(state.engine.turn, audio, language, voice)
        await websocket.send_text(
            json.dumps(
                {"transcription": result.user_text, "llama": result.assistant_text},
                ensure_ascii=False,
            )
        )
        await websocket.send_bytes(result.wav)
        # the turn is over: the client may send the next question or close
        await websocket.send_text(json.dumps({"event": "end"}))
        elapsed = time.perf_counter() - started
        state.metrics.first_audio_seconds.labels(route).observe(elapsed)
        state.metrics.turn_seconds.labels(route).observe(elapsed)
        return True

    await ws_session(websocket, route, one_turn)


@router.websocket("/ws/stream")
async def ws_turn_stream(websocket: WebSocket) -> None:
    """Events: transcription → llm_delta… → llm → (WAV per sentence, binary) → end."""
    route = "/ws/stream"
    state = voice_state(websocket)
    language = websocket.query_params.get("language")
    voice = websocket.query_params.get("voice")

    async def one_turn() -> bool:
        audio = await receive_audio(websocket)
        if audio is None:
            return False
        started = time.perf_counter()
        await pump(
            websocket,
            functools.partial(
                stream_turn,
                state=state,
                audio=audio,
                language=language,
                voice=voice,
                started=started,
            ),
        )
        state.metrics.turn_seconds.labels(route).observe(time.perf_counter() - started)
        return True

    await ws_session(websocket, route, one_turn)


def stream_turn(emit, *, state: VoiceState, audio: bytes, language, voice, started: float) -> None:
    """One /ws/stream turn, in a thread: what it `emit`s, `pump` sends."""
    engine, metrics = state.engine, state.metrics
    heard = engine.transcribe(audio, language)
    if not heard.text:
        from fala.core.errors import InvalidAudio

        raise InvalidAudio("No speech was heard in the audio; record the question again.")
    emit({"event": "transcription", "text": heard.text, "language": heard.language})
    reply_language = engine.reply_language(language, heard)
    llm = state.backends.llm
    pending, full, first_audio = "", "", True

    def speak(sentence: str) -> None:
        nonlocal first_audio
        text = speakable(sentence)
        if not text:
            return
        try:
            for speech in engine.synthesize_chunks(text, language=reply_language, voice=voice):
                emit(speech.wav)
                if first_audio:
                    first_audio = False
                    metrics.first_audio_seconds.labels("/ws/stream").observe(
                        time.perf_counter() - started
                    )
        except NothingToSpeak:
            return  # a fragment of punctuation or symbols only: nothing to say aloud

    with metrics.stage("llm", llm.name):
        deltas: Iterator[str] = llm.stream(engine.messages(heard.text, reply_language))
        for delta in deltas:
            full += delta
            pending += delta
            emit({"event": "llm_delta", "text": delta})
            done, pending = engine.sentences(pending)
            for sentence in done:
                speak(sentence)
    if pending.strip():
        speak(pending)
    emit({"event": "llm", "text": full.strip()})
    emit({"event": "end", "transcription": heard.text, "llama": full.strip()})


@router.websocket("/ws/tts")
async def ws_tts(websocket: WebSocket) -> None:
    """Each text message {"text","language"[,"voice","speed"]} → binary WAV chunks (one per
    sentence) → {"event":"end"}. The session stays open for further messages."""
    route = "/ws/tts"
    state = voice_state(websocket)

    async def one_request() -> bool:
        message = await receive_message(websocket)
        if message["type"] == "websocket.disconnect":
            return False
        started = time.perf_counter()
        if message.get("text") is None:
            raise InvalidRequest('Send JSON text: {"text": "...", "language": "en"}.')
        try:
            data = json.loads(message["text"])
        except (ValueError, RecursionError) as exc:
            raise InvalidRequest("The message is not valid JSON.") from exc
        req = parse(TTSMessage, data)

        def produce(emit) -> None:
            first = True
            for speech in state.engine.synthesize_chunks(
                req.text, language=req.language, voice=req.voice, speed=req.speed
            ):
                emit(speech.wav)
                if first:
                    first = False
                    state.metrics.first_audio_seconds.labels(route).observe(
                        time.perf_counter() - started
                    )
            emit({"event": "end"})

        await pump(websocket, produce)
        return True

    await ws_session(websocket, route, one_request)


@router.websocket("/{path:path}")
async def ws_not_found(websocket: WebSocket, path: str) -> None:
    """Any other WebSocket path: refused with JSON like an unknown HTTP route (after the
    credentials, as over HTTP), rather than a bare 403."""
    state = voice_state(websocket)
    try:
        state.checker.check(
            websocket.headers.get("authorization"), websocket.query_params.get("token")
        )
        error: FalaError = RouteNotFound(
            f"No WebSocket route /{path}; the service has /ws, /ws/stream and /ws/tts."
        )
    except FalaError as exc:
        error = exc
    state.metrics.error(error.code, "/{path}")
    await websocket.send_denial_response(JSONResponse(error.to_dict(), error.status))
