"""Starting one pipeline execution per upload, named after it.

EventBridge's Step Functions target cannot name executions, so a small Lambda starts them: the
name comes from the object key (so the console finds a run by file name) plus a short hash of the
object's identity. S3 → EventBridge delivery is at-least-once; a redelivered event maps to the same
name and Step Functions refuses the duplicate, which is what makes the start exactly-once.
"""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any

MAX_NAME_LENGTH = 80  # Step Functions limit
_HASH_LENGTH = 12
_UNSAFE = re.compile(r"[^A-Za-z0-9_-]+")


def object_identity(detail: dict[str, Any]) -> str:
    """Identity of one version of one object: a re-upload with new content is a new run."""
    obj = detail["object"]
    version = obj.get("version-id")
    if version in (None, "", "null"):  # unversioned buckets report "null"
        version = obj.get("etag") or obj.get("eTag") or obj.get("sequencer")
    return f"{detail['bucket']['name']}/{obj['key']}#{version}"


def execution_name(detail: dict[str, Any]) -> str:
    """`<sanitized key>-<hash>`, at most 80 characters of [A-Za-z0-9_-]."""
    digest = hashlib.sha256(object_identity(detail).encode()).hexdigest()[:_HASH_LENGTH]
    key = detail["object"]["key"].removeprefix("uploads/")
    readable = _UNSAFE.sub("_", key).strip("_") or "upload"
    readable = readable[: MAX_NAME_LENGTH - _HASH_LENGTH - 1]
    return f"{readable}-{digest}"


def start_execution(event: dict[str, Any], *, sfn: Any, state_machine_arn: str) -> dict[str, Any]:
    """Start the run for this upload event, or report that it already exists."""
    name = execution_name(event["detail"])
    try:
        response = sfn.start_execution(
            stateMachineArn=state_machine_arn, name=name, input=json.dumps(event)
        )
    except sfn.exceptions.ExecutionAlreadyExists:
        return {"execution_name": name, "duplicate": True}
    return {"execution_name": name, "execution_arn": response["executionArn"], "duplicate": False}
