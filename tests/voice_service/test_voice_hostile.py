"""Hostile input against the voice service's HTTP and WebSocket APIs, over real connections.

The service runs as in production (uvicorn with voice_service.server's options, real Whisper,
Piper and the local LLM) with a small body cap (256 KB) and a short slow-client timeout (2 s), so
"over the limit" and "too slow" are cheap to reach. Every request is written byte for byte on a
socket, every WebSocket frame by hand (masked or not, any opcode, any payload): no client library
smooths anything over.

Each HTTP row must get its status with a JSON `{"error", "message"}` body (or, for the few odd
but valid inputs, a WAV); each WebSocket row its JSON error events and close code (or a session
that still answers a ping). Never a 5xx, a dropped connection or a hang; after every row the
service still answers /health and a real synthesis, and after the whole table a real spoken turn.
"""

from __future__ import annotations

import base64
import contextlib
import io
import json
import os
import select
import socket
import struct
import time
import wave
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from raw_http import Reply, parse_reply
from voice_service.app import create_app
from voice_service.backends import Backends
from voice_service.backends.llm import ChatReply
from voice_service.cache import MemoryCache
from voice_service.engine import VoiceEngine
from voice_service.errors import LLMUnavailable
from voice_service.server import WS_FRAME_HEADROOM, uvicorn_options
from voice_testkit import (
    AUTH,
    TOKEN,
    fixture_audio,
    make_llm,
    make_settings,
    metric,
    refusal,
)

CAP = 256 * 1024  # MAX_UPLOAD_BYTES of the server under test
CLIENT_TIMEOUT = 2.0  # CLIENT_TIMEOUT_SECONDS of the server under test
SILENCE = fixture_audio("silence.wav")
SPEECH = fixture_audio("checkin_9_45_en_piper.wav")
NOT_AUDIO = fixture_audio("not_audio.txt")


@pytest.fixture(scope="module")
def server(serve, llm_url, stt, piper):
    settings = make_settings(llm_url, max_upload_bytes=CAP, client_timeout_seconds=CLIENT_TIMEOUT)
    backends = Backends(stt=stt, llm=make_llm(settings), tts=piper)
    return serve(create_app(settings, backends, cache=MemoryCache()), **uvicorn_options(settings))


# --- bytes on the wire --------------------------------------------------------------------------


def wav(seconds: float, *, rate: int = 8000) -> bytes:
    """Silent 8-bit PCM WAV (8 KB a second at 8 kHz)."""
    out = io.BytesIO()
    with wave.open(out, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(1)
        w.setframerate(rate)
        w.writeframes(b"\x80" * int(seconds * rate))
    return out.getvalue()


def patch(data: bytes, offset: int, fmt: str, value: int) -> bytes:
    packed = struct.pack(fmt, value)
    return data[:offset] + packed + data[offset + len(packed) :]


def head(method: str, path: str, headers: dict[str, str | None]) -> bytes:
    fields = {"Host": "127.0.0.1", "Authorization": f"Bearer {TOKEN}", "Connection": "close"}
    fields |= headers
    lines = [f"{method} {path} HTTP/1.1"]
    lines += [f"{k}: {v}" for k, v in fields.items() if v is not None]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def request(
    method: str = "POST",
    path: str = "/generate-voice",
    body: bytes = b"",
    content_type: str | None = "application/json",
    **headers: str | None,
) -> tuple[bytes, ...]:
    """One request with Content-Length (header names: `x_foo` → `x-foo`)."""
    fields = {"Content-Type": content_type, "Content-Length": str(len(body))}
    fields |= {k.replace("_", "-"): v for k, v in headers.items()}
    return (head(method, path, fields) + body,)


def chunked(
    path: str,
    body: bytes,
    content_type: str = "application/json",
    piece: int = 16 * 1024,
) -> tuple[bytes, ...]:
    """A chunked upload (no Content-Length), one chunk per written piece."""
    parts = [head("POST", path, {"Content-Type": content_type, "Transfer-Encoding": "chunked"})]
    for i in range(0, len(body), piece):
        chunk = body[i : i + piece]
        parts.append(b"%x\r\n%s\r\n" % (len(chunk), chunk))
    parts.append(b"0\r\n\r\n")
    return tuple(parts)


def js(**fields: Any) -> bytes:
    return json.dumps(fields).encode()


BOUNDARY = "fala-hostile-boundary"


def multipart(*parts: tuple[str, str | None, bytes]) -> bytes:
    """Fields as (name, filename or None, content)."""
    out = b""
    for name, filename, content in parts:
        disposition = f'form-data; name="{name}"'
        if filename is not None:
            disposition += f'; filename="{filename}"'
        out += f"--{BOUNDARY}\r\nContent-Disposition: {disposition}\r\n".encode()
        if filename is not None:
            out += b"Content-Type: application/octet-stream\r\n"
        out += b"\r\n" + content + b"\r\n"
    return out + f"--{BOUNDARY}--\r\n".encode()


def transcribe(*parts: tuple[str, str | None, bytes]) -> tuple[bytes, ...]:
    return request(
        path="/v1/audio/transcriptions",
        body=multipart(*parts),
        content_type=f"multipart/form-data; boundary={BOUNDARY}",
    )


def exchange(port: int, parts: tuple[bytes, ...], pause: float = 0.0, timeout=60.0) -> Reply:
    """Write `parts` one after another (`pause` seconds apart), stopping early when the server
    answers or closes (a 413 does not wait for the rest); then read the answer until close."""
    received = b""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        for i, part in enumerate(parts):
            if i and pause:
                time.sleep(pause)
            if select.select([sock], [], [], 0)[0]:
                break  # answered already
            try:
                sock.sendall(part)
            except (BrokenPipeError, ConnectionResetError):
                break
        try:
            while chunk := sock.recv(1 << 16):
                received += chunk
        except ConnectionResetError:
            pass  # after the answer: the server closed while our bytes were still arriving
    return parse_reply(received)


# --- the HTTP table -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    name: str
    parts: tuple[bytes, ...]
    status: int
    code: str | None = None  # the "error" of a 4xx; None: a WAV (a valid, if odd, request)
    says: tuple[str, ...] = ()  # words the message must contain
    pause: float = 0.0
    headers: dict[str, str] = field(default_factory=dict)  # expected in the answer


OK = js(text="Hello.", language="en")
STEADY = head("POST", "/generate-voice", {"Content-Length": str(len(OK))}) + OK
DEEP = b"[" * 100_000 + b"]" * 100_000
OVER_CAP = b"x" * (CAP + 100_000)
LONG_SILENCE = wav(31)  # over MAX_AUDIO_SECONDS (30) but under the 256 KB cap
assert len(LONG_SILENCE) < CAP - 1000


CASES = [
    # --- credentials ----------------------------------------------------------------------------
    Case("no Authorization", request(body=OK, Authorization=None), 401, "unauthorized"),
    Case("Basic scheme", request(body=OK, Authorization="Basic Zm9vOmJhcg=="), 401, "unauthorized"),
    Case("Bearer without a token", request(body=OK, Authorization="Bearer"), 401, "unauthorized"),
    Case("wrong token", request(body=OK, Authorization="Bearer nope"), 403, "forbidden"),
    Case(
        "right token plus a suffix",
        request(body=OK, Authorization=f"Bearer {TOKEN}0"),
        403,
        "forbidden",
    ),
    Case("8 KB token", request(body=OK, Authorization="Bearer " + "t" * 8192), 403, "forbidden"),
    Case(
        "token of non-ASCII bytes",
        (
            head("POST", "/generate-voice", {"Content-Length": "0"}).replace(
                TOKEN.encode(), b"\xff\xfe\xfd"
            ),
        ),
        403,
        "forbidden",
    ),
    Case(
        "token in the query string of an HTTP request",
        request(path=f"/generate-voice?token={TOKEN}", body=OK, Authorization=None),
        401,
        "unauthorized",
    ),
    # --- routes and methods -----------------------------------------------------------------------
    Case("unknown route", request(path="/admin", body=OK), 404, "not_found", ("/admin",)),
    Case("path traversal", request("GET", "/../../etc/passwd"), 404, "not_found"),
    Case(
        "GET on a POST route",
        request("GET", "/generate-voice"),
        405,
        "method_not_allowed",
        ("POST",),
        headers={"allow": "POST"},
    ),
    Case("DELETE /metrics", request("DELETE", "/metrics"), 405, "method_not_allowed"),
    Case("unknown method FOO", request("FOO", "/generate-voice"), 405, "method_not_allowed"),
    # --- JSON bodies ------------------------------------------------------------------------------
    Case("truncated JSON", request(body=b'{"text": "Hel'), 400, "invalid_request", ("JSON",)),
    Case("JSON array", request(body=b'["Hello"]'), 400, "invalid_request"),
    Case("JSON null", request(body=b"null"), 400, "invalid_request"),
    Case("JSON nested 100,000 deep", request(body=DEEP), 400, "invalid_request", ("JSON",)),
    Case("invalid UTF-8", request(body=b'{"text": "\xff\xfe"}'), 400, "invalid_request"),
    Case("text is a number", request(body=js(text=42)), 400, "invalid_request", ("text",)),
    Case("speed NaN", request(body=b'{"text": "Hi.", "speed": NaN}'), 400, "invalid_request"),
    Case("speed negative", request(body=js(text="Hi.", speed=-1)), 400, "invalid_request"),
    Case(
        "prototype-pollution field",
        request(body=js(text="Hi.", __proto__={"admin": True})),
        400,
        "invalid_request",
        ("__proto__",),
    ),
    Case(
        "text with a NUL",
        request(body=js(text="Hello\u0000world")),
        400,
        "invalid_request",
        ("control characters",),
    ),
    Case(
        "text with an unpaired surrogate",
        request(body=b'{"text": "Hello \\ud800"}'),
        400,
        "invalid_request",
        ("unicode",),
    ),
    Case(
        "text of punctuation only",
        request(body=js(text="?!... -")),
        422,
        "nothing_to_speak",
        ("Nothing",),
    ),
    Case(
        "text of invisible characters only",
        request(body=js(text="\u200b\u202e\u2060")),
        422,
        "nothing_to_speak",
    ),
    Case(
        "100,000 characters of text",
        request(body=js(text="word " * 20_000)),
        413,
        "text_too_long",
        ("2000",),
    ),
    Case(
        "language not a tag",
        request(body=js(text="Hi.", language="../../etc")),
        400,
        "unsupported_language",
    ),
    Case(
        "unknown language: spoken by the default voice",
        request(body=js(text="Hi.", language="xx")),
        200,
        headers={"x-fala-voice": "en_US-joe-medium"},
    ),
    Case(
        "unknown voice: the default voice answers (OpenAI clients send theirs)",
        request(body=js(text="Hi.", voice="no-such-voice")),
        200,
        headers={"x-fala-voice": "en_US-joe-medium"},
    ),
    # --- content types ----------------------------------------------------------------------------
    Case("text/plain", request(body=b"Hello", content_type="text/plain"), 400, "invalid_request"),
    Case(
        "XML",
        request(body=b"<text>Hi</text>", content_type="application/xml"),
        400,
        "invalid_request",
    ),
    Case(
        "multipart without a boundary",
        request(body=b"--x\r\n\r\n", content_type="multipart/form-data"),
        400,
        "invalid_request",
    ),
    Case(
        "multipart without a sample",
        request(
            body=multipart(("text", None, b"Hello")),
            content_type=f"multipart/form-data; boundary={BOUNDARY}",
        ),
        400,
        "invalid_request",
        ("sample",),
    ),
    Case(
        "multipart of 2,000 fields",
        request(
            body=multipart(*[(f"f{i}", None, b"1") for i in range(2000)]),
            content_type=f"multipart/form-data; boundary={BOUNDARY}",
        ),
        400,
        "invalid_request",
        ("fields",),
    ),
    Case(
        "multipart body that is not multipart",
        request(body=b"\x00" * 500, content_type=f"multipart/form-data; boundary={BOUNDARY}"),
        400,
        "invalid_request",
    ),
    # --- transcriptions ---------------------------------------------------------------------------
    Case(
        "transcription as JSON",
        request(path="/v1/audio/transcriptions", body=js(file="x")),
        400,
        "invalid_request",
        ("multipart",),
    ),
    Case("non-audio bytes", transcribe(("file", "x.wav", NOT_AUDIO)), 422, "invalid_audio"),
    Case("empty file", transcribe(("file", "x.wav", b"")), 422, "invalid_audio"),
    Case("WAV header only", transcribe(("file", "x.wav", SILENCE[:44])), 422, "invalid_audio"),
    Case("WAV cut at 20 bytes", transcribe(("file", "x.wav", SILENCE[:20])), 422, "invalid_audio"),
    Case(
        "WAV of 0 Hz",
        transcribe(("file", "x.wav", patch(wav(1), 24, "<I", 0))),
        422,
        "invalid_audio",
    ),
    Case(
        "WAV of 0 channels",
        transcribe(("file", "x.wav", patch(wav(1), 22, "<H", 0))),
        422,
        "invalid_audio",
    ),
    Case(
        "31 s of audio",
        transcribe(("file", "x.wav", LONG_SILENCE)),
        422,
        "audio_too_long",
        ("30",),
    ),
    Case(
        "file as a text field",
        transcribe(("file", None, b"RIFF")),
        400,
        "invalid_request",
        ("file",),
    ),
    Case(
        "unknown transcription language",
        transcribe(("file", "x.wav", SILENCE), ("language", None, b"xx")),
        400,
        "unsupported_language",
    ),
    Case(
        "response_format docx",
        transcribe(("file", "x.wav", SILENCE), ("response_format", None, b"docx")),
        400,
        "invalid_request",
        ("docx", "srt, vtt"),
    ),
    # --- OpenAI speech and batches ----------------------------------------------------------------
    Case(
        "speech without input",
        request(path="/v1/audio/speech", body=js(voice="alloy")),
        400,
        "invalid_request",
        ("input",),
    ),
    Case(
        "speech JSON sent as text/plain",
        request(path="/v1/audio/speech", body=js(input="Hi."), content_type="text/plain"),
        400,
        "invalid_request",
    ),
    Case(
        "speech body nested 100,000 deep",
        request(path="/v1/audio/speech", body=DEEP),
        400,
        "invalid_request",
    ),
    Case(
        "batch of 17",
        request(path="/generate-voice/batch", body=js(items=[{"text": "a"}] * 17)),
        400,
        "invalid_request",
        ("16",),
    ),
    Case(
        "batch items not a list",
        request(path="/generate-voice/batch", body=js(items="a")),
        400,
        "invalid_request",
    ),
    # --- sizes --------------------------------------------------------------------------------
    Case(
        "Content-Length over the cap, body never sent",
        (head("POST", "/generate-voice", {"Content-Length": str(CAP + 1)}),),
        413,
        "payload_too_large",
        (str(CAP),),
        headers={"connection": "close"},
    ),
    Case(
        "Expect: 100-continue over the cap",
        (
            head(
                "POST",
                "/v1/audio/transcriptions",
                {"Content-Length": str(50 * CAP), "Expect": "100-continue"},
            ),
        ),
        413,
        "payload_too_large",
    ),
    Case(
        "chunked JSON over the cap",
        chunked("/generate-voice", b'{"text": "' + OVER_CAP + b'"}'),
        413,
        "payload_too_large",
        (str(CAP),),
        headers={"connection": "close"},
    ),
    Case(
        "chunked OpenAI speech over the cap",
        chunked("/v1/audio/speech", b'{"input": "' + OVER_CAP + b'"}'),
        413,
        "payload_too_large",
    ),
    Case(
        "chunked multipart over the cap",
        chunked(
            "/v1/audio/transcriptions",
            multipart(("file", "big.wav", wav(40))),
            content_type=f"multipart/form-data; boundary={BOUNDARY}",
        ),
        413,
        "payload_too_large",
    ),
    Case(
        "chunked batch over the cap",
        chunked("/generate-voice/batch", js(items=[{"text": "word " * 1000}] * 60)),
        413,
        "payload_too_large",
    ),
    Case(
        "chunked upload under the cap is served",
        chunked("/generate-voice", js(text="Sent in chunks.", language="en"), piece=5),
        200,
    ),
    # --- slow and lying clients ---------------------------------------------------------------
    Case(
        "body shorter than its Content-Length, then silence",
        (head("POST", "/generate-voice", {"Content-Length": "1000"}) + b'{"text": "Hi',),
        408,
        "request_timeout",
        ("stopped arriving",),
        headers={"connection": "close"},
    ),
    Case(
        "chunked body that stops mid-chunk",
        (
            head("POST", "/generate-voice", {"Transfer-Encoding": "chunked"})
            + b'100\r\n{"text": "Hi',
        ),
        408,
        "request_timeout",
    ),
    Case(
        "slowloris: a head that never ends",
        (b"POST /generate-voice HTTP/1.1\r\nHost: x\r\nX-Slow: 1\r\n",),
        408,
        "request_timeout",
        ("head",),
    ),
    Case(
        "slowloris: one header line every 0.5 s",
        (b"POST /generate-voice HTTP/1.1\r\n",) + (b"X-Slow: 1\r\n",) * 40,
        408,
        "request_timeout",
        ("head",),
        pause=0.5,
    ),
    Case(
        "a slow but steady request (40 bytes every 0.05 s) is served",
        tuple(STEADY[i : i + 40] for i in range(0, len(STEADY), 40)),
        200,
        pause=0.05,
    ),
    # --- not HTTP/1.1 -----------------------------------------------------------------------------
    Case("garbage request line", (b"GARBAGE\r\n\r\n",), 400, "invalid_request", ("HTTP/1.1",)),
    Case(
        "200 KB of headers",
        (b"GET /health HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 200_000 + b"\r\n\r\n",),
        400,
        "invalid_request",
    ),
    Case(
        "Content-Length not a number",
        (head("POST", "/generate-voice", {"Content-Length": "abc"}),),
        400,
        "invalid_request",
    ),
    Case(
        "Content-Length and Transfer-Encoding both",
        (
            head(
                "POST",
                "/generate-voice",
                {"Content-Length": "5", "Transfer-Encoding": "chunked"},
            )
            + b"0\r\n\r\n",
        ),
        400,
        "invalid_request",
    ),
    Case(
        "chunk size not hexadecimal",
        (head("POST", "/generate-voice", {"Transfer-Encoding": "chunked"}) + b"zz\r\nab\r\n",),
        400,
        "invalid_request",
    ),
]


def assert_alive(url: str) -> None:
    with httpx.Client(base_url=url, timeout=60) as client:
        health = client.get("/health")
        assert health.status_code == 200 and health.json()["status"] == "ok"
        speech = client.post("/generate-voice", json={"text": "Still here."}, headers=AUTH)
        assert speech.status_code == 200 and speech.content[:4] == b"RIFF"


def test_the_tables_have_distinct_names():
    assert len({c.name for c in CASES}) == len(CASES)
    assert len({c.name for c in WS_CASES}) == len(WS_CASES)


@pytest.mark.parametrize("case", [pytest.param(c, id=c.name) for c in CASES])
def test_hostile_http_request_gets_a_clear_answer_and_the_service_lives_on(server, case):
    reply = exchange(server.port, case.parts, case.pause)

    assert reply.status == case.status, reply.raw[:500]
    for name, value in case.headers.items():
        assert reply.headers.get(name) == value, reply.headers
    if case.code is None:
        assert reply.headers["content-type"] == "audio/wav"
        assert reply.body[:4] == b"RIFF"
    else:
        assert reply.headers.get("content-type") == "application/json", reply.raw[:500]
        request_line = b"".join(case.parts).split(b"\r\n", 1)[0].split()
        path = request_line[1].decode() if len(request_line) > 1 else ""
        code, message = refusal(reply.json(), path)
        assert code == case.code, reply.json()
        for words in case.says:
            assert words in message, message
    assert_alive(server.url)


# --- WebSockets, frame by frame -----------------------------------------------------------------

TEXT, BINARY, CLOSE, PING, PONG, CONTINUATION = 0x1, 0x2, 0x8, 0x9, 0xA, 0x0


@dataclass(frozen=True)
class Frame:
    opcode: int
    payload: bytes = b""
    fin: bool = True
    masked: bool = True
    rsv: int = 0


def text(data: str | bytes, **kw) -> Frame:
    return Frame(TEXT, data.encode() if isinstance(data, str) else data, **kw)


def binary(data: bytes, **kw) -> Frame:
    return Frame(BINARY, data, **kw)


def close_frame(code: int = 1000) -> Frame:
    return Frame(CLOSE, struct.pack("!H", code))


def encode(frame: Frame) -> bytes:
    first = (0x80 if frame.fin else 0) | (frame.rsv << 4) | frame.opcode
    n = len(frame.payload)
    mask_bit = 0x80 if frame.masked else 0
    if n < 126:
        out = struct.pack("!BB", first, mask_bit | n)
    elif n < 1 << 16:
        out = struct.pack("!BBH", first, mask_bit | 126, n)
    else:
        out = struct.pack("!BBQ", first, mask_bit | 127, n)
    if not frame.masked:
        return out + frame.payload
    key = os.urandom(4)
    mask = (key * (n // 4 + 1))[:n]
    body = (int.from_bytes(frame.payload, "big") ^ int.from_bytes(mask, "big")).to_bytes(n, "big")
    return out + key + body


class WSClient:
    """A WebSocket client on a bare socket: handshake, frames in and out, nothing checked."""

    def __init__(self, port: int, path: str, headers: dict[str, str] | None = None) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=60)
        fields = {
            "Host": "127.0.0.1",
            "Upgrade": "websocket",
            "Connection": "Upgrade",
            "Sec-WebSocket-Key": base64.b64encode(os.urandom(16)).decode(),
            "Sec-WebSocket-Version": "13",
        } | (AUTH if headers is None else headers)
        lines = [f"GET {path} HTTP/1.1"] + [f"{k}: {v}" for k, v in fields.items()]
        self.sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        raw = b""
        while b"\r\n\r\n" not in raw:
            chunk = self.sock.recv(1 << 16)
            if not chunk:
                break
            raw += chunk
        top, _, self.buffer = raw.partition(b"\r\n\r\n")
        self.handshake = parse_reply(raw)
        if self.handshake.status != 101:  # refused: read the rest of the answer
            rest = self.buffer
            try:
                while chunk := self.sock.recv(1 << 16):
                    rest += chunk
            except OSError:
                pass
            self.handshake = parse_reply(top + b"\r\n\r\n" + rest)

    def send(self, frame: Frame) -> None:
        # The server may have closed first; what it said is read next.
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            self.sock.sendall(encode(frame))

    def _read(self, n: int) -> bytes:
        while len(self.buffer) < n:
            chunk = self.sock.recv(1 << 16)
            if not chunk:
                raise ConnectionError("closed without a close frame")
            self.buffer += chunk
        data, self.buffer = self.buffer[:n], self.buffer[n:]
        return data

    def recv(self) -> tuple[int, bytes]:
        first, second = self._read(2)
        n = second & 0x7F
        if n == 126:
            n = struct.unpack("!H", self._read(2))[0]
        elif n == 127:
            n = struct.unpack("!Q", self._read(8))[0]
        assert not second & 0x80, "server frames are never masked"
        return first & 0x0F, self._read(n)

    def recv_data(self) -> tuple[int, bytes]:
        """The next text, binary or close frame (pongs skipped)."""
        while True:
            opcode, payload = self.recv()
            if opcode != PONG:
                return opcode, payload

    def close(self) -> None:
        self.sock.close()


@dataclass(frozen=True)
class WSCase:
    name: str
    path: str
    frames: tuple[Frame, ...] = ()
    errors: tuple[str, ...] = ()  # the JSON error events expected, in order
    close: int | None = None  # the server's close code; None: the session goes on
    refused: int | None = None  # the handshake's HTTP status, when it must be refused
    code: str | None = None  # the refusal's JSON "error"
    headers: dict[str, str] | None = None  # handshake headers (default: the bearer token)
    says: tuple[str, ...] = ()


TTS_OK = json.dumps({"text": "Hi.", "language": "en"})

WS_CASES = [
    WSCase("no token", "/ws", refused=401, code="unauthorized", headers={}),
    WSCase(
        "wrong token in the query", "/ws/tts?token=nope", refused=403, code="forbidden", headers={}
    ),
    WSCase(
        "Basic credentials",
        "/ws/stream",
        refused=401,
        code="unauthorized",
        headers={"Authorization": "Basic Zm9vOmJhcg=="},
    ),
    WSCase("unknown WebSocket path", "/ws/admin", refused=404, code="not_found"),
    WSCase(
        "unknown WebSocket path, no token",
        "/ws/admin",
        refused=401,
        code="unauthorized",
        headers={},
    ),
    # /ws wants one binary WAV
    WSCase(
        "/ws: text instead of audio",
        "/ws",
        (text("hello"),),
        ("invalid_request",),
        says=("binary",),
    ),
    WSCase("/ws: non-audio bytes", "/ws", (binary(NOT_AUDIO),), ("invalid_audio",)),
    WSCase("/ws: WAV header only", "/ws", (binary(SILENCE[:44]),), ("invalid_audio",)),
    WSCase("/ws: empty message", "/ws", (binary(b""),), ("invalid_audio",)),
    WSCase("/ws: silence", "/ws", (binary(SILENCE),), ("invalid_audio",), says=("No speech",)),
    WSCase("/ws: 31 s of audio", "/ws", (binary(LONG_SILENCE),), ("audio_too_long",)),
    WSCase(
        "/ws: unknown language",
        "/ws?language=xx",
        (binary(SILENCE),),
        ("unsupported_language",),
    ),
    WSCase(
        "/ws: three bad messages in a row, each answered",
        "/ws",
        (text("a"), binary(b"b"), text("{}")),
        ("invalid_request", "invalid_audio", "invalid_request"),
    ),
    WSCase(
        "/ws: a message over the cap",
        "/ws",
        (binary(b"\0" * (CAP + 1)),),
        ("payload_too_large",),
        close=1009,
        says=(str(CAP),),
    ),
    WSCase(
        "/ws: a frame over the protocol limit",
        "/ws",
        (binary(b"\0" * (CAP + WS_FRAME_HEADROOM + 1)),),
        close=1009,
    ),
    # /ws/tts wants JSON text
    WSCase("/ws/tts: binary instead of JSON", "/ws/tts", (binary(SPEECH),), ("invalid_request",)),
    WSCase("/ws/tts: malformed JSON", "/ws/tts", (text("{text: hi"),), ("invalid_request",)),
    WSCase("/ws/tts: JSON array", "/ws/tts", (text('["Hi."]'),), ("invalid_request",)),
    WSCase("/ws/tts: JSON nested 100,000 deep", "/ws/tts", (text(DEEP),), ("invalid_request",)),
    WSCase(
        "/ws/tts: unknown field",
        "/ws/tts",
        (text(json.dumps({"text": "Hi.", "admin": True})),),
        ("invalid_request",),
    ),
    WSCase(
        "/ws/tts: speed 0",
        "/ws/tts",
        (text(json.dumps({"text": "Hi.", "speed": 0})),),
        ("invalid_request",),
    ),
    WSCase(
        "/ws/tts: 2,001 characters",
        "/ws/tts",
        (text(json.dumps({"text": "x" * 2001})),),
        ("text_too_long",),
    ),
    WSCase(
        "/ws/tts: NUL in the text",
        "/ws/tts",
        (text(json.dumps({"text": "a\u0000b"})),),
        ("invalid_request",),
    ),
    WSCase(
        "/ws/tts: punctuation only",
        "/ws/tts",
        (text(json.dumps({"text": "?!..."})),),
        ("nothing_to_speak",),
    ),
    WSCase(
        "/ws/tts: language not a tag",
        "/ws/tts",
        (text(json.dumps({"text": "Hi.", "language": "12345"})),),
        ("unsupported_language",),
    ),
    WSCase(
        "/ws/tts: a message over the cap",
        "/ws/tts",
        (text(json.dumps({"text": "x" * (CAP + 1)})),),
        ("payload_too_large",),
        close=1009,
    ),
    # the WebSocket protocol itself
    WSCase(
        "messages after the client's close",
        "/ws/tts",
        (close_frame(1000), text(TTS_OK), binary(SPEECH)),
        close=1000,
    ),
    WSCase("unmasked client frame", "/ws/tts", (text(TTS_OK, masked=False),), close=1002),
    WSCase("invalid UTF-8 in a text frame", "/ws/tts", (text(b"\xff\xfe\xfd"),), close=1007),
    WSCase("reserved opcode 3", "/ws", (Frame(0x3, b"x"),), close=1002),
    WSCase("RSV1 set without an extension", "/ws", (Frame(BINARY, b"x", rsv=4),), close=1002),
    WSCase(
        "continuation with nothing to continue", "/ws", (Frame(CONTINUATION, b"x"),), close=1002
    ),
    WSCase("ping of 200 bytes (over 125)", "/ws", (Frame(PING, b"p" * 200),), close=1002),
    WSCase("fragmented ping", "/ws", (Frame(PING, b"p", fin=False),), close=1002),
    WSCase(
        "a new message inside a fragmented one",
        "/ws/tts",
        (text(TTS_OK[:5], fin=False), text(TTS_OK[5:])),
        close=1002,
    ),
    WSCase("close code 999 (invalid)", "/ws", (close_frame(999),), close=1002),
    WSCase("500 pings", "/ws", (Frame(PING, b"p"),) * 500),
]


def ws_alive(port: int) -> None:
    """A normal /ws/tts request on a fresh session: audio, then {"event": "end"}."""
    client = WSClient(port, "/ws/tts")
    try:
        assert client.handshake.status == 101
        client.send(text(json.dumps({"text": "Still here.", "language": "en"})))
        opcode, audio = client.recv_data()
        assert opcode == BINARY and audio[:4] == b"RIFF"
        while (message := client.recv_data())[0] == BINARY:
            pass
        assert message == (TEXT, b'{"event": "end"}')
        client.send(close_frame())
    finally:
        client.close()


def close_code(payload: bytes) -> int:
    return struct.unpack("!H", payload[:2])[0] if len(payload) >= 2 else 1005


@pytest.mark.parametrize("case", [pytest.param(c, id=c.name) for c in WS_CASES])
def test_hostile_websocket_input_gets_error_events_and_close_codes(server, case):
    client = WSClient(server.port, case.path, case.headers)
    try:
        if case.refused is not None:
            reply = client.handshake
            assert reply.status == case.refused, reply.raw[:300]
            if case.code is not None:
                assert reply.headers.get("content-type") == "application/json"
                assert reply.json()["error"] == case.code
            return
        assert client.handshake.status == 101, client.handshake.raw[:300]
        for frame in case.frames:
            client.send(frame)
        for expected in case.errors:
            opcode, payload = client.recv_data()
            assert opcode == TEXT, (opcode, payload[:200])
            event = json.loads(payload)
            assert event["event"] == "error" and event["error"] == expected, event
            assert event["message"]
            for words in case.says:
                assert words in event["message"], event["message"]
        if case.close is not None:
            opcode, payload = client.recv_data()
            assert (opcode, close_code(payload)) == (CLOSE, case.close), payload
        else:  # the session goes on: a ping is answered, a clean close is echoed
            client.send(Frame(PING, b"still there?"))
            while (answer := client.recv())[0] == PONG and answer[1] != b"still there?":
                pass
            assert answer == (PONG, b"still there?")
            client.send(close_frame(1000))
            opcode, payload = client.recv_data()
            assert (opcode, close_code(payload)) == (CLOSE, 1000)
    finally:
        client.close()
    assert_alive(server.url)
    ws_alive(server.port)


# --- beyond one request at a time ---------------------------------------------------------------


def test_slowloris_connections_do_not_hold_up_others_and_are_cut_off(server):
    """Fifty connections trickling headers: others are served meanwhile; each slow one gets its
    408 (the head timeout), none is held for ever."""
    slow = [socket.create_connection(("127.0.0.1", server.port), timeout=60) for _ in range(50)]
    try:
        for sock in slow:
            sock.sendall(b"POST /generate-voice HTTP/1.1\r\nHost: x\r\n")
        assert_alive(server.url)
        answers = []
        for sock in slow:
            received = b""
            while chunk := sock.recv(1 << 16):
                received += chunk
            answers.append(parse_reply(received))
    finally:
        for sock in slow:
            sock.close()
    assert {(a.status, a.json()["error"]) for a in answers} == {(408, "request_timeout")}
    assert_alive(server.url)


def test_an_idle_kept_alive_connection_is_closed_without_an_answer(server):
    """After a response, a keep-alive connection that sends nothing is closed quietly (no 408
    for a request never started)."""
    with socket.create_connection(("127.0.0.1", server.port), timeout=60) as sock:
        sock.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
        first = b""
        while b'"status"' not in first:
            first += sock.recv(1 << 16)
        rest = b""
        while chunk := sock.recv(1 << 16):
            rest += chunk
    assert parse_reply(first).status == 200
    assert rest == b""


def read_one_reply(sock: socket.socket) -> bytes:
    """One response with a Content-Length, off a kept-alive connection."""
    data = b""
    while b"\r\n\r\n" not in data:
        data += sock.recv(1 << 16)
    length = int(parse_reply(data).headers["content-length"])
    while len(data.partition(b"\r\n\r\n")[2]) < length:
        data += sock.recv(1 << 16)
    return data


def test_a_second_head_trickled_on_a_kept_alive_connection_gets_408(server):
    with socket.create_connection(("127.0.0.1", server.port), timeout=60) as sock:
        sock.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
        assert parse_reply(read_one_reply(sock)).status == 200
        sock.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n")  # and nothing more
        rest = b""
        while chunk := sock.recv(1 << 16):
            rest += chunk
    reply = parse_reply(rest)
    assert (reply.status, reply.json()["error"]) == (408, "request_timeout")


def test_a_connection_that_sends_nothing_is_closed_without_an_answer(server):
    with socket.create_connection(("127.0.0.1", server.port), timeout=60) as sock:
        assert sock.recv(1 << 16) == b""


def test_clients_vanishing_mid_request_leave_no_session_behind(server):
    """WebSocket clients that drop the connection mid-synthesis (no close frame) and HTTP
    clients that hang up mid-body: the service frees everything and serves on."""
    for _ in range(5):
        client = WSClient(server.port, "/ws/tts")
        client.send(text(json.dumps({"text": "A long sentence to keep the voice busy. " * 5})))
        client.close()
        with socket.create_connection(("127.0.0.1", server.port), timeout=60) as sock:
            sock.sendall(head("POST", "/generate-voice", {"Content-Length": "500"}) + b'{"te')
    while metric(server, "fala_voice_active_sessions", route="/ws/tts"):
        time.sleep(0.1)  # a leak fails on the suite's hang guard (pytest-timeout)
    assert metric(server, "fala_voice_active_sessions", route="/ws/tts") == 0
    assert_alive(server.url)


def test_size_and_time_refusals_are_counted(server):
    before = {
        code: metric(server, "fala_voice_errors_total", error=code, route="/generate-voice")
        for code in ("payload_too_large", "request_timeout")
    }
    exchange(server.port, chunked("/generate-voice", b'{"text": "' + OVER_CAP + b'"}'))
    exchange(server.port, (head("POST", "/generate-voice", {"Content-Length": "10"}) + b"{",))
    for code, count in before.items():
        after = metric(server, "fala_voice_errors_total", error=code, route="/generate-voice")
        assert after == count + 1, code


def test_a_storm_of_hostile_requests_then_a_real_spoken_turn(server):
    """Every quick hostile HTTP row eight at a time, twice over; then a whole turn over /ws
    (Whisper → the local LLM → Piper) is answered as usual."""
    quick = [c for c in CASES if not c.pause and c.status != 408]
    errors: list[str] = []

    def fire(case: Case) -> None:
        reply = exchange(server.port, case.parts)
        if reply.status != case.status:
            errors.append(f"{case.name}: {reply.status}")

    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(fire, quick * 2))
    assert errors == []

    client = WSClient(server.port, "/ws?language=en")
    try:
        client.send(binary(SPEECH))
        opcode, payload = client.recv_data()
        assert opcode == TEXT, payload[:300]
        turn = json.loads(payload)
        assert "9" in turn["transcription"] or "nine" in turn["transcription"].lower()
        assert turn["llama"].strip()
        opcode, audio = client.recv_data()
        assert opcode == BINARY and audio[:4] == b"RIFF"
    finally:
        client.close()


# --- a hostile reply from the model -------------------------------------------------------------


class ScriptedLLM:
    """A model whose reply is hostile by construction (real models rarely oblige on demand):
    the same interface as OpenAIChatLLM."""

    name = "scripted"
    model = "scripted"

    def __init__(self, *deltas: str) -> None:
        self.deltas = deltas

    def chat(self, messages):
        return ChatReply("".join(self.deltas))

    def stream(self, messages):
        yield from self.deltas


def test_a_reply_with_control_characters_is_spoken_without_them(stt, piper, llm_url):
    settings = make_settings(llm_url)
    llm = ScriptedLLM("Your room\x00 is ready.\x1b")
    engine = VoiceEngine(settings, Backends(stt=stt, llm=llm, tts=piper), cache=MemoryCache())
    result = engine.turn(SPEECH, "en")
    assert result.wav[:4] == b"RIFF"
    assert result.assistant_text == "Your room\x00 is ready.\x1b"  # reported as the model said it


def test_a_reply_with_nothing_to_speak_is_the_models_failure_not_the_callers(stt, piper, llm_url):
    """503 llm_unavailable (the job worker retries it), not 422 for the caller to fix."""
    settings = make_settings(llm_url)
    llm = ScriptedLLM("?!", "…")
    engine = VoiceEngine(settings, Backends(stt=stt, llm=llm, tts=piper), cache=MemoryCache())
    with pytest.raises(LLMUnavailable, match="nothing to speak") as failed:
        engine.turn(SPEECH, "en")
    assert failed.value.status == 503


def test_a_streamed_reply_skips_fragments_with_nothing_to_speak(serve, stt, piper, llm_url):
    settings = make_settings(llm_url)
    llm = ScriptedLLM("…", " ", "Hello\x00 there.", " ?!")
    app = create_app(settings, Backends(stt=stt, llm=llm, tts=piper), cache=MemoryCache())
    server = serve(app, **uvicorn_options(settings))
    client = WSClient(server.port, "/ws/stream?language=en")
    try:
        client.send(binary(SPEECH))
        events, audio = [], []
        while True:
            opcode, payload = client.recv_data()
            if opcode == BINARY:
                audio.append(payload)
                continue
            events.append(json.loads(payload))
            if events[-1]["event"] in ("end", "error"):
                break
    finally:
        client.close()
    assert events[-1]["event"] == "end", events
    assert len(audio) == 1 and audio[0][:4] == b"RIFF"  # "Hello there." only
