"""Documents that travel between the pipeline's states and out to users.

Payloads between states stay small: audio always travels as an S3 reference.
"""

from __future__ import annotations

import hashlib
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

Mode = Literal["validate", "converse", "auto"]
Status = Literal["SUCCEEDED", "FAILED"]

# S3 object metadata keys (x-amz-meta-*) a caller sets on an upload.
METADATA_EXPECTED_SPEECH = "expected-speech"
METADATA_MODE = "mode"
METADATA_LANGUAGE = "language"
METADATA_VOICE = "voice"
METADATA_CHALLENGE_TOKEN = "challenge-token"  # noqa: S105 (a metadata name; from POST /challenge)
METADATA_SPEAKER_ID = "speaker-id"  # an enrolled voice (POST /speakers/{id}) to check

RESULTS_PREFIX = "results/"
# An enrolled speaker's id: an employee number, an e-mail address (fala.core.voiceprints).
SPEAKER_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._@+-]{0,127}$"


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
    challenge_token: str | None = None
    speaker_id: str | None = Field(None, pattern=SPEAKER_ID_PATTERN)
    audio_format: str


class SpeakerCheck(_Model):
    """Whether the audio sounds like an enrolled voice (fala.core.voiceprints)."""

    id: str
    verified: bool
    score: float | None = Field(
        description="Cosine similarity with the voiceprint; null: too little speech to tell"
    )
    threshold: float
    telephone_score: float | None = Field(
        description="Cosine similarity with the voiceprint of the enrolment clips through a "
        "telephone line; null: too little speech, or a voice enrolled before that voiceprint"
    )
    telephone_threshold: float | None
    # "match": the wideband voiceprint; "telephone_match": only the telephone one (a phone call)
    reason: Literal["match", "telephone_match", "mismatch", "too_little_speech"]


def _absent(value: object) -> bool:
    return value is None


class Validation(_Model):
    validated: bool
    spoken_text_in_audio: str
    expected_speech: str
    normalized_expected: str
    normalized_spoken: str
    confidence: float = Field(ge=0.0, le=1.0)
    language: str
    reason: str
    # Only when a speaker check was asked for: `validated` stays the phrase's verdict, and
    # `accepted` holds when the phrase is validated and the speaker verified.
    speaker: SpeakerCheck | None = Field(default=None, exclude_if=_absent)
    accepted: bool | None = Field(default=None, exclude_if=_absent)

    def with_speaker(self, check: SpeakerCheck) -> Validation:
        return self.model_copy(
            update={"speaker": check, "accepted": self.validated and check.verified}
        )


Backend = Literal["nova-sonic", "gpu-service"]


class Usage(_Model):
    """Token counts a conversation backend reported (Nova Sonic's usageEvent totals)."""

    input_speech_tokens: int = Field(0, ge=0)
    input_text_tokens: int = Field(0, ge=0)
    output_speech_tokens: int = Field(0, ge=0)
    output_text_tokens: int = Field(0, ge=0)


class Conversation(_Model):
    """One spoken turn: what the user said, the reply text and the reply audio (WAV in S3)."""

    user_text: str
    assistant_text: str
    reply_audio: S3Ref | None = None
    backend: Backend
    model: str
    voice: str | None = None
    language: str
    usage: Usage | None = None
    cost_usd: float | None = Field(None, ge=0.0, description="From usage, at list prices")
    gpu_seconds: float | None = Field(
        default=None, ge=0.0, description="GPU voice service: the seconds its worker held the job"
    )


class Cost(_Model):
    """What one run cost at list prices, item by item (an estimate; see fala/core/cost.py)."""

    lambda_invocations: int = Field(ge=0, description="Lambda attempts, retries included")
    lambda_gb_seconds: float = Field(ge=0.0)
    lambda_usd: float = Field(ge=0.0, description="GB-seconds and requests")
    state_transitions: int = Field(ge=0)
    step_functions_usd: float = Field(ge=0.0)
    nova_usd: float = Field(ge=0.0, description="Nova Sonic tokens")
    gpu_seconds: float = Field(ge=0.0, description="GPU voice service time on the job")
    gpu_usd: float | None = Field(
        default=None, ge=0.0, description="None: the instance's price is unknown"
    )
    total_usd: float = Field(ge=0.0)


class ErrorInfo(_Model):
    code: str
    message: str
    error: str = Field(description="The error name Step Functions saw (class name or States.*)")
    retryable: bool = Field(description="False when the upload itself must change first")
    how_to_retry: str


OUTCOME_SOURCE = "fala.pipeline"
DETAIL_TYPE_PROCESSED = "Speech Processed"
DETAIL_TYPE_FAILED = "Speech Failed"
# The GPU voice service's jobs travel on the same bus (their detail carries a task token).
DETAIL_TYPE_VOICE_JOB = "Voice Job Requested"


class ResultDocument(_Model):
    """results/<upload key>.json and the detail of the outcome event."""

    upload: Upload
    execution: str
    status: Status
    validation: Validation | None = None
    conversation: Conversation | None = None
    error: ErrorInfo | None = None
    cost: Cost | None = None
    correlation_id: str | None = Field(
        default=None, description="The upload's bucket/key: every log line of the run carries it"
    )
    completed_at: str


# S3 keys are at most 1,024 bytes of UTF-8.
MAX_KEY_BYTES = 1024


def result_key(upload_key: str) -> str:
    """results/<upload key>.json; a key too long for that keeps its start and gets a hash."""
    key = f"{RESULTS_PREFIX}{upload_key}.json"
    if len(key.encode()) <= MAX_KEY_BYTES:
        return key
    digest = hashlib.sha256(upload_key.encode()).hexdigest()[:16]
    room = MAX_KEY_BYTES - len(f"{RESULTS_PREFIX}~{digest}.json")
    start = upload_key.encode()[:room].decode("utf-8", "ignore")
    return f"{RESULTS_PREFIX}{start}~{digest}.json"


def reply_audio_key(upload_key: str) -> str:
    """Where a conversation's reply WAV is written, next to the result document."""
    return result_key(upload_key).removesuffix(".json") + ".reply.wav"
