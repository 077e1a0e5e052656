"""The speech pipeline state machine, built from named steps that read like a runbook.

Data flow (the handlers and the local emulator rely on it):
  input $ = the S3 "Object Created" EventBridge event
  Describe upload   payload $ (no Parameters)  -> $.job         (fala.core.models.Job)
  Choose path       on $.job.mode              (one entry per mode in `paths`)
    validate: Validate speech           payload $.job (InputPath) -> $.validation
    converse: Converse with Nova Sonic  payload $.job -> $.conversation; retried, then
              Converse on GPU voice service (event + task token -> $.conversation)
    auto:     Validate and converse     both of the above in a Parallel state
  Publish outcome   payload {execution, state: $} -> Succeed "Speech processed"
  any failure in the steps above         -> $.error -> Publish failure -> Fail "Speech failed"
"""

from __future__ import annotations

import json
from typing import Any

from aws_cdk import ArnFormat, Duration, RemovalPolicy, Stack, Token
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import aws_stepfunctions_tasks as tasks
from constructs import Construct

from fala.core import errors
from fala.core.cost import gpu_usd_per_hour
from infra.config import FalaConfig
from infra.constructs.cfn import l1, logical_id
from infra.constructs.encryption import Encryption
from infra.constructs.lambda_defaults import zip_function
from infra.constructs.tables import expiring_table
from infra.constructs.voice_jobs import JobTimings, VoiceJobs
from infra.nag import acknowledge

# Lambda's own transient failures; typed user errors (InvalidAudio, AudioTooLong, ...) are final.
TRANSIENT_LAMBDA_ERRORS = [
    "Lambda.ServiceException",
    "Lambda.AWSLambdaException",
    "Lambda.SdkClientException",
    "Lambda.TooManyRequestsException",
    "Lambda.ClientExecutionTimeoutException",
]
# Nova Sonic failures worth another try, and those that send the job to the GPU voice service.
SONIC_RETRYABLE_ERRORS = ["SonicThrottled", "SonicUnavailable", "SonicStreamError", "SonicTimeout"]
# Another try cannot help (a model not enabled, no endpoint here): straight to the fallback.
SONIC_FINAL_ERRORS = ["SonicModelNotFound", "SonicNotConfigured"]
SONIC_FALLBACK_ERRORS = [
    *SONIC_RETRYABLE_ERRORS,
    *SONIC_FINAL_ERRORS,
    "States.Timeout",  # the function itself timed out
    *TRANSIENT_LAMBDA_ERRORS,
]
ERROR_PATH = "$.error"
DEFAULT_MODE = "validate"

SERVICE = "fala-pipeline"


# Typed errors that only a new upload fixes: never retried.
USER_ERRORS = sorted(
    name for name, cls in errors.error_types().items() if errors.needs_new_upload(cls)
)


def _retry_unless_final(task: sfn.TaskStateBase, final: list[str]) -> None:
    """Retry anything (a crash may be transient) with backoff and full jitter, except errors
    another try cannot fix. Retriers match in order, so MaxAttempts 0 first opts those out."""
    task.add_retry(errors=final, max_attempts=0)
    task.add_retry(
        errors=[sfn.Errors.ALL],
        interval=Duration.seconds(2),
        max_attempts=3,
        backoff_rate=2,
        jitter_strategy=sfn.JitterType.FULL,
    )


class _OneTask(sfn.StateMachineFragment):
    """A step that is one task (`self.task`), with its retries."""

    task: sfn.TaskStateBase

    @property
    def start_state(self) -> sfn.State:
        return self.task

    @property
    def end_states(self) -> list[sfn.INextable]:
        return [self.task]


class DescribeUpload(_OneTask):
    """Size/format/metadata checks on the upload; produces the Job at $.job. One task, with its
    function and its retries."""

    def __init__(self, scope: Construct, id: str, *, config: FalaConfig) -> None:
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
            # Replaced by the explicit retriers, which also cover throttling and add jitter.
            retry_on_service_exceptions=False,
        )
        # It only reads the upload, so another try is safe: Lambda's and S3's transient failures
        # are retried, a rejected or vanished upload (UploadRejected, UploadNotFound) is final.
        _retry_unless_final(self.task, USER_ERRORS)


def placed(key: str, *, in_branch: bool) -> dict[str, Any]:
    """Where a task puts its result: at $.<key> in the state, or — as the whole output of a
    Parallel branch — as {key: result}, so the branches' outputs merge by name, not position."""
    if in_branch:
        return {"result_selector": {f"{key}.$": "$"}, "result_path": "$"}
    return {"result_path": f"$.{key}"}


def _job_task(
    scope: Construct, name: str, function: lambda_.IFunction, key: str, *, in_branch: bool
) -> tasks.LambdaInvoke:
    return tasks.LambdaInvoke(
        scope,
        name,
        lambda_function=function,
        # With direct invocation the payload is chosen by InputPath (a string "Parameters" is not
        # valid ASL); ResultPath still merges into the full state.
        input_path="$.job",
        payload_response_only=True,
        # Replaced by explicit retriers, which also cover throttling and add jitter.
        retry_on_service_exceptions=False,
        **placed(key, in_branch=in_branch),
    )


class ValidateSpeech(_OneTask):
    """Whisper transcribes the upload and compares it with the expected speech: one task named
    `name`, retried unless the error is final."""

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        function: lambda_.IFunction,
        name: str,
        in_branch: bool = False,
    ) -> None:
        super().__init__(scope, id)
        self.task = _job_task(self, name, function, "validation", in_branch=in_branch)
        _retry_unless_final(self.task, USER_ERRORS)


class Converse(sfn.StateMachineFragment):
    """Nova Sonic answers, retried on throttling and transient errors; when it still cannot, the
    GPU voice service takes the job (or, where that service is not deployed, the run fails with a
    message that says so). Failures go to `on_error`; without one (a Parallel branch, where a
    catch cannot leave the branch) the branch fails with $.error."""

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        function: lambda_.IFunction,
        voice_jobs: VoiceJobs | None,
        on_error: sfn.IChainable | None,
        suffix: str = "",
    ) -> None:
        super().__init__(scope, id)
        in_branch = on_error is None
        sonic = _job_task(
            self,
            f"Converse with Nova Sonic{suffix}",
            function,
            "conversation",
            in_branch=in_branch,
        )
        _retry_unless_final(sonic, [*USER_ERRORS, *SONIC_FINAL_ERRORS])
        self.sonic = sonic
        self.ends: list[sfn.INextable] = [sonic]
        if voice_jobs is not None:
            gpu = voice_jobs.state(
                self,
                f"Converse on GPU voice service{suffix}",
                **placed("conversation", in_branch=in_branch),
            )
            sonic.add_catch(gpu, errors=SONIC_FALLBACK_ERRORS, result_path="$.sonic_error")
            # Step Functions says only "States.Timeout": say which limit and what to check.
            timed_out = sfn.Pass(
                self,
                f"GPU voice service timed out{suffix}",
                parameters={
                    "Error": sfn.Errors.TIMEOUT,
                    "Cause": gpu_timeout_cause(voice_jobs.timings),
                },
                result_path=ERROR_PATH,
            )
            gpu.add_catch(timed_out, errors=[sfn.Errors.TIMEOUT], result_path=ERROR_PATH)
            timed_out.next(on_error or _branch_failure(self, suffix))
            if on_error is not None:
                gpu.add_catch(on_error, errors=[sfn.Errors.ALL], result_path=ERROR_PATH)
            self.ends.append(gpu)
        else:
            explain = sfn.Pass(
                self,
                f"No GPU fallback deployed{suffix}",
                parameters={
                    "Error.$": "$.sonic_error.Error",
                    "Cause.$": "States.Format('Nova Sonic could not answer and the GPU voice "
                    "service fallback is not deployed (deploy with -c fala:voice_service=true), "
                    "so the conversation failed. Nova Sonic said: {}', $.sonic_error.Cause)",
                },
                result_path=ERROR_PATH,
            )
            sonic.add_catch(explain, errors=SONIC_FALLBACK_ERRORS, result_path="$.sonic_error")
            explain.next(on_error or _branch_failure(self, suffix))
        if on_error is not None:
            sonic.add_catch(on_error, errors=[sfn.Errors.ALL], result_path=ERROR_PATH)

    @property
    def start_state(self) -> sfn.State:
        return self.sonic

    @property
    def end_states(self) -> list[sfn.INextable]:
        return self.ends


def gpu_timeout_cause(timings: JobTimings) -> str:
    return (
        "The GPU voice service did not answer the conversation job in time: its worker sent no "
        f"heartbeat for {timings.heartbeat_seconds} s (HeartbeatSeconds: the worker stopped or "
        "died and no other worker took the job over), or the job ran longer than "
        f"{timings.timeout_seconds} s (TimeoutSeconds). Check that the voice service has running "
        "tasks (ECS service, its logs, the job queue age alarm), then redrive the execution."
    )


def _branch_failure(scope: Construct, suffix: str) -> sfn.Fail:
    """Inside a Parallel branch a catch cannot leave the branch: fail it with $.error instead."""
    return sfn.Fail(
        scope,
        f"Conversation failed{suffix}",
        error_path=f"{ERROR_PATH}.Error",
        cause_path=f"{ERROR_PATH}.Cause",
    )


class PublishOutcome(Construct):
    """Writes results/<key>.json and puts the outcome event; one function, two states.

    Publication is idempotent per execution (Powertools idempotency in a DynamoDB table), so the
    step's retries never put a second outcome event."""

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        config: FalaConfig,
        results_bucket_name: str,
        event_bus_name: str,
        encryption: Encryption,
    ) -> None:
        super().__init__(scope, id)
        self.idempotency_table = expiring_table(self, "Published", encryption=encryption)
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
                "IDEMPOTENCY_TABLE": self.idempotency_table.table_name,
            },
        )
        encryption.grant_via(
            self.function,
            "dynamodb",
            "kms:Decrypt",
            "kms:Encrypt",
            "kms:GenerateDataKey",
            "kms:DescribeKey",
        )
        # What Powertools idempotency uses, nothing more.
        self.idempotency_table.grant(
            self.function,
            "dynamodb:GetItem",
            "dynamodb:PutItem",
            "dynamodb:UpdateItem",
            "dynamodb:DeleteItem",
        )

    def meter(
        self,
        *,
        state_machine: sfn.StateMachine,
        functions: list[lambda_.IFunction],
        gpu_usd_per_hour: float | None,
    ) -> None:
        """What the result document's `cost` needs (fala/core/cost.py): each function's memory,
        the GPU's hourly price, and read access to the execution's own history. That grant is a
        policy of its own: the function's default policy is something the state machine depends
        on, so naming the state machine there would be a cycle."""
        memory = {
            f.function_name: int(l1(f, lambda_.CfnFunction).memory_size or 128) for f in functions
        }
        self.function.add_environment("FUNCTION_MEMORY_MB", json.dumps(memory))
        if gpu_usd_per_hour is not None:
            self.function.add_environment("GPU_USD_PER_HOUR", str(gpu_usd_per_hour))
        executions = Stack.of(self).format_arn(
            service="states",
            resource="execution",
            resource_name=f"{state_machine.state_machine_name}:*",
            arn_format=ArnFormat.COLON_RESOURCE_NAME,
        )
        history = iam.Policy(
            self,
            "ReadExecutionHistory",
            statements=[
                iam.PolicyStatement(actions=["states:GetExecutionHistory"], resources=[executions])
            ],
        )
        history.attach_to_role(self.function.role)  # type: ignore[arg-type]
        name = state_machine.state_machine_name
        if Token.is_unresolved(name):  # cdk-nag shows an attribute as <LogicalId.Attribute>
            name = f"<{logical_id(state_machine)}.Name>"
        acknowledge(
            history,
            "IAM5[Resource::arn:<AWS::Partition>:states:<AWS::Region>:<AWS::AccountId>:"
            f"execution:{name}:*]",
            "Executions are named per upload at run time; the grant covers this state machine's "
            "executions only, read-only (the Publish step reads its own execution's history).",
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
        converse_function: lambda_.IFunction,
        voice_jobs: VoiceJobs | None,
        results_bucket_name: str,
        event_bus_name: str,
        encryption: Encryption,
    ) -> None:
        super().__init__(scope, id)
        self._encryption = encryption
        self._name = encryption.state_machine_name(Stack.of(self), "pipeline")

        self.describe_upload = DescribeUpload(self, "DescribeUpload", config=config)
        self.publish = PublishOutcome(
            self,
            "PublishOutcome",
            config=config,
            results_bucket_name=results_bucket_name,
            event_bus_name=event_bus_name,
            encryption=encryption,
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

        def catch(task: sfn.TaskStateBase | sfn.Parallel) -> None:
            task.add_catch(failed, errors=[sfn.Errors.ALL], result_path=ERROR_PATH)

        describe = self.describe_upload
        catch(describe.task)

        validate = ValidateSpeech(
            self, "ValidateSpeech", function=validation_function, name="Validate speech"
        )
        catch(validate.task)
        validate.next(published)

        converse = Converse(
            self,
            "Converse",
            function=converse_function,
            voice_jobs=voice_jobs,
            on_error=failed,
        )
        converse.next(published)

        # auto: both paths at once; a failure in either fails the run (one error per result).
        # Each branch outputs {"validation": …} or {"conversation": …}; Publish merges $.paths.
        both = sfn.Parallel(self, "Validate and converse", result_path="$.paths")
        both.branch(
            ValidateSpeech(
                self,
                "ValidateSpeechAuto",
                function=validation_function,
                name="Validate speech (auto)",
                in_branch=True,
            )
        )
        both.branch(
            Converse(
                self,
                "ConverseAuto",
                function=converse_function,
                voice_jobs=voice_jobs,
                on_error=None,
                suffix=" (auto)",
            )
        )
        catch(both)
        both.next(published)

        paths: dict[str, sfn.IChainable] = {
            "validate": validate,
            "converse": converse,
            "auto": both,
        }
        choose = sfn.Choice(self, "Choose path")
        for mode, first in paths.items():
            choose.when(sfn.Condition.string_equals("$.job.mode", mode), first)
        choose.otherwise(paths[DEFAULT_MODE])

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
            definition_body=sfn.DefinitionBody.from_chainable(describe.next(choose)),
            # Named under a customer-managed key: the key grants name its ARN.
            state_machine_name=self._name,
            state_machine_type=sfn.StateMachineType.STANDARD,
            timeout=Duration.minutes(30),
            tracing_enabled=True,
            logs=sfn.LogOptions(
                destination=self.log_group,
                level=sfn.LogLevel.ALL,
                include_execution_data=True,
            ),
        )
        encryption.encrypt_state_machine(self.state_machine, self._name)
        self.publish.meter(
            state_machine=self.state_machine,
            # (its own memory it reads from its context: its name here would be a cycle)
            functions=[self.describe_upload.function, validation_function, converse_function],
            gpu_usd_per_hour=(
                gpu_usd_per_hour(config.voice_instance_type, config.voice_instance_usd_per_hour)
                if voice_jobs is not None
                else None
            ),
        )
        # the history is under the key, if any
        self.grant_key_use(self.publish.function, read_only=True)
        self._acknowledge_role_findings(
            [
                self.describe_upload.function,
                validation_function,
                converse_function,
                self.publish.function,
            ]
        )

    def grant_key_use(self, grantee: iam.IGrantable, *, read_only: bool = False) -> None:
        """The key (if any) for a principal that starts or answers executions, or reads their
        history (`read_only`): Encryption.grant_executions for this state machine."""
        self._encryption.grant_executions(grantee, self._name, read_only=read_only)

    def _acknowledge_role_findings(self, functions: list[lambda_.IFunction]) -> None:
        role = self.state_machine.role
        acknowledge(
            role,
            "IAM5[Resource::*]",
            "Step Functions log delivery (logs:CreateLogDelivery & co.) and X-Ray "
            "(xray:PutTraceSegments & co.) do not support resource-level permissions.",
        )
        for function in functions:
            function_id = logical_id(function)
            acknowledge(
                role,
                f"IAM5[Resource::<{function_id}.Arn>:*]",
                "LambdaInvoke grants lambda:InvokeFunction on the function and its "
                "versions/aliases (<arn>:*), all of the same function.",
            )
