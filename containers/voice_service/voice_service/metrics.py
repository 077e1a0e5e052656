"""Prometheus metrics of one service instance (its own registry, so tests and apps stay apart)."""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)

# Seconds; a turn on CPU takes 1 to 5 s, a GPU stage tens of milliseconds.
BUCKETS = (0.025, 0.05, 0.1, 0.25, 0.5, 0.75, 1.0, 1.5, 2.5, 5.0, 10.0, 30.0, 60.0)
STAGES = ("stt", "llm", "tts")

__all__ = ["CONTENT_TYPE_LATEST", "Metrics"]


class Metrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        r = self.registry
        self.stage_seconds = Histogram(
            "fala_voice_stage_seconds",
            "Latency of one pipeline stage (stt, llm, tts)",
            ["stage", "backend"],
            buckets=BUCKETS,
            registry=r,
        )
        self.turn_seconds = Histogram(
            "fala_voice_turn_seconds",
            "End-to-end latency of a spoken turn (audio in → reply audio out)",
            ["route"],
            buckets=BUCKETS,
            registry=r,
        )
        self.first_audio_seconds = Histogram(
            "fala_voice_time_to_first_audio_seconds",
            "From request received to the first audio byte sent",
            ["route"],
            buckets=BUCKETS,
            registry=r,
        )
        self.errors = Counter(
            "fala_voice_errors", "Errors answered, by error code", ["error", "route"], registry=r
        )
        self.cache = Counter(
            "fala_voice_cache",
            "Cache lookups by cache (synthesis, speaker) and result (hit, miss)",
            ["cache", "result"],
            registry=r,
        )
        self.fallbacks = Counter(
            "fala_voice_backend_fallbacks",
            "Requests a backend failed and its fallback served",
            ["stage", "from_backend", "to_backend"],
            registry=r,
        )
        self.active_sessions = Gauge(
            "fala_voice_active_sessions", "Open WebSocket sessions", ["route"], registry=r
        )
        self.jobs = Counter("fala_voice_jobs", "Pipeline jobs by outcome", ["outcome"], registry=r)
        self.gpu_memory = Gauge(
            "fala_voice_gpu_memory_bytes",
            "CUDA memory allocated by this process (only when torch has a GPU)",
            ["device"],
            registry=r,
        )

    @contextmanager
    def stage(self, stage: str, backend: str) -> Iterator[None]:
        started = time.perf_counter()
        try:
            yield
        finally:
            self.stage_seconds.labels(stage, backend).observe(time.perf_counter() - started)

    def error(self, code: str, route: str) -> None:
        self.errors.labels(code, route).inc()

    def refresh_gpu(self) -> None:
        """GPU memory, when torch is already loaded (XTTS) and sees a device; never imports it."""
        torch = sys.modules.get("torch")
        try:
            if torch is None or not torch.cuda.is_available():
                return
            for index in range(torch.cuda.device_count()):
                self.gpu_memory.labels(str(index)).set(torch.cuda.memory_allocated(index))
        except Exception:  # noqa: S110 - a metric must never break /metrics
            pass

    def render(self) -> bytes:
        self.refresh_gpu()
        return generate_latest(self.registry)
