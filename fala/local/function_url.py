"""The validation Function URL served locally: real HTTP in, payload format 2.0 event to the same
handler the deployed function runs, its response back out — with Function URL's limits."""

from __future__ import annotations

import base64
import json
import time
import uuid
from datetime import UTC, datetime
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from fala.local.assembly import Resolver, Stack
from fala.local.lambdas import LocalFunction, LocalLambdaRuntime

MAX_REQUEST_BYTES = 6 * 1024 * 1024  # Function URL (synchronous invoke) request payload limit
# A client that stops sending mid-request is dropped after this, so it cannot hold a thread.
SOCKET_TIMEOUT_SECONDS = 30
_DRAIN_LIMIT = 64 * 1024 * 1024
_TEXT_TYPES = ("text/", "json", "xml", "javascript", "x-www-form-urlencoded")
# The page a browser gets at GET /: record or pick a clip, POST it to this same server.
TRY_PAGE = Path(__file__).with_name("static") / "try.html"
PAGE_HEADERS = {
    "content-type": "text/html; charset=utf-8",
    # its own inline script and style, and requests to this server only
    "content-security-policy": "default-src 'none'; script-src 'unsafe-inline'; "
    "style-src 'unsafe-inline'; media-src blob:; connect-src 'self'; form-action 'self'",
    "cache-control": "no-store",
}


def url_function(stack: Stack, runtime: LocalLambdaRuntime, resolver: Resolver) -> LocalFunction:
    """The function behind the stack's Function URL."""
    urls = list(stack.of_type("AWS::Lambda::Url").values())
    if len(urls) != 1:
        raise RuntimeError(f"Expected one Function URL in {stack.name}, found {len(urls)}")
    return runtime.find(resolver.resolve(urls[0]["Properties"]["TargetFunctionArn"]))


def to_event(
    method: str, target: str, headers: dict[str, str], body: bytes, client: str
) -> dict[str, Any]:
    split = urlsplit(target)
    content_type = headers.get("content-type", "")
    is_text = any(marker in content_type for marker in _TEXT_TYPES)
    try:
        text = body.decode() if is_text else None
    except UnicodeDecodeError:
        text = None
    now = datetime.now(UTC)
    return {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": split.path or "/",
        "rawQueryString": split.query,
        "headers": headers,
        "requestContext": {
            "accountId": "anonymous",
            "apiId": "local",
            "domainName": headers.get("host", "localhost"),
            "domainPrefix": "local",
            "http": {
                "method": method,
                "path": split.path or "/",
                "protocol": "HTTP/1.1",
                "sourceIp": client,
                "userAgent": headers.get("user-agent", ""),
            },
            "requestId": str(uuid.uuid4()),
            "routeKey": "$default",
            "stage": "$default",
            "time": now.strftime("%d/%b/%Y:%H:%M:%S +0000"),
            "timeEpoch": int(now.timestamp() * 1000),
        },
        **(
            {"body": text, "isBase64Encoded": False}
            if text is not None
            else {"body": base64.b64encode(body).decode(), "isBase64Encoded": bool(body)}
        ),
    }


def from_result(result: Any) -> tuple[int, dict[str, str], bytes]:
    """Function URL's response mapping: a dict with statusCode is a response, anything else is
    a 200 JSON body."""
    if isinstance(result, dict) and "statusCode" in result:
        body = result.get("body") or ""
        raw = base64.b64decode(body) if result.get("isBase64Encoded") else str(body).encode()
        headers = {str(k).lower(): str(v) for k, v in (result.get("headers") or {}).items()}
        return int(result["statusCode"]), headers, raw
    return 200, {"content-type": "application/json"}, json.dumps(result).encode()


def make_server(function: LocalFunction, host: str, port: int) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        server_version = "fala-function-url"
        timeout = SOCKET_TIMEOUT_SECONDS

        def send_error(self, code: int, message: str | None = None, explain: str | None = None):
            """http.server's own errors (bad request line, unknown method, headers too long...)
            as JSON 4xx too: each is a client mistake, whatever status http.server picked."""
            self.close_connection = True
            if self.request_version == "HTTP/0.9":  # unparsable line: still answer with a status
                self.request_version = "HTTP/1.0"
            if code == HTTPStatus.NOT_IMPLEMENTED:  # an unknown method such as FOO
                self._send(
                    HTTPStatus.METHOD_NOT_ALLOWED,
                    {"content-type": "application/json", "allow": "POST"},
                    json.dumps(
                        {
                            "error": "method_not_allowed",
                            "message": f"Method {self.command} is not allowed; "
                            "send POST / with a JSON body.",
                        }
                    ).encode(),
                )
                return
            status = code if 400 <= code < 500 else HTTPStatus.BAD_REQUEST
            detail = message or HTTPStatus(status).phrase
            self._json(
                status,
                "invalid_request",
                f"{detail}. Send an HTTP/1.1 request: POST / with a JSON body.",
            )

        def _handle(self) -> None:
            if self._wants_page():
                return self._send(HTTPStatus.OK, PAGE_HEADERS, TRY_PAGE.read_bytes())
            started = time.perf_counter()
            length = self.headers.get("content-length")
            if length is None and self.command in ("POST", "PUT", "PATCH"):
                return self._json(
                    HTTPStatus.LENGTH_REQUIRED,
                    "length_required",
                    "Send a Content-Length header with the request body.",
                )
            try:
                size = int(length or 0)
                if size < 0:
                    raise ValueError
            except ValueError:
                self.close_connection = True
                return self._json(
                    HTTPStatus.BAD_REQUEST,
                    "invalid_request",
                    f"Content-Length {length!r} is not a byte count; send the body's size.",
                )
            if size > MAX_REQUEST_BYTES:
                # Read what the client sends so it sees the 413 rather than a reset connection.
                self._discard(size)
                self.close_connection = True
                return self._json(
                    HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
                    "payload_too_large",
                    f"The request body is {size:,} bytes; a Function URL accepts at "
                    f"most {MAX_REQUEST_BYTES:,}. Send a shorter or compressed clip.",
                )
            body = self.rfile.read(size) if size else b""
            headers = {k.lower(): v for k, v in self.headers.items()}
            event = to_event(self.command, self.path, headers, body, self.client_address[0])
            try:
                status, out_headers, payload = from_result(function.invoke(event))
            except Exception as exc:
                self.log_error("handler raised %s: %s", type(exc).__name__, exc)
                status, out_headers, payload = (
                    502,
                    {"content-type": "application/json"},
                    json.dumps(
                        {"error": "internal_error", "message": "Internal Server Error"}
                    ).encode(),
                )
            self._send(status, out_headers, payload)
            self.log_message(
                '"%s %s" %d %.0f ms',
                self.command,
                self.path,
                status,
                (time.perf_counter() - started) * 1000,
            )

        do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = _handle

        def _wants_page(self) -> bool:
            """A browser opening the server (GET / asking for HTML) gets the try-it page; API
            clients keep the Function URL's answers (405 for GET)."""
            root = urlsplit(self.path).path == "/"
            accepts_html = "text/html" in self.headers.get("accept", "")
            return self.command in ("GET", "HEAD") and root and accepts_html

        def _discard(self, size: int) -> None:
            remaining = min(size, _DRAIN_LIMIT)
            while remaining > 0:
                chunk = self.rfile.read(min(remaining, 1 << 16))
                if not chunk:
                    return
                remaining -= len(chunk)

        def _json(self, status: int, code: str, message: str) -> None:
            self._send(
                status,
                {"content-type": "application/json"},
                json.dumps({"error": code, "message": message}).encode(),
            )

        def _send(self, status: int, headers: dict[str, str], payload: bytes) -> None:
            self.send_response(status)
            for key, value in headers.items():
                self.send_header(key, value)
            self.send_header("content-length", str(len(payload)))
            try:
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(payload)
            except (BrokenPipeError, ConnectionResetError):
                # the client hung up before its answer (a timeout of its own): one line, no
                # traceback; what the function did is done either way
                self.close_connection = True
                self.log_message("client hung up before its %d answer", status)

        def log_request(self, *args: Any) -> None:  # one line per request, written by _handle
            pass

    return ThreadingHTTPServer((host, port), Handler)
