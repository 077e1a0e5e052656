"""The GPU voice service's job worker, beside the emulated pipeline: ECS is not emulated, so the
worker (containers/voice_service, the same code the service runs) consumes the emulated job queue
in a thread, on CPU — faster-whisper base, SmolLM2 behind a local OpenAI-compatible server, Piper.

The worker gets the time settings the ECS task definition gives the container (beat interval,
visibility renewal, back-off), so heartbeats and redelivery behave as deployed. The models load on
the first job only, so runs that never fall back pay nothing.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable
from typing import Any

from fala.core.models import DETAIL_TYPE_VOICE_JOB
from fala.local.assembly import Resolver, Stack


def job_queue_url(stack: Stack, resolver: Resolver) -> str | None:
    """The SQS queue the "Voice Job Requested" rule targets, if the stack has the service."""
    for res in stack.of_type("AWS::Events::Rule").values():
        props = resolver.resolve(res["Properties"])
        if props.get("EventPattern", {}).get("detail-type") != [DETAIL_TYPE_VOICE_JOB]:
            continue
        for target in props.get("Targets", []):
            if target["Arn"].startswith("arn:aws:sqs:"):
                name = target["Arn"].rsplit(":", 1)[-1]
                return f"https://sqs.{resolver.region}.amazonaws.com/{resolver.account}/{name}"
    return None


def worker_environment(stack: Stack, resolver: Resolver) -> dict[str, str]:
    """The environment the voice service's container gets (the task definition's container that
    consumes the job queue), resolved; empty when the stack has no such task."""
    for res in stack.of_type("AWS::ECS::TaskDefinition").values():
        for container in res["Properties"].get("ContainerDefinitions", []):
            env = {e["Name"]: e["Value"] for e in container.get("Environment", [])}
            if "JOB_QUEUE_URL" in env:
                return {name: str(resolver.resolve(value)) for name, value in env.items()}
    return {}


class LocalVoiceWorker:
    """One job worker thread at a time, as one ECS task; `start()` begins another (as ECS replaces
    a task that died). Every worker uses the emulator's clients and shares one engine."""

    def __init__(
        self,
        *,
        sqs: Any,
        s3: Any,
        sfn: Any,
        queue_url: str,
        environment: dict[str, str] | None = None,
    ) -> None:
        self._clients = {"sqs": sqs, "s3": s3, "sfn": sfn}
        self._queue_url = queue_url
        env = environment or {}
        self._timings: dict[str, Any] = {
            name: cast(env[key])
            for name, key, cast in (
                ("heartbeat_seconds", "HEARTBEAT_SECONDS", float),
                ("visibility_seconds", "JOB_VISIBILITY_SECONDS", int),
                ("retry_delay_seconds", "RETRY_DELAY_SECONDS", int),
                ("max_receives", "MAX_RECEIVES", int),
            )
            if key in env
        }
        self._resources = contextlib.ExitStack()
        self._engine: Any = None
        self._lock = threading.Lock()
        self._stops: list[Callable[[], None]] = []
        self.outcomes: list[str] = []  # each handled job's outcome ("succeeded", "error", …)
        self.start()

    @property
    def settings(self) -> dict[str, Any]:
        """The worker's time settings (from the task definition), by JobWorker argument name."""
        return dict(self._timings)

    def start(self) -> None:
        """Start a worker thread (the first one starts with the emulator)."""
        from voice_service.worker import JobWorker, start_in_thread

        worker = JobWorker(
            **self._clients,
            queue_url=self._queue_url,
            turn=self._turn,
            on_outcome=self.outcomes.append,
            **self._timings,
        )
        self._stops.append(start_in_thread(worker, wait_seconds=1))

    def _turn(self, audio: bytes, language: str | None, voice: str | None) -> Any:
        with self._lock:
            if self._engine is None:
                from voice_service.local import local_llm_server, local_settings
                from voice_service.service import build_engine

                llm_url = self._resources.enter_context(local_llm_server())
                self._engine = build_engine(local_settings(llm_url, "local-emulation"))
        return self._engine.turn(audio, language, voice)

    def close(self) -> None:
        for stop in self._stops:
            stop()
        self._resources.close()
