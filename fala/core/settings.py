"""Limits and defaults of the validation entry points, read from the environment."""

from __future__ import annotations

import os
from collections.abc import Mapping

from pydantic import BaseModel, ConfigDict, Field

from fala.core.speaker import DEFAULT_THRESHOLD, TELEPHONE_THRESHOLD


class ValidationSettings(BaseModel):
    model_config = ConfigDict(frozen=True)

    max_audio_seconds: float = Field(default=30.0, gt=0, le=600)
    max_expected_speech_chars: int = Field(default=200, gt=0, le=10_000)
    default_language: str = "pt-BR"
    # Challenge phrases (fala.core.challenge): how long a token lasts, and the clock's time zone
    # as a UTC offset (Brasília: -180, no daylight saving since 2019).
    challenge_ttl_seconds: int = Field(default=60, ge=10, le=3600)
    challenge_utc_offset_minutes: int = Field(default=-180, ge=-720, le=840)
    # The speaker check (fala.core.voiceprints): the similarity a voice needs (to the wideband
    # voiceprint, or to the telephone one), and how long voiceprints are kept after an enrolment.
    speaker_threshold: float = Field(default=DEFAULT_THRESHOLD, gt=0.0, lt=1.0)
    speaker_telephone_threshold: float = Field(default=TELEPHONE_THRESHOLD, gt=0.0, le=1.0)
    speaker_retention_days: int = Field(default=365, ge=1, le=3650)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> ValidationSettings:
        """Settings from MAX_AUDIO_SECONDS, MAX_EXPECTED_SPEECH_CHARS, DEFAULT_LANGUAGE and
        CHALLENGE_TTL_SECONDS, CHALLENGE_UTC_OFFSET_MINUTES, SPEAKER_THRESHOLD,
        SPEAKER_TELEPHONE_THRESHOLD and SPEAKER_RETENTION_DAYS.

        A bad value raises pydantic's ValidationError at import time: a deployment mistake,
        not a user error, so it should fail the cold start loudly.
        """
        env = os.environ if env is None else env
        names = {
            "max_audio_seconds": "MAX_AUDIO_SECONDS",
            "max_expected_speech_chars": "MAX_EXPECTED_SPEECH_CHARS",
            "default_language": "DEFAULT_LANGUAGE",
            "challenge_ttl_seconds": "CHALLENGE_TTL_SECONDS",
            "challenge_utc_offset_minutes": "CHALLENGE_UTC_OFFSET_MINUTES",
            "speaker_threshold": "SPEAKER_THRESHOLD",
            "speaker_telephone_threshold": "SPEAKER_TELEPHONE_THRESHOLD",
            "speaker_retention_days": "SPEAKER_RETENTION_DAYS",
        }
        return cls.model_validate({f: env[v] for f, v in names.items() if env.get(v, "").strip()})
