"""HTTP contract over real connections: auth, synthesis, OpenAI routes, errors, metrics."""

from __future__ import annotations

import base64
import io
import wave

import httpx
import pytest
from voice_testkit import AUTH, TOKEN, fixture_audio, metric, refusal

from fala.core.audio import decode_audio


def wav_info(data: bytes) -> tuple[int, float]:
    with wave.open(io.BytesIO(data), "rb") as wav:
        return wav.getframerate(), wav.getnframes() / wav.getframerate()


@pytest.fixture(scope="module")
def client(live):
    with httpx.Client(base_url=live.url, timeout=60) as c:
        yield c


def test_health_needs_no_token(client):
    body = client.get("/health").json()
    assert body["status"] == "ok"
    assert body["tts"].startswith("piper:")
    assert body["voice_cloning"] is False


@pytest.mark.parametrize(
    ("headers", "status", "code"),
    [
        ({}, 401, "unauthorized"),
        ({"authorization": "Basic abc"}, 401, "unauthorized"),
        ({"authorization": "Bearer wrong-token"}, 403, "forbidden"),
        ({"authorization": f"Bearer {TOKEN}x"}, 403, "forbidden"),
    ],
)
@pytest.mark.parametrize("path", ["/metrics", "/generate-voice"])
def test_auth_is_json_401_or_403(client, path, headers, status, code):
    method = client.get if path == "/metrics" else client.post
    response = method(path, headers=headers)
    assert response.status_code == status
    assert response.json()["error"] == code
    assert response.json()["message"]


def test_generate_voice_returns_wav_then_hits_cache(client, live):
    body = {"text": "Your check in is at nine forty five.", "language": "en", "speed": 1.0}
    first = client.post("/generate-voice", json=body, headers=AUTH)
    assert first.status_code == 200, first.text
    assert first.headers["content-type"] == "audio/wav"
    assert first.headers["x-fala-tts-backend"] == "piper"
    assert first.headers["x-fala-voice"] == "en_US-joe-medium"
    assert first.headers["x-fala-cache"] == "miss"
    rate, seconds = wav_info(first.content)
    assert rate == 22050 and 1.0 < seconds < 6.0

    hits = metric(live, "fala_voice_cache_total", cache="synthesis", result="hit")
    again = client.post("/generate-voice", json=body, headers=AUTH)
    assert again.headers["x-fala-cache"] == "hit"
    assert again.content == first.content
    assert metric(live, "fala_voice_cache_total", cache="synthesis", result="hit") == hits + 1
    # Another speed is another cache entry.
    faster = client.post("/generate-voice", json={**body, "speed": 1.5}, headers=AUTH)
    assert faster.headers["x-fala-cache"] == "miss"
    assert wav_info(faster.content)[1] < seconds


@pytest.mark.parametrize(
    ("kwargs", "status", "code"),
    [
        ({"json": {"text": ""}}, 400, "invalid_request"),
        ({"json": {"text": "   "}}, 400, "invalid_request"),
        ({"json": {"text": "hi", "speed": 9}}, 400, "invalid_request"),
        ({"json": {"text": "hi", "colour": "blue"}}, 400, "invalid_request"),
        ({"json": {"text": "x" * 2001}}, 413, "text_too_long"),
        ({"json": {"text": "hi", "language": "not a language"}}, 400, "unsupported_language"),
        (
            {"content": b"{not json", "headers": {"content-type": "application/json"}},
            400,
            "invalid_request",
        ),
        ({"content": b"hello", "headers": {"content-type": "text/plain"}}, 400, "invalid_request"),
    ],
)
def test_generate_voice_bad_input_is_typed_4xx(client, kwargs, status, code):
    headers = {**AUTH, **kwargs.pop("headers", {})}
    response = client.post("/generate-voice", headers=headers, **kwargs)
    assert response.status_code == status, response.text
    assert response.json()["error"] == code


def test_voice_cloning_on_piper_is_a_clear_501(client):
    response = client.post(
        "/generate-voice",
        data={"text": "Hello", "language": "en"},
        files={"sample": ("me.wav", fixture_audio("checkin_9_45_en_piper.wav"), "audio/wav")},
        headers=AUTH,
    )
    assert response.status_code == 501
    assert response.json()["error"] == "voice_cloning_unavailable"
    assert "XTTS" in response.json()["message"]


def test_multipart_without_sample_is_400(client):
    response = client.post(
        "/generate-voice", data={"text": "Hello"}, files={"x": b"1"}, headers=AUTH
    )
    assert response.status_code == 400
    assert "sample" in response.json()["message"]


def test_batch_synthesis(client):
    items = [{"text": "Good morning."}, {"text": "Good night.", "speed": 1.2}]
    response = client.post("/generate-voice/batch", json={"items": items}, headers=AUTH)
    assert response.status_code == 200, response.text
    out = response.json()["items"]
    assert [i["text"] for i in out] == ["Good morning.", "Good night."]
    for item in out:
        assert wav_info(base64.b64decode(item["audio_base64"]))[1] > 0.3


def test_batch_rejects_any_bad_item_before_synthesizing(client):
    response = client.post(
        "/generate-voice/batch", json={"items": [{"text": "ok"}, {"text": " "}]}, headers=AUTH
    )
    assert response.status_code == 400
    assert client.post("/generate-voice/batch", json={"items": []}, headers=AUTH).status_code == 400


def test_openai_speech_in_every_format_openai_offers(client):
    def speech(**fields):
        body = {"model": "tts-1", "input": "Testing one two three.", "voice": "alloy", **fields}
        return client.post("/v1/audio/speech", json=body, headers=AUTH)

    wav = speech(response_format="wav")
    assert wav.status_code == 200, wav.text
    seconds = wav_info(wav.content)[1]
    assert seconds > 0.5
    pcm = speech(response_format="pcm")
    assert pcm.headers["content-type"] == "audio/pcm"
    assert len(pcm.content) == len(wav.content) - 44
    default = speech()  # OpenAI's default is mp3
    assert default.headers["content-type"] == "audio/mpeg"
    for fmt, media_type, magic in [
        ("mp3", "audio/mpeg", (b"ID3", b"\xff\xfb", b"\xff\xf3")),
        ("opus", "audio/ogg", (b"OggS",)),
        ("aac", "audio/aac", (b"\xff\xf1", b"\xff\xf9")),
        ("flac", "audio/flac", (b"fLaC",)),
    ]:
        encoded = speech(response_format=fmt)
        assert encoded.status_code == 200, (fmt, encoded.text)
        assert encoded.headers["content-type"] == media_type
        assert encoded.content.startswith(magic), (fmt, encoded.content[:8])
        # the same speech, decoded as any upload is
        assert abs(decode_audio(encoded.content, max_seconds=60).size / 16_000 - seconds) < 0.15
    ogg = speech(response_format="ogg")
    assert ogg.status_code == 400 and "mp3" in refusal(ogg.json(), "/v1/audio/speech")[1]
    unknown = speech(model="dall-e-3")
    assert unknown.status_code == 400
    assert "/v1/models" in refusal(unknown.json(), "/v1/audio/speech")[1]


def test_openai_models_lists_what_is_served(client):
    listed = client.get("/v1/models", headers=AUTH)
    assert listed.status_code == 200
    ids = [m["id"] for m in listed.json()["data"]]
    assert {"whisper-1", "tts-1"} <= set(ids)
    assert client.get("/v1/models").status_code == 401


def test_openai_transcriptions(client):
    files = {"file": ("clip.wav", fixture_audio("checkin_9_45_en_piper.wav"), "audio/wav")}
    response = client.post(
        "/v1/audio/transcriptions",
        data={"model": "whisper-1", "language": "en", "response_format": "verbose_json"},
        files=files,
        headers=AUTH,
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["language"] == "en"
    assert "9" in body["text"] or "nine" in body["text"].lower()
    text = client.post(
        "/v1/audio/transcriptions", data={"response_format": "text"}, files=files, headers=AUTH
    )
    assert text.headers["content-type"].startswith("text/plain") and text.text.strip()


def test_transcription_of_non_audio_is_422(client):
    files = {"file": ("x.txt", fixture_audio("not_audio.txt"), "text/plain")}
    response = client.post("/v1/audio/transcriptions", files=files, headers=AUTH)
    assert response.status_code == 422
    assert refusal(response.json(), "/v1/audio/transcriptions")[0] == "invalid_audio"


def test_metrics_exposes_stages_errors_cache_and_sessions(client):
    client.post("/generate-voice", json={"text": "Metrics please."}, headers=AUTH)
    client.post("/generate-voice", json={"text": ""}, headers=AUTH)
    response = client.get("/metrics", headers=AUTH)
    assert response.status_code == 200
    text = response.text
    for needle in (
        'fala_voice_stage_seconds_count{backend="piper",stage="tts"}',
        'fala_voice_errors_total{error="invalid_request",route="/generate-voice"}',
        'fala_voice_cache_total{cache="synthesis",result="miss"}',
        "fala_voice_time_to_first_audio_seconds_bucket",
        "fala_voice_turn_seconds",
        "fala_voice_active_sessions",
        "fala_voice_backend_fallbacks_total",
        "fala_voice_gpu_memory_bytes",
    ):
        assert needle in text, needle
