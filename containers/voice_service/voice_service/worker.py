"""The pipeline's job worker: SQS job → S3 audio → STT → LLM → TTS → S3 reply → task token.

Message contract (infra/constructs/voice_jobs.py): the SQS body is the EventBridge event
`{"version","id","detail-type":"Voice Job Requested","source":"fala.pipeline",…,"detail":{…}}`
with `detail = {"task_token", "execution", "job": fala.core.models.Job, "results_bucket"}`.

Outcomes, per message:
- success → reply WAV at `results_bucket/reply_audio_key(job.upload.key)`, SendTaskSuccess with a
  `Conversation(backend="gpu-service")`, message deleted;
- a user error (a FalaError with a 4xx status: InvalidAudio, AudioTooLong, UploadNotFound, …) →
  SendTaskFailure(error=<class name>, cause=<message>), message deleted; the name is always one
  of the shared registry (fala.core.errors), an HTTP-only error's nearest registered base;
- a backend outage (BackendUnavailable: LLM/STT/TTS down) → the message comes back after
  RETRY_DELAY_SECONDS x receive count; on its MAX_RECEIVES-th delivery the task is failed with the
  class name (LLMUnavailable, …) and the message deleted, so the execution learns why at once;
- an unexpected exception (a bug, a crash, the worker killed) → the message is left: it comes back
  after the retry delay (or the queue's visibility timeout if the worker died) and the queue's
  redrive policy moves it to the DLQ after maxReceiveCount deliveries; the state machine's
  HeartbeatSeconds/TimeoutSeconds end the task;
- a malformed message (not JSON, not an event, no task token) → logged and left, so it reaches the
  DLQ after maxReceiveCount deliveries (there is no token to fail, and deleting it would hide it);
- the token already answered or timed out (TaskTimedOut, InvalidToken, TaskDoesNotExist from a
  heartbeat or SendTask*) → message deleted without (more) work: a redelivered job completes once.
A heartbeat thread calls SendTaskHeartbeat every HEARTBEAT_SECONDS while a job runs, and renews the
message's visibility (JOB_VISIBILITY_SECONDS) with each beat: the queue's visibility timeout is
shorter than the task's HeartbeatSeconds (infra/constructs/voice_jobs.py JobTimings), so a job
whose worker died is visible again while its task still waits, and the next worker takes it over.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from pydantic import ValidationError

from fala.core.correlation import correlation_id
from fala.core.errors import (
    BackendUnavailable,
    FalaError,
    InvalidRequest,
    registered_type,
)
from fala.core.models import (
    Conversation,
    Job,
    S3Ref,
    Usage,
    reply_audio_key,
)
from fala.core.uploads import read_upload

logger = logging.getLogger(__name__)

# Step Functions' answers for a token that can no longer be answered.
GONE_ERRORS = frozenset({"TaskTimedOut", "InvalidToken", "TaskDoesNotExist"})
CAUSE_LIMIT = 32_768  # SendTaskFailure's cause limit (characters)


class TurnOutput(Protocol):
    user_text: str
    assistant_text: str
    wav: bytes
    language: str
    model: str
    voice: str


Turn = Callable[[bytes, str | None, str | None], TurnOutput]


class MalformedJob(Exception):
    """The message is not a voice job the worker can answer."""


class TokenGone(Exception):
    """The task token was already answered, or the task timed out."""


@dataclass(frozen=True)
class JobMessage:
    receipt_handle: str
    message_id: str
    receive_count: int
    task_token: str
    execution: str
    job: Job | None  # None when the job document itself is invalid (→ typed failure)
    job_error: str | None
    results_bucket: str


def parse_message(message: dict[str, Any]) -> JobMessage:
    """The job inside an SQS message; MalformedJob when there is no task token to answer."""
    try:
        event = json.loads(message.get("Body") or "")
    except ValueError as exc:
        raise MalformedJob(f"body is not JSON: {exc}") from exc
    if not isinstance(event, dict) or not isinstance(event.get("detail"), dict):
        raise MalformedJob("body is not an EventBridge event with a `detail` object")
    detail = event["detail"]
    token = detail.get("task_token")
    if not isinstance(token, str) or not token:
        raise MalformedJob("detail has no task_token")
    job: Job | None = None
    job_error: str | None = None
    try:
        job = Job.model_validate(detail.get("job"))
    except ValidationError as exc:
        job_error = (
            f"The voice job document is invalid: {exc.error_count()} error(s): "
            + "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()[:5])
        )
    bucket = detail.get("results_bucket")
    if job is not None and (not isinstance(bucket, str) or not bucket):
        job, job_error = None, "The voice job has no results_bucket to write the reply to."
    attributes = message.get("Attributes") or {}
    return JobMessage(
        receipt_handle=message["ReceiptHandle"],
        message_id=message.get("MessageId", ""),
        receive_count=int(attributes.get("ApproximateReceiveCount", "1")),
        task_token=token,
        execution=str(detail.get("execution") or ""),
        job=job,
        job_error=job_error,
        results_bucket=bucket if isinstance(bucket, str) else "",
    )


def _error_code(exc: Exception) -> str | None:
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        return response.get("Error", {}).get("Code")
    return None


class Heartbeat:
    """SendTaskHeartbeat every `interval` seconds until stopped; notes when the token is gone.
    `renew` (if given) runs with each beat: it keeps the SQS message invisible while we work."""

    def __init__(
        self, sfn, token: str, interval: float, renew: Callable[[], None] | None = None
    ) -> None:
        self._sfn = sfn
        self._token = token
        self._interval = interval
        self._renew = renew
        self._stop = threading.Event()
        self.gone = threading.Event()
        self._thread = threading.Thread(target=self._run, name="voice-job-heartbeat", daemon=True)

    def beat(self) -> None:
        try:
            self._sfn.send_task_heartbeat(taskToken=self._token)
        except Exception as exc:
            if _error_code(exc) in GONE_ERRORS:
                self.gone.set()
                raise TokenGone(_error_code(exc)) from exc
            logger.warning("Task heartbeat failed (will retry): %s", exc)
        if self._renew is not None:
            try:
                self._renew()
            except Exception as exc:  # the next beat tries again
                logger.warning("Renewing the job's visibility failed (will retry): %s", exc)

    def first_beat(self, *, attempts: int = 4, pause: float = 0.25) -> None:
        """The beat before any work. A job can outrun its task's registration (the event is
        queued as the task starts; seen in the emulation), so an unknown token is asked about a
        few times before the job is taken as already answered."""
        for attempt in range(attempts):
            try:
                return self.beat()
            except TokenGone as gone:
                if str(gone) == "TaskTimedOut" or attempt == attempts - 1:
                    raise
                self.gone.clear()
                time.sleep(pause)

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            try:
                self.beat()
            except TokenGone:
                return

    def __enter__(self) -> Heartbeat:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)


class JobWorker:
    """Consumes voice jobs. Works with any boto3-compatible clients (moto in tests and the local
    emulation); needs no web framework."""

    def __init__(
        self,
        *,
        sqs,
        s3,
        sfn,
        queue_url: str,
        turn: Turn,
        heartbeat_seconds: float = 20.0,
        visibility_seconds: int | None = None,
        retry_delay_seconds: int = 10,
        max_receives: int = 3,
        max_audio_bytes: int = 20 * 1024 * 1024,
        backend_errors: tuple[type[Exception], ...] | None = None,
        on_outcome: Callable[[str], None] | None = None,
    ) -> None:
        self.sqs = sqs
        self.s3 = s3
        self.sfn = sfn
        self.queue_url = queue_url
        self.turn = turn
        self.heartbeat_seconds = heartbeat_seconds
        # Renewed with each beat; None leaves the queue's visibility timeout alone.
        self.visibility_seconds = visibility_seconds
        self.retry_delay_seconds = retry_delay_seconds
        self.max_receives = max_receives
        self.max_audio_bytes = max_audio_bytes
        self.backend_errors = (BackendUnavailable,) if backend_errors is None else backend_errors
        self._on_outcome = on_outcome or (lambda _outcome: None)

    # --- the loop ---------------------------------------------------------------------------

    def poll_once(self, wait_seconds: int = 10) -> int:
        """Receive at most one message and handle it; the number of messages handled."""
        response = self.sqs.receive_message(
            QueueUrl=self.queue_url,
            MaxNumberOfMessages=1,
            WaitTimeSeconds=wait_seconds,
            MessageSystemAttributeNames=["ApproximateReceiveCount"],
        )
        messages = response.get("Messages") or []
        for message in messages:
            self.handle(message)
        return len(messages)

    def run(self, stop: threading.Event, wait_seconds: int = 10) -> None:
        """Poll until `stop` is set (checked between long polls)."""
        while not stop.is_set():
            try:
                self.poll_once(wait_seconds=wait_seconds)
            except Exception:
                logger.exception("Polling the job queue failed; retrying")
                stop.wait(min(self.retry_delay_seconds, 5))

    # --- one message ------------------------------------------------------------------------

    def handle(self, message: dict[str, Any]) -> str:
        """Process one SQS message; returns the outcome (also passed to `on_outcome`)."""
        outcome = self._handle(message)
        self._on_outcome(outcome)
        return outcome

    def _handle(self, message: dict[str, Any]) -> str:
        try:
            msg = parse_message(message)
        except (MalformedJob, KeyError) as exc:
            logger.error(
                "Malformed voice job message %s left for the DLQ: %s",
                message.get("MessageId"),
                exc,
            )
            return "malformed"
        log = {"execution": msg.execution, "message_id": msg.message_id}
        if msg.job is not None:  # the run's correlation id, as in the pipeline's Lambda logs
            log["correlation_id"] = correlation_id(msg.job.upload.bucket, msg.job.upload.key)
        heartbeat = Heartbeat(
            self.sfn, msg.task_token, self.heartbeat_seconds, renew=self._renewal(msg)
        )
        try:
            heartbeat.first_beat()  # a redelivered job whose token is already answered stops here
            if msg.job is None:
                raise InvalidRequest(msg.job_error or "The voice job document is invalid.")
            with heartbeat:
                conversation = self._work(msg.job, msg.results_bucket)
            self._answer(
                self.sfn.send_task_success,
                taskToken=msg.task_token,
                output=conversation.model_dump_json(exclude_none=True),
            )
        except TokenGone as gone:
            logger.info(
                "Task token already answered or timed out (%s); dropping job", gone, extra=log
            )
            self._delete(msg)
            return "already_done"
        except FalaError as exc:
            backend = isinstance(exc, self.backend_errors)
            if backend and msg.receive_count < self.max_receives:
                logger.warning(
                    "Backend unavailable (delivery %d of %d), retrying later: %s",
                    msg.receive_count,
                    self.max_receives,
                    exc,
                    extra=log,
                )
                self._retry_later(msg)
                return "retry"
            return self._fail(msg, exc, log)
        except Exception:
            logger.exception(
                "Voice job failed unexpectedly (delivery %d); left for redelivery",
                msg.receive_count,
                extra=log,
            )
            self._retry_later(msg)
            return "error"
        self._delete(msg)
        logger.info("Voice job answered", extra=log)
        return "succeeded"

    def _fail(self, msg: JobMessage, exc: FalaError, log: dict[str, str]) -> str:
        try:
            self._answer(
                self.sfn.send_task_failure,
                taskToken=msg.task_token,
                # A name the pipeline's registry knows, so the result document explains it.
                error=registered_type(exc).__name__,
                cause=exc.message[:CAUSE_LIMIT],
            )
        except TokenGone:
            self._delete(msg)
            return "already_done"
        logger.info("Voice job failed: %s: %s", type(exc).__name__, exc.message, extra=log)
        self._delete(msg)
        return "failed"

    def _answer(self, call: Callable[..., Any], **kwargs: Any) -> None:
        try:
            call(**kwargs)
        except Exception as exc:
            if _error_code(exc) in GONE_ERRORS:
                raise TokenGone(_error_code(exc)) from exc
            raise

    def _work(self, job: Job, results_bucket: str) -> Conversation:
        started = time.perf_counter()  # the job's GPU time: read, turn, reply written
        audio = self._read_audio(job)
        result = self.turn(audio, job.language, job.voice)
        key = reply_audio_key(job.upload.key)
        self.s3.put_object(Bucket=results_bucket, Key=key, Body=result.wav, ContentType="audio/wav")
        usage = getattr(result, "usage", None) or {}
        seconds = time.perf_counter() - started
        logger.info("Voice job took %.2f s", seconds)
        return Conversation(
            user_text=result.user_text,
            assistant_text=result.assistant_text,
            reply_audio=S3Ref(bucket=results_bucket, key=key),
            backend="gpu-service",
            model=result.model,
            voice=result.voice,
            language=result.language,
            usage=Usage(
                input_speech_tokens=0,
                input_text_tokens=int(usage.get("prompt_tokens", 0)),
                output_speech_tokens=0,
                output_text_tokens=int(usage.get("completion_tokens", 0)),
            )
            if usage
            else None,
            cost_usd=None,  # self-hosted: priced from gpu_seconds by the pipeline's Publish step
            gpu_seconds=round(seconds, 3),
        )

    def _read_audio(self, job: Job) -> bytes:
        return read_upload(self.s3, job.upload, max_bytes=self.max_audio_bytes)

    def _renewal(self, msg: JobMessage) -> Callable[[], None] | None:
        if self.visibility_seconds is None:
            return None
        seconds = self.visibility_seconds

        def renew() -> None:
            self.sqs.change_message_visibility(
                QueueUrl=self.queue_url, ReceiptHandle=msg.receipt_handle, VisibilityTimeout=seconds
            )

        return renew

    def _retry_later(self, msg: JobMessage) -> None:
        delay = min(self.retry_delay_seconds * msg.receive_count, 43_200)
        try:
            self.sqs.change_message_visibility(
                QueueUrl=self.queue_url, ReceiptHandle=msg.receipt_handle, VisibilityTimeout=delay
            )
        except Exception as exc:  # the queue's own visibility timeout applies then
            logger.warning("Could not shorten the job's visibility timeout: %s", exc)

    def _delete(self, msg: JobMessage) -> None:
        self.sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=msg.receipt_handle)


# --- the container's entry point ----------------------------------------------------------------


def start_in_thread(worker: JobWorker, *, wait_seconds: int = 10) -> Callable[[], None]:
    """Run `worker` in a daemon thread; returns the function that stops it (within one long
    poll, `wait_seconds`)."""
    stop = threading.Event()
    thread = threading.Thread(
        target=worker.run, args=(stop, wait_seconds), name="voice-job-worker", daemon=True
    )
    thread.start()

    def stop_worker() -> None:
        stop.set()
        thread.join(timeout=30)

    return stop_worker


def build_worker(settings, turn: Turn, *, on_outcome=None) -> JobWorker:
    import boto3

    if not settings.job_queue_url:
        raise ValueError("JOB_QUEUE_URL is not set")
    session = boto3.session.Session(region_name=settings.aws_region)
    return JobWorker(
        sqs=session.client("sqs"),
        s3=session.client("s3"),
        sfn=session.client("stepfunctions"),
        queue_url=settings.job_queue_url,
        turn=turn,
        heartbeat_seconds=settings.heartbeat_seconds,
        visibility_seconds=settings.job_visibility_seconds,
        max_receives=int(os.environ.get("MAX_RECEIVES", "3")),
        retry_delay_seconds=int(os.environ.get("RETRY_DELAY_SECONDS", "10")),
        on_outcome=on_outcome,
    )
