"""The app's settings: one validated object, built once from cdk.json context.

Every key lives under the `fala:` context namespace, so a deployment overrides one with
`cdk synth -c fala:function_url_auth=NONE` and a typo (`fala:max_upload_mbs`) fails synth instead of
being ignored. Values given with `-c` arrive as strings; pydantic's lax mode turns "3008" into 3008.
"""

from __future__ import annotations

import re
from typing import Any, Literal, Self

from aws_cdk import aws_logs as logs
from constructs import Node
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from fala.core.prompts import DEFAULT_SYSTEM_PROMPT

CONTEXT_PREFIX = "fala:"

# CloudWatch Logs accepts only these retention periods (days → the CDK's enum member).
_RETENTION: dict[int, logs.RetentionDays] = {
    1: logs.RetentionDays.ONE_DAY,
    3: logs.RetentionDays.THREE_DAYS,
    5: logs.RetentionDays.FIVE_DAYS,
    7: logs.RetentionDays.ONE_WEEK,
    14: logs.RetentionDays.TWO_WEEKS,
    30: logs.RetentionDays.ONE_MONTH,
    60: logs.RetentionDays.TWO_MONTHS,
    90: logs.RetentionDays.THREE_MONTHS,
    120: logs.RetentionDays.FOUR_MONTHS,
    150: logs.RetentionDays.FIVE_MONTHS,
    180: logs.RetentionDays.SIX_MONTHS,
    365: logs.RetentionDays.ONE_YEAR,
    400: logs.RetentionDays.THIRTEEN_MONTHS,
    545: logs.RetentionDays.EIGHTEEN_MONTHS,
    731: logs.RetentionDays.TWO_YEARS,
    1096: logs.RetentionDays.THREE_YEARS,
    1827: logs.RetentionDays.FIVE_YEARS,
    2192: logs.RetentionDays.SIX_YEARS,
    2557: logs.RetentionDays.SEVEN_YEARS,
    2922: logs.RetentionDays.EIGHT_YEARS,
    3288: logs.RetentionDays.NINE_YEARS,
    3653: logs.RetentionDays.TEN_YEARS,
}


# Regions that serve Nova 2 Sonic (amazon.nova-2-sonic-v1:0) at the time of writing; widen the
# list when Bedrock adds one (the model id is checked at run time, this only catches typos).
SONIC_REGIONS = ("us-east-1", "us-west-2", "ap-northeast-1", "eu-north-1")


# "create", or a key ARN (a key alias would hide which key the policies below are about).
KMS_KEY_PATTERN = (
    r"^(create|arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:key/"
    r"(mrk-[0-9a-f]{32}|[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}))$"
)


# An ACM certificate's ARN (ACM has no aliases); the certificate must be in the stack's region.
CERTIFICATE_ARN_PATTERN = (
    r"^arn:aws[a-z-]*:acm:[a-z0-9-]+:[0-9]{12}:certificate/"
    r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"
)


class ConfigError(ValueError):
    """Context that cannot build a valid FalaConfig; the message says which key and why."""


class FalaConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    stage: str = Field("dev", pattern=r"^[a-z][a-z0-9-]{0,19}$")
    whisper_model: str = Field("base", pattern=r"^[A-Za-z0-9._/-]+$")
    # The cheapest size within 10 % of 3,008 MB's duration (`make bench`'s memory-size fit, from
    # the 1- and 2-thread times of its clips: ≈ 8 % slower, ≈ 7 % cheaper per validation).
    validation_memory_mb: int = Field(2560, ge=128, le=10240)
    # A Function URL answers synchronously, so keep it well under the 15 minute Lambda cap.
    validation_timeout_seconds: int = Field(60, ge=5, le=900)
    # NONE makes the validation API public; it is opt-in and then throttled (see below).
    function_url_auth: Literal["AWS_IAM", "NONE"] = "AWS_IAM"
    public_url_reserved_concurrency: int = Field(5, ge=1, le=1000)
    log_retention_days: int = 30
    upload_expiration_days: int = Field(7, ge=1)
    results_expiration_days: int = Field(30, ge=1)
    # Lambda's synchronous payload limit (6 MB) does not apply: uploads are read from S3.
    max_upload_mb: int = Field(20, ge=1, le=1024)
    max_audio_seconds: int = Field(30, ge=1, le=600)
    max_expected_speech_chars: int = Field(200, ge=1, le=10_000)
    default_language: str = Field("pt-BR", pattern=r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*$")
    # Challenge phrases (POST /challenge): a token's life, and the clock's UTC offset (Brasília).
    challenge_ttl_seconds: int = Field(60, ge=10, le=3600)
    challenge_utc_offset_minutes: int = Field(-180, ge=-720, le=840)
    # The speaker check (POST /speakers/{id}): the similarity a voice needs (to the wideband
    # voiceprint, or to the telephone one; fala.core.speaker's thresholds), and how many days
    # voiceprints are kept after an enrolment (biometric data: README "Speaker check").
    speaker_threshold: float = Field(0.83, gt=0.0, lt=1.0)
    speaker_telephone_threshold: float = Field(0.88, gt=0.0, le=1.0)
    speaker_retention_days: int = Field(365, ge=1, le=3650)

    # Conversation through Nova Sonic (mode=converse / auto).
    sonic_model_id: str = Field("amazon.nova-2-sonic-v1:0", pattern=r"^[a-z0-9.:-]+$")
    sonic_region: Literal[SONIC_REGIONS] = "us-east-1"  # type: ignore[valid-type]
    system_prompt: str = Field(DEFAULT_SYSTEM_PROMPT, min_length=1, max_length=4000)
    # Below the 8-minute Bedrock session limit and the function timeout (checked below).
    converse_timeout_seconds: int = Field(300, ge=30, le=900)
    converse_memory_mb: int = Field(1024, ge=256, le=10240)

    # The GPU voice service (ECS on EC2 GPU instances): the converse fallback. Off by default,
    # so a stack without GPU quota still deploys; the fallback then ends in a failure outcome.
    voice_service: bool = False
    voice_instance_type: str = Field("g5.xlarge", pattern=r"^g[0-9][a-z0-9]*\.[a-z0-9]+$")
    voice_min_tasks: int = Field(0, ge=0, le=100)
    voice_max_tasks: int = Field(2, ge=1, le=100)
    voice_llm_model: str = Field("llama3.2:3b", pattern=r"^[A-Za-z0-9._:/-]+$")
    voice_job_timeout_seconds: int = Field(600, ge=60, le=3600)
    voice_job_heartbeat_seconds: int = Field(60, ge=10, le=900)
    # The instance's hourly price for the result's cost; unset, the list price of a known type
    # (fala/core/cost.py GPU_USD_PER_HOUR), else the GPU share is left out.
    voice_instance_usd_per_hour: float | None = Field(None, gt=0, le=1000)
    # An ACM certificate for the voice service's load balancer: set, it listens on HTTPS (443)
    # only; unset, on plain HTTP (80) inside the VPC.
    voice_certificate_arn: str | None = None
    # Where alarms are sent (an SNS email subscription); unset, subscribe to the topic yourself.
    alarm_email: str | None = Field(None, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")

    # Bring your own VPC for the voice service: its id, private subnets (with egress, for image
    # pulls and the model download) and their zones, given explicitly (synth makes no lookups).
    # Unset, the stack creates a VPC.
    vpc_id: str | None = Field(None, pattern=r"^vpc-[0-9a-f]{8,17}$")
    private_subnet_ids: list[str] = Field(default_factory=list)
    availability_zones: list[str] = Field(default_factory=list)

    # A customer-managed KMS key for the data at rest: "create" (a new key, rotated yearly) or
    # an existing key's ARN. Unset, every store keeps its AWS-managed or service-owned key.
    kms_key: str | None = Field(None, pattern=KMS_KEY_PATTERN)

    @field_validator("log_retention_days")
    @classmethod
    def _known_retention(cls, days: int) -> int:
        if days not in _RETENTION:
            allowed = ", ".join(str(d) for d in _RETENTION)
            raise ValueError(f"CloudWatch Logs accepts only these retention days: {allowed}")
        return days

    @field_validator("voice_certificate_arn")
    @classmethod
    def _certificate_arn(cls, arn: str | None) -> str | None:
        if arn is not None and not re.fullmatch(CERTIFICATE_ARN_PATTERN, arn):
            raise ValueError(
                "must be an ACM certificate ARN, "
                "arn:aws:acm:<region>:<account>:certificate/<id>, in the stack's region"
            )
        return arn

    @model_validator(mode="after")
    def _results_outlive_uploads(self) -> Self:
        if self.results_expiration_days < self.upload_expiration_days:
            raise ValueError(
                "results_expiration_days must be >= upload_expiration_days, so a result never "
                "disappears before the upload it describes"
            )
        return self

    @model_validator(mode="after")
    def _voice_settings_consistent(self) -> Self:
        if self.voice_max_tasks < self.voice_min_tasks:
            raise ValueError("voice_max_tasks must be >= voice_min_tasks")
        if self.voice_job_heartbeat_seconds >= self.voice_job_timeout_seconds:
            raise ValueError("voice_job_heartbeat_seconds must be < voice_job_timeout_seconds")
        if self.vpc_id and (
            not self.private_subnet_ids
            or len(self.private_subnet_ids) != len(self.availability_zones)
        ):
            raise ValueError(
                "vpc_id needs private_subnet_ids and availability_zones, one zone per subnet"
            )
        if self.voice_certificate_arn and not self.voice_service:
            raise ValueError("voice_certificate_arn is for the voice service: set voice_service")
        return self

    @property
    def max_upload_bytes(self) -> int:
        return self.max_upload_mb * 1024 * 1024

    @property
    def log_retention(self) -> logs.RetentionDays:
        return _RETENTION[self.log_retention_days]

    @classmethod
    def from_context(cls, context: dict[str, Any]) -> FalaConfig:
        """Build from a context mapping; only `fala:*` keys are read, unknown ones are errors."""
        values = {
            key.removeprefix(CONTEXT_PREFIX): value
            for key, value in context.items()
            if key.startswith(CONTEXT_PREFIX)
        }
        try:
            return cls.model_validate(values)
        except ValidationError as exc:
            problems = []
            for err in exc.errors():
                field = ".".join(str(part) for part in err["loc"])
                key = f"{CONTEXT_PREFIX}{field}" if field else "(config)"
                if err["type"] == "extra_forbidden":
                    known = ", ".join(f"{CONTEXT_PREFIX}{name}" for name in cls.model_fields)
                    problems.append(f"  {key}: unknown setting (known: {known})")
                else:
                    got = f" (got {err['input']!r})" if field else ""
                    problems.append(f"  {key}: {err['msg']}{got}")
            raise ConfigError(
                "Invalid Fala configuration in cdk.json context or -c options:\n"
                + "\n".join(problems)
            ) from None

    @classmethod
    def from_node(cls, node: Node) -> FalaConfig:
        return cls.from_context(node.get_all_context())
