"""Pipeline step "Converse": one spoken turn with Amazon Nova Sonic.

Input: the Job from "Describe upload" (reply WAV written to S3, Conversation returned) or, invoked
directly, {"audio": "<base64>"} → {"user_text", "assistant_text", "audio": "<base64 WAV>"}.
Errors are raised, typed (SonicThrottled, SonicUnavailable, SonicStreamError, SonicModelNotFound,
SonicTimeout, InvalidAudio, AudioTooLong, InvalidRequest, ...): the class name is what Step
Functions routes on.
"""

import os

import boto3
from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit

from fala.core.correlation import correlation_id_of
from fala.core.sonic.conversation import converse_direct, converse_job
from fala.core.sonic.settings import SonicSettings

logger = Logger()
tracer = Tracer()
metrics = Metrics(namespace="Fala")
s3 = boto3.client("s3")
settings = SonicSettings.from_env()
RESULTS_BUCKET = os.environ.get("RESULTS_BUCKET") or None


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event, context):
    logger.set_correlation_id(correlation_id_of(event))
    if isinstance(event, dict) and "upload" in event:
        conversation = converse_job(event, settings, s3=s3, results_bucket=RESULTS_BUCKET)
        metrics.add_metric(name="ConversationTurns", unit=MetricUnit.Count, value=1)
        if conversation.cost_usd is not None:
            metrics.add_metric(
                name="SonicCostMicroUSD",
                unit=MetricUnit.Count,
                value=round(conversation.cost_usd * 1e6),
            )
        logger.info(
            "Conversation", extra={"usage": conversation.usage and conversation.usage.model_dump()}
        )
        return conversation.model_dump(mode="json", exclude_none=True)
    answer = converse_direct(event if isinstance(event, dict) else {}, settings)
    metrics.add_metric(name="ConversationTurns", unit=MetricUnit.Count, value=1)
    return answer
