"""How a WebSocket session runs, whatever its route: the token check at the handshake, messages
bounded by MAX_UPLOAD_BYTES, one request after another until the client leaves (a failed one
answered with an `{"event":"error",...}` message, the session going on), and `pump`, which sends
what a synthesis thread produces as it comes."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import threading
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from fastapi import WebSocket, WebSocketDisconnect
from fastapi.responses import JSONResponse

from voice_service.errors import FalaError, InvalidRequest, PayloadTooLarge
from voice_service.state import voice_state

logger = logging.getLogger("voice_service.app")  # the API's log, whichever module reports


async def ws_accept(websocket: WebSocket, route: str) -> bool:
    """Accept after the token check; else a JSON denial (401/403) and False."""
    state = voice_state(websocket)
    try:
        state.checker.check(
            websocket.headers.get("authorization"), websocket.query_params.get("token")
        )
    except FalaError as exc:
        state.metrics.error(exc.code, route)
        await websocket.send_denial_response(JSONResponse(exc.to_dict(), status_code=exc.status))
        return False
    await websocket.accept()
    return True


async def ws_error(websocket: WebSocket, exc: Exception, route: str) -> bool:
    """Report `exc` as an error event; False when the client is gone."""
    if isinstance(exc, ConnectionAbortedError):
        return False
    metrics = voice_state(websocket).metrics
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


async def receive_message(websocket: WebSocket) -> MutableMapping[str, Any]:
    """The next message; one over MAX_UPLOAD_BYTES raises PayloadTooLarge (the session
    then ends with close code 1009, as the WebSocket protocol's own limit would)."""
    limit = voice_state(websocket).settings.max_upload_bytes
    message = await websocket.receive()
    data = message.get("bytes")
    if data is None and message.get("text") is not None:
        data = message["text"].encode("utf-8", "surrogatepass")
    if data is not None and len(data) > limit:
        raise PayloadTooLarge(
            f"The message has {len(data)} bytes; the limit is {limit}. "
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
    metrics = voice_state(websocket).metrics
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
