"""Pipeline step "Publish outcome": result document in S3 + outcome event on the project's bus."""

import boto3
from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit

from fala.core.outcome import OutcomeTargets, publish_outcome

logger = Logger()
tracer = Tracer()
metrics = Metrics(namespace="Fala")
s3 = boto3.client("s3")
events = boto3.client("events")
targets = OutcomeTargets.from_env()


@logger.inject_lambda_context(correlation_id_path="state.detail.object.key")
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event, context):
    document = publish_outcome(
        event["execution"], event["state"], s3=s3, events=events, targets=targets
    )
    metrics.add_metric(
        name="SpeechFailed" if document.error else "SpeechProcessed", unit=MetricUnit.Count, value=1
    )
    return document.model_dump(mode="json", exclude_none=True)
