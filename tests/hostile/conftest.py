"""Fixtures of the hostile-input suite: the real local Function URL server and one emulated
pipeline per module (uploads are batched into it), plus the helpers both tables share.

The app (`stack`) and the server (`url_server`) are the suite-wide fixtures of tests/conftest.py.
"""

from __future__ import annotations

import io
import socket
import struct
import wave
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from raw_http import Reply, parse_reply

from fala.local.emulator import LocalPipeline
from fala.model_store import whisper_model_dir

AUDIO = Path(__file__).resolve().parents[1] / "fixtures" / "audio"
DEMO_WAV = (AUDIO / "entrada_13_40_pt.wav").read_bytes()
SILENCE_WAV = (AUDIO / "silence.wav").read_bytes()  # 2 s of silence: no model run, fast answers
# Smaller than the default 20 MB so "over the limit" needs ~1 MB, not 20, in moto.
MAX_UPLOAD_BYTES = 1_000_000


def wav(seconds: float, *, rate: int = 8000, width: int = 1) -> bytes:
    """A silent PCM WAV of the given length (8 kHz, 8-bit by default: 8 KB a second)."""
    out = io.BytesIO()
    with wave.open(out, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(width)
        w.setframerate(rate)
        w.writeframes((b"\x80" if width == 1 else b"\x00" * width) * int(seconds * rate))
    return out.getvalue()


def patch(data: bytes, offset: int, fmt: str, value: int) -> bytes:
    """`data` with one little-endian field overwritten (for absurd WAV headers)."""
    packed = struct.pack(fmt, value)
    return data[:offset] + packed + data[offset + len(packed) :]


# --- raw HTTP ----------------------------------------------------------------------------------


def send_raw(port: int, data: bytes, *, timeout: float = 120.0) -> Reply:
    """Write `data` as is (no client-side validation of the request) and read until close."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(data)
        chunks = []
        while chunk := sock.recv(1 << 16):
            chunks.append(chunk)
    return parse_reply(b"".join(chunks))


def http_request(
    port: int,
    body: bytes = b"",
    *,
    method: str = "POST",
    path: str = "/",
    headers: dict[str, str] | None = None,
    timeout: float = 120.0,
) -> Reply:
    """One HTTP/1.1 request with Content-Length and `Connection: close` unless overridden."""
    fields = {
        "Host": "127.0.0.1",
        "Content-Type": "application/json",
        "Content-Length": str(len(body)),
        "Connection": "close",
    } | (headers or {})
    head = f"{method} {path} HTTP/1.1\r\n"
    head += "".join(f"{k}: {v}\r\n" for k, v in fields.items() if v is not None)
    return send_raw(port, head.encode("latin-1") + b"\r\n" + body, timeout=timeout)


# --- batched uploads through the emulated pipeline ---------------------------------------------


@dataclass
class UploadOutcome:
    key: str
    execution_names: list[str]
    statuses: list[str]
    result: dict[str, Any] | None
    events: list[dict[str, Any]] = field(default_factory=list)


@pytest.fixture(scope="module")
def upload_pipeline(stack, tmp_path_factory):
    overrides = {
        "WHISPER_MODEL_DIR": str(whisper_model_dir()),
        "MAX_UPLOAD_BYTES": str(MAX_UPLOAD_BYTES),
    }
    work_dir = tmp_path_factory.mktemp("pipeline")
    with LocalPipeline(stack, work_dir=work_dir, env_overrides=overrides) as emulated:
        yield emulated


def run_uploads(pipeline: LocalPipeline, uploads: list[dict[str, Any]]) -> dict[str, Any]:
    """Upload everything, optionally tamper (`before_delivery(pipeline, key)`), deliver the
    events in one go, wait for every execution; return per key what came out, plus the raw
    deliveries and outcome events so callers can check that nothing is lost or doubled."""
    for upload in uploads:
        pipeline.upload(upload["body"], key=upload["key"], metadata=upload["metadata"])
    for upload in uploads:
        if upload.get("before_delivery"):
            upload["before_delivery"](pipeline, upload["key"])
    deliveries = pipeline.deliver_events()
    names: dict[str, list[str]] = {}
    for delivery in deliveries:
        assert not delivery["error"], f"the start Lambda failed: {delivery['response']}"
        key = delivery["event"]["detail"]["object"]["key"]
        names.setdefault(key, []).append(delivery["response"]["execution_name"])
    prefix = pipeline.state_machine_arn.replace(":stateMachine:", ":execution:")
    statuses = {
        name: pipeline.wait(f"{prefix}:{name}", timeout=300)
        for key_names in names.values()
        for name in key_names
    }
    events = pipeline.outcome_events()
    outcomes = {}
    for upload in uploads:
        key = upload["key"]
        outcomes[key] = UploadOutcome(
            key=key,
            execution_names=names.get(key, []),
            statuses=[statuses[n] for n in names.get(key, [])],
            result=pipeline.result_document(key),
            events=[e for e in events if e["detail"]["upload"]["key"] == key],
        )
    return {"outcomes": outcomes, "deliveries": deliveries, "events": events}
