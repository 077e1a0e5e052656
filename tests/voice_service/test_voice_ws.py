"""WebSocket contracts over real connections (websockets client → uvicorn), real backends."""

from __future__ import annotations

import asyncio
import io
import json
import time
import wave

import pytest
from voice_testkit import AUTH, TOKEN, fixture_audio, metric
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus


def wav_seconds(data: bytes) -> float:
    with wave.open(io.BytesIO(data), "rb") as wav:
        return wav.getnframes() / wav.getframerate()


def run(coro):
    return asyncio.run(asyncio.wait_for(coro, timeout=120))


def test_ws_turn_seed_contract(live):
    async def turn():
        async with connect(f"{live.ws_url}/ws?language=en", additional_headers=AUTH) as ws:
            await ws.send(fixture_audio("checkin_9_45_en_piper.wav"))
            text = json.loads(await ws.recv())
            audio = await ws.recv()
            end = json.loads(await ws.recv())  # the turn is over: no waiting on a silence
            return text, audio, end

    text, audio, end = run(turn())
    assert end == {"event": "end"}
    assert set(text) == {"transcription", "llama"}
    assert "9" in text["transcription"] or "nine" in text["transcription"].lower()
    assert text["llama"].strip()
    assert isinstance(audio, bytes) and audio[:4] == b"RIFF"
    assert wav_seconds(audio) > 0.3
    assert metric(live, "fala_voice_turn_seconds_count", route="/ws") >= 1


def test_ws_bad_audio_is_an_error_event_and_the_session_goes_on(live):
    async def session():
        async with connect(f"{live.ws_url}/ws", additional_headers=AUTH) as ws:
            await ws.send(b"definitely not audio")
            error = json.loads(await ws.recv())
            await ws.send("a text message")
            wrong_type = json.loads(await ws.recv())
            await ws.send(fixture_audio("silence.wav"))
            silence = json.loads(await ws.recv())
            return error, wrong_type, silence

    error, wrong_type, silence = run(session())
    assert error["event"] == "error" and error["error"] == "invalid_audio"
    assert wrong_type["error"] == "invalid_request" and "binary" in wrong_type["message"]
    assert silence["error"] == "invalid_audio" and "No speech" in silence["message"]


@pytest.mark.parametrize(
    ("path", "headers", "status", "code"),
    [
        ("/ws", {}, 401, "unauthorized"),
        ("/ws/tts", {"authorization": "Bearer nope"}, 403, "forbidden"),
        ("/ws/stream?token=nope", {}, 403, "forbidden"),
    ],
)
def test_ws_auth_is_refused_with_json(live, path, headers, status, code):
    async def handshake():
        async with connect(f"{live.ws_url}{path}", additional_headers=headers):
            pass

    with pytest.raises(InvalidStatus) as refused:
        run(handshake())
    response = refused.value.response
    assert response.status_code == status
    assert json.loads(response.body)["error"] == code


def test_ws_token_in_query_for_browsers(live):
    async def session():
        async with connect(f"{live.ws_url}/ws/tts?token={TOKEN}") as ws:
            await ws.send(json.dumps({"text": "Hi.", "language": "en"}))
            first = await ws.recv()
            end = json.loads(await ws.recv())
            return first, end

    first, end = run(session())
    assert first[:4] == b"RIFF" and end == {"event": "end"}


def test_ws_tts_chunks_then_end(live):
    text = "Hello there. Your room is ready. Breakfast is served at seven."

    async def session():
        async with connect(f"{live.ws_url}/ws/tts", additional_headers=AUTH) as ws:
            await ws.send(json.dumps({"text": text, "language": "en"}))
            chunks = []
            while isinstance(message := await ws.recv(), bytes):
                chunks.append(message)
            await ws.send(json.dumps({"text": ""}))
            error = json.loads(await ws.recv())
            return chunks, json.loads(message), error

    chunks, end, error = run(session())
    assert end == {"event": "end"}
    assert len(chunks) == 3  # one WAV per sentence, sent as each is ready
    assert all(c[:4] == b"RIFF" and wav_seconds(c) > 0.3 for c in chunks)
    assert error["error"] in ("invalid_request", "text_too_long")
    assert metric(live, "fala_voice_time_to_first_audio_seconds_count", route="/ws/tts") >= 1


def test_ws_stream_turn_sends_partial_events_and_audio_chunks(live):
    async def session():
        async with connect(f"{live.ws_url}/ws/stream?language=en", additional_headers=AUTH) as ws:
            await ws.send(fixture_audio("checkin_9_45_en_piper.wav"))
            events, chunks = [], []
            while True:
                message = await ws.recv()
                if isinstance(message, bytes):
                    chunks.append(message)
                    continue
                events.append(json.loads(message))
                if events[-1]["event"] in ("end", "error"):
                    return events, chunks

    events, chunks = run(session())
    kinds = [e["event"] for e in events]
    assert kinds[0] == "transcription" and kinds[-1] == "end", events
    assert "llm_delta" in kinds and "llm" in kinds
    deltas = "".join(e["text"] for e in events if e["event"] == "llm_delta")
    assert deltas.strip() == events[-1]["llama"]
    assert chunks and all(c[:4] == b"RIFF" for c in chunks)


def test_concurrent_sessions_all_succeed(live):
    async def one(i: int):
        async with connect(f"{live.ws_url}/ws/tts", additional_headers=AUTH) as ws:
            await ws.send(json.dumps({"text": f"Session number {i}.", "language": "en"}))
            chunks = 0
            while isinstance(await ws.recv(), bytes):
                chunks += 1
            return chunks

    async def many():
        return await asyncio.gather(*(one(i) for i in range(6)))

    assert all(n >= 1 for n in run(many()))
    # The client's close completes when the server echoes it, a moment before the server's
    # session handler returns: wait for the gauge (a leak would never get there).
    while metric(live, "fala_voice_active_sessions", route="/ws/tts"):
        time.sleep(0.05)  # a leak fails on the suite's hang guard (pytest-timeout)
    assert metric(live, "fala_voice_active_sessions", route="/ws/tts") == 0
