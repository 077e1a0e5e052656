"""EventBridge target: start the speech pipeline for one upload, named after it."""

import os

import boto3
from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit

from fala.core.correlation import correlation_id_of
from fala.core.intake import start_execution

logger = Logger()
tracer = Tracer()
metrics = Metrics(namespace="Fala")
sfn = boto3.client("stepfunctions")


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event, context):
    logger.set_correlation_id(correlation_id_of(event))
    metrics.add_metric(name="UploadEvents", unit=MetricUnit.Count, value=1)
    started = start_execution(event, sfn=sfn, state_machine_arn=os.environ["STATE_MACHINE_ARN"])
    if started["duplicate"]:
        logger.info("Duplicate delivery ignored", extra=started)
        metrics.add_metric(name="DuplicateUploadEvents", unit=MetricUnit.Count, value=1)
    else:
        logger.info("Execution started", extra=started)
    return started
