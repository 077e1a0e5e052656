"""Publish outcome: the result document in S3 and the outcome event on the project's bus."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from fala.core.correlation import correlation_id_of
from fala.core.errors import error_types, needs_new_upload
from fala.core.models import (
    DETAIL_TYPE_FAILED,
    DETAIL_TYPE_PROCESSED,
    OUTCOME_SOURCE,
    Conversation,
    Cost,
    ErrorInfo,
    ResultDocument,
    Upload,
    Validation,
    result_key,
)

_MAX_MESSAGE_CHARS = 2000


@dataclass(frozen=True)
class OutcomeTargets:
    results_bucket: str
    event_bus_name: str

    @classmethod
    def from_env(cls) -> OutcomeTargets:
        return cls(
            results_bucket=os.environ["RESULTS_BUCKET"],
            event_bus_name=os.environ["EVENT_BUS_NAME"],
        )


def build_result(execution: str, state: dict[str, Any]) -> ResultDocument:
    """The result document from the state's `job`, `validation`, `conversation` and `error`
    (in mode=auto the last two arrive as the Parallel state's branch outputs in `paths`)."""
    for branch_output in state.get("paths") or []:
        state = {**state, **branch_output}
    job = state.get("job") or {}
    error = state.get("error")
    return ResultDocument(
        upload=Upload(**job["upload"]) if "upload" in job else _upload_from_event(state),
        execution=execution,
        status="FAILED" if error else "SUCCEEDED",
        validation=Validation(**state["validation"]) if state.get("validation") else None,
        conversation=(Conversation(**state["conversation"]) if state.get("conversation") else None),
        error=error_info(error) if error else None,
        correlation_id=correlation_id_of(state),
        completed_at=datetime.now(UTC).isoformat(timespec="milliseconds"),
    )


def publish_outcome(
    execution: str,
    state: dict[str, Any],
    *,
    s3: Any,
    events: Any,
    targets: OutcomeTargets,
    meter: Callable[[ResultDocument], Cost | None] | None = None,
) -> ResultDocument:
    """Write the result document and put the outcome event; `meter` adds the run's cost."""
    document = build_result(execution, state)
    if meter is not None:
        document = document.model_copy(update={"cost": meter(document)})
    body = document.model_dump_json(exclude_none=True)
    s3.put_object(
        Bucket=targets.results_bucket,
        Key=result_key(document.upload.key),
        Body=body.encode(),
        ContentType="application/json",
    )
    response = events.put_events(
        Entries=[
            {
                "Source": OUTCOME_SOURCE,
                "DetailType": DETAIL_TYPE_FAILED if document.error else DETAIL_TYPE_PROCESSED,
                "Detail": body,
                "EventBusName": targets.event_bus_name,
                "Resources": [execution],
            }
        ]
    )
    if response.get("FailedEntryCount"):
        # Raising lets the state machine's retry policy send it again.
        raise RuntimeError(f"EventBridge refused the outcome event: {response['Entries']}")
    return document


def error_info(error: dict[str, Any]) -> ErrorInfo:
    """Turn a Step Functions catch (`{"Error", "Cause"}`) into something a user can act on."""
    name = str(error.get("Error", "States.Runtime"))
    cause = str(error.get("Cause", ""))
    message = cause
    try:
        parsed = json.loads(cause)
        if isinstance(parsed, dict):
            message = str(parsed.get("errorMessage", cause))
    except ValueError:
        pass
    known = error_types().get(name)
    if known is not None and needs_new_upload(known):
        return ErrorInfo(
            error=name,
            code=known.code,
            message=message[:_MAX_MESSAGE_CHARS],
            retryable=False,
            how_to_retry="Fix what the message describes and upload the file again.",
        )
    code = "timeout" if name in ("States.Timeout", "States.HeartbeatTimeout") else "internal_error"
    return ErrorInfo(
        error=name,
        code=known.code if known else code,
        message=(message or name)[:_MAX_MESSAGE_CHARS],
        retryable=True,
        how_to_retry="Redrive the failed execution (Step Functions console or "
        "`aws stepfunctions redrive-execution`), or upload the file again.",
    )


def _upload_from_event(state: dict[str, Any]) -> Upload:
    obj = state["detail"]["object"]
    return Upload(
        bucket=state["detail"]["bucket"]["name"],
        key=obj["key"],
        size=int(obj.get("size", 0)),
        etag=obj.get("etag") or obj.get("eTag"),
        version_id=obj.get("version-id"),
    )
