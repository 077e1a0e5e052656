"""Documents that travel between the pipeline's states and out to users.

Payloads between states stay small: audio always travels as an S3 reference.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

Mode = Literal["validate", "converse", "auto"]
Status = Literal["SUCCEEDED", "FAILED"]

# S3 object metadata keys (x-amz-meta-*) a caller sets on an upload.
METADATA_EXPECTED_SPEECH = "expected-speech"
METADATA_MODE = "mode"
METADATA_LANGUAGE = "language"
METADATA_VOICE = "voice"

RESULTS_PREFIX = "results/"


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class S3Ref(_Model):
    bucket: str
    key: str


class Upload(S3Ref):
    size: int = Field(ge=0)
    etag: str | None = None
    version_id: str | None = None


class Job(_Model):
    """What "Describe upload" hands to the processing paths."""

    upload: Upload
    mode: Mode = "validate"
    expected_speech: str | None = None
    language: str | None = None
    voice: str | None = None
    audio_format: str


class Validation(_Model):
    validated: bool
    spoken_text_in_audio: str
    expected_speech: str
    normalized_expected: str
    normalized_spoken: str
    confidence: float = Field(ge=0.0, le=1.0)
    language: str
    reason: str


class ErrorInfo(_Model):
    code: str
    message: str
    error: str = Field(description="The error name Step Functions saw (class name or States.*)")
    retryable: bool = Field(description="False when the upload itself must change first")
    how_to_retry: str


OUTCOME_SOURCE = "fala.pipeline"
DETAIL_TYPE_PROCESSED = "Speech Processed"
DETAIL_TYPE_FAILED = "Speech Failed"


class ResultDocument(_Model):
    """results/<upload key>.json and the detail of the outcome event."""

    upload: Upload
    execution: str
    status: Status
    validation: Validation | None = None
    error: ErrorInfo | None = None
    completed_at: str


def result_key(upload_key: str) -> str:
    return f"{RESULTS_PREFIX}{upload_key}.json"
