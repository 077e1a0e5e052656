"""A strict fake of Amazon Nova Sonic, served where the real SDK talks to Bedrock.

The fake is a local HTTPS server speaking HTTP/2 and the AWS event-stream encoding, so the code
under test runs the real `aws-sdk-bedrock-runtime` client on its real CRT transport (SigV4 event
signing, the SDK's 16-chunk send buffer, HTTP/2 flow control) against it. Point the SDK at it with
`AWS_ENDPOINT_URL_BEDROCK_RUNTIME=fake.endpoint` and trust its certificate with
`SSL_CERT_FILE=fake.ca_file` (`fake.env()` has both plus dummy credentials).

Protocol rules enforced (a violation ends the stream with an in-stream ValidationException naming
the rule, and is recorded in `fake.violations`):
- the request: POST /model/{modelId}/invoke-with-bidirectional-stream, SigV4-signed
  (`authorization`, `x-amz-content-sha256: STREAMING-AWS4-HMAC-SHA256-EVENTS`), event-stream type;
  every input message signed (`:date`, `:chunk-signature`) and wrapping a `chunk` event;
- each chunk one JSON object `{"event": {<one name>: {...}}}`;
- order: sessionStart → promptStart → contentStart(TEXT, SYSTEM) → textInput → contentEnd →
  contentStart(AUDIO, USER, interactive) → audioInput… → contentEnd → promptEnd → sessionEnd,
  then the input stream closed; one content open at a time; nothing after sessionEnd;
- promptName / contentName match the open prompt / content; content names are not reused;
- field types and allowed values: inferenceConfiguration (maxTokens int > 0, topP and temperature
  numbers in [0, 1]); text/plain media types; audio/lpcm, sampleRateHertz 8000/16000/24000
  (input 16000), sampleSizeBits 16, channelCount 1, encoding base64, audioType SPEECH; voiceId
  one of the lowercase Nova 2 Sonic voices; audioInput content valid base64 of whole 16-bit
  samples, at most 1 s per event;
- no reply until speech (RMS ≥ 0.02 of full scale over ≥ 0.2 s, computed from the decoded PCM)
  is followed by ≥ 2 s of near-silent samples (RMS < 0.005 per 32 ms window);
- input idle for `input_idle_timeout` s (no events) ends the stream with "Timed out waiting for
  input events", as the service does.

Output (per turn): completionStart, USER FINAL text, usageEvent, ASSISTANT SPECULATIVE text,
ASSISTANT audio (24 kHz 16-bit base64 chunks, usage events interleaved), ASSISTANT FINAL text
ended with END_TURN; completionEnd after promptEnd; end of stream after the input closes (or,
with `linger`, never).

Failure modes (`Scenario.failure`): "throttle" (HTTP 429 ThrottlingException, seen at
await_output), "hang" (the request is accepted and never answered), "silent" (200, then no event
ever), "input_timeout" (in-stream "Timed out waiting for input events" once audio starts),
"end_mid_reply" (the stream ends after the first audio chunk), "stream_error" (in-stream
ModelStreamErrorException), "model_not_found" (404 ResourceNotFoundException), "end_of_life"
(400 ValidationException for a retired model), "unavailable" (503 ServiceUnavailableException),
"stall" (the server stops reading input after a few events: HTTP/2 flow control and the SDK's
send buffer fill up, the client's send blocks).
"""

from __future__ import annotations

import asyncio
import atexit
import base64
import binascii
import contextlib
import datetime
import io
import json
import math
import shutil
import ssl
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

SONIC_2 = "amazon.nova-2-sonic-v1:0"
SONIC_1 = "amazon.nova-sonic-v1:0"  # end of life 2026-09-14
VOICES = frozenset(
    {
        "matthew", "tiffany", "amy", "olivia", "kiara", "arjun", "ambre", "florian", "beatrice",
        "lorenzo", "tina", "greta", "lennart", "lupe", "carlos", "carolina", "leo",
    }
)  # fmt: skip
SAMPLE_RATES = {8000, 16000, 24000}
WINDOW = 512  # 32 ms at 16 kHz
SPEECH_RMS = 0.02
SILENCE_RMS = 0.005
MIN_SPEECH_SECONDS = 0.2
END_SILENCE_SECONDS = 2.0
MAX_AUDIO_EVENT_SECONDS = 1.0

FAILURES = {
    None, "throttle", "hang", "silent", "input_timeout", "end_mid_reply", "stream_error",
    "model_not_found", "end_of_life", "unavailable", "stall",
}  # fmt: skip


@dataclass
class Scenario:
    user_text: str = "Entrada, treze e quarenta."
    speculative_text: str = "Entendido, entrada às treze e quarenta"
    assistant_text: str = "Entendido: entrada às 13h40."
    reply_seconds: float = 1.2
    reply_chunk_seconds: float = 0.1
    reply_pace: float = 0.0  # seconds between output events (0: as fast as the socket takes)
    failure: str | None = None
    input_idle_timeout: float = 3.0
    linger: bool = False  # keep the output open after the client closed its input
    usage_input_speech: int = 120
    usage_input_text: int = 64
    usage_output_speech: int = 90
    usage_output_text: int = 12

    def __post_init__(self) -> None:
        if self.failure not in FAILURES:
            raise ValueError(f"unknown failure mode {self.failure!r}; one of {FAILURES}")


@dataclass
class Record:
    """What one stream received, for assertions."""

    model_id: str = ""
    headers: dict[str, str] = field(default_factory=dict)
    events: list[str] = field(default_factory=list)
    bodies: list[dict[str, Any]] = field(default_factory=list)
    audio: bytearray = field(default_factory=bytearray)
    audio_chunk_bytes: list[int] = field(default_factory=list)
    audio_times: list[float] = field(default_factory=list)
    violations: list[str] = field(default_factory=list)
    replies: int = 0
    input_closed: bool = False
    closed_early: bool = False
    turn_detected_at_seconds: float | None = None  # audio position when the turn was detected

    def first(self, name: str) -> dict[str, Any]:
        return next(b for n, b in zip(self.events, self.bodies, strict=True) if n == name)


class Violation(Exception):
    pass


# --- certificate -----------------------------------------------------------------------------

_CERT_LOCK = threading.Lock()
_CERT: tuple[str, str] | None = None


def _certificate() -> tuple[str, str]:
    """A self-signed certificate for 127.0.0.1/localhost, made once per process (the CRT's TLS
    trust store is read from SSL_CERT_FILE when a TLS context is created)."""
    global _CERT
    with _CERT_LOCK:
        if _CERT is None:
            from cryptography import x509
            from cryptography.hazmat.primitives import hashes, serialization
            from cryptography.hazmat.primitives.asymmetric import ec
            from cryptography.x509.oid import NameOID

            key = ec.generate_private_key(ec.SECP256R1())
            name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
            now = datetime.datetime.now(datetime.UTC)
            import ipaddress

            cert = (
                x509.CertificateBuilder()
                .subject_name(name)
                .issuer_name(name)
                .public_key(key.public_key())
                .serial_number(x509.random_serial_number())
                .not_valid_before(now - datetime.timedelta(days=1))
                .not_valid_after(now + datetime.timedelta(days=7))
                .add_extension(
                    x509.SubjectAlternativeName(
                        [
                            x509.DNSName("localhost"),
                            x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
                        ]
                    ),
                    critical=False,
                )
                .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
                .sign(key, hashes.SHA256())
            )
            folder = Path(tempfile.mkdtemp(prefix="fake-nova-sonic-"))
            atexit.register(shutil.rmtree, folder, ignore_errors=True)  # a key left in /tmp
            cert_file, key_file = folder / "cert.pem", folder / "key.pem"
            cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
            key_file.write_bytes(
                key.private_bytes(
                    serialization.Encoding.PEM,
                    serialization.PrivateFormat.PKCS8,
                    serialization.NoEncryption(),
                )
            )
            _CERT = (str(cert_file), str(key_file))
        return _CERT


# --- event-stream encoding ----------------------------------------------------------------------


def _chunk_message(event: dict[str, Any]) -> bytes:
    from smithy_aws_event_stream.events import EventMessage

    inner = json.dumps({"event": event}).encode()
    payload = json.dumps({"bytes": base64.b64encode(inner).decode()}).encode()
    return EventMessage(
        headers={
            ":message-type": "event",
            ":event-type": "chunk",
            ":content-type": "application/json",
        },
        payload=payload,
    ).encode()


def _exception_message(kind: str, message: str) -> bytes:
    from smithy_aws_event_stream.events import EventMessage

    return EventMessage(
        headers={
            ":message-type": "exception",
            ":exception-type": kind,
            ":content-type": "application/json",
        },
        payload=json.dumps({"message": message}).encode(),
    ).encode()


def _decode_all(buffer: bytearray) -> list[Any]:
    """Complete event-stream messages at the front of `buffer` (consumed), in order."""
    from smithy_aws_event_stream.events import Event

    out = []
    while len(buffer) >= 12:
        total = int.from_bytes(buffer[:4], "big")
        if len(buffer) < total:
            break
        reader = io.BytesIO(bytes(buffer[:total]))
        del buffer[:total]
        event = Event.decode(reader)
        if event is not None:
            out.append(event)
    return out


# --- the conversation a stream carries ----------------------------------------------------------


def _pcm_rms(pcm: np.ndarray) -> float:
    x = pcm.astype(np.float32) / 32768.0
    return float(math.sqrt(float(np.mean(x * x)))) if x.size else 0.0


class _Conversation:
    """The protocol state machine of one stream. `handle` validates one input event and returns
    the output events (dicts) or raises Violation."""

    def __init__(self, scenario: Scenario, record: Record) -> None:
        self.s = scenario
        self.r = record
        self.stage = "start"  # start → session → prompt → (content) → prompt_ended → ended
        self.prompt: str | None = None
        self.open: dict[str, Any] | None = None  # the open content's contentStart body
        self.names: set[str] = set()
        self.system_done = False
        self.voice = "matthew"
        self.session_id = str(uuid.uuid4())
        self.completion_id = str(uuid.uuid4())
        self.pending = np.zeros(0, np.int16)
        self.speech_samples = 0
        self.silence_run = 0
        self.total_samples = 0
        self.replying = False

    # validation helpers
    def _need(self, cond: bool, message: str) -> None:
        if not cond:
            raise Violation(message)

    def _str(self, body: dict[str, Any], key: str, where: str) -> str:
        value = body.get(key)
        self._need(
            isinstance(value, str) and value != "", f"{where}.{key} must be a non-empty string"
        )
        return value  # type: ignore[return-value]

    def _prompt_name(self, body: dict[str, Any], where: str) -> None:
        name = self._str(body, "promptName", where)
        self._need(
            name == self.prompt,
            f"{where}.promptName {name!r} does not match the prompt {self.prompt!r}",
        )

    def _content_name(self, body: dict[str, Any], where: str) -> None:
        self._need(self.open is not None, f"{where} outside any content (no contentStart)")
        name = self._str(body, "contentName", where)
        assert self.open is not None
        self._need(
            name == self.open["contentName"],
            f"{where}.contentName {name!r} does not match the open content "
            f"{self.open['contentName']!r}",
        )

    def _audio_config(self, cfg: Any, where: str, *, rates: set[int], voice: bool) -> None:
        self._need(isinstance(cfg, dict), f"{where} must be an object")
        self._need(cfg.get("mediaType") == "audio/lpcm", f"{where}.mediaType must be audio/lpcm")
        rate = cfg.get("sampleRateHertz")
        self._need(
            type(rate) is int and rate in rates,
            f"{where}.sampleRateHertz must be one of {sorted(rates)}, got {rate!r}",
        )
        self._need(
            cfg.get("sampleSizeBits") == 16 and type(cfg.get("sampleSizeBits")) is int,
            f"{where}.sampleSizeBits must be 16",
        )
        self._need(
            cfg.get("channelCount") == 1 and type(cfg.get("channelCount")) is int,
            f"{where}.channelCount must be 1",
        )
        self._need(cfg.get("encoding") == "base64", f"{where}.encoding must be base64")
        self._need(cfg.get("audioType") == "SPEECH", f"{where}.audioType must be SPEECH")
        if voice:
            v = cfg.get("voiceId")
            self._need(
                isinstance(v, str) and v in VOICES,
                f"{where}.voiceId {v!r} is not a Nova 2 Sonic voice "
                f"(lowercase ids: {sorted(VOICES)})",
            )
            self.voice = v  # type: ignore[assignment]

    def handle(self, name: str, body: dict[str, Any]) -> list[dict[str, Any]]:
        self._need(self.stage != "ended", f"{name} after sessionEnd")
        match name:
            case "sessionStart":
                self._need(self.stage == "start", "sessionStart must be the first event, once")
                cfg = body.get("inferenceConfiguration")
                self._need(isinstance(cfg, dict), "sessionStart.inferenceConfiguration is required")
                mt = cfg.get("maxTokens")
                self._need(
                    type(mt) is int and mt > 0,
                    "inferenceConfiguration.maxTokens must be a positive integer",
                )
                for key in ("topP", "temperature"):
                    v = cfg.get(key)
                    self._need(
                        isinstance(v, (int, float)) and not isinstance(v, bool) and 0 <= v <= 1,
                        f"inferenceConfiguration.{key} must be a number in [0, 1]",
                    )
                self.stage = "session"
            case "promptStart":
                self._need(
                    self.stage == "session",
                    f"promptStart must follow sessionStart (state {self.stage})",
                )
                self.prompt = self._str(body, "promptName", "promptStart")
                toc = body.get("textOutputConfiguration")
                self._need(
                    isinstance(toc, dict) and toc.get("mediaType") == "text/plain",
                    "promptStart.textOutputConfiguration.mediaType must be text/plain",
                )
                self._audio_config(
                    body.get("audioOutputConfiguration"),
                    "promptStart.audioOutputConfiguration",
                    rates=SAMPLE_RATES,
                    voice=True,
                )
                self.stage = "prompt"
            case "contentStart":
                self._need(
                    self.stage == "prompt", f"contentStart outside a prompt (state {self.stage})"
                )
                self._prompt_name(body, "contentStart")
                self._need(
                    self.open is None,
                    f"contentStart while content {self.open and self.open['contentName']!r} "
                    "is still open",
                )
                cname = self._str(body, "contentName", "contentStart")
                self._need(cname not in self.names, f"contentName {cname!r} reused")
                self._need(
                    isinstance(body.get("interactive"), bool),
                    "contentStart.interactive must be a boolean",
                )
                ctype, role = body.get("type"), body.get("role")
                if ctype == "TEXT":
                    self._need(
                        role in {"SYSTEM", "USER", "ASSISTANT"},
                        f"contentStart.role {role!r} not allowed for TEXT",
                    )
                    tic = body.get("textInputConfiguration")
                    self._need(
                        isinstance(tic, dict) and tic.get("mediaType") == "text/plain",
                        "contentStart.textInputConfiguration.mediaType must be text/plain",
                    )
                    if role == "SYSTEM":
                        self._need(not self.system_done, "only one SYSTEM content per prompt")
                        self._need(
                            body["interactive"] is False,
                            "the SYSTEM content must not be interactive",
                        )
                elif ctype == "AUDIO":
                    self._need(
                        self.system_done,
                        "the SYSTEM text content must come before the audio content",
                    )
                    self._need(role == "USER", f"audio content role must be USER, got {role!r}")
                    self._need(body["interactive"] is True, "the audio content must be interactive")
                    self._audio_config(
                        body.get("audioInputConfiguration"),
                        "contentStart.audioInputConfiguration",
                        rates={16000},
                        voice=False,
                    )
                else:
                    raise Violation(f"contentStart.type must be TEXT or AUDIO, got {ctype!r}")
                self.names.add(cname)
                self.open = body
            case "textInput":
                self._prompt_name(body, "textInput")
                self._content_name(body, "textInput")
                assert self.open is not None
                self._need(self.open["type"] == "TEXT", "textInput inside an AUDIO content")
                content = body.get("content")
                self._need(
                    isinstance(content, str) and content.strip() != "",
                    "textInput.content must be non-empty text",
                )
            case "audioInput":
                self._prompt_name(body, "audioInput")
                self._content_name(body, "audioInput")
                assert self.open is not None
                self._need(self.open["type"] == "AUDIO", "audioInput inside a TEXT content")
                return self._audio(body.get("content"))
            case "contentEnd":
                self._prompt_name(body, "contentEnd")
                self._content_name(body, "contentEnd")
                assert self.open is not None
                if self.open["type"] == "TEXT" and self.open["role"] == "SYSTEM":
                    self.system_done = True
                self.open = None
            case "promptEnd":
                self._need(
                    self.stage == "prompt", f"promptEnd outside a prompt (state {self.stage})"
                )
                self._prompt_name(body, "promptEnd")
                self._need(
                    self.open is None, "promptEnd while a content is open (send contentEnd first)"
                )
                self.stage = "prompt_ended"
                return [self._ev("completionEnd", {"stopReason": "END_TURN"})]
            case "sessionEnd":
                self._need(
                    self.stage == "prompt_ended",
                    f"sessionEnd before promptEnd (state {self.stage})",
                )
                self.stage = "ended"
            case _:
                raise Violation(f"unknown input event {name!r}")
        return []

    def _ids(self) -> dict[str, Any]:
        return {
            "sessionId": self.session_id,
            "promptName": self.prompt,
            "completionId": self.completion_id,
        }

    def _ev(self, name: str, body: dict[str, Any]) -> dict[str, Any]:
        return {name: {**self._ids(), **body}}

    def _audio(self, content: Any) -> list[dict[str, Any]]:
        self._need(
            isinstance(content, str) and content != "", "audioInput.content must be base64 text"
        )
        try:
            pcm_bytes = base64.b64decode(content, validate=True)
        except (binascii.Error, ValueError):
            raise Violation("audioInput.content is not valid base64") from None
        self._need(len(pcm_bytes) % 2 == 0, "audioInput.content must hold whole 16-bit samples")
        self._need(
            len(pcm_bytes) <= 2 * 16000 * MAX_AUDIO_EVENT_SECONDS,
            "audioInput.content carries more than 1 s of audio",
        )
        self.r.audio += pcm_bytes
        self.r.audio_chunk_bytes.append(len(pcm_bytes))
        self.r.audio_times.append(time.monotonic())
        if self.s.failure == "input_timeout" and len(self.r.audio_chunk_bytes) >= 3:
            raise _StreamFailure("validationException", "Timed out waiting for input events")
        if self.s.failure == "stream_error" and len(self.r.audio_chunk_bytes) >= 3:
            raise _StreamFailure(
                "modelStreamErrorException",
                "The model stream encountered an error. Retry your request.",
            )
        samples = np.frombuffer(pcm_bytes, dtype="<i2")
        self.pending = np.concatenate([self.pending, samples])
        out: list[dict[str, Any]] = []
        while self.pending.size >= WINDOW:
            window, self.pending = self.pending[:WINDOW], self.pending[WINDOW:]
            self.total_samples += WINDOW
            level = _pcm_rms(window)
            if level >= SPEECH_RMS:
                self.speech_samples += WINDOW
            if level < SILENCE_RMS:
                self.silence_run += WINDOW
            else:
                self.silence_run = 0
            if (
                not self.replying
                and self.speech_samples >= MIN_SPEECH_SECONDS * 16000
                and self.silence_run >= END_SILENCE_SECONDS * 16000
            ):
                self.replying = True
                self.r.turn_detected_at_seconds = self.total_samples / 16000
                out.extend(self._reply())
                # Ready for another turn (fala talk keeps talking).
                self.speech_samples = 0
        return out

    def _reply(self) -> list[dict[str, Any]]:
        s = self.s
        self.r.replies += 1
        user, spec, audio, final = (str(uuid.uuid4()) for _ in range(4))
        text_cfg = {"textOutputConfiguration": {"mediaType": "text/plain"}}

        def stage(name: str) -> str:
            return json.dumps({"generationStage": name})

        def usage(done: float) -> dict[str, Any]:
            total_in = {"speechTokens": s.usage_input_speech, "textTokens": s.usage_input_text}
            total_out = {
                "speechTokens": round(s.usage_output_speech * done),
                "textTokens": round(s.usage_output_text * done),
            }
            return self._ev(
                "usageEvent",
                {
                    "details": {
                        "delta": {
                            "input": {"speechTokens": 0, "textTokens": 0},
                            "output": {"speechTokens": 0, "textTokens": 0},
                        },
                        "total": {"input": total_in, "output": total_out},
                    },
                    "totalInputTokens": sum(total_in.values()),
                    "totalOutputTokens": sum(total_out.values()),
                    "totalTokens": sum(total_in.values()) + sum(total_out.values()),
                },
            )

        out = [
            self._ev("completionStart", {}),
            self._ev(
                "contentStart",
                {
                    "contentId": user,
                    "type": "TEXT",
                    "role": "USER",
                    "additionalModelFields": stage("FINAL"),
                    **text_cfg,
                },
            ),
            self._ev("textOutput", {"contentId": user, "role": "USER", "content": s.user_text}),
            self._ev("contentEnd", {"contentId": user, "type": "TEXT", "stopReason": "END_TURN"}),
            usage(0.0),
            self._ev(
                "contentStart",
                {
                    "contentId": spec,
                    "type": "TEXT",
                    "role": "ASSISTANT",
                    "additionalModelFields": stage("SPECULATIVE"),
                    **text_cfg,
                },
            ),
            self._ev(
                "textOutput",
                {"contentId": spec, "role": "ASSISTANT", "content": s.speculative_text},
            ),
            self._ev(
                "contentEnd", {"contentId": spec, "type": "TEXT", "stopReason": "PARTIAL_TURN"}
            ),
            self._ev(
                "contentStart",
                {
                    "contentId": audio,
                    "type": "AUDIO",
                    "role": "ASSISTANT",
                    "audioOutputConfiguration": {
                        "mediaType": "audio/lpcm",
                        "sampleRateHertz": 24000,
                        "sampleSizeBits": 16,
                        "channelCount": 1,
                        "encoding": "base64",
                        "audioType": "SPEECH",
                        "voiceId": self.voice,
                    },
                },
            ),
        ]
        pcm = reply_pcm(s.reply_seconds)
        step = max(2, int(24000 * s.reply_chunk_seconds) * 2)
        pieces = [pcm[i : i + step] for i in range(0, len(pcm), step)]
        for i, piece in enumerate(pieces):
            out.append(
                self._ev(
                    "audioOutput",
                    {
                        "contentId": audio,
                        "role": "ASSISTANT",
                        "content": base64.b64encode(piece).decode(),
                    },
                )
            )
            if i % 4 == 3:
                out.append(usage((i + 1) / len(pieces)))
            if s.failure == "end_mid_reply" and i == 0:
                out.append({"__end_stream__": True})
                return out
        out += [
            self._ev("contentEnd", {"contentId": audio, "type": "AUDIO", "stopReason": "END_TURN"}),
            self._ev(
                "contentStart",
                {
                    "contentId": final,
                    "type": "TEXT",
                    "role": "ASSISTANT",
                    "additionalModelFields": stage("FINAL"),
                    **text_cfg,
                },
            ),
            self._ev(
                "textOutput", {"contentId": final, "role": "ASSISTANT", "content": s.assistant_text}
            ),
            self._ev("contentEnd", {"contentId": final, "type": "TEXT", "stopReason": "END_TURN"}),
            usage(1.0),
        ]
        return out


class _StreamFailure(Exception):
    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message


def reply_pcm(seconds: float) -> bytes:
    """The fake's reply voice: a 24 kHz 16-bit two-tone hum with an envelope."""
    n = int(24000 * seconds)
    t = np.arange(n) / 24000
    wave_ = 0.3 * np.sin(2 * np.pi * 220 * t) + 0.1 * np.sin(2 * np.pi * 440 * t)
    wave_ *= np.minimum(1.0, np.minimum(t, t[::-1]) * 20) if n else 1.0
    return (wave_ * 32767).astype("<i2").tobytes()


# --- HTTP/2 server ------------------------------------------------------------------------------


class _Connection(asyncio.Protocol):
    def __init__(self, fake: FakeNovaSonic) -> None:
        self.fake = fake
        self.streams: dict[int, _Stream] = {}
        self.window_open = asyncio.Event()

    def connection_made(self, transport: Any) -> None:
        import h2.config
        import h2.connection

        self.transport = transport
        self.conn = h2.connection.H2Connection(
            h2.config.H2Configuration(client_side=False, header_encoding="utf-8")
        )
        self.conn.initiate_connection()
        self.flush()

    def flush(self) -> None:
        data = self.conn.data_to_send()
        if data and not self.transport.is_closing():
            self.transport.write(data)

    def connection_lost(self, exc: Exception | None) -> None:
        for stream in self.streams.values():
            stream.closed = True
            stream.wake.set()
        self.window_open.set()

    def data_received(self, data: bytes) -> None:
        import h2.events
        import h2.exceptions

        try:
            events = self.conn.receive_data(data)
        except h2.exceptions.ProtocolError as exc:
            self.fake._violation(None, f"HTTP/2 protocol error: {exc}")
            self.flush()
            self.transport.close()
            return
        for ev in events:
            if isinstance(ev, h2.events.RequestReceived):
                stream = _Stream(self, ev.stream_id, dict(ev.headers))
                self.streams[ev.stream_id] = stream
                stream.start()
                # The response headers go out now, as a real server's do, not after the input
                # events that arrived in the same read have been checked.
                self.flush()
            elif isinstance(ev, h2.events.DataReceived):
                stream = self.streams.get(ev.stream_id)
                if stream is not None:
                    stream.data(ev.data, ev.flow_controlled_length)
            elif isinstance(ev, h2.events.StreamEnded):
                stream = self.streams.get(ev.stream_id)
                if stream is not None:
                    stream.input_ended()
            elif isinstance(ev, h2.events.StreamReset):
                stream = self.streams.get(ev.stream_id)
                if stream is not None:
                    stream.closed = True
                    stream.wake.set()
            elif isinstance(ev, h2.events.WindowUpdated):
                self.window_open.set()
        self.flush()


class _Stream:
    def __init__(self, conn: _Connection, sid: int, headers: dict[str, str]) -> None:
        self.c = conn
        self.sid = sid
        self.headers = headers
        self.fake = conn.fake
        self.s = self.fake.scenario
        self.record = Record(headers=headers)
        self.fake.records.append(self.record)
        self.conv = _Conversation(self.s, self.record)
        self.buffer = bytearray()
        self.outbox: list[bytes | None] = []
        self.wake = asyncio.Event()
        self.closed = False
        self.responded = False
        self.reading = True
        self.last_input = time.monotonic()
        self.unacked = 0

    # request
    def start(self) -> None:
        h = self.headers
        path = h.get(":path", "")
        parts = path.split("?")[0].split("/")
        model = parts[2].replace("%3A", ":") if len(parts) > 3 else ""
        self.record.model_id = model
        problems = []
        if (
            h.get(":method") != "POST"
            or len(parts) != 4
            or parts[3] != "invoke-with-bidirectional-stream"
        ):
            problems.append(f"unexpected request {h.get(':method')} {path}")
        if not h.get("authorization", "").startswith("AWS4-HMAC-SHA256 Credential="):
            problems.append("request not SigV4-signed")
        if h.get("x-amz-content-sha256") != "STREAMING-AWS4-HMAC-SHA256-EVENTS":
            problems.append("x-amz-content-sha256 must be STREAMING-AWS4-HMAC-SHA256-EVENTS")
        if h.get("content-type") != "application/vnd.amazon.eventstream":
            problems.append("content-type must be application/vnd.amazon.eventstream")
        if problems:
            for p in problems:
                self.fake._violation(self.record, p)
            return self._error_response(400, "ValidationException", "; ".join(problems))
        failure = self.s.failure
        if failure == "hang":
            return  # accepted, never answered
        if failure == "throttle":
            return self._error_response(
                429, "ThrottlingException", "Too many requests, please wait before trying again."
            )
        if failure == "unavailable":
            return self._error_response(
                503, "ServiceUnavailableException", "Service unavailable. Please try again later."
            )
        if failure == "model_not_found":
            return self._error_response(
                404, "ResourceNotFoundException", f"Model {model} not found."
            )
        if failure == "end_of_life" or model == SONIC_1:
            return self._error_response(
                400,
                "ValidationException",
                "This model version has reached the end of its life. "
                "Please refer to the AWS documentation for more details.",
            )
        if model not in self.fake.models:
            return self._error_response(
                400, "ValidationException", "The provided model identifier is invalid."
            )
        self.c.conn.send_headers(
            self.sid,
            [
                (":status", "200"),
                ("content-type", "application/vnd.amazon.eventstream"),
                ("x-amzn-requestid", str(uuid.uuid4())),
            ],
        )
        self.responded = True
        asyncio.get_running_loop().create_task(self._writer())
        asyncio.get_running_loop().create_task(self._watchdog())

    def _error_response(self, status: int, kind: str, message: str) -> None:
        body = json.dumps({"message": message}).encode()
        self.c.conn.send_headers(
            self.sid,
            [
                (":status", str(status)),
                ("content-type", "application/json"),
                (
                    "x-amzn-errortype",
                    f"{kind}:http://internal.amazon.com/coral/com.amazon.bedrock/",
                ),
                ("content-length", str(len(body))),
            ],
        )
        self.c.conn.send_data(self.sid, body, end_stream=True)
        self.closed = True

    # input
    def data(self, data: bytes, flow: int) -> None:
        if self.closed:
            self.c.conn.acknowledge_received_data(flow, self.sid)
            return
        self.last_input = time.monotonic()
        self.buffer += data
        if self.reading:
            self.c.conn.acknowledge_received_data(flow, self.sid)
        else:
            self.unacked += flow
        if not self.responded:
            return
        try:
            for outer in _decode_all(self.buffer):
                self._outer(outer)
        except _StreamFailure as f:
            self._fail(f.kind, f.message)
        except Violation as v:
            self.fake._violation(self.record, str(v))
            self._fail("validationException", str(v))

    def _outer(self, outer: Any) -> None:

        headers = outer.message.headers
        if ":chunk-signature" not in headers or ":date" not in headers:
            raise Violation("input message not signed (:date / :chunk-signature missing)")
        if not outer.message.payload:
            self.record.input_closed = True  # the signed empty end frame
            return
        (inner,) = _decode_all(bytearray(outer.message.payload)) or [None]
        if inner is None:
            raise Violation("signed input message without an inner event")
        ih = inner.message.headers
        if ih.get(":message-type") != "event" or ih.get(":event-type") != "chunk":
            raise Violation(f"input event must be a chunk event, got {ih}")
        try:
            part = json.loads(inner.message.payload)
            doc = json.loads(base64.b64decode(part["bytes"]))
        except (ValueError, KeyError, TypeError, binascii.Error):
            raise Violation("chunk bytes are not a JSON document") from None
        if not (
            isinstance(doc, dict)
            and set(doc) == {"event"}
            and isinstance(doc["event"], dict)
            and len(doc["event"]) == 1
        ):
            raise Violation('a chunk must be exactly {"event": {<one event>: {...}}}')
        ((name, body),) = doc["event"].items()
        if not isinstance(body, dict):
            raise Violation(f"{name} body must be an object")
        self.record.events.append(name)
        self.record.bodies.append(
            body if name != "audioInput" else {k: v for k, v in body.items() if k != "content"}
        )
        if self.s.failure == "stall" and len(self.record.events) >= 8:
            self.reading = False
        if self.s.failure == "silent":
            self.conv_check_only(name, body)
            return
        for out in self.conv.handle(name, body):
            if out.get("__end_stream__"):
                self.outbox.append(None)
            else:
                self.outbox.append(_chunk_message(out))
        self.wake.set()

    def conv_check_only(self, name: str, body: dict[str, Any]) -> None:
        self.conv.handle(name, body)  # validate, never answer

    def input_ended(self) -> None:
        self.record.input_closed = True
        # A client giving up after an error closes without sessionEnd; the service accepts that.
        self.record.closed_early = self.conv.stage != "ended"
        if not self.s.linger:
            self.outbox.append(None)
            self.wake.set()

    def _fail(self, kind: str, message: str) -> None:
        self.outbox.append(_exception_message(kind, message))
        self.outbox.append(None)
        self.wake.set()

    async def _watchdog(self) -> None:
        while not self.closed:
            await asyncio.sleep(0.05)
            if self.conv.stage == "ended" or self.record.input_closed:
                return
            if time.monotonic() - self.last_input > self.s.input_idle_timeout:
                self._fail("validationException", "Timed out waiting for input events")
                return

    async def _writer(self) -> None:
        while not self.closed:
            if not self.outbox:
                self.wake.clear()
                await self.wake.wait()
                continue
            item = self.outbox.pop(0)
            if item is None:
                if not self.closed:
                    self.closed = True
                    try:
                        self.c.conn.end_stream(self.sid)
                        self.c.flush()
                    except Exception:  # the client already reset the stream
                        pass
                return
            await self._send(item)
            if self.s.reply_pace:
                await asyncio.sleep(self.s.reply_pace)

    async def _send(self, data: bytes) -> None:
        conn = self.c.conn
        while data and not self.closed:
            window = min(conn.local_flow_control_window(self.sid), conn.max_outbound_frame_size)
            if window <= 0:
                self.c.window_open.clear()
                await self.c.window_open.wait()
                continue
            piece, data = data[:window], data[window:]
            conn.send_data(self.sid, piece)
            self.c.flush()
            await asyncio.sleep(0)


class FakeNovaSonic:
    """The fake endpoint, served from a background thread. Use as a context manager."""

    def __init__(self, scenario: Scenario | None = None, *, models: set[str] | None = None) -> None:
        self.scenario = scenario or Scenario()
        self.models = models or {SONIC_2}
        self.records: list[Record] = []
        self.violations: list[str] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self.port = 0

    @property
    def endpoint(self) -> str:
        return f"https://127.0.0.1:{self.port}"

    @property
    def ca_file(self) -> str:
        return _certificate()[0]

    @property
    def record(self) -> Record:
        assert self.records, "the fake received no request"
        return self.records[-1]

    def env(self) -> dict[str, str]:
        return {
            "AWS_ENDPOINT_URL_BEDROCK_RUNTIME": self.endpoint,
            "SSL_CERT_FILE": self.ca_file,
            "AWS_ACCESS_KEY_ID": "AKIAFAKESONIC0000000",
            "AWS_SECRET_ACCESS_KEY": "fake-secret",
            "AWS_SESSION_TOKEN": "fake-token",
        }

    def _violation(self, record: Record | None, message: str) -> None:
        self.violations.append(message)
        if record is not None:
            record.violations.append(message)

    def __enter__(self) -> FakeNovaSonic:
        cert, key = _certificate()
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.load_cert_chain(cert, key)
        ctx.set_alpn_protocols(["h2"])
        ready = threading.Event()

        def run() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            server = loop.run_until_complete(
                loop.create_server(lambda: _Connection(self), "127.0.0.1", 0, ssl=ctx)
            )
            self.port = server.sockets[0].getsockname()[1]
            ready.set()
            try:
                loop.run_forever()
            finally:
                for task in asyncio.all_tasks(loop):
                    task.cancel()
                server.close()
                loop.run_until_complete(server.wait_closed())
                loop.close()

        self._thread = threading.Thread(target=run, name="fake-nova-sonic", daemon=True)
        self._thread.start()
        ready.wait(10)
        return self

    def __exit__(self, *exc: object) -> None:
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._loop.stop)
        if self._thread is not None:
            self._thread.join(10)


@contextlib.contextmanager
def running_fake(monkeypatch: Any, **scenario: Any) -> Iterator[FakeNovaSonic]:
    """A started fake with the SDK pointed at it (endpoint, CA file, dummy credentials)."""
    models = scenario.pop("models", None)
    with FakeNovaSonic(Scenario(**scenario), models=models) as fake:
        for key, value in fake.env().items():
            monkeypatch.setenv(key, value)
        monkeypatch.delenv("AWS_PROFILE", raising=False)
        yield fake
