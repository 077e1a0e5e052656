"""Pipeline step "Publish outcome": result document in S3 + outcome event on the project's bus.

Exactly once per execution: the step is retried (and a redriven execution re-runs it), so the
publication is recorded in DynamoDB under the execution id (Powertools idempotency); a repeat
returns the recorded document instead of putting a second event.

The document's `cost` comes from the execution's own history (each Lambda attempt's duration
times its function's memory, FUNCTION_MEMORY_MB), the conversation's tokens or GPU seconds
(GPU_USD_PER_HOUR): fala/core/cost.py.
"""

import json
import os
from datetime import UTC, datetime

import boto3
from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.idempotency import (
    DynamoDBPersistenceLayer,
    IdempotencyConfig,
    idempotent,
)

from fala.core.correlation import correlation_id_of
from fala.core.cost import execution_history, lambda_attempts, run_cost, state_transitions
from fala.core.models import Cost, ResultDocument
from fala.core.outcome import OutcomeTargets, publish_outcome

logger = Logger()
tracer = Tracer()
metrics = Metrics(namespace="Fala")
s3 = boto3.client("s3")
events = boto3.client("events")
sfn = boto3.client("stepfunctions")
MEMORY_MB: dict[str, int] = json.loads(os.environ.get("FUNCTION_MEMORY_MB") or "{}")
GPU_USD_PER_HOUR = (
    float(os.environ["GPU_USD_PER_HOUR"]) if os.environ.get("GPU_USD_PER_HOUR") else None
)
targets = OutcomeTargets.from_env()
persistence = DynamoDBPersistenceLayer(table_name=os.environ["IDEMPOTENCY_TABLE"])
idempotency = IdempotencyConfig(
    event_key_jmespath="execution",
    raise_on_no_idempotency_key=True,
    # Longer than any retry or redrive of one execution (Step Functions keeps them 14 days).
    expires_after_seconds=15 * 24 * 3600,
)


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
@idempotent(config=idempotency, persistence_store=persistence)
def handler(event, context):
    logger.set_correlation_id(correlation_id_of(event))

    def meter(document: ResultDocument) -> Cost | None:
        try:
            history = execution_history(sfn, document.execution)
        except Exception as error:  # the result matters more than its price tag
            logger.warning(
                "No cost: the execution history is unreadable", extra={"error": str(error)}
            )
            return None
        memory = {**MEMORY_MB, context.function_name: int(context.memory_limit_in_mb)}
        return run_cost(
            lambdas=lambda_attempts(history, now=datetime.now(UTC)),
            memory_mb=memory,
            transitions=state_transitions(history),
            conversations=[document.conversation] if document.conversation else [],
            gpu_usd_per_hour=GPU_USD_PER_HOUR,
        )

    document = publish_outcome(
        event["execution"], event["state"], s3=s3, events=events, targets=targets, meter=meter
    )
    metrics.add_metric(
        name="SpeechFailed" if document.error else "SpeechProcessed", unit=MetricUnit.Count, value=1
    )
    if document.cost is not None:
        metrics.add_metric(
            name="RunCostMicroUSD",
            unit=MetricUnit.Count,
            value=round(document.cost.total_usd * 1e6),
        )
    logger.info(
        "Outcome published",
        extra={
            "status": document.status,
            "error": document.error and document.error.code,
            "cost": document.cost and document.cost.model_dump(),
        },
    )
    return document.model_dump(mode="json", exclude_none=True)
