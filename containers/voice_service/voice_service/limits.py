"""Request bodies, bounded: a size cap that holds with or without Content-Length, and a time limit
on a body that stops arriving (slow or stalled clients).

`BodyGuard` is a pure ASGI middleware. A declared Content-Length over the cap is refused before a
byte of the body is read; otherwise it counts the bytes as the app receives them (chunked uploads
have no Content-Length), and the moment the count passes the cap — or the client sends nothing
for `timeout_seconds` while the body is unfinished — the app's read fails and the client gets
413 / 408 JSON (`{"error", "message"}`, the service's error shape) with `Connection: close`, so it
stops sending. Whatever the app tries to answer after that is replaced by this answer: a route
that turns the failed read into its own error (FastAPI answers 400 for a body it could not read)
cannot hide it. Any other answer given before the body was read to its end (a 401, say) closes
the connection too, rather than leaving uvicorn to read and discard the rest.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any

from voice_service.errors import FalaError, PayloadTooLarge, RequestTimeout, error_body

Scope = dict[str, Any]
Message = dict[str, Any]


class BodyGuard:
    def __init__(
        self,
        app: Any,
        *,
        max_bytes: int,
        timeout_seconds: float,
        on_reject: Callable[[FalaError, str], None] | None = None,
    ) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.timeout_seconds = timeout_seconds
        self.on_reject = on_reject  # metrics: (error, path), once per refused request

    def too_large(self, size: str) -> PayloadTooLarge:
        return PayloadTooLarge(
            f"The request body has {size} bytes; the limit is {self.max_bytes}. Send less "
            "(shorter audio, fewer batch items), or raise MAX_UPLOAD_BYTES on the service."
        )

    async def reject(self, send: Callable, error: FalaError, path: str, count: bool = True) -> None:
        if count and self.on_reject is not None:
            self.on_reject(error, path)
        body = json.dumps(error_body(error.code, error.message, error.status, path)).encode()
        await send(
            {
                "type": "http.response.start",
                "status": error.status,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                    (b"connection", b"close"),  # the rest of the body is not wanted
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})

    async def __call__(self, scope: Scope, receive: Callable, send: Callable) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope.get("path", "")
        headers = dict(scope["headers"])
        length = headers.get(b"content-length")
        if length is not None and length.isdigit() and int(length) > self.max_bytes:
            await self.reject(send, self.too_large(length.decode()), path)
            return
        has_body = b"transfer-encoding" in headers or (length not in (None, b"0"))

        received = 0
        finished = False  # the whole body has arrived: later receives wait for a disconnect
        failure: FalaError | None = None
        responder: str | None = None  # who answered: "app" (passed through) or "guard"

        async def guarded_receive() -> Message:
            nonlocal received, finished, failure
            if failure is not None:  # raised once; from then on the client is as good as gone
                return {"type": "http.disconnect"}
            if finished:
                return await receive()
            try:
                message = await asyncio.wait_for(receive(), self.timeout_seconds)
            except TimeoutError:
                failure = RequestTimeout(
                    f"The request body stopped arriving: nothing for {self.timeout_seconds:g} s "
                    f"after {received} bytes. Send the whole body without pausing."
                )
                raise failure from None
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    failure = self.too_large(f"more than {self.max_bytes}")
                    raise failure
                finished = not message.get("more_body", False)
            else:
                finished = True
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal responder
            if responder is None and message["type"] == "http.response.start":
                if failure is None:
                    responder = "app"
                    if has_body and not finished:  # answered without reading it all
                        message = {
                            **message,
                            "headers": [*message.get("headers", []), (b"connection", b"close")],
                        }
                else:
                    responder = "guard"
                    # The app's own error handler may have reported this failure already.
                    count = message.get("status") != failure.status
                    await self.reject(send, failure, path, count=count)
            if responder == "app":
                await send(message)
            # else: the app's answer to a body it could not read, replaced above; dropped

        try:
            await self.app(scope, guarded_receive, guarded_send)
        except Exception:
            if failure is None:
                raise
            # else: the app failing on the body it could not read; answered below (or above)
        if failure is not None and responder is None:
            await self.reject(send, failure, path)
