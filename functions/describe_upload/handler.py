"""Pipeline step "Describe upload": check the uploaded object and turn it into a job."""

import boto3
from aws_lambda_powertools import Logger, Tracer

from fala.core.correlation import correlation_id_of
from fala.core.uploads import UploadLimits, describe_upload

logger = Logger()
tracer = Tracer()
s3 = boto3.client("s3")
limits = UploadLimits.from_env()


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def handler(event, context):
    logger.set_correlation_id(correlation_id_of(event))
    job = describe_upload(event, s3=s3, limits=limits)
    logger.info(
        "Upload described",
        extra={"mode": job.mode, "format": job.audio_format, "bytes": job.upload.size},
    )
    return job.model_dump()
