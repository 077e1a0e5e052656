"""Settings every Fala Lambda shares, in one place instead of copy-pasted Function(...) blocks.

- x86_64: the bundled wheels (pip --platform manylinux2014_x86_64) and the image's base are x86_64.
- X-Ray active tracing and Powertools environment, so traces and logs line up per execution.
- A log group per function with the configured retention, and a role that may write only to it
  (no AWSLambdaBasicExecutionRole, whose logs:* grant covers every log group in the account).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct

from infra.config import FalaConfig
from infra.constructs.bundling import zip_function_code
from infra.nag import acknowledge, skip_checkov

POWERTOOLS_METRICS_NAMESPACE = "Fala"
ARCHITECTURE = lambda_.Architecture.X86_64
ZIP_RUNTIME = lambda_.Runtime.PYTHON_3_12


def powertools_environment(service: str) -> dict[str, str]:
    return {
        "POWERTOOLS_SERVICE_NAME": service,
        "POWERTOOLS_METRICS_NAMESPACE": POWERTOOLS_METRICS_NAMESPACE,
        "POWERTOOLS_LOG_LEVEL": "INFO",
        # Events carry user-chosen keys and metadata; log them only when debugging on purpose.
        "POWERTOOLS_LOGGER_LOG_EVENT": "false",
    }


def _role_and_log_group(
    scope: Construct, *, description: str, config: FalaConfig
) -> tuple[iam.Role, logs.LogGroup]:
    log_group = logs.LogGroup(
        scope,
        "Logs",
        retention=config.log_retention,
        removal_policy=RemovalPolicy.DESTROY,
    )
    role = iam.Role(
        scope,
        "Role",
        assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
        description=description,
    )
    log_group.grant_write(role)
    return role, log_group


def _acknowledge_tracing(function: lambda_.Function) -> None:
    """X-Ray's PutTraceSegments/PutTelemetryRecords have no resource-level permissions."""
    acknowledge(
        function.role,  # type: ignore[arg-type]
        "IAM5[Resource::*]",
        "X-Ray tracing: xray:PutTraceSegments and xray:PutTelemetryRecords do not support "
        "resource-level permissions (added by tracing=ACTIVE).",
    )


def _acknowledge_no_dead_letter_config(function: lambda_.Function, *, on_failure: bool) -> None:
    """checkov wants a DeadLetterConfig, which only applies to asynchronous invocations."""
    reason = (
        "Asynchronous failures go to an on-failure destination (an SQS dead-letter queue, with "
        "the request and the error), which supersedes DeadLetterConfig."
        if on_failure
        else "Invoked synchronously only (a Step Functions task or the Function URL): the caller "
        "sees each failure and retries or records it; a dead-letter queue applies to "
        "asynchronous invocations only."
    )
    skip_checkov(function, "CKV_AWS_116", reason)


def zip_function(
    scope: Construct,
    id: str,
    *,
    source: str,
    service: str,
    description: str,
    config: FalaConfig,
    environment: Mapping[str, str] | None = None,
    memory_size: int = 256,
    timeout: Duration | None = None,
    **kwargs: Any,
) -> lambda_.Function:
    """A python3.12 zip function from functions/<source>/ (handler.handler) + fala.core."""
    holder = Construct(scope, id)
    role, log_group = _role_and_log_group(holder, description=description, config=config)
    function = lambda_.Function(
        holder,
        "Function",
        code=zip_function_code(source),
        handler="handler.handler",
        runtime=ZIP_RUNTIME,
        architecture=ARCHITECTURE,
        description=description,
        role=role,
        log_group=log_group,
        tracing=lambda_.Tracing.ACTIVE,
        memory_size=memory_size,
        timeout=timeout or Duration.seconds(30),
        environment={**powertools_environment(service), **(environment or {})},
        **kwargs,
    )
    _acknowledge_tracing(function)
    _acknowledge_no_dead_letter_config(function, on_failure="on_failure" in kwargs)
    acknowledge(
        function,
        "L1",
        "python3.12 is pinned on purpose: the bundled wheels, the container base image and the "
        "local toolchain all target CPython 3.12 (DESIGN §2).",
    )
    return function


def image_function(
    scope: Construct,
    id: str,
    *,
    code: lambda_.DockerImageCode,
    service: str,
    description: str,
    config: FalaConfig,
    environment: Mapping[str, str] | None = None,
    memory_size: int,
    timeout: Duration,
    **kwargs: Any,
) -> lambda_.DockerImageFunction:
    """A container-image function with the same tracing, logging and Powertools defaults."""
    holder = Construct(scope, id)
    role, log_group = _role_and_log_group(holder, description=description, config=config)
    function = lambda_.DockerImageFunction(
        holder,
        "Function",
        code=code,
        architecture=ARCHITECTURE,
        description=description,
        role=role,
        log_group=log_group,
        tracing=lambda_.Tracing.ACTIVE,
        memory_size=memory_size,
        timeout=timeout,
        environment={**powertools_environment(service), **(environment or {})},
        **kwargs,
    )
    _acknowledge_tracing(function)
    _acknowledge_no_dead_letter_config(function, on_failure="on_failure" in kwargs)
    return function
