"""Describe upload: turn an S3 "Object Created" event into a job, or reject it with a reason."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from email.errors import HeaderParseError
from email.header import decode_header, make_header
from typing import Any, get_args
from urllib.parse import unquote_plus

from fala.core.challenge import is_token
from fala.core.errors import PayloadTooLarge, UploadNotFound, UploadRejected
from fala.core.formats import SNIFF_BYTES, SUPPORTED_FORMATS, sniff_format
from fala.core.models import (
    METADATA_CHALLENGE_TOKEN,
    METADATA_EXPECTED_SPEECH,
    METADATA_LANGUAGE,
    METADATA_MODE,
    METADATA_SPEAKER_ID,
    METADATA_VOICE,
    SPEAKER_ID_PATTERN,
    Job,
    Mode,
    Upload,
)

# Paths this deployment runs; the converse and auto paths arrive with their own issues.
MAX_METADATA_VALUE_CHARS = 500


@dataclass(frozen=True)
class UploadLimits:
    max_upload_bytes: int = 20 * 1024 * 1024
    default_language: str = "pt-BR"

    @classmethod
    def from_env(cls) -> UploadLimits:
        return cls(
            max_upload_bytes=int(os.environ.get("MAX_UPLOAD_BYTES", cls.max_upload_bytes)),
            default_language=os.environ.get("DEFAULT_LANGUAGE", cls.default_language),
        )


def describe_upload(event: dict[str, Any], *, s3: Any, limits: UploadLimits) -> Job:
    detail = event.get("detail") or {}
    try:
        bucket = detail["bucket"]["name"]
        event_key = detail["object"]["key"]
    except (KeyError, TypeError) as exc:
        raise UploadRejected(
            "The event is not an S3 'Object Created' event (detail.bucket.name and "
            "detail.object.key are required)."
        ) from exc

    # The key as it is now: deleted since the event (a delete marker) → UploadNotFound, since
    # whoever deleted it does not want it processed. Overwritten since → the version the event
    # announced (the new one has an event and a run of its own).
    key, head = _head_object(s3, bucket, event_key)
    announced = detail["object"].get("version-id")
    if announced and head.get("VersionId") not in (None, announced):
        key, head = _head_object(s3, bucket, key, announced)
    size = int(head["ContentLength"])
    if size == 0:
        raise UploadRejected(f"s3://{bucket}/{key} is empty; upload an audio file.")
    if size > limits.max_upload_bytes:
        raise UploadRejected(
            f"s3://{bucket}/{key} is {size:,} bytes; the limit is {limits.max_upload_bytes:,} "
            "bytes. Upload a shorter clip or compress it (for example to OGG/Opus)."
        )

    version = {"VersionId": head["VersionId"]} if head.get("VersionId") else {}
    first_bytes = s3.get_object(
        Bucket=bucket, Key=key, Range=f"bytes=0-{SNIFF_BYTES - 1}", **version
    )
    audio_format = sniff_format(first_bytes["Body"].read())
    if audio_format is None:
        raise UploadRejected(
            f"s3://{bucket}/{key} is not audio in a supported format "
            f"({', '.join(SUPPORTED_FORMATS)})."
        )

    metadata = {name.lower(): _decode(value) for name, value in head.get("Metadata", {}).items()}
    mode = metadata.get(METADATA_MODE, "validate").strip().lower()
    if mode not in get_args(Mode):
        raise UploadRejected(
            f"Metadata mode={mode!r} is not a mode; use one of: {', '.join(get_args(Mode))}."
        )
    expected = metadata.get(METADATA_EXPECTED_SPEECH, "").strip() or None
    token = metadata.get(METADATA_CHALLENGE_TOKEN, "").strip() or None
    if token is not None and not is_token(token):
        raise UploadRejected(
            f"Metadata {METADATA_CHALLENGE_TOKEN} is not a token POST /challenge returned; "
            "ask for a new challenge."
        )
    speaker_id = metadata.get(METADATA_SPEAKER_ID, "").strip() or None
    if speaker_id is not None and not re.match(SPEAKER_ID_PATTERN, speaker_id):
        raise UploadRejected(
            f"Metadata {METADATA_SPEAKER_ID}={speaker_id[:40]!r} is not a speaker id: 1-128 "
            "letters, digits and . _ @ + -, as enrolled with POST /speakers/{id}."
        )
    if mode in ("validate", "auto") and expected is None and token is None:
        raise UploadRejected(
            f"Mode {mode!r} validates speech and needs the expected phrase: set the object "
            f"metadata x-amz-meta-{METADATA_EXPECTED_SPEECH} (for example 'ENTRADA 13 40'), "
            f"or x-amz-meta-{METADATA_CHALLENGE_TOKEN} from POST /challenge."
        )

    return Job(
        upload=Upload(
            bucket=bucket,
            key=key,
            size=size,
            etag=head.get("ETag", "").strip('"') or None,
            version_id=head.get("VersionId"),
        ),
        mode=mode,  # type: ignore[arg-type]  # checked against Mode above
        expected_speech=expected,
        language=metadata.get(METADATA_LANGUAGE, "").strip() or limits.default_language,
        voice=metadata.get(METADATA_VOICE, "").strip() or None,
        challenge_token=token,
        speaker_id=speaker_id,
        audio_format=audio_format,
    )


# S3's answers for an object (or version) that is not there.
MISSING_OBJECT_CODES = frozenset({"404", "NoSuchKey", "NotFound", "NoSuchVersion", "NoSuchBucket"})


def read_upload(s3: Any, upload: Upload, *, max_bytes: int | None = None) -> bytes:
    """The uploaded audio: exactly the version "Describe upload" saw (every path of a run — the
    validation, the conversation, the GPU worker — reads the same bytes, even if the key is
    overwritten meanwhile). A missing object or version is UploadNotFound; an object over
    `max_bytes` is PayloadTooLarge, refused before its body is read."""
    request = {"Bucket": upload.bucket, "Key": upload.key}
    if upload.version_id:
        request["VersionId"] = upload.version_id
    try:
        obj = s3.get_object(**request)
    except Exception as exc:
        if _s3_error_code(exc) in MISSING_OBJECT_CODES:
            raise UploadNotFound(
                f"s3://{upload.bucket}/{upload.key} no longer exists (deleted, or its version "
                "overwritten and expired, after the upload event); upload it again."
            ) from exc
        raise
    size = int(obj.get("ContentLength", 0))
    if max_bytes is not None and size > max_bytes:
        obj["Body"].close()
        raise PayloadTooLarge(
            f"The upload has {size:,} bytes; this step reads at most {max_bytes:,}."
        )
    return obj["Body"].read()


def _s3_error_code(exc: Exception) -> str | None:
    response = getattr(exc, "response", None)
    return (response or {}).get("Error", {}).get("Code") if isinstance(response, dict) else None


def _head_object(
    s3: Any, bucket: str, event_key: str, version_id: str | None = None
) -> tuple[str, dict[str, Any]]:
    """HeadObject on the key as the event names it, then URL-decoded (S3 events may encode it);
    on the version the event announced, when it names one."""
    candidates = dict.fromkeys([event_key, unquote_plus(event_key)])
    version = {"VersionId": version_id} if version_id else {}
    for key in candidates:
        try:
            return key, s3.head_object(Bucket=bucket, Key=key, **version)
        except s3.exceptions.ClientError as exc:
            if exc.response["Error"]["Code"] not in MISSING_OBJECT_CODES:
                raise
    raise UploadNotFound(
        f"s3://{bucket}/{event_key} no longer exists (deleted after it was uploaded?). "
        "Upload it again to start a new run."
    )


def _malformed(value: str) -> str:
    return (
        f"Metadata value {value[:100]!r} is a malformed RFC 2047 encoded word; send ASCII text "
        "as is, or non-ASCII text as =?UTF-8?B?<base64 of its UTF-8 bytes>?=."
    )


def _decode(value: str) -> str:
    """Metadata values are ASCII on the wire; non-ASCII arrives RFC 2047-encoded (=?UTF-8?...?=)."""
    try:
        text = str(make_header(decode_header(value)))
    except HeaderParseError as exc:
        raise UploadRejected(_malformed(value)) from exc
    except (ValueError, LookupError):
        text = value
    if value.strip() and not text:  # an encoded word that decodes to nothing at all
        raise UploadRejected(_malformed(value))
    if len(text) > MAX_METADATA_VALUE_CHARS:
        raise UploadRejected(
            f"A metadata value is {len(text)} characters; the limit is {MAX_METADATA_VALUE_CHARS}."
        )
    return text
