"""From "Object Created" under uploads/ to a named pipeline execution.

EventBridge's Step Functions target cannot set the execution name, and DESIGN wants names derived
from the upload key (findable in the console) so duplicate S3 events collapse into one execution
(StartExecution with an existing name is rejected). So the rule targets a small Lambda,
start_pipeline, which names the execution and starts it.
"""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_lambda_destinations as destinations
from aws_cdk import aws_s3 as s3
from constructs import Construct

from infra.config import FalaConfig
from infra.constructs.encryption import Encryption
from infra.constructs.lambda_defaults import zip_function
from infra.constructs.queues import dead_letter_queue


class Intake(Construct):
    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        config: FalaConfig,
        bucket: s3.IBucket,
        uploads_prefix: str,
        state_machine_arn: str,
        encryption: Encryption,
    ) -> None:
        super().__init__(scope, id)

        # Events that could not start an execution (rule delivery or the Lambda itself failed)
        # end up here for inspection and redrive.
        self.dead_letters = dead_letter_queue(
            self,
            "DeadLetters",
            holds="the upload rule and of start_pipeline's asynchronous invocations",
            encryption=encryption,
        )

        self.start_pipeline = zip_function(
            self,
            "StartPipelineFn",
            source="start_pipeline",
            service="fala-intake",
            description="Fala intake: start a pipeline execution named after the upload",
            config=config,
            environment={"STATE_MACHINE_ARN": state_machine_arn},
            # Asynchronous invocation (from EventBridge): retry, then park the event.
            retry_attempts=2,
            max_event_age=Duration.hours(1),
            on_failure=destinations.SqsDestination(self.dead_letters),
        )
        # Lambda parks a failed event with the function's own role.
        encryption.grant_via(self.start_pipeline, "sqs", "kms:GenerateDataKey", "kms:Decrypt")

        self.rule = events.Rule(
            self,
            "UploadCreated",
            description="Start the Fala pipeline for every object created under uploads/",
            event_pattern=events.EventPattern(
                source=["aws.s3"],
                detail_type=["Object Created"],
                detail={
                    "bucket": {"name": [bucket.bucket_name]},
                    "object": {"key": events.Match.prefix(uploads_prefix)},
                },
            ),
        )
        self.rule.add_target(
            targets.LambdaFunction(
                self.start_pipeline,
                retry_attempts=4,
                max_event_age=Duration.hours(2),
                dead_letter_queue=self.dead_letters,
            )
        )
