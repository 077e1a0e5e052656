"""Jobs for the GPU voice service: the state machine puts a "Voice Job Requested" event carrying
its task token on the project's bus; a rule queues it in SQS; the service's worker answers the
token (SendTaskSuccess/Failure) and heart-beats while it works.

Message contract (containers/voice_service/voice_service/worker.py relies on it): the SQS body is
the EventBridge event; its `detail` is
`{"task_token", "execution", "job": fala.core.models.Job, "results_bucket"}`.

Time limits (`JobTimings`): a worker beats (SendTaskHeartbeat + ChangeMessageVisibility) well
inside the task's HeartbeatSeconds, and the queue's visibility timeout is shorter than
HeartbeatSeconds, so a job whose worker died reappears while its task is still alive: another
worker takes it over and answers the token once. With no worker left, the task fails with
`States.Timeout` after HeartbeatSeconds and the run ends in a failure outcome that says so.
"""

from __future__ import annotations

from dataclasses import dataclass

from aws_cdk import Duration
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_sqs as sqs
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import aws_stepfunctions_tasks as tasks
from constructs import Construct

from fala.core.models import DETAIL_TYPE_VOICE_JOB, OUTCOME_SOURCE
from infra.config import FalaConfig
from infra.constructs.encryption import Encryption
from infra.constructs.queues import dead_letter_queue

# A job that failed this many deliveries (worker crashed or was killed each time) is parked.
MAX_RECEIVES = 3


@dataclass(frozen=True)
class JobTimings:
    """How the GPU step's limits, the job queue and the worker fit together (seconds)."""

    heartbeat_seconds: int  # the task's HeartbeatSeconds: this long without a beat ends it
    timeout_seconds: int  # the task's TimeoutSeconds: the whole job, however it is going

    @classmethod
    def of(cls, config: FalaConfig) -> JobTimings:
        return cls(config.voice_job_heartbeat_seconds, config.voice_job_timeout_seconds)

    @property
    def beat_every(self) -> int:
        """The worker's beat interval: three beats fit in one HeartbeatSeconds."""
        return max(1, self.heartbeat_seconds // 3)

    @property
    def visibility_seconds(self) -> int:
        """The queue's visibility timeout, renewed on each beat: two beats long, so a live
        worker never loses its job, and shorter than HeartbeatSeconds, so a dead worker's job
        is visible again while its task still waits for a beat."""
        return 2 * self.beat_every

    @property
    def retry_delay_seconds(self) -> int:
        """The worker's back-off before a job it could not do comes back (x delivery count, up
        to MAX_RECEIVES - 1 = 2 beats, still inside HeartbeatSeconds)."""
        return self.beat_every

    def worker_environment(self) -> dict[str, str]:
        """What the voice service's worker reads (voice_service.settings / worker.build_worker)."""
        return {
            "HEARTBEAT_SECONDS": str(self.beat_every),
            "JOB_VISIBILITY_SECONDS": str(self.visibility_seconds),
            "RETRY_DELAY_SECONDS": str(self.retry_delay_seconds),
            "MAX_RECEIVES": str(MAX_RECEIVES),
        }


class VoiceJobs(Construct):
    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        config: FalaConfig,
        bus: events.IEventBus,
        results_bucket_name: str,
        encryption: Encryption,
    ) -> None:
        super().__init__(scope, id)
        self.timings = JobTimings.of(config)
        self._bus = bus
        self._results_bucket_name = results_bucket_name

        self.dead_letters = dead_letter_queue(
            self, "DeadLetters", holds="the voice job queue and of its rule", encryption=encryption
        )
        self.queue = sqs.Queue(
            self,
            "Queue",
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
            # Renewed by the worker on each beat; a dead worker's job reappears after this.
            visibility_timeout=Duration.seconds(self.timings.visibility_seconds),
            retention_period=Duration.days(1),
            dead_letter_queue=sqs.DeadLetterQueue(
                queue=self.dead_letters, max_receive_count=MAX_RECEIVES
            ),
        )
        encryption.encrypt_queue(self.queue)
        self.rule = events.Rule(
            self,
            "JobRequested",
            description="Queue the pipeline's GPU voice service jobs",
            event_bus=bus,
            event_pattern=events.EventPattern(
                source=[OUTCOME_SOURCE], detail_type=[DETAIL_TYPE_VOICE_JOB]
            ),
        )
        self.rule.add_target(
            targets.SqsQueue(
                self.queue,
                retry_attempts=8,
                max_event_age=Duration.hours(1),
                dead_letter_queue=self.dead_letters,
            )
        )

    def state(
        self,
        scope: Construct,
        name: str,
        *,
        result_path: str,
        result_selector: dict[str, str] | None = None,
    ) -> tasks.EventBridgePutEvents:
        """A task that waits for the voice service to answer the job (task token)."""
        return tasks.EventBridgePutEvents(
            scope,
            name,
            entries=[
                tasks.EventBridgePutEventsEntry(
                    event_bus=self._bus,
                    source=OUTCOME_SOURCE,
                    detail_type=DETAIL_TYPE_VOICE_JOB,
                    detail=sfn.TaskInput.from_object(
                        {
                            "task_token": sfn.JsonPath.task_token,
                            "execution": sfn.JsonPath.execution_id,
                            "job": sfn.JsonPath.object_at("$.job"),
                            "results_bucket": self._results_bucket_name,
                        }
                    ),
                )
            ],
            integration_pattern=sfn.IntegrationPattern.WAIT_FOR_TASK_TOKEN,
            heartbeat_timeout=sfn.Timeout.duration(
                Duration.seconds(self.timings.heartbeat_seconds)
            ),
            task_timeout=sfn.Timeout.duration(Duration.seconds(self.timings.timeout_seconds)),
            result_selector=result_selector,
            result_path=result_path,
        )
