"""Nova Sonic settings (from the Lambda's environment) and the voice/language choice."""

from __future__ import annotations

import os
from collections.abc import Mapping

from pydantic import BaseModel, ConfigDict, Field, model_validator

from fala.core.errors import InvalidRequest, UnsupportedLanguage
from fala.core.languages import language_family, tag_key
from fala.core.prompts import DEFAULT_SYSTEM_PROMPT
from fala.core.sonic.audio import END_OF_TURN_SILENCE_SECONDS, LEADING_SILENCE_SECONDS
from fala.core.sonic.protocol import ALLOWED_VOICES, VOICES

DEFAULT_MODEL_ID = "amazon.nova-2-sonic-v1:0"
# "off": no endpoint to call (the local emulation sets it unless a Bedrock fake is configured).
SONIC_OFF_VARIABLE = "FALA_SONIC"
SESSION_LIMIT_SECONDS = 480.0  # Bedrock closes a bidirectional stream after 8 minutes

# Language (or its primary subtag) → locale with voices; the first voice of a locale is its default.
_LANGUAGE_LOCALES = {
    "pt": "pt-BR",
    "pt-br": "pt-BR",
    "en": "en-US",
    "en-us": "en-US",
    "en-gb": "en-GB",
    "en-au": "en-AU",
    "en-in": "en-IN",
    "hi": "hi-IN",
    "hi-in": "hi-IN",
    "fr": "fr-FR",
    "fr-fr": "fr-FR",
    "it": "it-IT",
    "it-it": "it-IT",
    "de": "de-DE",
    "de-de": "de-DE",
    "es": "es-US",
    "es-us": "es-US",
}


class SonicSettings(BaseModel):
    """Everything a conversation needs besides the audio. Time boxes are in seconds."""

    model_config = ConfigDict(frozen=True)

    model_id: str = DEFAULT_MODEL_ID
    region: str = "us-east-1"
    system_prompt: str = Field(DEFAULT_SYSTEM_PROMPT, min_length=1)
    max_tokens: int = Field(1024, gt=0, le=10_000)
    top_p: float = Field(0.9, ge=0.0, le=1.0)
    temperature: float = Field(0.7, ge=0.0, le=1.0)
    default_language: str = "pt-BR"
    # 1.0 sends audio in real time; 0 as fast as the stream accepts it (back-pressure only).
    chunk_pace: float = Field(1.0, ge=0.0, le=10.0)
    # Overall budget of one conversation: keep it below the Lambda timeout (leave ≥ 10 s for S3
    # and the cold start) and below Bedrock's 8-minute session limit.
    budget_seconds: float = Field(240.0, gt=0, le=SESSION_LIMIT_SECONDS - 10)
    invoke_timeout: float = Field(10.0, gt=0)  # invoke: hangs on credential errors otherwise
    output_timeout: float = Field(10.0, gt=0)  # await_output: hangs after HTTP 429 otherwise
    receive_timeout: float = Field(20.0, gt=0)  # silence between two output events
    send_timeout: float = Field(10.0, gt=0)  # one send, including back-pressure
    close_timeout: float = Field(5.0, gt=0)
    # Time kept for the reply once the user's audio (and its end-of-turn silence) is sent.
    reply_reserve_seconds: float = Field(30.0, ge=0)

    @model_validator(mode="after")
    def _budget_leaves_room(self) -> SonicSettings:
        if self.max_input_seconds() <= 0:
            raise ValueError(
                f"budget_seconds={self.budget_seconds:g} leaves no time for any input audio "
                f"(reply reserve {self.reply_reserve_seconds:g} s, pace {self.chunk_pace:g})"
            )
        return self

    def max_input_seconds(self) -> float:
        """The longest clip that fits the budget: sending it (with its leading and end-of-turn
        silence) at `chunk_pace` plus the reply reserve must fit, and so must the session limit."""
        framing = LEADING_SILENCE_SECONDS + END_OF_TURN_SILENCE_SECONDS
        by_session = SESSION_LIMIT_SECONDS - self.reply_reserve_seconds - framing
        if self.chunk_pace <= 0:
            by_budget = self.budget_seconds - self.reply_reserve_seconds
        else:
            by_budget = (self.budget_seconds - self.reply_reserve_seconds) / self.chunk_pace
            by_budget -= framing
        return round(min(by_budget, by_session), 3)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> SonicSettings:
        """From SONIC_MODEL_ID, SONIC_REGION (else AWS_REGION), SYSTEM_PROMPT, SONIC_MAX_TOKENS,
        SONIC_TOP_P, SONIC_TEMPERATURE, SONIC_BUDGET_SECONDS, CHUNK_PACE, DEFAULT_LANGUAGE.
        A bad value fails the cold start (pydantic ValidationError): a deployment mistake."""
        env = os.environ if env is None else env
        names = {
            "model_id": "SONIC_MODEL_ID",
            "region": "SONIC_REGION",
            "system_prompt": "SYSTEM_PROMPT",
            "max_tokens": "SONIC_MAX_TOKENS",
            "top_p": "SONIC_TOP_P",
            "temperature": "SONIC_TEMPERATURE",
            "budget_seconds": "SONIC_BUDGET_SECONDS",
            "chunk_pace": "CHUNK_PACE",
            "default_language": "DEFAULT_LANGUAGE",
        }
        values = {f: env[v] for f, v in names.items() if env.get(v, "").strip()}
        if "region" not in values and env.get("AWS_REGION", "").strip():
            values["region"] = env["AWS_REGION"]
        return cls.model_validate(values)


def voice_locale(language: str) -> str:
    locale = _LANGUAGE_LOCALES.get(tag_key(language))
    if locale is None:
        locale = _LANGUAGE_LOCALES.get(language_family(language))
    if locale is None:
        known = ", ".join(sorted({"pt-BR", "en", *VOICES}))
        raise UnsupportedLanguage(
            f"Nova Sonic has no voice for language {language!r}. Use one of: {known}."
        )
    return locale


def resolve_voice(language: str, voice: str | None) -> str:
    """A given voice wins (lowercased); otherwise the language's default (pt-BR → carolina,
    en → matthew)."""
    if voice and voice.strip():
        chosen = voice.strip().lower()
        if chosen not in ALLOWED_VOICES:
            known = ", ".join(sorted(ALLOWED_VOICES))
            raise InvalidRequest(f"Unknown Nova Sonic voice {voice!r}. Use one of: {known}.")
        return chosen
    return VOICES[voice_locale(language)][0]
