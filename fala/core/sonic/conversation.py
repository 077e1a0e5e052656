"""One spoken turn with Nova Sonic from an audio file: the logic behind the converse Lambda and
`fala talk --file`."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from fala.core.errors import InvalidAudio, InvalidRequest
from fala.core.models import Conversation, Job, S3Ref, Usage, reply_audio_key
from fala.core.sonic.audio import decode_to_pcm16, wav_bytes
from fala.core.sonic.pricing import cost_usd
from fala.core.sonic.session import ClientFactory, Turn, converse_pcm, run_sync
from fala.core.sonic.settings import SonicSettings, resolve_voice, voice_locale
from fala.core.uploads import read_upload

BACKEND: Final = "nova-sonic"


@dataclass(frozen=True)
class Reply:
    turn: Turn
    language: str
    voice: str
    wav: bytes  # the reply audio, 24 kHz mono 16-bit WAV
    usage: Usage
    cost_usd: float


def converse_audio(
    data: bytes,
    settings: SonicSettings,
    *,
    language: str | None = None,
    voice: str | None = None,
    client_factory: ClientFactory | None = None,
) -> Reply:
    """Any audio file in → the reply. Typed errors: InvalidAudio, AudioTooLong (longer than the
    budget allows), UnsupportedLanguage, InvalidRequest (unknown voice), and the Sonic* errors."""
    language = (language or "").strip() or settings.default_language
    voice_locale(language)  # UnsupportedLanguage before any decoding
    chosen = resolve_voice(language, voice)
    pcm = decode_to_pcm16(data, max_seconds=settings.max_input_seconds())
    turn = run_sync(converse_pcm(pcm, settings, voice=chosen, client_factory=client_factory))
    return Reply(
        turn=turn,
        language=language,
        voice=chosen,
        wav=wav_bytes(turn.reply_pcm),
        usage=turn.usage,
        cost_usd=cost_usd(turn.usage),
    )


def converse_direct(
    event: Mapping[str, Any],
    settings: SonicSettings,
    *,
    client_factory: ClientFactory | None = None,
) -> dict[str, str]:
    """The direct-invocation seed contract: {"audio": <base64>, "language"?, "voice"?} →
    {"user_text", "assistant_text", "audio": <base64 WAV>}."""
    audio = event.get("audio")
    if not isinstance(audio, str):
        raise InvalidRequest(
            'Send {"audio": "<base64 of a WAV/MP3/OGG/FLAC file>"} (optional "language", "voice").'
        )
    try:
        data = base64.b64decode(audio.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise InvalidRequest(
            '"audio" is not valid base64. Encode the file\'s bytes, e.g. `base64 -w0 clip.wav`.'
        ) from None
    if not data:
        raise InvalidAudio('"audio" is empty. Send the base64 of a non-empty recording.')
    language, voice = _optional_str(event, "language"), _optional_str(event, "voice")
    reply = converse_audio(
        data, settings, language=language, voice=voice, client_factory=client_factory
    )
    return {
        "user_text": reply.turn.user_text,
        "assistant_text": reply.turn.assistant_text,
        "audio": base64.b64encode(reply.wav).decode("ascii"),
    }


def converse_job(
    event: Mapping[str, Any],
    settings: SonicSettings,
    *,
    s3: Any,
    results_bucket: str | None = None,
    client_factory: ClientFactory | None = None,
) -> Conversation:
    """The state machine's input (a Job): read the upload from S3, converse, write the reply WAV
    to `reply_audio_key(upload.key)` and return the Conversation."""
    try:
        job = Job.model_validate(dict(event))
    except ValueError as exc:
        raise InvalidRequest(f"The converse step got a malformed job: {exc}") from None
    upload = job.upload
    data = read_upload(s3, upload)
    reply = converse_audio(
        data,
        settings,
        language=job.language,
        voice=job.voice,
        client_factory=client_factory,
    )
    bucket = results_bucket or upload.bucket
    key = reply_audio_key(upload.key)
    s3.put_object(Bucket=bucket, Key=key, Body=reply.wav, ContentType="audio/wav")
    return Conversation(
        user_text=reply.turn.user_text,
        assistant_text=reply.turn.assistant_text,
        reply_audio=S3Ref(bucket=bucket, key=key),
        backend=BACKEND,
        model=settings.model_id,
        voice=reply.voice,
        language=reply.language,
        usage=reply.usage,
        cost_usd=reply.cost_usd,
    )


def _optional_str(event: Mapping[str, Any], name: str) -> str | None:
    value = event.get(name)
    if value is None:
        return None
    if not isinstance(value, str):
        raise InvalidRequest(f'"{name}" must be a string.')
    return value
