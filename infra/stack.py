"""FalaStack: composes the capabilities and wires the grants between them."""

from __future__ import annotations

from typing import Any

from aws_cdk import AspectPriority, Aspects, Aws, CfnOutput, Duration, Stack, Tags
from constructs import Construct

from infra.config import FalaConfig
from infra.constructs.conversation import SonicConversation
from infra.constructs.encryption import Encryption
from infra.constructs.intake import Intake
from infra.constructs.operations import Operations
from infra.constructs.outcome_bus import OutcomeBus
from infra.constructs.pipeline import Pipeline
from infra.constructs.storage import Storage
from infra.constructs.validation import SpeechValidation
from infra.constructs.voice_jobs import VoiceJobs
from infra.constructs.voice_service import VoiceService
from infra.nag import CheckovDefaults


class FalaStack(Stack):
    def __init__(self, scope: Construct, id: str, *, config: FalaConfig, **kwargs: Any) -> None:
        super().__init__(scope, id, **kwargs)
        Tags.of(self).add("project", "fala")
        Tags.of(self).add("stage", config.stage)
        # After every mutating aspect (the key's), so it sees the resources as deployed.
        Aspects.of(self).add(CheckovDefaults(), priority=AspectPriority.READONLY)

        encryption = Encryption(self, "Encryption", kms_key=config.kms_key)
        storage = Storage(
            self,
            "Storage",
            upload_expiration_days=config.upload_expiration_days,
            results_expiration_days=config.results_expiration_days,
            access_log_expiration_days=config.log_retention_days,
            encryption=encryption,
        )
        outcomes = OutcomeBus(
            self,
            "Outcomes",
            archive_retention_days=config.log_retention_days,
            encryption=encryption,
        )
        validation = SpeechValidation(self, "Validation", config=config, encryption=encryption)
        conversation = SonicConversation(
            self, "Conversation", config=config, results_bucket_name=storage.bucket.bucket_name
        )
        voice_jobs = (
            VoiceJobs(
                self,
                "VoiceJobs",
                config=config,
                bus=outcomes.bus,
                results_bucket_name=storage.bucket.bucket_name,
                encryption=encryption,
            )
            if config.voice_service
            else None
        )
        pipeline = Pipeline(
            self,
            "Pipeline",
            config=config,
            validation_function=validation.task_function,
            converse_function=conversation.function,
            voice_jobs=voice_jobs,
            results_bucket_name=storage.bucket.bucket_name,
            event_bus_name=outcomes.bus.event_bus_name,
            encryption=encryption,
        )
        intake = Intake(
            self,
            "Intake",
            config=config,
            bucket=storage.bucket,
            uploads_prefix=storage.uploads_prefix,
            state_machine_arn=pipeline.state_machine.state_machine_arn,
            encryption=encryption,
        )

        # Grants between capabilities, all scoped: uploads/* read, results/* write, one bus, one
        # state machine.
        storage.grant_read_uploads(pipeline.describe_upload.function)
        storage.grant_read_uploads(validation.task_function)
        storage.grant_write_results(pipeline.publish.function)
        storage.grant_read_uploads(conversation.function)
        storage.grant_write_results(conversation.function)
        outcomes.bus.grant_put_events_to(pipeline.publish.function)
        pipeline.state_machine.grant_start_execution(intake.start_pipeline)
        pipeline.grant_key_use(intake.start_pipeline)

        operations = Operations(
            self,
            "Operations",
            state_machine=pipeline.state_machine,
            functions={
                "StartPipeline": intake.start_pipeline,
                "DescribeUpload": pipeline.describe_upload.function,
                "ValidateSpeech": validation.task_function,
                "ValidationApi": validation.api_function,
                "Converse": conversation.function,
                "PublishOutcome": pipeline.publish.function,
            },
            dead_letter_queues={
                "Intake": intake.dead_letters,
                **({"VoiceJobs": voice_jobs.dead_letters} if voice_jobs else {}),
                **(
                    {"OutcomeBus": outcomes.dead_letters}
                    if outcomes.dead_letters is not None
                    else {}
                ),
            },
            dead_letter_hints={
                "OutcomeBus": "events EventBridge could not encrypt or decrypt with the "
                "customer-managed key: check the key, then decrypt and put them again (README)"
            },
            job_queue=voice_jobs.queue if voice_jobs else None,
            alarm_email=config.alarm_email,
            encryption=encryption,
        )

        voice_outputs: dict[str, tuple[str, str]] = {}
        if voice_jobs is not None:
            voice = VoiceService(
                self,
                "VoiceService",
                config=config,
                job_queue=voice_jobs.queue,
                results_bucket_name=storage.bucket.bucket_name,
                encryption=encryption,
            )
            storage.grant_read_uploads(voice.task_role)
            storage.grant_write_results(voice.task_role)
            pipeline.state_machine.grant_task_response(voice.task_role)
            pipeline.grant_key_use(voice.task_role)
            encryption.grant_via(voice.task_role, "sqs", "kms:Decrypt")
            operations.add_alarm(
                "VoiceServiceUnhealthy",
                voice.target_group.metrics.unhealthy_host_count(period=Duration.minutes(5)),
                1,
                "GPU voice service: a task failed its health check",
            )
            voice_outputs = {
                "VoiceServiceUrl": (
                    f"https://{voice.load_balancer.load_balancer_dns_name}"
                    if voice.https
                    else f"http://{voice.load_balancer.load_balancer_dns_name}",
                    "Voice service API (internal load balancer; call it by the certificate's "
                    "domain, a DNS record pointing here)"
                    if voice.https
                    else "Voice service API (internal load balancer)",
                ),
                "VoiceApiTokenSecretArn": (voice.token.secret_arn, "Voice API bearer token"),
                "VoiceJobQueueUrl": (voice_jobs.queue.queue_url, "GPU voice service job queue"),
                "VoiceJobDeadLetterQueueUrl": (
                    voice_jobs.dead_letters.queue_url,
                    "Voice jobs that failed every delivery (fala redrive)",
                ),
            }

        state_machine_arn = pipeline.state_machine.state_machine_arn
        outputs = {
            "UploadBucketName": (storage.bucket.bucket_name, "Bucket to upload audio into"),
            "UploadPrefix": (storage.uploads_prefix, "Key prefix that starts the pipeline"),
            "ResultsPrefix": (storage.results_prefix, "Key prefix of result documents"),
            "ValidationApiUrl": (validation.function_url.url, "Speech validation Function URL"),
            "StateMachineArn": (state_machine_arn, "Speech pipeline state machine"),
            "StateMachineConsoleUrl": (
                f"https://{Aws.REGION}.console.aws.amazon.com/states/home?region={Aws.REGION}"
                f"#/statemachines/view/{state_machine_arn}",
                "The pipeline's executions in the Step Functions console",
            ),
            "OutcomeBusName": (outcomes.bus.event_bus_name, "Event bus receiving outcomes"),
            "IntakeDeadLetterQueueUrl": (
                intake.dead_letters.queue_url,
                "Upload events that could not start the pipeline (fala redrive)",
            ),
            "DashboardName": (operations.dashboard.dashboard_name, "CloudWatch dashboard"),
            "AlarmTopicArn": (operations.topic.topic_arn, "SNS topic the alarms notify"),
            **voice_outputs,
        }
        if encryption.key_arn is not None:
            outputs["KmsKeyArn"] = (
                encryption.key_arn,
                "Customer-managed key of the data at rest (uploaders and readers need kms:)",
            )
        if outcomes.dead_letters is not None:
            outputs["OutcomeDeadLetterQueueUrl"] = (
                outcomes.dead_letters.queue_url,
                "Outcome events EventBridge could not encrypt or decrypt with the key",
            )
        for name, (value, description) in outputs.items():
            CfnOutput(self, name, value=value, description=description)
