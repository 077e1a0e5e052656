"""Hostile requests to the validation Function URL, over real HTTP to `fala serve`'s server.

Each row is one request written byte for byte on a socket (no client library smoothing it over)
and the answer it must get: a 4xx with JSON `{"error", "message"}` whose message says what to fix
— or a 200 where the input, however odd, is valid. Never a 5xx, never a dropped connection, and
the server answers a valid request right after every row.
"""

from __future__ import annotations

import base64
import gzip
import json
import socket
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import pytest

from .conftest import AUDIO, DEMO_WAV, SILENCE_WAV, http_request, patch, send_raw, wav

pytestmark = pytest.mark.e2e

MP3 = (AUDIO / "entrada_13_40_pt.mp3").read_bytes()
OGG = (AUDIO / "entrada_13_40_pt.ogg").read_bytes()
PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(200)


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def body(**fields) -> bytes:
    return json.dumps(fields).encode()


def seed(audio: bytes = SILENCE_WAV, **overrides) -> bytes:
    """The seed contract; silence by default, which the engine answers without running the model
    (a fast, valid 200)."""
    return body(**({"expected_speech": "ENTRADA 13 40", "audio": b64(audio)} | overrides))


def xfail(reason: str):
    return (pytest.mark.xfail(strict=True, reason=reason),)


@dataclass(frozen=True)
class Case:
    name: str
    body: bytes
    status: int
    code: str | None = None  # "error" of a 4xx; None for a 200
    says: tuple[str, ...] = ()  # words the message must contain
    method: str = "POST"
    path: str = "/"
    headers: dict[str, str | None] = field(default_factory=dict)
    raw: bytes | None = None  # the whole request, written as is
    marks: tuple = ()


DEEP_ARRAY = b"[" * 100_000 + b"]" * 100_000
DEEP_OBJECT = b'{"a":' * 50_000 + b"1" + b"}" * 50_000
OVER_6_MB = seed(audio=bytes(4_800_000))  # 6.4 MB once base64-encoded in JSON
GZIP_BOMB = gzip.compress(b"\0" * (50 << 20))  # 50 MB of zeros in ~50 KB


CASES = [
    # --- JSON shape ---------------------------------------------------------------------------
    Case(
        "truncated JSON",
        b'{"expected_speech": "ENTRADA 13 40", "audio": ',
        400,
        "invalid_request",
        ("not valid JSON",),
    ),
    Case("JSON null", b"null", 400, "invalid_request", ("must be a JSON object", "null")),
    Case("JSON string", b'"ENTRADA 13 40"', 400, "invalid_request", ("JSON object",)),
    Case("empty body", b"", 400, "invalid_request", ("no body", "expected_speech")),
    Case(
        "expected_speech is a number",
        body(expected_speech=1340, audio=b64(SILENCE_WAV)),
        400,
        "invalid_request",
        ('"expected_speech"', "a string"),
    ),
    Case(
        "audio is an array",
        body(expected_speech="X", audio=[1, 2, 3]),
        400,
        "invalid_request",
        ('"audio"', "a string"),
    ),
    Case(
        "audio is null",
        body(expected_speech="X", audio=None),
        400,
        "invalid_request",
        ('"audio"', "null"),
    ),
    Case(
        "language is a number", seed(language=55), 400, "invalid_request", ('"language"', "pt-BR")
    ),
    Case(
        "language unsupported",
        seed(language="tlh-Klingon"),
        400,
        "unsupported_language",
        ("pt-BR", "auto"),
    ),
    Case(
        "audio missing",
        body(expected_speech="ENTRADA 13 40"),
        400,
        "invalid_request",
        ('"audio" is required',),
    ),
    Case(
        "expected_speech missing",
        body(audio=b64(SILENCE_WAV)),
        400,
        "invalid_request",
        ('"expected_speech" is required',),
    ),
    Case(
        "prototype-pollution field",
        seed(__proto__={"admin": True}),
        400,
        "invalid_request",
        ("Unknown field", "__proto__", "accepted fields"),
    ),
    Case(
        "JSON nested 100,000 arrays deep", DEEP_ARRAY, 400, "invalid_request", ("not valid JSON",)
    ),
    Case(
        "JSON nested 50,000 objects deep", DEEP_OBJECT, 400, "invalid_request", ("not valid JSON",)
    ),
    Case(
        "duplicate keys: the last one wins, as in every JSON parser",
        b'{"expected_speech": "", "expected_speech": "ENTRADA 13 40", "audio": "'
        + b64(SILENCE_WAV).encode()
        + b'"}',
        200,
    ),
    # --- expected_speech text -----------------------------------------------------------------
    Case(
        "expected_speech of a million characters",
        seed(expected_speech="A" * 1_000_000),
        422,
        "invalid_expected_speech",
        ("1000000 characters", "limit is 200"),
    ),
    Case(
        "expected_speech only whitespace",
        seed(expected_speech=" \t "),
        422,
        "invalid_expected_speech",
        ("empty",),
    ),
    Case(
        "NUL inside expected_speech",
        seed(expected_speech="ENTRADA\x00 13 40"),
        422,
        "invalid_expected_speech",
        ("control characters", "U+0000"),
    ),
    Case(
        "CRLF inside expected_speech",
        seed(expected_speech="ENTRADA\r\nX-Admin: 1"),
        422,
        "invalid_expected_speech",
        ("control characters", "one line"),
    ),
    Case(
        "emoji only", seed(expected_speech="🎉🎤🇧🇷"), 422, "invalid_expected_speech", ("no words",)
    ),
    Case("RTL override around the phrase", seed(expected_speech="\u202eENTRADA 13 40\u202c"), 200),
    Case(
        "lone UTF-16 surrogate (JSON escape)",
        b'{"expected_speech": "ENTRADA \\ud800 13", "audio": "' + b64(SILENCE_WAV).encode() + b'"}',
        200,
    ),
    Case("pt-BR accents, NFD", seed(expected_speech="SAI\u0301DA 13 40 a\u0300s tre\u0302s"), 200),
    Case(
        "Ethiopic digit in expected_speech",
        seed(expected_speech="ENTRADA ፩ 40"),
        200,
    ),
    Case(
        "superscript digits, real speech",
        seed(DEMO_WAV, expected_speech="ENTRADA 13²"),
        200,
    ),
    # --- audio field --------------------------------------------------------------------------
    Case(
        "base64 garbage",
        seed().replace(b64(SILENCE_WAV).encode(), b"!!!!$$$$"),
        400,
        "invalid_request",
        ('"audio" is not valid base64',),
    ),
    Case(
        "base64 of impossible length",
        body(expected_speech="X", audio="QUJD" * 5 + "Q"),
        400,
        "invalid_request",
        ("base64",),
    ),
    Case(
        "data: URL prefix (accepted)",
        body(expected_speech="X", audio="data:audio/wav;base64," + b64(SILENCE_WAV)),
        200,
    ),
    Case(
        "data: URL that is not base64",
        body(expected_speech="X", audio="data:text/plain,hi"),
        400,
        "invalid_request",
        ("base64",),
    ),
    Case(
        "zero-length audio",
        body(expected_speech="X", audio=""),
        400,
        "invalid_request",
        ('"audio" is empty',),
    ),
    Case("PNG bytes", seed(PNG), 422, "invalid_audio", ("PNG", "Send WAV")),
    Case(
        "plain text bytes",
        seed(b"ENTRADA 13 40\n" * 10),
        422,
        "invalid_audio",
        ("could not be decoded", "Send WAV"),
    ),
    Case(
        "WAV truncated to its 44-byte header",
        seed(DEMO_WAV[:44]),
        422,
        "invalid_audio",
        ("no samples",),
    ),
    Case(
        "WAV truncated to 12 bytes", seed(DEMO_WAV[:12]), 422, "invalid_audio", ("look like WAV",)
    ),
    Case("OGG truncated to 100 bytes", seed(OGG[:100]), 422, "invalid_audio", ("OGG",)),
    Case("MP3 truncated to 200 bytes", seed(MP3[:200]), 422, "invalid_audio", ("MP3",)),
    Case(
        "WAV with data size 0xFFFFFFFF (read as streamed WAV)",
        seed(patch(SILENCE_WAV, 40, "<I", 0xFFFFFFFF)),
        200,
    ),
    Case(
        "WAV with sample rate 0",
        seed(patch(DEMO_WAV[:4000], 24, "<I", 0)),
        422,
        "invalid_audio",
        ("could not be decoded",),
    ),
    Case(
        "WAV with 0 channels",
        seed(patch(DEMO_WAV[:4000], 22, "<H", 0)),
        422,
        "invalid_audio",
        ("could not be decoded",),
    ),
    Case(
        "WAV with a 4 GB fmt chunk",
        seed(patch(DEMO_WAV[:4000], 16, "<I", 0xFFFFFFF0)),
        422,
        "invalid_audio",
        ("could not be decoded",),
    ),
    Case("silence", seed(SILENCE_WAV), 200),
    Case(
        "31 s of audio (limit 30 s)",
        seed(wav(31)),
        422,
        "audio_too_long",
        ("limit is 30 s", "shorter"),
    ),
    # --- HTTP ---------------------------------------------------------------------------------
    Case("body over 6 MB", OVER_6_MB, 413, "payload_too_large", ("6,291,456",)),
    Case("PUT", seed(), 405, "method_not_allowed", ("PUT", "POST /"), method="PUT"),
    Case("DELETE", b"", 405, "method_not_allowed", ("DELETE",), method="DELETE"),
    Case("PATCH", seed(), 405, "method_not_allowed", ("PATCH",), method="PATCH"),
    Case("OPTIONS", b"", 405, "method_not_allowed", ("OPTIONS",), method="OPTIONS"),
    Case("wrong path", seed(), 404, "not_found", ("/validate", "POST /"), path="/validate"),
    Case("path traversal", seed(), 404, "not_found", ("/../etc/passwd",), path="/../etc/passwd"),
    Case("query string on / (ignored)", seed(), 200, path="/?debug=true&admin=1"),
    Case(
        "content-type text/plain (read as text)",
        seed(),
        200,
        headers={"Content-Type": "text/plain"},
    ),
    Case(
        "content-type octet-stream (base64-wrapped, like a Function URL)",
        seed(),
        200,
        headers={"Content-Type": "application/octet-stream"},
    ),
    Case("no content-type", seed(), 200, headers={"Content-Type": None}),
    Case(
        "invalid UTF-8 in the JSON",
        b'{"expected_speech": "\xff\xfe", "audio": "AAAA"}',
        400,
        "invalid_request",
        ("UTF-8",),
    ),
    Case(
        "gzip content-encoding (not decompressed)",
        gzip.compress(seed()),
        400,
        "invalid_request",
        ("UTF-8 JSON",),
        headers={"Content-Encoding": "gzip"},
    ),
    Case(
        "gzip bomb: 50 MB of zeros (never inflated)",
        GZIP_BOMB,
        400,
        "invalid_request",
        ("UTF-8 JSON",),
        headers={"Content-Encoding": "gzip"},
    ),
    Case(
        "no Content-Length",
        b"",
        411,
        "length_required",
        ("Content-Length",),
        headers={"Content-Length": None},
    ),
    Case(
        "chunked transfer encoding",
        b"",
        411,
        "length_required",
        ("Content-Length",),
        headers={"Content-Length": None, "Transfer-Encoding": "chunked"},
    ),
    Case(
        "Content-Length not a number",
        b"",
        400,
        "invalid_request",
        ("Content-Length",),
        headers={"Content-Length": "abc"},
    ),
    Case(
        "negative Content-Length",
        b"",
        400,
        "invalid_request",
        ("Content-Length",),
        headers={"Content-Length": "-5"},
    ),
    Case(
        "garbage request line",
        b"",
        400,
        "invalid_request",
        ("POST /",),
        raw=b"GARBAGE\r\n\r\n",
    ),
    Case(
        "unknown HTTP version",
        b"",
        400,
        "invalid_request",
        ("POST /",),
        raw=b"POST / HTTP/9.9\r\nContent-Length: 0\r\n\r\n",
    ),
    Case(
        "unknown method FOO",
        b"",
        405,
        "method_not_allowed",
        ("FOO", "POST /"),
        method="FOO",
    ),
    Case(
        "200 headers",
        b"",
        431,
        "invalid_request",
        ("POST /",),
        raw=b"POST / HTTP/1.1\r\n" + b"".join(b"X-%d: y\r\n" % i for i in range(200)) + b"\r\n",
    ),
    Case(
        "request line over 64 KB",
        b"",
        414,
        "invalid_request",
        ("POST /",),
        raw=b"POST /" + b"a" * 70_000 + b" HTTP/1.1\r\n\r\n",
    ),
]


def send(port: int, case: Case):
    if case.raw is not None:
        return send_raw(port, case.raw)
    return http_request(port, case.body, method=case.method, path=case.path, headers=case.headers)


def assert_alive(port: int) -> None:
    reply = http_request(port, seed(), timeout=30)
    assert reply.status == 200, reply.raw[:300]
    assert reply.json()["reason"] == "no speech"


def test_the_table_has_distinct_names():
    assert len({c.name for c in CASES}) == len(CASES)


@pytest.mark.parametrize("case", [pytest.param(c, id=c.name, marks=c.marks) for c in CASES])
def test_hostile_request_gets_a_clear_answer_and_the_server_lives_on(url_server, case):
    port = url_server.server_port
    reply = send(port, case)

    assert reply.status is not None, f"no HTTP answer: {reply.raw[:200]!r}"
    assert reply.status == case.status, reply.raw[:400]
    if case.method == "HEAD":
        assert reply.body == b""
    else:
        assert reply.headers.get("content-type") == "application/json", reply.raw[:400]
        answer = reply.json()
        if case.status == 200:
            assert isinstance(answer["validated"], bool)
        else:
            assert set(answer) == {"error", "message"}
            assert answer["error"] == case.code
            for words in case.says:
                assert words in answer["message"], answer["message"]
    if case.status == 405:
        assert reply.headers.get("allow") == "POST"
    assert_alive(port)


def test_head_gets_405_with_no_body(url_server):
    reply = http_request(url_server.server_port, method="HEAD", headers={"Content-Length": None})
    assert (reply.status, reply.body, reply.headers["allow"]) == (405, b"", "POST")


def test_a_slow_client_does_not_hold_up_others(url_server):
    port = url_server.server_port
    payload = seed()
    head = (
        f"POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(payload)}\r\nConnection: close\r\n\r\n"
    ).encode()
    answers: dict[str, object] = {}
    mid_body, others_served = threading.Event(), threading.Event()

    def slow() -> None:
        with socket.create_connection(("127.0.0.1", port), timeout=60) as sock:
            sock.sendall(head + payload[: len(payload) // 2])
            mid_body.set()
            others_served.wait(60)  # the rest of the body only once the others were answered
            sock.sendall(payload[len(payload) // 2 :])
            answers["slow"] = sock.recv(1 << 16).split(b" ", 2)[1]

    thread = threading.Thread(target=slow)
    thread.start()
    assert mid_body.wait(30)
    assert_alive(port)  # answered while the slow client is still mid-body
    assert "slow" not in answers
    others_served.set()
    thread.join(60)
    assert answers["slow"] == b"200"


def test_a_stalled_client_does_not_hold_up_others(url_server):
    port = url_server.server_port
    with socket.create_connection(("127.0.0.1", port), timeout=10) as stalled:
        # promises 1,000 bytes, sends 10, then goes silent
        stalled.sendall(b"POST / HTTP/1.1\r\nContent-Length: 1000\r\n\r\n" + b"{" * 10)
        for _ in range(3):
            assert_alive(port)


def test_stalled_connections_are_timed_out(url_server):
    timeout = url_server.RequestHandlerClass.timeout
    assert timeout is not None and timeout <= 60


def test_many_hostile_requests_at_once_then_a_real_validation(url_server):
    port = url_server.server_port
    hostile = [c for c in CASES if not c.marks and c.status != 200 and len(c.body) < 1 << 20]
    errors: list[str] = []

    def fire(case: Case) -> None:
        reply = send(port, case)
        if reply.status != case.status:
            errors.append(f"{case.name}: {reply.status}")

    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(fire, hostile * 2))
    assert errors == []
    # AND the real engine still validates the demo clip afterwards
    reply = http_request(port, seed(DEMO_WAV))
    assert reply.status == 200
    assert reply.json()["validated"] is True
