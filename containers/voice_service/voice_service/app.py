"""The HTTP and WebSocket API (FastAPI). `create_app(settings, backends)` builds it.

Routes (all but /health need `Authorization: Bearer <token>`):
  GET  /health                     liveness and the backends in use
  GET  /metrics                    Prometheus text format
  WS   /ws                         a binary WAV in → {"transcription","llama"}, the reply WAV,
                                   then {"event":"end"}; ?language=pt-BR|en|auto&voice=<id>
  WS   /ws/stream                  same turn, streamed: events and one WAV per sentence
  WS   /ws/tts                     {"text","language"} in → WAV chunks, then {"event":"end"}
  POST /generate-voice             JSON {text,language,speed,voice} → WAV; multipart + `sample`
                                   → cloned voice (XTTS only; Piper answers 501)
  POST /generate-voice/batch       {"items":[...]} → JSON with one base64 WAV per item
  POST /v1/audio/transcriptions    OpenAI-compatible (multipart `file`)
  POST /v1/audio/speech            OpenAI-compatible (JSON `input`, `voice`, `speed`)
  GET  /v1/models                  OpenAI-compatible: the model names accepted
Errors are JSON `{"error": code, "message": text}` with a 4xx for anything the caller can fix
(OpenAI's `{"error": {"message", "type", "param", "code"}}` on /v1/*).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import functools
import json
import logging
import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from typing import Annotated, Any, Literal

from fastapi import FastAPI, Request, WebSocket, WebSocketDisconnect
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect

from voice_service.audio import ENCODED_FORMATS, encode_wav, pcm_frames
from voice_service.auth import TokenChecker, resolve_token
from voice_service.backends import Backends
from voice_service.cache import Cache, build_cache
from voice_service.engine import Speech, VoiceEngine, speakable
from voice_service.errors import (
    FalaError,
    InvalidRequest,
    NothingToSpeak,
    PayloadTooLarge,
    RouteNotFound,
    error_body,
)
from voice_service.limits import BodyGuard
from voice_service.metrics import CONTENT_TYPE_LATEST, Metrics
from voice_service.openai_compat import (
    SPEECH_MODEL_ALIASES,
    check_model,
    model_list,
    transcription_request,
    transcription_response,
)
from voice_service.openapi import (
    AUTHED,
    GENERATE_VOICE_BODY,
    OPENAI_SYNTH_ERRORS,
    SYNTH_ERRORS,
    TRANSCRIPTION_BODY,
    TRANSCRIPTION_RESPONSES,
    BatchResult,
    Health,
    ModelList,
    audio,
    errors,
    openai_errors,
)
from voice_service.openapi import install as install_openapi
from voice_service.settings import VoiceSettings

logger = logging.getLogger(__name__)

WAV = "audio/wav"
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


def _validation_message(exc: ValidationError | RequestValidationError) -> str:
    parts = []
    for err in exc.errors():
        where = ".".join(str(p) for p in err.get("loc", ()) if p not in ("body",)) or "body"
        parts.append(f"{where}: {err.get('msg')}")
    return "; ".join(parts) or "invalid request"


def _speech_headers(speech: Speech) -> dict[str, str]:
    return {
        "x-fala-tts-backend": speech.backend,
        "x-fala-voice": speech.voice,
        "x-fala-cache": "hit" if speech.cached else "miss",
    }


def create_app(
    settings: VoiceSettings,
    backends: Backends,
    *,
    cache: Cache | None = None,
    metrics: Metrics | None = None,
    token: str | None = None,
    on_startup: Callable[[VoiceEngine], Any] | None = None,
) -> FastAPI:
    """The app over ready backends. `token` overrides the settings' (tests); `on_startup` runs
    with the engine when the server starts (the container starts the job worker there)."""
    metrics = metrics or Metrics()
    cache = cache or build_cache(
        settings.redis_url,
        max_items=settings.cache_max_items,
        max_bytes=settings.cache_max_bytes,
        ttl_seconds=settings.cache_ttl_seconds,
    )
    engine = VoiceEngine(settings, backends, cache=cache, metrics=metrics)
    checker = TokenChecker(token or resolve_token(settings))

    @contextlib.asynccontextmanager
    async def lifespan(_app: FastAPI):
        stop = on_startup(engine) if on_startup else None
        try:
            yield
        finally:
            if callable(stop):
                stop()

    app = FastAPI(
        title="Fala voice service",
        version="1.0",
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        openapi_url="/openapi.json",  # behind the token, like every route but /health
    )
    install_openapi(app)
    app.state.engine = engine
    app.state.metrics = metrics

    # --- errors and auth ------------------------------------------------------------------

    def route_of(request: Request) -> str:
        route = request.scope.get("route")
        return getattr(route, "path", request.url.path)

    def refusal(code: str, message: str, status: int, path: str, headers=None) -> JSONResponse:
        body = error_body(code, message, status, path)
        return JSONResponse(body, status_code=status, headers=headers)

    def fail(error: FalaError, route: str) -> JSONResponse:
        metrics.error(error.code, route)
        return refusal(error.code, error.message, error.status, route)

    @app.exception_handler(FalaError)
    async def fala_error(request: Request, exc: FalaError) -> JSONResponse:
        return fail(exc, route_of(request))

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> JSONResponse:
        """Starlette's and FastAPI's own refusals (no such route, wrong method, a body or form
        that cannot be parsed) in the service's error shape."""
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code)
        if code is None:
            code = "invalid_request" if exc.status_code == 400 else f"http_{exc.status_code}"
        message = str(exc.detail)
        if exc.status_code == 404:
            message = f"No route {request.method} {request.url.path}; see the service's API."
        elif exc.status_code == 405:
            allowed = (exc.headers or {}).get("Allow") or (exc.headers or {}).get("allow")
            message = f"{request.method} is not allowed on {request.url.path}"
            message += f"; use {allowed}." if allowed else "."
        metrics.error(code, route_of(request))
        return refusal(code, message, exc.status_code, request.url.path, headers=exc.headers)

    @app.exception_handler(ClientDisconnect)
    async def client_gone(request: Request, exc: ClientDisconnect) -> Response:
        """The client hung up before its body arrived: nobody to answer, nothing failed."""
        metrics.error("client_disconnected", route_of(request))
        return Response(status_code=400)

    @app.exception_handler(RequestValidationError)
    async def bad_request(request: Request, exc: RequestValidationError) -> JSONResponse:
        return fail(InvalidRequest(_validation_message(exc)), route_of(request))

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        logger.exception("Unhandled error on %s", request.url.path)
        metrics.error("internal_error", route_of(request))
        return refusal("internal_error", "The service failed; see its logs.", 500, request.url.path)

    @app.middleware("http")
    async def authenticate(request: Request, call_next):
        if request.url.path == "/health":
            return await call_next(request)
        try:
            checker.check(request.headers.get("authorization"))
        except FalaError as exc:
            return fail(exc, request.url.path)
        return await call_next(request)

    # Outermost (registered last): 413 / 408 JSON for bodies over MAX_UPLOAD_BYTES, declared
    # or chunked, and for bodies that stop arriving; a declared oversize is refused unread.
    app.add_middleware(
        BodyGuard,
        max_bytes=settings.max_upload_bytes,
        timeout_seconds=settings.client_timeout_seconds,
        on_reject=lambda error, path: metrics.error(error.code, path),
    )

    async def ws_accept(websocket: WebSocket, route: str) -> bool:
        try:
            checker.check(
                websocket.headers.get("authorization"), websocket.query_params.get("token")
            )
        except FalaError as exc:
            metrics.error(exc.code, route)
            await websocket.send_denial_response(
                JSONResponse(exc.to_dict(), status_code=exc.status)
            )
            return False
        await websocket.accept()
        return True

    async def ws_error(websocket: WebSocket, exc: Exception, route: str) -> bool:
        """Report `exc` as an error event; False when the client is gone."""
        if isinstance(exc, ConnectionAbortedError):
            return False
        if not isinstance(exc, FalaError):
            logger.exception("Unhandled error on %s", route, exc_info=exc)
            body = {"error": "internal_error", "message": "The service failed; see its logs."}
            metrics.error("internal_error", route)
        else:
            body = exc.to_dict()
            metrics.error(exc.code, route)
        try:
            await websocket.send_text(json.dumps({"event": "error", **body}))
        except (WebSocketDisconnect, RuntimeError, OSError):
            return False
        return True

    # --- health and metrics ---------------------------------------------------------------

    @app.get("/health", response_model=Health)
    async def health() -> dict[str, Any]:
        return {
            "status": "ok",
            "stt": f"{backends.stt.name}:{backends.stt.model}",
            "llm": f"{backends.llm.name}:{backends.llm.model}",
            "tts": f"{backends.tts.name}:{backends.tts.model}",
            "voice_cloning": backends.tts.supports_cloning,
            "cache": cache.name,
        }

    @app.get(
        "/metrics",
        response_class=Response,
        responses={
            200: {"description": "Prometheus text format", "content": {"text/plain": {}}},
            **errors(401, 403),
        },
    )
    async def prometheus() -> Response:
        return Response(metrics.render(), media_type=CONTENT_TYPE_LATEST)

    # --- synthesis ------------------------------------------------------------------------

    def parse(model: type[BaseModel], data: Any) -> Any:
        try:
            return model.model_validate(data)
        except ValidationError as exc:
            raise InvalidRequest(_validation_message(exc)) from exc

    @app.post(
        "/generate-voice",
        response_class=Response,
        responses={**audio(WAV), **errors(400, *AUTHED, 422, 501, 503)},
        openapi_extra=GENERATE_VOICE_BODY,
    )
    async def generate_voice(request: Request) -> Response:
        started = time.perf_counter()
        content_type = request.headers.get("content-type", "")
        sample: bytes | None = None
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
            req = parse(GenerateVoice, fields)
        elif content_type.startswith("application/json") or not content_type:
            try:
                data = await request.json()
            except (ValueError, RecursionError) as exc:  # RecursionError: nested too deep
                raise InvalidRequest("The body is not valid JSON.") from exc
            req = parse(GenerateVoice, data)
        else:
            raise InvalidRequest(
                f"Content-Type {content_type!r} is not accepted; send application/json, or "
                "multipart/form-data with a `sample` file to clone a voice."
            )

        def work() -> Speech:
            speaker = engine.speaker(sample) if sample is not None else None
            return engine.synthesize(
                req.text, language=req.language, voice=req.voice, speed=req.speed, speaker=speaker
            )

        speech = await run_in_threadpool(work)
        metrics.first_audio_seconds.labels("/generate-voice").observe(time.perf_counter() - started)
        return Response(speech.wav, media_type=WAV, headers=_speech_headers(speech))

    @app.post("/generate-voice/batch", response_model=BatchResult, responses=SYNTH_ERRORS)
    async def generate_voice_batch(batch: GenerateVoiceBatch) -> dict[str, Any]:
        if len(batch.items) > settings.max_batch_items:
            raise InvalidRequest(
                f"The batch has {len(batch.items)} items; the limit is "
                f"{settings.max_batch_items}. Split it."
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

    @app.get("/v1/models", response_model=ModelList, responses=openai_errors(*AUTHED))
    async def openai_models() -> dict[str, Any]:
        return model_list(backends.stt.model, backends.tts.model)

    @app.post(
        "/v1/audio/speech",
        response_class=Response,
        responses={
            **audio(WAV, "audio/pcm", *(f[3] for f in ENCODED_FORMATS.values())),
            **OPENAI_SYNTH_ERRORS,
        },
    )
    async def openai_speech(body: OpenAISpeech) -> Response:
        check_model(body.model, SPEECH_MODEL_ALIASES, backends.tts.model)
        speech = await run_in_threadpool(
            engine.synthesize,
            body.input,
            language=body.language,
            voice=body.voice,
            speed=body.speed,
        )
        headers = _speech_headers(speech)
        if body.response_format == "pcm":  # 16-bit little-endian mono, as OpenAI's "pcm"
            return Response(pcm_frames(speech.wav), media_type="audio/pcm", headers=headers)
        if body.response_format == "wav":
            return Response(speech.wav, media_type=WAV, headers=headers)
        encoded = await run_in_threadpool(encode_wav, speech.wav, body.response_format)
        media_type = ENCODED_FORMATS[body.response_format][3]
        return Response(encoded, media_type=media_type, headers=headers)

    @app.post(
        "/v1/audio/transcriptions",
        response_class=Response,
        responses=TRANSCRIPTION_RESPONSES,
        openapi_extra=TRANSCRIPTION_BODY,
    )
    async def openai_transcriptions(request: Request) -> Response:
        if not request.headers.get("content-type", "").startswith("multipart/form-data"):
            raise InvalidRequest("Send multipart/form-data with the audio in a `file` field.")
        form = await request.form()
        upload = form.get("file")
        if upload is None or isinstance(upload, str):
            raise InvalidRequest("The audio must be sent in a multipart `file` field.")
        audio = await upload.read()
        asked = transcription_request(form, backends.stt.model)
        heard = await run_in_threadpool(
            functools.partial(engine.transcribe, timestamps=asked.timestamps, words=asked.words),
            audio,
            asked.language,
        )
        return transcription_response(heard, asked.response_format, words=asked.words)

    # --- WebSockets -----------------------------------------------------------------------

    async def receive_message(websocket: WebSocket) -> dict[str, Any]:
        """The next message; one over MAX_UPLOAD_BYTES raises PayloadTooLarge (the session
        then ends with close code 1009, as the WebSocket protocol's own limit would)."""
        message = await websocket.receive()
        data = message.get("bytes")
        if data is None and message.get("text") is not None:
            data = message["text"].encode("utf-8", "surrogatepass")
        if data is not None and len(data) > settings.max_upload_bytes:
            raise PayloadTooLarge(
                f"The message has {len(data)} bytes; the limit is {settings.max_upload_bytes}. "
                "Send shorter audio (or text)."
            )
        return message

    async def receive_audio(websocket: WebSocket) -> bytes | None:
        """The next binary message; None when the client closed. A text message is an error."""
        message = await receive_message(websocket)
        if message["type"] == "websocket.disconnect":
            return None
        if message.get("bytes") is not None:
            return message["bytes"]
        raise InvalidRequest("Send the audio (a WAV file) as one binary message.")

    async def ws_session(
        websocket: WebSocket, route: str, serve_one: Callable[[], Awaitable[bool]]
    ) -> None:
        """Accept, then serve one request after another until the client leaves (serve_one
        returns False); a failed request gets an error event and the session goes on."""
        if not await ws_accept(websocket, route):
            return
        metrics.active_sessions.labels(route).inc()
        try:
            while True:
                try:
                    if not await serve_one():
                        return
                except WebSocketDisconnect:
                    return
                except PayloadTooLarge as exc:
                    if await ws_error(websocket, exc, route):
                        with contextlib.suppress(WebSocketDisconnect, RuntimeError, OSError):
                            await websocket.close(1009, "message too big")
                    return
                except Exception as exc:
                    if not await ws_error(websocket, exc, route):
                        return
        finally:
            metrics.active_sessions.labels(route).dec()

    @app.websocket("/ws")
    async def ws_turn(websocket: WebSocket) -> None:
        route = "/ws"
        language = websocket.query_params.get("language")
        voice = websocket.query_params.get("voice")

        async def one_turn() -> bool:
            audio = await receive_audio(websocket)
            if audio is None:
                return False
            started = time.perf_counter()
            result = await run_in_threadpool(engine.turn, audio, language, voice)
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
            metrics.first_audio_seconds.labels(route).observe(elapsed)
            metrics.turn_seconds.labels(route).observe(elapsed)
            return True

        await ws_session(websocket, route, one_turn)

    async def pump(websocket: WebSocket, produce: Callable[[Callable[[Any], None]], None]) -> None:
        """Run `produce(emit)` in a thread; send what it emits (str → text, bytes → binary) as
        it comes. An exception in the thread is re-raised here after what was emitted."""
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[tuple[str, Any]] = asyncio.Queue()
        cancelled = threading.Event()

        def post(kind: str, item: Any) -> None:
            try:
                loop.call_soon_threadsafe(queue.put_nowait, (kind, item))
            except RuntimeError:  # the event loop is closed: the server stopped meanwhile
                cancelled.set()

        def emit(item: Any) -> None:
            if cancelled.is_set():
                raise ConnectionAbortedError("client went away")
            post("item", item)

        def run() -> None:
            try:
                produce(emit)
            except BaseException as exc:  # handed to the event loop, re-raised there
                post("error", exc)
            else:
                post("done", None)

        thread = threading.Thread(target=run, name="voice-stream", daemon=True)
        thread.start()
        try:
            while True:
                kind, item = await queue.get()
                if kind == "done":
                    return
                if kind == "error":
                    raise item
                if isinstance(item, bytes):
                    await websocket.send_bytes(item)
                else:
                    await websocket.send_text(json.dumps(item, ensure_ascii=False))
        finally:
            cancelled.set()

    @app.websocket("/ws/stream")
    async def ws_turn_stream(websocket: WebSocket) -> None:
        """Events: transcription → llm_delta… → llm → (WAV per sentence, binary) → end."""
        route = "/ws/stream"
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
                    stream_turn, audio=audio, language=language, voice=voice, started=started
                ),
            )
            metrics.turn_seconds.labels(route).observe(time.perf_counter() - started)
            return True

        await ws_session(websocket, route, one_turn)

    def stream_turn(emit, audio: bytes, language, voice, started: float) -> None:
        heard = engine.transcribe(audio, language)
        if not heard.text:
            from fala.core.errors import InvalidAudio

            raise InvalidAudio("No speech was heard in the audio; record the question again.")
        emit({"event": "transcription", "text": heard.text, "language": heard.language})
        reply_language = engine.reply_language(language, heard)
        llm = backends.llm
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

    @app.websocket("/ws/tts")
    async def ws_tts(websocket: WebSocket) -> None:
        """Each text message {"text","language"[,"voice","speed"]} → binary WAV chunks (one per
        sentence) → {"event":"end"}. The session stays open for further messages."""
        route = "/ws/tts"

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
                for speech in engine.synthesize_chunks(
                    req.text, language=req.language, voice=req.voice, speed=req.speed
                ):
                    emit(speech.wav)
                    if first:
                        first = False
                        metrics.first_audio_seconds.labels(route).observe(
                            time.perf_counter() - started
                        )
                emit({"event": "end"})

            await pump(websocket, produce)
            return True

        await ws_session(websocket, route, one_request)

    @app.websocket("/{path:path}")
    async def ws_not_found(websocket: WebSocket, path: str) -> None:
        """Any other WebSocket path: refused with JSON like an unknown HTTP route (after the
        credentials, as over HTTP), rather than a bare 403."""
        try:
            checker.check(
                websocket.headers.get("authorization"), websocket.query_params.get("token")
            )
            error: FalaError = RouteNotFound(
                f"No WebSocket route /{path}; the service has /ws, /ws/stream and /ws/tts."
            )
        except FalaError as exc:
            error = exc
        metrics.error(error.code, "/{path}")
        await websocket.send_denial_response(JSONResponse(error.to_dict(), error.status))

    return app
