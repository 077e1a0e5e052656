"""The speech pipeline state machine, built from named steps that read like a runbook.

Data flow (the handlers and the local emulator rely on it):
  input $ = the S3 "Object Created" EventBridge event
  Describe upload   payload $ (no Parameters)  -> $.job         (fala.core.models.Job)
  Choose path       on $.job.mode              (validate; converse/auto join later, see `paths`)
  Validate speech   payload $.job (InputPath)  -> $.validation
  Publish outcome   payload {execution, state: $} -> Succeed "Speech processed"
  any failure in the steps above         -> $.error -> Publish failure -> Fail "Speech failed"
"""

from __future__ import annotations

from aws_cdk import Duration, RemovalPolicy, Stack
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import aws_stepfunctions_tasks as tasks
from constructs import Construct

from infra.config import FalaConfig
from infra.constructs.lambda_defaults import zip_function
from infra.nag import acknowledge

# Lambda's own transient failures; typed user errors (InvalidAudio, AudioTooLong, ...) are final.
TRANSIENT_LAMBDA_ERRORS = [
    "Lambda.ServiceException",
    "Lambda.AWSLambdaException",
    "Lambda.SdkClientException",
    "Lambda.TooManyRequestsException",
    "Lambda.ClientExecutionTimeoutException",
]
ERROR_PATH = "$.error"
DEFAULT_MODE = "validate"

SERVICE = "fala-pipeline"


class _Step(sfn.StateMachineFragment):
    """A fragment whose single task state is the whole step."""

    task: tasks.LambdaInvoke

    @property
    def start_state(self) -> sfn.State:
        return self.task

    @property
    def end_states(self) -> list[sfn.INextable]:
        return self.task.end_states

    def on_failure(self, handler: sfn.IChainable) -> None:
        self.task.add_catch(handler, errors=[sfn.Errors.ALL], result_path=ERROR_PATH)


class DescribeUpload(_Step):
    """Size/format/metadata checks on the upload; produces the Job at $.job."""

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        config: FalaConfig,
    ) -> None:
        super().__init__(scope, id)
        self.function = zip_function(
            self,
            "DescribeUploadFn",
            source="describe_upload",
            service=SERVICE,
            description="Fala pipeline: describe the upload (size, format, metadata) as a job",
            config=config,
            environment={
                "MAX_UPLOAD_BYTES": str(config.max_upload_bytes),
                "DEFAULT_LANGUAGE": config.default_language,
            },
        )
        self.task = tasks.LambdaInvoke(
            self,
            "Describe upload",
            lambda_function=self.function,
            # Direct invocation (payload_response_only): the whole state input, the S3 event.
            payload_response_only=True,
            result_path="$.job",
        )


class ValidateSpeech(_Step):
    """Whisper transcribes the upload and compares it with the expected speech."""

    def __init__(self, scope: Construct, id: str, *, function: lambda_.IFunction) -> None:
        super().__init__(scope, id)
        self.function = function
        self.task = tasks.LambdaInvoke(
            self,
            "Validate speech",
            lambda_function=function,
            # With direct invocation the payload is chosen by InputPath (a string "Parameters"
            # is not valid ASL); ResultPath still merges into the full state.
            input_path="$.job",
            payload_response_only=True,
            result_path="$.validation",
            # Replaced by the retrier below, which also covers throttling and adds jitter.
            retry_on_service_exceptions=False,
        )
        self.task.add_retry(
            errors=TRANSIENT_LAMBDA_ERRORS,
            interval=Duration.seconds(2),
            max_attempts=3,
            backoff_rate=2,
            jitter_strategy=sfn.JitterType.FULL,
        )


class PublishOutcome(Construct):
    """Writes results/<key>.json and puts the outcome event; one function, two states."""

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        config: FalaConfig,
        results_bucket_name: str,
        event_bus_name: str,
    ) -> None:
        super().__init__(scope, id)
        self.function = zip_function(
            self,
            "PublishOutcomeFn",
            source="publish_outcome",
            service=SERVICE,
            description="Fala pipeline: write the result document and publish the outcome event",
            config=config,
            environment={
                "RESULTS_BUCKET": results_bucket_name,
                "EVENT_BUS_NAME": event_bus_name,
            },
        )

    def state(self, name: str, *, result_path: str | None = None) -> tasks.LambdaInvoke:
        task = tasks.LambdaInvoke(
            self,
            name,
            lambda_function=self.function,
            payload=sfn.TaskInput.from_object(
                {"execution": sfn.JsonPath.execution_id, "state": sfn.JsonPath.entire_payload}
            ),
            payload_response_only=True,
            result_path=result_path,
        )
        # Publishing is idempotent (same key, same document), so any error may be retried.
        task.add_retry(
            errors=[sfn.Errors.ALL],
            interval=Duration.seconds(1),
            max_attempts=3,
            backoff_rate=2,
            jitter_strategy=sfn.JitterType.FULL,
        )
        return task


class Pipeline(Construct):
    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        config: FalaConfig,
        validation_function: lambda_.IFunction,
        results_bucket_name: str,
        event_bus_name: str,
    ) -> None:
        super().__init__(scope, id)

        self.describe_upload = DescribeUpload(self, "DescribeUpload", config=config)
        self.validate_speech = ValidateSpeech(self, "ValidateSpeech", function=validation_function)
        self.publish = PublishOutcome(
            self,
            "PublishOutcome",
            config=config,
            results_bucket_name=results_bucket_name,
            event_bus_name=event_bus_name,
        )

        published = self.publish.state("Publish outcome").next(
            sfn.Succeed(self, "Speech processed")
        )
        # DISCARD keeps $.error in the state, so the Fail state can report it.
        failed = self.publish.state("Publish failure", result_path=sfn.JsonPath.DISCARD).next(
            sfn.Fail(
                self,
                "Speech failed",
                error_path=f"{ERROR_PATH}.Error",
                cause_path=f"{ERROR_PATH}.Cause",
            )
        )

        # One entry per Job.mode; converse and auto join here as their steps are built.
        paths: dict[str, _Step] = {"validate": self.validate_speech}
        choose = sfn.Choice(self, "Choose path")
        for mode, step in paths.items():
            choose.when(sfn.Condition.string_equals("$.job.mode", mode), step)
            step.next(published)
        choose.otherwise(paths[DEFAULT_MODE])

        for step in (self.describe_upload, *paths.values()):
            step.on_failure(failed)

        self.log_group = logs.LogGroup(
            self,
            "ExecutionLogs",
            retention=config.log_retention,
            removal_policy=RemovalPolicy.DESTROY,
        )
        self.state_machine = sfn.StateMachine(
            self,
            "StateMachine",
            comment="Fala speech pipeline: describe the upload, process it, publish the outcome",
            definition_body=sfn.DefinitionBody.from_chainable(self.describe_upload.next(choose)),
            state_machine_type=sfn.StateMachineType.STANDARD,
            timeout=Duration.minutes(30),
            tracing_enabled=True,
            logs=sfn.LogOptions(
                destination=self.log_group,
                level=sfn.LogLevel.ALL,
                include_execution_data=True,
            ),
        )
        self._acknowledge_role_findings(
            [self.describe_upload.function, validation_function, self.publish.function]
        )

    def _acknowledge_role_findings(self, functions: list[lambda_.IFunction]) -> None:
        role = self.state_machine.role
        acknowledge(
            role,
            "IAM5[Resource::*]",
            "Step Functions log delivery (logs:CreateLogDelivery & co.) and X-Ray "
            "(xray:PutTraceSegments & co.) do not support resource-level permissions.",
        )
        stack = Stack.of(self)
        for function in functions:
            logical_id = stack.get_logical_id(function.node.default_child)  # type: ignore[arg-type]
            acknowledge(
                role,
                f"IAM5[Resource::<{logical_id}.Arn>:*]",
                "LambdaInvoke grants lambda:InvokeFunction on the function and its "
                "versions/aliases (<arn>:*), all of the same function.",
            )
