"""FalaStack: composes the capabilities and wires the grants between them."""

from __future__ import annotations

from typing import Any

from aws_cdk import Aws, CfnOutput, Stack, Tags
from constructs import Construct

from infra.config import FalaConfig
from infra.constructs.intake import Intake
from infra.constructs.outcome_bus import OutcomeBus
from infra.constructs.pipeline import Pipeline
from infra.constructs.storage import Storage
from infra.constructs.validation import SpeechValidation


class FalaStack(Stack):
    def __init__(self, scope: Construct, id: str, *, config: FalaConfig, **kwargs: Any) -> None:
        super().__init__(scope, id, **kwargs)
        Tags.of(self).add("project", "fala")
        Tags.of(self).add("stage", config.stage)

        storage = Storage(
            self,
            "Storage",
            upload_expiration_days=config.upload_expiration_days,
            results_expiration_days=config.results_expiration_days,
            access_log_expiration_days=config.log_retention_days,
        )
        outcomes = OutcomeBus(self, "Outcomes", archive_retention_days=config.log_retention_days)
        validation = SpeechValidation(self, "Validation", config=config)
        pipeline = Pipeline(
            self,
            "Pipeline",
            config=config,
            validation_function=validation.task_function,
            results_bucket_name=storage.bucket.bucket_name,
            event_bus_name=outcomes.bus.event_bus_name,
        )
        intake = Intake(
            self,
            "Intake",
            config=config,
            bucket=storage.bucket,
            uploads_prefix=storage.uploads_prefix,
            state_machine_arn=pipeline.state_machine.state_machine_arn,
        )

        # Grants between capabilities, all scoped: uploads/* read, results/* write, one bus, one
        # state machine.
        storage.grant_read_uploads(pipeline.describe_upload.function)
        storage.grant_read_uploads(validation.task_function)
        storage.grant_write_results(pipeline.publish.function)
        outcomes.bus.grant_put_events_to(pipeline.publish.function)
        pipeline.state_machine.grant_start_execution(intake.start_pipeline)

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
        }
        for name, (value, description) in outputs.items():
            CfnOutput(self, name, value=value, description=description)
