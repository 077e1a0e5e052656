"""One validation, whichever entry point asked: the Function URL's `POST /` and the pipeline's
"Validate speech" step both come here with the recording's bytes and what to check it against.

The order is the contract: everything that can refuse the request (unreadable audio, an unknown
speaker) comes before a challenge token is spent; then the phrase (the caller's, or the
challenge's), then the voice.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from fala.core.audio import decode_audio
from fala.core.challenge import ChallengeStore, check_phrase, redeem_challenge
from fala.core.models import Validation
from fala.core.settings import ValidationSettings
from fala.core.voiceprints import compare, voiceprint

# The engine's judgement of decoded audio against a phrase, in a language (None: detect).
Validate = Callable[[np.ndarray, str, str | None], Validation]


@dataclass(frozen=True)
class SpeechCheck:
    expected_speech: str | None  # None: the challenge's phrase
    language: str | None  # None: the challenge's, else detected
    challenge_token: str | None = None
    speaker_id: str | None = None
    phrase_field: str = "expected_speech"  # how the caller names the phrase, for messages
    use: str | None = None  # redeem the challenge as this use (a retried step redeems again)


@dataclass(frozen=True)
class Tables:
    """The deployment's challenge store (fala.core.challenge.ChallengeStore: its table and
    signing key) and voiceprint table (a boto3 Table); None where it has none."""

    challenges: ChallengeStore | None = None
    speakers: Any = None


def validate_recording(
    recording: bytes,
    check: SpeechCheck,
    *,
    validate: Validate,
    settings: ValidationSettings,
    tables: Tables,
) -> Validation:
    """The verdict on `recording` (any format decode_audio takes); FalaErrors for bad input."""
    audio = decode_audio(recording, max_seconds=settings.max_audio_seconds)
    enrolled = None if check.speaker_id is None else voiceprint(tables.speakers, check.speaker_id)
    expected, language = check.expected_speech, check.language
    if check.challenge_token is not None:
        redeemed = redeem_challenge(tables.challenges, check.challenge_token, by=check.use)
        check_phrase(expected, redeemed, check.phrase_field)
        expected, language = redeemed.expected_speech, language or redeemed.language
    if expected is None:
        raise ValueError("A check needs an expected phrase or a challenge token.")
    validation = validate(audio, expected, language)
    if check.speaker_id is not None and enrolled is not None:
        speaker = compare(
            check.speaker_id,
            enrolled,
            audio,
            threshold=settings.speaker_threshold,
            telephone_threshold=settings.speaker_telephone_threshold,
        )
        validation = validation.with_speaker(speaker)
    return validation
