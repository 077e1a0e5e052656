"""The voice service on a GPU with its real models: faster-whisper float16, XTTS-v2 (built-in and
cloned voices), the speaker-embedding cache, the GPU memory gauge and a full /ws turn.

Skipped (with the reason) without CUDA, an XTTS-v2 checkpoint or, for the turn, an LLM endpoint:
see conftest.py. Speech is checked by ear, Whisper's: what XTTS says must read back, after
`fala.core.normalize`, as the text it was given (the pipeline's own "match"). Nothing here is
timed: the service's latency on a GPU is read from its /metrics (README, "Verifying on a GPU").
"""

from __future__ import annotations

import asyncio
import io
import json
import wave

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from voice_testkit import AUTH, fixture_audio
from websockets.asyncio.client import connect

from fala.core.audio import decode_audio
from fala.core.normalize import comparison_key, normalize

XTTS_RATE = 24_000  # Piper's voices speak at 22.05 kHz: the rate tells who spoke
SENTENCES = {
    "pt-BR": "A entrada é às treze e quarenta.",
    "en": "Your check in is confirmed for nine forty five.",
}


def key(text: str, language: str) -> str:
    return comparison_key(normalize(text, language))


def wav_info(data: bytes) -> tuple[int, int, float]:
    """(sample rate, channels, seconds) of a WAV."""
    with wave.open(io.BytesIO(data), "rb") as wav:
        return wav.getframerate(), wav.getnchannels(), wav.getnframes() / wav.getframerate()


Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def scrape(server) -> Samples:
    """Every sample of GET /metrics, as a Prometheus server would read it."""
    response = httpx.get(f"{server.url}/metrics", headers=AUTH, timeout=30)
    assert response.status_code == 200, response.text
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(response.text)
        for s in family.samples
    }


def sample(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def tts_fallbacks(samples: Samples) -> float:
    return sample(
        samples,
        "fala_voice_backend_fallbacks_total",
        stage="tts",
        from_backend="xtts",
        to_backend="piper",
    )


def test_whisper_float16_on_cuda_transcribes_the_pt_fixture(gpu_stt):
    assert (gpu_stt.device, gpu_stt.compute_type) == ("cuda", "float16")
    audio = decode_audio(fixture_audio("entrada_13_40_pt.wav"), max_seconds=30)
    heard = gpu_stt.transcribe(audio, "pt")
    assert normalize(heard.text, "pt") == "entrada 13 40", heard.text


def test_service_serves_xtts_on_cuda(gpu_server):
    health = httpx.get(f"{gpu_server.url}/health", timeout=30).json()
    assert health["tts"] == "xtts:xtts-v2", (
        f"XTTS-v2 did not load and {health['tts']} serves instead: see the log above"
    )
    assert health["voice_cloning"] is True
    assert tts_fallbacks(scrape(gpu_server)) == 0
    xtts = gpu_server.app.state.engine.backends.tts.primary
    assert xtts.engine.device == "cuda"
    assert next(xtts.engine.model.parameters()).is_cuda


@pytest.mark.parametrize("language", list(SENTENCES))
def test_xtts_speaks_and_whisper_reads_it_back(gpu_server, language):
    text = SENTENCES[language]
    response = httpx.post(
        f"{gpu_server.url}/generate-voice",
        json={"text": text, "language": language},
        headers=AUTH,
        timeout=300,
    )
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "audio/wav"
    assert response.headers["x-fala-tts-backend"] == "xtts"
    assert response.headers["x-fala-voice"] == "Ana Florence"
    rate, channels, seconds = wav_info(response.content)
    assert (rate, channels) == (XTTS_RATE, 1)
    assert 0.5 < seconds < 15, f"{seconds:.1f} s of audio for one short sentence"

    lang = language[:2]
    heard = gpu_server.app.state.engine.transcribe(response.content, lang)
    assert key(heard.text, lang) == key(text, lang), (
        f"XTTS was given {text!r}; Whisper heard {heard.text!r}"
    )


def test_voice_cloning_over_http_reuses_the_cached_speaker(gpu_server):
    """The reference is a synthetic (espeak-ng) clip, so the clone's accent is odd: each reply
    must still say the time it was given."""
    reference = fixture_audio("checkin_9_45_en.wav")
    before = scrape(gpu_server)
    for text in ("Your check in is confirmed for nine forty five.", "See you at nine forty five."):
        response = httpx.post(
            f"{gpu_server.url}/generate-voice",
            data={"text": text, "language": "en"},
            files={"sample": ("voice.wav", reference, "audio/wav")},
            headers=AUTH,
            timeout=300,
        )
        assert response.status_code == 200, response.text
        assert response.headers["x-fala-voice"] == "cloned"
        assert response.headers["x-fala-tts-backend"] == "xtts"
        assert response.headers["x-fala-cache"] == "miss"  # a new sentence: XTTS spoke it
        rate, _, seconds = wav_info(response.content)
        assert rate == XTTS_RATE and 0.5 < seconds < 15
        heard = gpu_server.app.state.engine.transcribe(response.content, "en")
        assert "945" in key(heard.text, "en"), f"the clone said {text!r}; heard {heard.text!r}"

    after = scrape(gpu_server)

    def lookups(result: str) -> float:
        name, labels = "fala_voice_cache_total", {"cache": "speaker", "result": result}
        return sample(after, name, **labels) - sample(before, name, **labels)

    assert (lookups("miss"), lookups("hit")) == (1, 1)  # the second request reused the embedding
    assert tts_fallbacks(after) == 0


def test_metrics_expose_gpu_memory(gpu_server):
    samples = scrape(gpu_server)
    allocated = sample(samples, "fala_voice_gpu_memory_bytes", device="0")
    assert allocated > 0, "fala_voice_gpu_memory_bytes{device='0'} is absent or 0"


def test_ws_turn_with_the_real_backends(llm_base_url, gpu_server):
    async def turn() -> tuple[dict, bytes]:
        async with connect(
            f"{gpu_server.ws_url}/ws?language=pt-BR", additional_headers=AUTH, max_size=None
        ) as ws:
            await ws.send(fixture_audio("entrada_13_40_pt.wav"))
            text = json.loads(await ws.recv())
            audio = await ws.recv()
            return text, audio

    text, audio = asyncio.run(asyncio.wait_for(turn(), timeout=300))
    assert set(text) == {"transcription", "llama"}, text
    assert normalize(text["transcription"], "pt") == "entrada 13 40", text
    assert text["llama"].strip(), text
    assert isinstance(audio, bytes)
    rate, _, seconds = wav_info(audio)
    assert rate == XTTS_RATE and seconds > 0.3  # XTTS spoke the reply, not Piper
    assert gpu_server.app.state.engine.transcribe(audio, "pt").text.strip()

    samples = scrape(gpu_server)
    assert sample(samples, "fala_voice_turn_seconds_count", route="/ws") >= 1
    assert (
        sample(samples, "fala_voice_stage_seconds_count", stage="llm", backend="openai-chat") >= 1
    )
    assert tts_fallbacks(samples) == 0
