"""How uvicorn serves the app: the same options in the container, in `fala voice` and in tests.

uvicorn's HTTP/1.1 protocol (h11) is used with two additions for hostile clients:
- a request head must arrive whole within `CLIENT_TIMEOUT_SECONDS` of its first byte, and a new
  connection must send something within that time; a slowloris client that trickles header
  lines gets 408 JSON and is disconnected, instead of holding the connection for ever (uvicorn
  itself has no such limit). An idle kept-alive connection is left to uvicorn's keep-alive
  timeout (behind an ALB, that must outlast the ALB's idle timeout);
- the 400 for a request that is not HTTP/1.1 (garbage request line, malformed or oversized
  headers) is JSON in the service's `{"error", "message"}` shape, like every other error.
The WebSocket frame limit is set just above MAX_UPLOAD_BYTES, so a message over the limit
reaches the app, which answers it with a JSON error event and close code 1009.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from uvicorn.protocols.http.h11_impl import H11Protocol

from voice_service.settings import VoiceSettings

WS_FRAME_HEADROOM = 64 * 1024


class GuardedH11Protocol(H11Protocol):
    header_timeout: float = 30.0  # set per server by `guarded_h11`

    _header_timer: asyncio.TimerHandle | None = None
    _head_started: float | None = None  # loop time of the first byte of the awaited head

    def _write_error(self, status: int, reason: str, code: str, message: str) -> None:
        body = json.dumps({"error": code, "message": message}).encode()
        head = (
            f"HTTP/1.1 {status} {reason}\r\ncontent-type: application/json\r\n"
            f"content-length: {len(body)}\r\nconnection: close\r\n\r\n"
        )
        self.transport.write(head.encode() + body)
        self.transport.close()

    def _arm_header_timer(self, delay: float | None = None) -> None:
        self._cancel_header_timer()
        delay = self.header_timeout if delay is None else delay
        self._header_timer = self.loop.call_later(delay, self._header_timed_out)

    def _serving(self) -> bool:
        return self.cycle is not None and not self.cycle.response_complete

    def _cancel_header_timer(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def _header_timed_out(self) -> None:
        self._header_timer = None
        if self.transport is None or self.transport.is_closing() or self._serving():
            return  # closed, or a request is being served (its end re-arms the timer)
        partial, _closed = self.conn.trailing_data
        if not partial:
            if self.cycle is None:  # connected, then said nothing at all
                self.transport.close()
            else:  # idle between requests: uvicorn's keep-alive timeout decides; look again
                self._arm_header_timer()
            return
        if self._head_started is None:  # bytes that came in while a response was being sent
            self._head_started = self.loop.time()
        waited = self.loop.time() - self._head_started
        if waited < self.header_timeout:  # the head began recently: check again at its limit
            self._arm_header_timer(self.header_timeout - waited)
            return
        self.logger.warning("Request head not complete after %g s: 408", self.header_timeout)
        self._write_error(
            408,
            "Request Timeout",
            "request_timeout",
            f"The request head (request line and headers) did not arrive whole within "
            f"{self.header_timeout:g} s.",
        )

    def connection_made(self, transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm_header_timer()

    def data_received(self, data: bytes) -> None:
        if self._head_started is None and not self._serving():
            self._head_started = self.loop.time()
        super().data_received(data)

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_header_timer()
        super().connection_lost(exc)

    def on_response_complete(self) -> None:
        self._head_started = None
        super().on_response_complete()  # may start a pipelined request already received
        if not self.transport.is_closing():
            self._arm_header_timer()  # the next request's head, on a kept-alive connection

    def handle_websocket_upgrade(self, event) -> None:
        self._cancel_header_timer()  # the WebSocket protocol owns the transport from here
        super().handle_websocket_upgrade(event)

    def send_400_response(self, msg: str) -> None:
        self._cancel_header_timer()
        self._write_error(
            400,
            "Bad Request",
            "invalid_request",
            "The request is not valid HTTP/1.1 (request line or headers malformed, or the "
            "headers over 16 KB).",
        )


def guarded_h11(header_timeout: float) -> type[GuardedH11Protocol]:
    return type("GuardedH11Protocol", (GuardedH11Protocol,), {"header_timeout": header_timeout})


def uvicorn_options(settings: VoiceSettings) -> dict[str, Any]:
    """Keyword arguments for uvicorn.run / uvicorn.Config."""
    return {
        "http": guarded_h11(settings.client_timeout_seconds),
        "ws_max_size": settings.max_upload_bytes + WS_FRAME_HEADROOM,
        "ws_ping_interval": 20,
        "ws_ping_timeout": 20,
    }
