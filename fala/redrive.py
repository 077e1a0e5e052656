"""Find what failed and run it again: failed executions whose error is worth retrying, and
messages parked in the dead-letter queues.

- A failed execution is re-run as a new execution of the same input named `<name>-redrive-<n>`
  (the pipeline catches failures and publishes them, so the original ends in its Fail state and
  Step Functions' own redrive would only fail again). The new run overwrites the result document.
- An upload event parked in the intake DLQ (from the rule's target or from the start Lambda's
  on-failure destination) is started exactly as the start Lambda would have started it.
- A voice job parked in its DLQ is sent back to the job queue while its execution still waits;
  otherwise it is reported (the execution has timed out and is re-run as a failed execution).

Works on boto3 clients, so the same code serves a deployed stack and the local emulation.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from fala.core.intake import start_execution
from fala.core.outcome import error_info

REDRIVE_MARK = "-redrive-"
_MAX_NAME = 80


@dataclass
class FailedRun:
    execution_arn: str
    name: str
    error: str
    message: str
    retryable: bool
    input: dict[str, Any]


@dataclass
class DeadLetter:
    queue_url: str
    kind: str  # "upload event" | "voice job" | "unreadable"
    receipt_handle: str
    body: Any
    detail: str = ""


@dataclass
class RedriveReport:
    failed_runs: list[FailedRun] = field(default_factory=list)
    dead_letters: list[DeadLetter] = field(default_factory=list)
    actions: list[str] = field(default_factory=list)


def failed_runs(sfn: Any, state_machine_arn: str) -> list[FailedRun]:
    runs = []
    paginator = sfn.get_paginator("list_executions")
    for page in paginator.paginate(stateMachineArn=state_machine_arn, statusFilter="FAILED"):
        for summary in page["executions"]:
            described = sfn.describe_execution(executionArn=summary["executionArn"])
            info = error_info(
                {
                    "Error": described.get("error", "States.Runtime"),
                    "Cause": described.get("cause", ""),
                }
            )
            runs.append(
                FailedRun(
                    execution_arn=summary["executionArn"],
                    name=summary["name"],
                    error=info.error,
                    message=info.message,
                    retryable=info.retryable,
                    input=json.loads(described.get("input") or "{}"),
                )
            )
    return runs


def next_name(name: str, taken: set[str]) -> str:
    """`<base>-redrive-<n>` with the lowest free n, within Step Functions' 80 characters."""
    base = name.split(REDRIVE_MARK)[0]
    n = 1
    while True:
        suffix = f"{REDRIVE_MARK}{n}"
        candidate = base[: _MAX_NAME - len(suffix)] + suffix
        if candidate not in taken:
            return candidate
        n += 1


def peek_dead_letters(sqs: Any, queue_url: str) -> list[DeadLetter]:
    """Every message in a DLQ, held invisible for a minute while we decide (not deleted)."""
    letters: list[DeadLetter] = []
    seen: set[str] = set()
    while True:
        messages = sqs.receive_message(
            QueueUrl=queue_url, MaxNumberOfMessages=10, VisibilityTimeout=60
        ).get("Messages", [])
        fresh = [m for m in messages if m["MessageId"] not in seen]
        if not fresh:
            return letters
        for message in fresh:
            seen.add(message["MessageId"])
            letters.append(_classify(queue_url, message))


def _classify(queue_url: str, message: dict[str, Any]) -> DeadLetter:
    try:
        body = json.loads(message["Body"])
    except ValueError:
        return DeadLetter(queue_url, "unreadable", message["ReceiptHandle"], message["Body"])
    # The start Lambda's on-failure destination wraps the event in an invocation record.
    event = body.get("requestPayload", body) if isinstance(body, dict) else body
    if isinstance(event, dict) and event.get("source") == "aws.s3":
        key = event.get("detail", {}).get("object", {}).get("key", "?")
        return DeadLetter(queue_url, "upload event", message["ReceiptHandle"], event, key)
    if isinstance(event, dict) and event.get("detail", {}).get("task_token"):
        detail = event["detail"]
        return DeadLetter(
            queue_url, "voice job", message["ReceiptHandle"], event, detail.get("execution", "?")
        )
    return DeadLetter(queue_url, "unreadable", message["ReceiptHandle"], body)


def redrive(
    *,
    sfn: Any,
    sqs: Any,
    state_machine_arn: str,
    dead_letter_queues: dict[str, str],
    job_queue_url: str | None = None,
    dry_run: bool = False,
) -> RedriveReport:
    """List failed executions and dead letters; unless dry_run, re-run and re-send them."""
    report = RedriveReport(failed_runs=failed_runs(sfn, state_machine_arn))
    statuses = _statuses(sfn, state_machine_arn)
    handled: set[str] = set()
    for run in report.failed_runs:
        base = run.name.split(REDRIVE_MARK)[0]
        if base in handled:
            continue  # one decision per upload, whatever its earlier attempts
        handled.add(base)
        attempts = {n: st for n, st in statuses.items() if n.split(REDRIVE_MARK)[0] == base}
        if any(st in ("RUNNING", "SUCCEEDED") for st in attempts.values()):
            report.actions.append(f"skip {run.name}: a later attempt ran or is running")
            continue
        if not run.retryable:
            report.actions.append(f"skip {run.name}: {run.error} needs a new upload")
            continue
        name = next_name(run.name, set(attempts))
        report.actions.append(f"re-run {run.name} as {name}")
        if not dry_run:
            sfn.start_execution(
                stateMachineArn=state_machine_arn, name=name, input=json.dumps(run.input)
            )

    for queue_url in dead_letter_queues.values():
        for letter in peek_dead_letters(sqs, queue_url):
            report.dead_letters.append(letter)
            action, consumed = _resend(
                letter,
                sfn=sfn,
                sqs=sqs,
                machine=state_machine_arn,
                job_queue_url=job_queue_url,
                dry_run=dry_run,
            )
            if not consumed:  # visible again at once, for the next look
                sqs.change_message_visibility(
                    QueueUrl=letter.queue_url,
                    ReceiptHandle=letter.receipt_handle,
                    VisibilityTimeout=0,
                )
            report.actions.append(action)
    return report


def _statuses(sfn: Any, state_machine_arn: str) -> dict[str, str]:
    found = {}
    for page in sfn.get_paginator("list_executions").paginate(stateMachineArn=state_machine_arn):
        found.update({e["name"]: e["status"] for e in page["executions"]})
    return found


def _resend(
    letter: DeadLetter,
    *,
    sfn: Any,
    sqs: Any,
    machine: str,
    job_queue_url: str | None,
    dry_run: bool,
) -> tuple[str, bool]:
    """What was done, and whether the dead letter was consumed (deleted)."""
    if letter.kind == "upload event":
        if dry_run:
            return f"start the pipeline for {letter.detail}", False
        started = start_execution(letter.body, sfn=sfn, state_machine_arn=machine)
        sqs.delete_message(QueueUrl=letter.queue_url, ReceiptHandle=letter.receipt_handle)
        already = " (already ran)" if started["duplicate"] else ""
        return f"started {started['execution_name']} for {letter.detail}{already}", True
    if letter.kind == "voice job":
        execution = letter.detail
        status = _status(sfn, execution)
        if status != "RUNNING" or job_queue_url is None:
            return (
                f"leave voice job of {execution}: its execution is {status}; re-run that instead",
                False,
            )
        if dry_run:
            return f"send the voice job of {execution} back to the job queue", False
        sqs.send_message(QueueUrl=job_queue_url, MessageBody=json.dumps(letter.body))
        sqs.delete_message(QueueUrl=letter.queue_url, ReceiptHandle=letter.receipt_handle)
        return f"sent the voice job of {execution} back to the job queue", True
    return f"leave an unreadable message in {letter.queue_url} for inspection", False


def _status(sfn: Any, execution_arn: str) -> str:
    try:
        return str(sfn.describe_execution(executionArn=execution_arn)["status"])
    except Exception:  # an ARN from a message body may be malformed or from elsewhere
        return "UNKNOWN"
