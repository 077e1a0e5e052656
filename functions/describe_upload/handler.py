"""Pipeline step "Describe upload": check the uploaded object and turn it into a job."""

import boto3
from aws_lambda_powertools import Logger, Tracer

from fala.core.uploads import UploadLimits, describe_upload

logger = Logger()
tracer = Tracer()
s3 = boto3.client("s3")
limits = UploadLimits.from_env()


@logger.inject_lambda_context(correlation_id_path="detail.object.key")
@tracer.capture_lambda_handler
def handler(event, context):
    return describe_upload(event, s3=s3, limits=limits).model_dump()
