"""Jobs for the GPU voice service: the state machine puts a "Voice Job Requested" event carrying
its task token on the project's bus; a rule queues it in SQS; the service's worker answers the
token (SendTaskSuccess/Failure) and heart-beats while it works.

Message contract (containers/voice_service/voice_service/worker.py relies on it): the SQS body is
the EventBridge event; its `detail` is
`{"task_token", "execution", "job": fala.core.models.Job, "results_bucket"}`.
"""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_sqs as sqs
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import aws_stepfunctions_tasks as tasks
from constructs import Construct

from fala.core.models import DETAIL_TYPE_VOICE_JOB, OUTCOME_SOURCE
from infra.config import FalaConfig
from infra.constructs.queues import dead_letter_queue

# A job that failed this many deliveries (worker crashed or was killed each time) is parked.
MAX_RECEIVES = 3


class VoiceJobs(Construct):
    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        config: FalaConfig,
        bus: events.IEventBus,
        results_bucket_name: str,
    ) -> None:
        super().__init__(scope, id)
        self._config = config
        self._bus = bus
        self._results_bucket_name = results_bucket_name

        self.dead_letters = dead_letter_queue(
            self, "DeadLetters", holds="the voice job queue and of its rule"
        )
        self.queue = sqs.Queue(
            self,
            "Queue",
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
            # A job runs at most the task timeout; a crashed worker's job reappears after this.
            visibility_timeout=Duration.seconds(config.voice_job_timeout_seconds),
            retention_period=Duration.days(1),
            dead_letter_queue=sqs.DeadLetterQueue(
                queue=self.dead_letters, max_receive_count=MAX_RECEIVES
            ),
        )
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
                Duration.seconds(self._config.voice_job_heartbeat_seconds)
            ),
            task_timeout=sfn.Timeout.duration(
                Duration.seconds(self._config.voice_job_timeout_seconds)
            ),
            result_selector=result_selector,
            result_path=result_path,
        )
