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

Where each part is: routes_http (health, metrics, /generate-voice*), routes_openai (/v1/*),
routes_ws with ws_session (WebSockets), handlers (error handlers, token middleware), bodies
(request models), state (what the routers share). This module puts them together.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Any

from fastapi import FastAPI

from voice_service import routes_http, routes_openai, routes_ws
from voice_service.auth import TokenChecker, resolve_token
from voice_service.backends import Backends
from voice_service.bodies import (
    GenerateVoice,
    GenerateVoiceBatch,
    OpenAISpeech,
    Speed,
    TTSMessage,
)
from voice_service.cache import Cache, build_cache
from voice_service.engine import VoiceEngine
from voice_service.handlers import authenticate, install_handlers, logger
from voice_service.limits import BodyGuard
from voice_service.metrics import Metrics
from voice_service.openapi import WAV
from voice_service.openapi import install as install_openapi
from voice_service.settings import VoiceSettings
from voice_service.state import VoiceState

__all__ = [  # the names this module had before the routers moved out
    "WAV",
    "GenerateVoice",
    "GenerateVoiceBatch",
    "OpenAISpeech",
    "Speed",
    "TTSMessage",
    "create_app",
    "logger",
]


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
    # What the routers, handlers and middleware read (voice_state); engine and metrics also
    # stand alone for the tests and benchmarks that reach into a running app.
    app.state.voice = VoiceState(settings, backends, cache, metrics, engine, checker)
    app.state.engine = engine
    app.state.metrics = metrics

    install_handlers(app)
    app.middleware("http")(authenticate)
    # Outermost (registered last): 413 / 408 JSON for bodies over MAX_UPLOAD_BYTES, declared
    # or chunked, and for bodies that stop arriving; a declared oversize is refused unread.
    app.add_middleware(
        BodyGuard,
        max_bytes=settings.max_upload_bytes,
        timeout_seconds=settings.client_timeout_seconds,
        on_reject=lambda error, path: metrics.error(error.code, path),
    )

    app.include_router(routes_http.router)
    app.include_router(routes_openai.router)
    app.include_router(routes_ws.router)  # last: its catch-all refuses any other WebSocket path
    return app
