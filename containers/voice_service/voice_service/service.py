"""Building the backends from settings, and the container's entry point (`python -m voice_service`).

GPU image: faster-whisper float16 on CUDA, XTTS-v2 with Piper as its fallback, the Ollama
sidecar's OpenAI-compatible API. Without a GPU: faster-whisper int8, Piper, the same LLM API.
"""

from __future__ import annotations

import logging
import os
import signal
import threading

from voice_service.backends import Backends, FallbackTTS, FasterWhisperSTT, OpenAIChatLLM, PiperTTS
from voice_service.backends.stt import cuda_available
from voice_service.backends.tts import TTSBackend, build_xtts, parse_piper_voices
from voice_service.cache import build_cache
from voice_service.engine import VoiceEngine
from voice_service.metrics import Metrics
from voice_service.settings import VoiceSettings
from voice_service.worker import build_worker, start_in_thread

logger = logging.getLogger(__name__)


IMAGE_WHISPER_DIR = "/opt/models/whisper"  # where the image's build puts the model


def whisper_dir(settings: VoiceSettings) -> str:
    """WHISPER_MODEL_DIR, else the image's folder (`fala voice` passes the checkout's)."""
    return settings.whisper_model_dir or IMAGE_WHISPER_DIR


def build_tts(settings: VoiceSettings, metrics: Metrics) -> TTSBackend:
    piper = PiperTTS(parse_piper_voices(settings.piper_voices), threads=settings.piper_threads)
    gpu = settings.device == "cuda" or (settings.device == "auto" and cuda_available())
    want_xtts = settings.tts_backend == "xtts" or (settings.tts_backend == "auto" and gpu)
    if not want_xtts:
        piper.warm_up()
        return piper
    try:
        xtts = build_xtts(settings.xtts_model_dir, "cuda" if gpu else "cpu")
    except Exception as exc:  # no torch, no model, no GPU memory: Piper serves, counted
        logger.error("XTTS-v2 could not be loaded, Piper serves instead: %s", exc)
        metrics.fallbacks.labels("tts", "xtts", piper.name).inc()
        piper.warm_up()
        return piper
    return FallbackTTS(
        xtts,
        piper,
        on_fallback=lambda a, b: metrics.fallbacks.labels("tts", a, b).inc(),
    )


def build_llm(settings: VoiceSettings) -> OpenAIChatLLM:
    return OpenAIChatLLM(
        settings.llm_base_url,
        settings.llm_model,
        api_key=settings.llm_api_key,
        timeout=settings.llm_timeout_seconds,
        connect_timeout=settings.llm_connect_timeout_seconds,
        max_tokens=settings.llm_max_tokens,
    )


def build_backends(settings: VoiceSettings, metrics: Metrics) -> Backends:
    return Backends(
        stt=FasterWhisperSTT(
            whisper_dir(settings),
            device=settings.device,
            compute_type=settings.whisper_compute_type,
        ),
        llm=build_llm(settings),
        tts=build_tts(settings, metrics),
    )


def build_engine(settings: VoiceSettings) -> VoiceEngine:
    metrics = Metrics()
    cache = build_cache(
        settings.redis_url,
        max_items=settings.cache_max_items,
        max_bytes=settings.cache_max_bytes,
        ttl_seconds=settings.cache_ttl_seconds,
    )
    return VoiceEngine(settings, build_backends(settings, metrics), cache=cache, metrics=metrics)


def build_app(settings: VoiceSettings):
    """The app with real backends; starts the job worker beside it when JOB_QUEUE_URL is set."""
    from voice_service.app import create_app

    metrics = Metrics()
    backends = build_backends(settings, metrics)

    def start_worker(engine: VoiceEngine):
        if not settings.job_queue_url:
            return None
        worker = build_worker(
            settings, engine.turn, on_outcome=lambda o: metrics.jobs.labels(o).inc()
        )
        return start_in_thread(worker)

    return create_app(settings, backends, metrics=metrics, on_startup=start_worker)


def main() -> None:
    import uvicorn

    from voice_service.server import uvicorn_options

    logging.basicConfig(level=os.environ.get("LOG_LEVEL", "INFO"))
    settings = VoiceSettings()
    uvicorn.run(
        build_app(settings),
        host=os.environ.get("HOST", "0.0.0.0"),  # noqa: S104 - a container listens on all
        port=int(os.environ.get("PORT", "8000")),
        # Longer than the ALB's idle timeout (300 s), so the ALB, not the service, closes idle
        # connections: a close racing the ALB's next request would be a 502.
        timeout_keep_alive=310,
        **uvicorn_options(settings),
    )


def worker_main() -> int:
    """Worker only (no HTTP API): `python -m voice_service worker`. The API container runs the
    same worker in a thread when JOB_QUEUE_URL is set."""
    logging.basicConfig(level=os.environ.get("LOG_LEVEL", "INFO"))
    settings = VoiceSettings()
    engine = build_engine(settings)
    worker = build_worker(
        settings, engine.turn, on_outcome=lambda o: engine.metrics.jobs.labels(o).inc()
    )
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())  # ECS stops tasks with SIGTERM
    worker.run(stop)
    return 0
