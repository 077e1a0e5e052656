"""Whisper speech validation: one container image, two functions.

- API: behind a Lambda Function URL (the synchronous `POST /` contract of `fala serve`).
- TASK: the state machine's "Validate speech" step, reading the upload from S3.

Both run the same image (same asset hash, so it is built and pushed once) with a different CMD.
Synth never runs Docker for image assets; only `cdk deploy` builds the image.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from aws_cdk import Duration, IgnoreMode
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_ecr_assets as ecr_assets
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_secretsmanager as secretsmanager
from constructs import Construct

from infra.config import FalaConfig
from infra.constructs.encryption import Encryption
from infra.constructs.lambda_defaults import image_function
from infra.constructs.tables import expiring_table
from infra.nag import acknowledge, skip_checkov

REPO_ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = "containers/whisper_validation/Dockerfile"
API_CMD = ["whisper_validation.api.handler"]
TASK_CMD = ["whisper_validation.task.handler"]

# The build context is the repo root (the image needs fala/core too), narrowed to an allowlist so
# unrelated files neither bloat the context nor change the asset hash.
BUILD_CONTEXT_EXCLUDE = [
    "*",
    "!fala/__init__.py",
    "!fala/core",
    "!containers/whisper_validation",
    "**/__pycache__",
    "**/*.pyc",
    "**/.pytest_cache",
    "**/.mypy_cache",
    "**/.ruff_cache",
]


class SpeechValidation(Construct):
    def __init__(
        self, scope: Construct, id: str, *, config: FalaConfig, encryption: Encryption
    ) -> None:
        super().__init__(scope, id)

        def image(cmd: list[str]) -> lambda_.DockerImageCode:
            return lambda_.DockerImageCode.from_image_asset(
                str(REPO_ROOT),
                file=DOCKERFILE,
                exclude=BUILD_CONTEXT_EXCLUDE,
                ignore_mode=IgnoreMode.DOCKER,
                platform=ecr_assets.Platform.LINUX_AMD64,
                build_args={"WHISPER_MODEL": config.whisper_model},
                cmd=cmd,
            )

        # Challenge phrases (fala.core.challenge): one item per issued challenge, kept a day past
        # its expiry (TTL) so a late replay still reads "used"; no audio, no personal data.
        self.challenge_table = expiring_table(self, "Challenges", encryption=encryption)
        # The HMAC-SHA256 key that signs challenge tokens (fala.core.challenge): a forged or
        # altered token is refused before any table access.
        self.challenge_key = secretsmanager.Secret(
            self,
            "ChallengeKey",
            description="Key signing Fala's challenge tokens (HMAC-SHA256)",
            generate_secret_string=secretsmanager.SecretStringGenerator(
                password_length=64, exclude_punctuation=True
            ),
        )
        encryption.encrypt_secret(self.challenge_key)  # the two readers' grants are below
        acknowledge(
            self.challenge_key,
            "SMG4",
            "Rotating the key only voids the challenges issued in the last challenge_ttl_seconds "
            "(60 s by default); rotate it by hand (a new secret value) when it may have leaked.",
        )
        # Enrolled voices (fala.core.voiceprints), kept speaker_retention_days after enrolment.
        self.speaker_table = expiring_table(
            self,
            "Speakers",
            encryption=encryption,
            without_backups=(
                "Voiceprints are biometric data (LGPD): an erased one must not live on in 35 days "
                "of point-in-time backups. A lost table means enrolling again, not lost records."
            ),
        )
        environment = {
            "MAX_AUDIO_SECONDS": str(config.max_audio_seconds),
            "MAX_EXPECTED_SPEECH_CHARS": str(config.max_expected_speech_chars),
            "DEFAULT_LANGUAGE": config.default_language,
            "CHALLENGE_TTL_SECONDS": str(config.challenge_ttl_seconds),
            "CHALLENGE_UTC_OFFSET_MINUTES": str(config.challenge_utc_offset_minutes),
            "SPEAKER_THRESHOLD": str(config.speaker_threshold),
            "SPEAKER_TELEPHONE_THRESHOLD": str(config.speaker_telephone_threshold),
            "SPEAKER_RETENTION_DAYS": str(config.speaker_retention_days),
        }
        common: dict[str, Any] = {
            "service": "fala-validation",
            "config": config,
            "environment": environment,
            "memory_size": config.validation_memory_mb,
            "timeout": Duration.seconds(config.validation_timeout_seconds),
        }

        public = config.function_url_auth == "NONE"
        self.api_function = image_function(
            self,
            "Api",
            code=image(API_CMD),
            description="Fala speech validation API (Function URL)",
            # An unauthenticated URL is throttled so strangers cannot run up the bill.
            reserved_concurrent_executions=(
                config.public_url_reserved_concurrency if public else None
            ),
            **common,
        )
        self.function_url = self.api_function.add_function_url(
            auth_type=(
                lambda_.FunctionUrlAuthType.NONE if public else lambda_.FunctionUrlAuthType.AWS_IAM
            ),
        )
        if public:
            skip_checkov(
                self.function_url,
                "CKV_AWS_258",
                "A public URL exists only when fala:function_url_auth=NONE asks for it (AWS_IAM "
                "by default); it is then throttled by reserved concurrency "
                f"({config.public_url_reserved_concurrency}).",
            )

        self.task_function = image_function(
            self,
            "Task",
            code=image(TASK_CMD),
            description="Fala speech validation step of the pipeline",
            **common,
        )

        # Challenges: the API issues (put) and redeems (a conditional update; a read only when
        # the condition fails); the pipeline's task redeems challenges named in upload metadata.
        # Voiceprints: the API enrols (put), erases (delete) and checks (get); the task checks.
        def allow(
            function: lambda_.Function, variable: str, table: dynamodb.TableV2, *actions: str
        ) -> None:
            table.grant(function, *(f"dynamodb:{action}" for action in actions))
            function.add_environment(variable, table.table_name)

        api, task = self.api_function, self.task_function
        allow(api, "CHALLENGE_TABLE", self.challenge_table, "PutItem", "UpdateItem", "GetItem")
        allow(task, "CHALLENGE_TABLE", self.challenge_table, "UpdateItem", "GetItem")
        allow(api, "SPEAKER_TABLE", self.speaker_table, "PutItem", "DeleteItem", "GetItem")
        allow(task, "SPEAKER_TABLE", self.speaker_table, "GetItem")
        for function in (api, task):
            self.challenge_key.grant_read(function)
            function.add_environment("CHALLENGE_KEY_SECRET", self.challenge_key.secret_arn)
            encryption.grant_via(function, "secretsmanager", "kms:Decrypt")
        for function in (self.api_function, self.task_function):
            encryption.grant_via(
                function,
                "dynamodb",
                "kms:Decrypt",
                "kms:Encrypt",
                "kms:GenerateDataKey",
                "kms:DescribeKey",
            )
