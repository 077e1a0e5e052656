"""State machine task "Validate speech": the Job from "Describe upload" in, a Validation out.

Typed errors propagate: their class name is the error name Step Functions catches.
"""

from __future__ import annotations

from typing import Any

import boto3
from aws_lambda_powertools import Logger, Tracer
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import ValidationError

from fala.core import uploads
from fala.core.correlation import correlation_id_of
from fala.core.errors import FalaError, InvalidRequest
from fala.core.models import Job, Upload
from fala.core.speech_check import SpeechCheck, Tables, validate_recording
from fala.core.validation import check_expected_speech
from whisper_validation import engine

logger = Logger(service=engine.SERVICE)
tracer = Tracer(service=engine.SERVICE)
s3 = boto3.client("s3")


@tracer.capture_method(capture_response=False)
def read_upload(upload: Upload) -> bytes:
    return uploads.read_upload(s3, upload)


@logger.inject_lambda_context
@tracer.capture_lambda_handler(capture_response=False)
@engine.metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    logger.set_correlation_id(correlation_id_of(event))
    try:
        return _validate_job(event)
    except FalaError as error:
        logger.info("Job refused", extra={"error": type(error).__name__, "code": error.code})
        engine.record_error(error.code)
        raise
    except Exception:
        logger.exception("Validation task failed")
        engine.record_error("internal_error")
        raise


def _validate_job(event: dict[str, Any]) -> dict[str, Any]:
    try:
        job = Job.model_validate(event)
    except ValidationError as error:
        raise InvalidRequest(f"The task input is not a job: {error}") from error
    # Checked before the S3 read: a job without a text to compare is hopeless.
    if job.challenge_token is None or job.expected_speech is not None:
        check_expected_speech(
            job.expected_speech, max_chars=engine.settings.max_expected_speech_chars
        )
    check = SpeechCheck(
        job.expected_speech,
        None if job.challenge_token else job.language,  # a challenge says its own language
        job.challenge_token,
        job.speaker_id,
        phrase_field="expected-speech",
        use=_use_of(job.upload),  # a retry of this step finds the challenge redeemed by itself
    )
    validation = validate_recording(
        read_upload(job.upload),
        check,
        validate=engine.validate,
        settings=engine.settings,
        tables=Tables(engine.challenges(), engine.speaker_table()),
    )
    engine.record(validation)
    logger.info("Validation", extra=engine.log_fields(validation))
    return validation.model_dump(mode="json")


def _use_of(upload: Upload) -> str:
    """The upload version a challenge is redeemed by."""
    return f"s3://{upload.bucket}/{upload.key}#{upload.version_id or upload.etag or ''}"
