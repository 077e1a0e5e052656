"""The process-wide speech validator, built at import so the model loads during the cold start
(init phase) rather than inside the first request."""

from __future__ import annotations

import functools
import os
from typing import Any

import numpy as np
from aws_lambda_powertools import Metrics
from aws_lambda_powertools.metrics import MetricUnit

from fala.core import voiceprints
from fala.core.challenge import ChallengeStore, secret_key
from fala.core.models import Validation
from fala.core.settings import ValidationSettings
from fala.core.validation import SpeechValidator, shared_validator

SERVICE = "whisper-validation"
DEFAULT_MODEL_DIR = "/opt/models/whisper"  # where the image build puts the model

settings = ValidationSettings.from_env()
metrics = Metrics(namespace=os.environ.get("POWERTOOLS_METRICS_NAMESPACE", "Fala"), service=SERVICE)


# Read once: the environment seen at import (the init phase) is the one the model was built from.
MODEL_DIR = os.environ.get("WHISPER_MODEL_DIR") or DEFAULT_MODEL_DIR


def validator() -> SpeechValidator:
    return shared_validator(MODEL_DIR)


def validate(audio: np.ndarray, expected_speech: str, language: str | None) -> Validation:
    """The engine's verdict on decoded audio (fala.core.speech_check.Validate)."""
    limit = settings.max_expected_speech_chars
    return validator().validate(audio, expected_speech, language, max_expected_chars=limit)


@functools.cache
def table(variable: str) -> Any:
    """The DynamoDB table named by environment `variable` (CHALLENGE_TABLE: fala.core.challenge,
    SPEAKER_TABLE: fala.core.voiceprints), None when the stack has none."""
    name = os.environ.get(variable)
    if not name:
        return None
    import boto3

    return boto3.resource("dynamodb").Table(name)


def challenges() -> ChallengeStore | None:
    """The challenge table and the key signing its tokens (CHALLENGE_KEY_SECRET, a Secrets
    Manager secret, read when a challenge needs it), None when the stack has neither."""
    records, secret = table("CHALLENGE_TABLE"), os.environ.get("CHALLENGE_KEY_SECRET")
    if records is None or not secret:
        return None
    return ChallengeStore(records, functools.partial(secret_key, secret))


def speaker_table() -> Any:
    return table("SPEAKER_TABLE")


def record(validation: Validation) -> None:
    """One count per verdict, by reason (match / mismatch / no speech)."""
    metrics.add_dimension(name="reason", value=validation.reason)
    metrics.add_metric(name="SpeechValidations", unit=MetricUnit.Count, value=1)
    metrics.add_metric(
        name="SpeechValidated", unit=MetricUnit.Count, value=int(validation.validated)
    )
    if validation.speaker is not None:
        verified = int(validation.speaker.verified)
        metrics.add_metric(name="SpeakerVerified", unit=MetricUnit.Count, value=verified)


# What a request with no verdict did, counted when it succeeds (a verdict is counted by `record`).
REQUEST_METRICS = {
    "challenge": "ChallengesIssued",
    "enroll": "SpeakersEnrolled",
    "forget": "SpeakersErased",
}


def record_request(route: str) -> None:
    """One count per challenge issued, voice enrolled or voiceprint erased."""
    if route in REQUEST_METRICS:
        metrics.add_metric(name=REQUEST_METRICS[route], unit=MetricUnit.Count, value=1)


def log_fields(validation: Validation) -> dict[str, Any]:
    """What a verdict's log line says (never the transcript or the embedding)."""
    fields: dict[str, Any] = {"reason": validation.reason, "validated": validation.validated}
    if validation.speaker is not None:
        fields |= {"speaker_verified": validation.speaker.verified, "accepted": validation.accepted}
    return fields


def record_error(code: str) -> None:
    """One count per refused or failed request, by error code (invalid_audio, ...)."""
    metrics.add_dimension(name="error", value=code)
    metrics.add_metric(name="SpeechValidationErrors", unit=MetricUnit.Count, value=1)


validator()  # cold start: load the model during the init phase
if os.environ.get("SPEAKER_TABLE"):
    voiceprints.encoder()  # and the speaker encoder (30 ms) where speaker checks are on
