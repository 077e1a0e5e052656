"""Pipeline step "Publish outcome": result document in S3 + outcome event on the project's bus.

Exactly once per execution: the step is retried (and a redriven execution re-runs it), so the
publication is recorded in DynamoDB under the execution id (Powertools idempotency); a repeat
returns the recorded document instead of putting a second event.
"""

import os

import boto3
from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.idempotency import (
    DynamoDBPersistenceLayer,
    IdempotencyConfig,
    idempotent,
)

from fala.core.outcome import OutcomeTargets, publish_outcome

logger = Logger()
tracer = Tracer()
metrics = Metrics(namespace="Fala")
s3 = boto3.client("s3")
events = boto3.client("events")
targets = OutcomeTargets.from_env()
persistence = DynamoDBPersistenceLayer(table_name=os.environ["IDEMPOTENCY_TABLE"])
idempotency = IdempotencyConfig(
    event_key_jmespath="execution",
    raise_on_no_idempotency_key=True,
    # Longer than any retry or redrive of one execution (Step Functions keeps them 14 days).
    expires_after_seconds=15 * 24 * 3600,
)


@logger.inject_lambda_context(correlation_id_path="state.detail.object.key")
@tracer.capture_lambda_handler
@metrics.log_metrics
@idempotent(config=idempotency, persistence_store=persistence)
def handler(event, context):
    document = publish_outcome(
        event["execution"], event["state"], s3=s3, events=events, targets=targets
    )
    metrics.add_metric(
        name="SpeechFailed" if document.error else "SpeechProcessed", unit=MetricUnit.Count, value=1
    )
    return document.model_dump(mode="json", exclude_none=True)
