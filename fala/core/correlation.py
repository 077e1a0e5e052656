"""The correlation id of a run: the upload's `bucket/key`, in every log line of every step.

Each Lambda sets it (Powertools `Logger.set_correlation_id`) from whatever payload it gets: the S3
"Object Created" event (Start pipeline, Describe upload), the Job (Validate speech, Converse, the
GPU voice service's worker) or the Publish payload `{"execution", "state"}`; the result document
and the outcome event carry it too. One CloudWatch Logs Insights query then follows an upload from
its event to its outcome: `filter correlation_id = "<bucket>/<key>"`.
"""

from __future__ import annotations

from typing import Any


def correlation_id(bucket: str, key: str) -> str:
    return f"{bucket}/{key}"


def correlation_id_of(payload: Any) -> str | None:
    """The upload's `bucket/key` from any pipeline payload; None when it names no upload."""
    if not isinstance(payload, dict):
        return None
    if isinstance(payload.get("state"), dict):  # Publish outcome / Publish failure
        return correlation_id_of(payload["state"])
    detail = payload.get("detail")
    if isinstance(detail, dict):  # the S3 event (and the state, which keeps it)
        found = _upload_id(_get(detail, "bucket", "name"), _get(detail, "object", "key"))
        if found:
            return found
    for upload in (payload.get("upload"), _get(payload, "job", "upload")):  # a Job, or a state
        found = _upload_id(_get(upload, "bucket"), _get(upload, "key"))
        if found:
            return found
    return None


def _get(value: Any, *path: str) -> Any:
    for name in path:
        if not isinstance(value, dict):
            return None
        value = value.get(name)
    return value


def _upload_id(bucket: Any, key: Any) -> str | None:
    if isinstance(bucket, str) and isinstance(key, str) and bucket and key:
        return correlation_id(bucket, key)
    return None
