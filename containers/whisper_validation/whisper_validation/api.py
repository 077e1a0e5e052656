"""Function URL handler: POST / {"expected_speech", "audio" (base64), "language"?,
"challenge_token"?, "speaker_id"?}, POST /challenge {"action"?, "language"?}, and POST|DELETE
/speakers/{id} (fala.core.function_url)."""

from __future__ import annotations

import json
from typing import Any

from aws_lambda_powertools import Logger, Tracer
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from fala.core.errors import FalaError
from fala.core.function_url import error_response, handle_validation_request, route_of
from fala.core.models import Validation
from whisper_validation import engine

logger = Logger(service=engine.SERVICE)
tracer = Tracer(service=engine.SERVICE)


def _record(validation: Validation) -> None:
    engine.record(validation)
    logger.info("Validation", extra=engine.log_fields(validation))


@logger.inject_lambda_context(correlation_id_path=correlation_paths.LAMBDA_FUNCTION_URL)
@tracer.capture_lambda_handler(capture_response=False)  # responses echo the request's text
@engine.metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    try:
        answer = handle_validation_request(
            event,
            engine.validate,
            engine.settings,
            challenges=engine.challenges(),
            speakers=engine.speaker_table(),
            on_verdict=_record,
        )
    except Exception:
        # A Function URL turns an unhandled error into a bare 502; answer JSON instead.
        logger.exception("Validation request failed")
        answer = error_response(FalaError("The validation failed unexpectedly; try again later."))
    if answer["statusCode"] >= 400:
        error = json.loads(answer["body"])
        logger.info(
            "Request refused",
            extra={
                "status": answer["statusCode"],
                "error": error["error"],
                "detail": error["message"],
            },
        )
        engine.record_error(error["error"])
    else:
        engine.record_request(route_of(event).name)
    return answer
