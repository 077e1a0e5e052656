"""Enrolled voices and the speaker check: who said it.

A voiceprint is the mean GE2E embedding (fala.core.speaker) of three or more clips of one person,
256 numbers from which the audio cannot be rebuilt; the clips themselves are never stored. Each
enrolment keeps two: the clips as recorded (wideband) and the same clips through a model of a
telephone line (fala.core.audio.telephone_channel), because the encoder hears a voice through
the telephone as another voice: enrolled on a good microphone, a person's calls were 95-99 %
rejected. One item per speaker in a DynamoDB table (the stack's key encrypts it, no point-in-time
backups so an erasure is final), deleted by TTL `retention_days` after the last enrolment:

    {"id": speaker id, "embedding": 1 KiB of float32, "telephone_embedding": 1 KiB,
     "clips": 3, "model": MODEL, "enrolled_at": epoch s, "expiration": epoch s}

A check compares a clip's embedding with both (cosine) and is `verified` when either reaches its
threshold (fala.core.speaker.DEFAULT_THRESHOLD and TELEPHONE_THRESHOLD, fitted on real telephony
voices by tests/benchmarks/bench_speaker.py); a voiceprint enrolled before the telephone one
existed is checked with the wideband one only. A clip with too little speech to embed is not
verified ("too_little_speech"): when the audio cannot tell, the answer is no.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

import numpy as np

from fala.core.audio import telephone_channel
from fala.core.errors import InvalidAudio, InvalidRequest, SpeakerNotFound, SpeakersDisabled
from fala.core.models import SPEAKER_ID_PATTERN, SpeakerCheck
from fala.core.speaker import SpeakerEncoder, SpeechTooShort

MIN_ENROLMENT_CLIPS = 3
MAX_ENROLMENT_CLIPS = 10
# Each enrolment clip must sound like the rest (cosine with the others' mean): a clip of someone
# else, or of noise, would make the voiceprint accept both voices. Below the verification
# threshold, as a clip of the same person scores lower against a voiceprint it is not part of.
ENROLMENT_AGREEMENT = 0.70
MODEL = "resemblyzer-0.1.4-ge2e"
_SPEAKER_ID = re.compile(SPEAKER_ID_PATTERN)


@functools.cache
def encoder() -> SpeakerEncoder:
    """The process-wide encoder (5.7 MB of weights, loaded in about 30 ms)."""
    return SpeakerEncoder.from_package()


@dataclass(frozen=True)
class Voiceprint:
    wideband: np.ndarray
    telephone: np.ndarray | None  # None: enrolled before telephone voiceprints were kept


@dataclass(frozen=True)
class Enrolment:
    speaker_id: str
    clips: int
    model: str
    enrolled_at: datetime
    expires_at: datetime

    def to_dict(self) -> dict[str, Any]:
        return {
            "speaker_id": self.speaker_id,
            "clips": self.clips,
            "model": self.model,
            "enrolled_at": self.enrolled_at.isoformat(timespec="seconds"),
            "expires_at": self.expires_at.isoformat(timespec="seconds"),
        }


def check_speaker_id(value: object, field: str = "speaker_id") -> str:
    """A speaker id: 1-128 letters, digits and . _ @ + - (an employee number, an e-mail)."""
    if not isinstance(value, str) or not _SPEAKER_ID.match(value):
        raise InvalidRequest(
            f"{field} must be 1-128 characters of letters, digits and . _ @ + -, starting with a "
            f"letter or digit; got {str(value)[:40]!r}."
        )
    return value


def enroll(
    table: Any,
    speaker_id: str,
    clips: Sequence[np.ndarray],
    *,
    retention_days: int,
    now: datetime | None = None,
) -> Enrolment:
    """Store the voiceprint of `clips` (16 kHz mono) for `speaker_id`, replacing any earlier one."""
    table = _enabled(table)
    check_speaker_id(speaker_id)
    if not MIN_ENROLMENT_CLIPS <= len(clips) <= MAX_ENROLMENT_CLIPS:
        raise InvalidRequest(
            f"Enrolment needs {MIN_ENROLMENT_CLIPS} to {MAX_ENROLMENT_CLIPS} clips of the speaker "
            f"(any phrase, 2 s or more each); got {len(clips)}."
        )
    embeddings = np.stack([_embed_clip(audio, number) for number, audio in enumerate(clips, 1)])
    _check_agreement(embeddings)
    by_telephone = [_embed_clip(telephone_channel(a), n) for n, a in enumerate(clips, 1)]
    now = (now or datetime.now(UTC)).replace(microsecond=0)
    expires_at = now + timedelta(days=retention_days)
    table.put_item(
        Item={
            "id": speaker_id,
            "embedding": _unit(embeddings.mean(axis=0)).astype("<f4").tobytes(),
            "telephone_embedding": _unit(np.mean(by_telephone, axis=0)).astype("<f4").tobytes(),
            "clips": len(clips),
            "model": MODEL,
            "enrolled_at": int(now.timestamp()),
            "expiration": int(expires_at.timestamp()),
        }
    )
    return Enrolment(speaker_id, len(clips), MODEL, now, expires_at)


def forget(table: Any, speaker_id: str) -> None:
    """Erase `speaker_id`'s voiceprint; SpeakerNotFound when there is none."""
    table = _enabled(table)
    check_speaker_id(speaker_id)
    old = table.delete_item(Key={"id": speaker_id}, ReturnValues="ALL_OLD").get("Attributes")
    if not old:
        raise SpeakerNotFound(f"No voice is enrolled as {speaker_id!r}; nothing was erased.")


def voiceprint(table: Any, speaker_id: str, *, now: datetime | None = None) -> Voiceprint:
    """The enrolled voiceprints; SpeakerNotFound when there are none (or they have expired)."""
    table = _enabled(table)
    check_speaker_id(speaker_id)
    item = table.get_item(Key={"id": speaker_id}, ConsistentRead=True).get("Item")
    now = now or datetime.now(UTC)
    # TTL deletes within days of the expiry, not at it: an expired item is already gone.
    if not item or int(item["expiration"]) <= now.timestamp():
        raise SpeakerNotFound(
            f"No voice is enrolled as {speaker_id!r}; enrol it first with POST /speakers/"
            f"{speaker_id} (three or more clips)."
        )
    telephone = item.get("telephone_embedding")
    return Voiceprint(_vector(item["embedding"]), None if telephone is None else _vector(telephone))


def compare(
    speaker_id: str,
    enrolled: Voiceprint,
    audio: np.ndarray,
    *,
    threshold: float,
    telephone_threshold: float,
) -> SpeakerCheck:
    """Does `audio` sound like `speaker_id`'s voiceprints, as recorded or through a telephone?"""
    # (null in the answer when there is no telephone voiceprint to compare with)
    shown_threshold = None if enrolled.telephone is None else telephone_threshold
    try:
        trial = encoder().embed(audio)
    except SpeechTooShort:
        return SpeakerCheck(
            id=speaker_id,
            verified=False,
            score=None,
            threshold=threshold,
            telephone_score=None,
            telephone_threshold=shown_threshold,
            reason="too_little_speech",
        )
    score = round(SpeakerEncoder.similarity(enrolled.wideband, trial), 4)
    by_telephone = (
        None
        if enrolled.telephone is None
        else round(SpeakerEncoder.similarity(enrolled.telephone, trial), 4)
    )
    reason: Literal["match", "telephone_match", "mismatch"]
    if score >= threshold:
        reason = "match"
    elif by_telephone is not None and by_telephone >= telephone_threshold:
        reason = "telephone_match"
    else:
        reason = "mismatch"
    return SpeakerCheck(
        id=speaker_id,
        verified=reason != "mismatch",
        score=score,
        threshold=threshold,
        telephone_score=by_telephone,
        telephone_threshold=shown_threshold,
        reason=reason,
    )


def _embed_clip(audio: np.ndarray, number: int) -> np.ndarray:
    try:
        return encoder().embed(audio)
    except InvalidAudio as error:
        raise InvalidAudio(f"Enrolment clip {number}: {error.message}") from error


def agreements(embeddings: np.ndarray) -> list[float]:
    """Each enrolment clip's similarity to the mean of the others (tests/benchmarks/bench_speaker
    measures how often ENROLMENT_AGREEMENT refuses one person's clips, and catches another's)."""
    total = embeddings.sum(axis=0)
    return [SpeakerEncoder.similarity(_unit(total - e), e) for e in embeddings]


def _check_agreement(embeddings: np.ndarray) -> None:
    for number, agreement in enumerate(agreements(embeddings), 1):
        if agreement < ENROLMENT_AGREEMENT:
            raise InvalidAudio(
                f"Enrolment clip {number} does not sound like the other clips (similarity "
                f"{agreement:.2f}, at least {ENROLMENT_AGREEMENT} needed): send clips of one "
                "person only, spoken evenly (a calm, ordinary voice) and recorded the way the "
                "punches will be."
            )


def _vector(raw: Any) -> np.ndarray:
    """A stored embedding: bytes, or boto3's Binary around them."""
    return np.frombuffer(getattr(raw, "value", raw), dtype="<f4").astype(np.float32)


def _unit(vector: np.ndarray) -> np.ndarray:
    return (vector / np.linalg.norm(vector)).astype(np.float32)


def _enabled(table: Any) -> Any:
    if table is None:
        raise SpeakersDisabled(
            "The speaker check is not enabled in this deployment (no speaker table)."
        )
    return table
