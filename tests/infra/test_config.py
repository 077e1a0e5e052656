"""The app's config: defaults, coercion of -c strings, and clear errors on bad context."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from cdk_synth import REPO_ROOT

from fala.core.settings import ValidationSettings
from infra.assembly import cdk_json_context
from infra.config import ConfigError, FalaConfig


def test_cdk_json_context_matches_the_model_defaults() -> None:
    assert FalaConfig.from_context(cdk_json_context()) == FalaConfig()


def test_defaults() -> None:
    config = FalaConfig()
    assert config.whisper_model == "base"
    assert config.validation_memory_mb == 2560
    assert config.function_url_auth == "AWS_IAM"
    assert config.max_upload_mb == 20
    assert config.max_upload_bytes == 20 * 1024 * 1024
    assert config.max_audio_seconds == 30  # a setting, not a timing
    assert config.default_language == "pt-BR"


def test_the_stack_s_speaker_thresholds_are_the_fitted_defaults() -> None:
    # infra/ keeps its own copies (it does not import the engine); they must not drift apart.
    config, engine = FalaConfig(), ValidationSettings()
    assert config.speaker_threshold == engine.speaker_threshold
    assert config.speaker_telephone_threshold == engine.speaker_telephone_threshold
    assert config.speaker_retention_days == engine.speaker_retention_days


def test_cli_strings_are_coerced() -> None:
    config = FalaConfig.from_context(
        {"fala:validation_memory_mb": "4096", "fala:function_url_auth": "NONE"}
    )
    assert config.validation_memory_mb == 4096
    assert config.function_url_auth == "NONE"


def test_other_context_keys_are_ignored() -> None:
    assert FalaConfig.from_context({"@aws-cdk/core:newStyleStackSynthesis": True}) == FalaConfig()


@pytest.mark.parametrize(
    ("context", "key"),
    [
        ({"fala:function_url_auth": "PUBLIC"}, "fala:function_url_auth"),
        ({"fala:validation_memory_mb": "lots"}, "fala:validation_memory_mb"),
        ({"fala:validation_memory_mb": 64}, "fala:validation_memory_mb"),
        ({"fala:log_retention_days": 31}, "fala:log_retention_days"),
        ({"fala:default_language": "Portuguese"}, "fala:default_language"),
        ({"fala:stage": "Prod!"}, "fala:stage"),
        ({"fala:max_upload_mbs": 5}, "fala:max_upload_mbs"),
        ({"fala:upload_expiration_days": 60}, "(config)"),
        ({"fala:speaker_threshold": 1.5}, "fala:speaker_threshold"),
        ({"fala:speaker_telephone_threshold": 0}, "fala:speaker_telephone_threshold"),
        ({"fala:speaker_retention_days": 0}, "fala:speaker_retention_days"),
    ],
)
def test_invalid_context_names_the_key(context: dict[str, object], key: str) -> None:
    with pytest.raises(ConfigError, match="Invalid Fala configuration") as info:
        FalaConfig.from_context(context)
    assert key in str(info.value)


def test_retention_maps_to_the_cdk_enum() -> None:
    from aws_cdk import aws_logs as logs

    assert FalaConfig(log_retention_days=14).log_retention == logs.RetentionDays.TWO_WEEKS


def test_synth_fails_with_a_clear_message_on_bad_context() -> None:
    context = {**cdk_json_context(), "fala:function_url_auth": "PUBLIC"}
    env = {**os.environ, "CDK_CONTEXT_JSON": json.dumps(context)}
    result = subprocess.run(
        [sys.executable, "app.py"],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 1
    assert "fala:function_url_auth" in result.stderr
    assert "Traceback" not in result.stderr
