"""Fallbacks, the XTTS interface (fake engine: no GPU here), caches (memory and real Redis), auth
and settings."""

from __future__ import annotations

import asyncio
import json
import socket
import threading

import httpx
import numpy as np
import pytest
from voice_service.app import create_app
from voice_service.auth import TokenChecker, resolve_token
from voice_service.backends import Backends, FallbackTTS, OpenAIChatLLM, XTTSBackend
from voice_service.backends.tts import dump_latents, load_latents
from voice_service.cache import MemoryCache, RedisCache, cache_key
from voice_service.errors import Forbidden, LLMUnavailable, TTSUnavailable, Unauthorized
from voice_service.local import free_port
from voice_service.metrics import Metrics
from voice_service.settings import VoiceSettings
from voice_testkit import AUTH, fixture_audio, make_llm, make_settings, metric
from websockets.asyncio.client import connect

# --- fakes ---------------------------------------------------------------------------------


class BrokenTTS:
    """A primary TTS that always fails (as XTTS does on CUDA out-of-memory)."""

    name = "xtts"
    model = "broken"
    supports_cloning = True

    def synthesize(self, text, *, language, voice=None, speed=1.0, speaker=None):
        raise RuntimeError("CUDA out of memory")
        yield  # pragma: no cover - a generator

    def speaker_from_sample(self, wav: bytes) -> bytes:
        return b"embedding"


class FakeXTTSEngine:
    """Stands in for coqui's Xtts model: same calls, numpy in and out."""

    sample_rate = 24_000
    languages = frozenset({"en", "pt"})

    def __init__(self) -> None:
        self.latent_calls = 0
        self.streamed: list[tuple[str, str, float, float]] = []

    def latents_from_wav(self, wav_path: str) -> dict[str, np.ndarray]:
        self.latent_calls += 1
        with open(wav_path, "rb") as f:
            size = len(f.read())
        return {
            "gpt_cond_latent": np.full((1, 4, 8), size % 97, np.float32),
            "speaker_embedding": np.ones((1, 16, 1), np.float32),
        }

    def builtin_speaker(self, name: str):
        if name != "Ana Florence":
            return None
        return {
            "gpt_cond_latent": np.zeros((1, 4, 8), np.float32),
            "speaker_embedding": np.zeros((1, 16, 1), np.float32),
        }

    def stream(self, text, language, latents, speed):
        self.streamed.append((text, language, speed, float(latents["gpt_cond_latent"].mean())))
        t = np.arange(self.sample_rate // 4) / self.sample_rate
        for _ in range(2):
            yield (0.2 * np.sin(2 * np.pi * 220 * t)).astype(np.float32)


class FallbackCounter:
    def __init__(self, metrics: Metrics) -> None:
        self.metrics = metrics

    def __call__(self, from_backend: str, to_backend: str) -> None:
        self.metrics.fallbacks.labels("tts", from_backend, to_backend).inc()


def app_with(settings, stt, llm, tts, *, metrics=None, cache=None):
    metrics = metrics or Metrics()
    backends = Backends(stt=stt, llm=llm, tts=tts)
    return create_app(settings, backends, metrics=metrics, cache=cache or MemoryCache())


# --- TTS fallback ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def fallback_server(serve, llm_url, stt, piper):
    metrics = Metrics()
    tts = FallbackTTS(BrokenTTS(), piper, on_fallback=FallbackCounter(metrics))
    settings = make_settings(llm_url)
    return serve(app_with(settings, stt, make_llm(settings), tts, metrics=metrics))


def test_failing_tts_falls_back_to_piper_and_is_counted(fallback_server):
    response = httpx.post(
        f"{fallback_server.url}/generate-voice", json={"text": "Still here."}, headers=AUTH
    )
    assert response.status_code == 200, response.text
    assert response.headers["x-fala-tts-backend"] == "piper"
    labels = {"stage": "tts", "from_backend": "xtts", "to_backend": "piper"}
    assert metric(fallback_server, "fala_voice_backend_fallbacks_total", **labels) == 1
    text = httpx.get(f"{fallback_server.url}/metrics", headers=AUTH).text
    assert 'fala_voice_backend_fallbacks_total{from_backend="xtts",stage="tts"' in text


def test_cloning_cannot_fall_back_to_piper(fallback_server):
    response = httpx.post(
        f"{fallback_server.url}/generate-voice",
        data={"text": "Clone me"},
        files={"sample": ("s.wav", fixture_audio("checkin_9_45_en_piper.wav"), "audio/wav")},
        headers=AUTH,
    )
    assert response.status_code == 503
    assert response.json()["error"] == "tts_unavailable"
    assert "cannot clone" in response.json()["message"]


# --- LLM endpoint down or hanging ----------------------------------------------------------


@pytest.fixture(scope="module")
def hanging_llm():
    """A TCP server that accepts connections and never answers."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(16)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept():
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                held.append(server.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.getsockname()[1]}/v1"
    stop.set()
    thread.join()
    for conn in held:
        conn.close()
    server.close()


@pytest.mark.parametrize("route", ["/ws", "/ws/stream"])
@pytest.mark.parametrize("endpoint", ["down", "hanging"])
def test_llm_unavailable_is_a_clear_error_event_not_a_hang(
    serve, stt, piper, hanging_llm, route, endpoint
):
    url = f"http://127.0.0.1:{free_port()}/v1" if endpoint == "down" else hanging_llm
    settings = make_settings(url, llm_timeout_seconds=1.5, llm_connect_timeout_seconds=1.0)
    server = serve(app_with(settings, stt, make_llm(settings), piper))

    async def turn():
        async with connect(f"{server.ws_url}{route}?language=en", additional_headers=AUTH) as ws:
            await ws.send(fixture_audio("checkin_9_45_en_piper.wav"))
            while True:
                message = await ws.recv()
                if isinstance(message, str) and json.loads(message).get("event") in (
                    "error",
                    "end",
                ):
                    return json.loads(message)

    # A hang would trip wait_for: the error event must come instead.
    event = asyncio.run(asyncio.wait_for(turn(), timeout=30))
    assert event["event"] == "error"
    assert event["error"] == "llm_unavailable"
    assert url.removesuffix("/v1") in event["message"]
    assert metric(server, "fala_voice_errors_total", error="llm_unavailable", route=route) == 1


def test_llm_backend_raises_typed_error_directly():
    llm = OpenAIChatLLM(f"http://127.0.0.1:{free_port()}/v1", "m", timeout=1, connect_timeout=1)
    with pytest.raises(LLMUnavailable, match="could not be reached"):
        llm.chat([{"role": "user", "content": "hi"}])
    with pytest.raises(LLMUnavailable):
        list(llm.stream([{"role": "user", "content": "hi"}]))


def test_real_local_llm_answers_and_streams(llm_url):
    llm = OpenAIChatLLM(llm_url, "SmolLM2-135M-Instruct", max_tokens=20)
    reply = llm.chat([{"role": "user", "content": "Say hello."}])
    assert reply.text and reply.usage.get("completion_tokens", 0) > 0
    assert "".join(llm.stream([{"role": "user", "content": "Say hello."}])).strip()


# --- XTTS through its interface (fake engine) -------------------------------------------------


def test_xtts_backend_speaks_with_builtin_and_cloned_speakers():
    engine = FakeXTTSEngine()
    xtts = XTTSBackend(engine)
    chunks = list(xtts.synthesize("Olá.", language="pt-BR", voice="Nobody", speed=1.1))
    assert [c.sample_rate for c in chunks] == [24_000, 24_000]
    assert chunks[0].voice == "Ana Florence" and chunks[0].backend == "xtts"
    assert engine.streamed[-1][:3] == ("Olá.", "pt", 1.1)

    embedding = xtts.speaker_from_sample(b"RIFF fake wav bytes")
    latents = load_latents(embedding)
    assert set(latents) == {"gpt_cond_latent", "speaker_embedding"}
    cloned = list(xtts.synthesize("Hi.", language="en", speaker=embedding))
    assert cloned[0].voice == "cloned"
    assert engine.streamed[-1][3] == float(latents["gpt_cond_latent"].mean())
    with pytest.raises(TTSUnavailable, match="does not speak"):
        list(xtts.synthesize("Hallo.", language="de"))


def test_latents_round_trip_without_pickle():
    latents = {"a": np.arange(6, dtype=np.float32).reshape(2, 3), "b": np.ones(2, np.float32)}
    back = load_latents(dump_latents(latents))
    assert all(np.array_equal(latents[k], back[k]) for k in latents)


def test_xtts_language_it_lacks_falls_back_to_piper(piper):
    metrics = Metrics()
    tts = FallbackTTS(XTTSBackend(FakeXTTSEngine()), piper, on_fallback=FallbackCounter(metrics))
    chunks = list(tts.synthesize("Guten Tag.", language="de"))
    assert chunks and chunks[0].backend == "piper"
    labels = {"stage": "tts", "from_backend": "xtts", "to_backend": "piper"}
    assert metrics.registry.get_sample_value("fala_voice_backend_fallbacks_total", labels) == 1


def test_voice_cloning_over_http_with_xtts_caches_the_speaker(serve, llm_url, stt, piper):
    engine = FakeXTTSEngine()
    settings = make_settings(llm_url)
    tts = FallbackTTS(XTTSBackend(engine), piper)
    server = serve(app_with(settings, stt, make_llm(settings), tts))
    sample = fixture_audio("checkin_9_45_en_piper.wav")
    for text in ("First line.", "Second line."):
        response = httpx.post(
            f"{server.url}/generate-voice",
            data={"text": text, "language": "pt-BR", "speed": "1.0"},
            files={"sample": ("me.wav", sample, "audio/wav")},
            headers=AUTH,
            timeout=30,
        )
        assert response.status_code == 200, response.text
        assert response.headers["x-fala-voice"] == "cloned"
        assert response.headers["x-fala-tts-backend"] == "xtts"
    assert engine.latent_calls == 1  # the second request reused the cached embedding
    assert metric(server, "fala_voice_cache_total", cache="speaker", result="hit") == 1
    assert httpx.get(f"{server.url}/health").json()["voice_cloning"] is True
    bad = httpx.post(
        f"{server.url}/generate-voice",
        data={"text": "x"},
        files={"sample": ("me.wav", b"not audio", "audio/wav")},
        headers=AUTH,
    )
    assert bad.status_code == 422 and bad.json()["error"] == "invalid_audio"


# --- caches --------------------------------------------------------------------------------


def test_memory_cache_is_bounded_lru():
    cache = MemoryCache(max_items=2, max_bytes=10)
    cache.set("a", b"1234")
    cache.set("b", b"5678")
    assert cache.get("a") == b"1234"  # a is now the most recent
    cache.set("c", b"90")
    assert cache.get("b") is None and len(cache) == 2
    cache.set("d", b"123456")  # over max_bytes together: evict the oldest until it fits
    assert cache.size_bytes <= 10
    cache.set("huge", b"x" * 11)  # larger than the whole cache: not stored
    assert cache.get("huge") is None


def test_cache_key_covers_every_parameter():
    base = {"text": "hi", "language": "en", "voice": None, "speed": 1.0}
    keys = {cache_key("speech", **base)}
    for change in ({"text": "hi!"}, {"language": "pt"}, {"voice": "x"}, {"speed": 1.1}):
        keys.add(cache_key("speech", **{**base, **change}))
    assert len(keys) == 5


def test_redis_cache_round_trip(redis_url):
    cache = RedisCache(redis_url, ttl_seconds=60)
    assert cache.ping()
    cache.set("fala:test", b"\x00bytes")
    assert cache.get("fala:test") == b"\x00bytes"
    assert cache.get("fala:absent") is None


def test_redis_down_degrades_to_misses():
    cache = RedisCache(f"redis://127.0.0.1:{free_port()}/0", timeout=0.2)
    cache.set("k", b"v")  # no exception
    assert cache.get("k") is None and not cache.ping()


def test_synthesis_cache_hit_through_redis(serve, redis_url, llm_url, stt, piper):
    import redis

    settings = make_settings(llm_url, redis_url=redis_url)
    first_server = serve(
        app_with(settings, stt, make_llm(settings), piper, cache=RedisCache(redis_url))
    )
    second_server = serve(
        app_with(settings, stt, make_llm(settings), piper, cache=RedisCache(redis_url))
    )
    body = {"text": "Shared through Redis.", "language": "en"}
    first = httpx.post(f"{first_server.url}/generate-voice", json=body, headers=AUTH, timeout=30)
    # Another instance behind the load balancer finds it.
    second = httpx.post(f"{second_server.url}/generate-voice", json=body, headers=AUTH)
    assert first.headers["x-fala-cache"] == "miss"
    assert second.headers["x-fala-cache"] == "hit"
    assert second.content == first.content
    assert httpx.get(f"{second_server.url}/health").json()["cache"] == "redis"
    keys = redis.Redis.from_url(redis_url).keys("fala:voice:speech:*")
    assert len(keys) >= 1


# --- auth and settings ---------------------------------------------------------------------


def test_token_checker():
    checker = TokenChecker("s3cret")
    checker.check("Bearer s3cret")
    checker.check(None, query_token="s3cret")
    with pytest.raises(Unauthorized):
        checker.check(None)
    with pytest.raises(Unauthorized):
        checker.check("Token s3cret")
    with pytest.raises(Forbidden):
        checker.check("Bearer s3cre")


class FakeSecrets:
    def __init__(self, value: str) -> None:
        self.value = value
        self.asked: list[str] = []

    def get_secret_value(self, SecretId: str):
        self.asked.append(SecretId)
        return {"SecretString": self.value}


def test_token_from_secrets_manager():
    arn = "arn:aws:secretsmanager:us-east-1:123456789012:secret:voice-token"
    settings = VoiceSettings(voice_api_token_secret_arn=arn)
    secrets = FakeSecrets("plain-token\n")
    assert resolve_token(settings, secrets) == "plain-token"
    assert secrets.asked == [arn]
    assert resolve_token(settings, FakeSecrets('{"token": "json-token"}')) == "json-token"
    assert resolve_token(VoiceSettings(voice_api_token="env-token")) == "env-token"
    with pytest.raises(ValueError, match="VOICE_API_TOKEN"):
        resolve_token(VoiceSettings())


def test_settings_from_environment(monkeypatch):
    monkeypatch.setenv("LLM_BASE_URL", "http://localhost:11434/v1")
    monkeypatch.setenv("LLM_MODEL", "llama3.2:3b")
    monkeypatch.setenv("HEARTBEAT_SECONDS", "20")
    monkeypatch.setenv("REDIS_URL", "redis://cache:6379/0")
    monkeypatch.setenv("DEVICE", "cuda")
    settings = VoiceSettings()
    assert settings.llm_model == "llama3.2:3b" and settings.heartbeat_seconds == 20
    assert settings.redis_url == "redis://cache:6379/0" and settings.device == "cuda"
    assert "redis://" not in repr(settings)  # secrets and URLs with passwords stay out of logs
    monkeypatch.setenv("DEVICE", "tpu")
    with pytest.raises(ValueError):
        VoiceSettings()


class RecordingLLM:
    """Notes the chat each turn sends (OpenAIChatLLM's interface) and answers plainly."""

    name = model = "recording"

    def __init__(self) -> None:
        self.chats: list[list[dict[str, str]]] = []

    def chat(self, messages):
        from voice_service.backends.llm import ChatReply

        self.chats.append(messages)
        return ChatReply("Certo.")


@pytest.mark.parametrize(
    ("clip", "asked", "told"),
    [
        ("entrada_13_40_pt.wav", "pt-BR", "Answer in Brazilian Portuguese."),
        ("checkin_9_45_en_piper.wav", "en", "Answer in English."),
        ("checkin_9_45_en_piper.wav", "auto", "Answer in English."),  # as Whisper heard it
    ],
)
def test_the_model_is_told_the_language_of_the_reply(stt, piper, llm_url, clip, asked, told):
    from voice_service.engine import VoiceEngine

    llm = RecordingLLM()
    engine = VoiceEngine(make_settings(llm_url), Backends(stt=stt, llm=llm, tts=piper))
    engine.turn(fixture_audio(clip), asked)
    system = llm.chats[0][0]
    assert system["role"] == "system" and system["content"].endswith(told)
