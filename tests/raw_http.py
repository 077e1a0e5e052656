"""HTTP/1.1 answers read off a bare socket, for the hostile suites (the Function URL server in
tests/hostile, the voice service in tests/voice_service): no client library that would refuse
to send, or tidy up, what those tests send and receive."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any


@dataclass
class Reply:
    status: int | None  # None: no status line (the connection closed first)
    headers: dict[str, str]
    body: bytes
    raw: bytes

    def json(self) -> Any:
        return json.loads(self.body)


def parse_reply(raw: bytes) -> Reply:
    head, _, body = raw.partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    if not lines[0].startswith(b"HTTP/"):
        return Reply(None, {}, raw, raw)
    headers = {}
    for line in lines[1:]:
        name, _, value = line.decode("latin-1").partition(":")
        headers[name.strip().lower()] = value.strip()
    if headers.get("transfer-encoding") == "chunked":
        plain = b""
        while body:
            size, _, rest = body.partition(b"\r\n")
            n = int(size, 16)
            if n == 0:
                break
            plain, body = plain + rest[:n], rest[n + 2 :]
        body = plain
    elif "content-length" in headers:
        body = body[: int(headers["content-length"])]
    return Reply(int(lines[0].split()[1]), headers, body, raw)
