"""The GPU voice service's job worker, beside the emulated pipeline: ECS is not emulated, so the
worker (containers/voice_service, the same code the service runs) consumes the emulated job queue
in a thread, on CPU — faster-whisper base, SmolLM2 behind a local OpenAI-compatible server, Piper.

The models load on the first job only, so runs that never fall back pay nothing.
"""

from __future__ import annotations

import contextlib
import sys
import threading
from collections.abc import Callable
from typing import Any

from fala.core.models import DETAIL_TYPE_VOICE_JOB
from fala.local.assembly import REPO_ROOT, Resolver, Stack

SERVICE_ROOT = REPO_ROOT / "containers" / "voice_service"


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


class LocalVoiceWorker:
    def __init__(self, *, sqs: Any, s3: Any, sfn: Any, queue_url: str) -> None:
        if str(SERVICE_ROOT) not in sys.path:
            sys.path.insert(0, str(SERVICE_ROOT))
        from voice_service.worker import JobWorker, start_in_thread

        self._resources = contextlib.ExitStack()
        self._engine: Any = None
        self._lock = threading.Lock()
        worker = JobWorker(sqs=sqs, s3=s3, sfn=sfn, queue_url=queue_url, turn=self._turn)
        self._stop: Callable[[], None] = start_in_thread(worker, wait_seconds=1)

    def _turn(self, audio: bytes, language: str | None, voice: str | None) -> Any:
        with self._lock:
            if self._engine is None:
                from voice_service.local import local_llm_server, local_settings
                from voice_service.service import build_engine

                llm_url = self._resources.enter_context(local_llm_server())
                self._engine = build_engine(local_settings(llm_url, "local-emulation"))
        return self._engine.turn(audio, language, voice)

    def close(self) -> None:
        self._stop()
        self._resources.close()
