"""What the routers share: the service's parts, built once per app by `create_app` and kept on
`app.state.voice`. Every route, handler and middleware reads them with `voice_state(request)`
(or `voice_state(websocket)`): one place, one type."""

from __future__ import annotations

from dataclasses import dataclass

from starlette.requests import HTTPConnection

from voice_service.auth import TokenChecker
from voice_service.backends import Backends
from voice_service.cache import Cache
from voice_service.engine import VoiceEngine
from voice_service.metrics import Metrics
from voice_service.settings import VoiceSettings


@dataclass(frozen=True)
class VoiceState:
    settings: VoiceSettings
    backends: Backends
    cache: Cache
    metrics: Metrics
    engine: VoiceEngine
    checker: TokenChecker


def voice_state(connection: HTTPConnection) -> VoiceState:
    """The state of the app serving `connection` (a Request or a WebSocket)."""
    return connection.app.state.voice
