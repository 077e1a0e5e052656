"""What one run cost: the list prices, in one place, and the result document's `cost` object.

Prices: on-demand list prices, US East (N. Virginia), USD, as read in December 2025 from
https://aws.amazon.com/lambda/pricing/ (x86_64), https://aws.amazon.com/step-functions/pricing/
(Standard workflows), https://aws.amazon.com/bedrock/pricing/ (Amazon Nova 2 Sonic) and
https://aws.amazon.com/ec2/pricing/on-demand/ (GPU instances). They change and differ by region
and by discount (free tier, Savings Plans, Spot): a result's figure is an estimate, not a bill.

Where the figures come from:
- Lambda: each Lambda attempt of the execution (retries are billed too) from its history, the
  time from LambdaFunctionStarted to its end, rounded up to the millisecond as Lambda bills, times
  the function's configured memory; the Publish step counts itself up to the moment it writes. The
  start Lambda runs before the execution and is not counted (one short invocation).
- Step Functions: the states entered, the extra attempts of retried tasks, and the final state.
- Nova Sonic: the conversation's tokens (fala.core.sonic.pricing, at the prices below).
- GPU: the seconds the voice service's worker held the job, at the instance's hourly price. A
  GPU instance is paid by the hour whether busy or not; this is the share of the run.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from fala.core.models import Conversation, Cost

# AWS Lambda, x86_64: per GB-second (first 6 billion GB-s a month) and per request.
LAMBDA_USD_PER_GB_SECOND = 0.0000166667
LAMBDA_USD_PER_REQUEST = 0.20 / 1_000_000
# AWS Step Functions Standard workflows: per state transition.
STEP_FUNCTIONS_USD_PER_TRANSITION = 0.025 / 1000
# Amazon Nova 2 Sonic, per 1,000 tokens (used by fala.core.sonic.pricing).
NOVA_SONIC_SPEECH_INPUT_PER_1K = 0.003
NOVA_SONIC_SPEECH_OUTPUT_PER_1K = 0.012
NOVA_SONIC_TEXT_INPUT_PER_1K = 0.00033
NOVA_SONIC_TEXT_OUTPUT_PER_1K = 0.00275
# EC2 GPU instances (Linux, on demand), per hour; fala:voice_instance_usd_per_hour overrides.
GPU_USD_PER_HOUR = {
    "g4dn.xlarge": 0.526,
    "g5.xlarge": 1.006,
    "g5.2xlarge": 1.212,
    "g6.xlarge": 0.8048,
    "g6.2xlarge": 0.9776,
    "g6e.xlarge": 1.861,
}

_LAMBDA_ENDS = {"LambdaFunctionSucceeded", "LambdaFunctionFailed", "LambdaFunctionTimedOut"}
_DIGITS = 10  # USD: a run costs fractions of a cent


@dataclass(frozen=True)
class LambdaAttempt:
    function: str  # the function name
    milliseconds: int  # billed duration (rounded up)


def lambda_attempts(
    history: Iterable[Mapping[str, Any]], *, now: datetime | None = None
) -> list[LambdaAttempt]:
    """Every Lambda attempt in an execution history. An attempt still running (the Publish step
    reading its own execution) counts until `now`, when given."""
    history = list(history)
    function_of: dict[int, str] = {}  # LambdaFunctionScheduled id → function name
    started: dict[int, tuple[str, datetime]] = {}  # LambdaFunctionStarted id → (name, when)
    attempts = []
    for event in history:
        kind = event.get("type")
        if kind == "LambdaFunctionScheduled":
            details = event.get("lambdaFunctionScheduledEventDetails") or {}
            function_of[event["id"]] = _function_name(str(details.get("resource", "")))
        elif kind == "LambdaFunctionStarted" and event.get("previousEventId") in function_of:
            started[event["id"]] = (function_of[event["previousEventId"]], event["timestamp"])
        elif kind in _LAMBDA_ENDS and event.get("previousEventId") in started:
            name, began = started.pop(event["previousEventId"])
            attempts.append(LambdaAttempt(name, _billed_ms(event["timestamp"] - began)))
    if now is not None:
        attempts += [LambdaAttempt(name, _billed_ms(now - t)) for name, t in started.values()]
    return attempts


def state_transitions(history: Iterable[Mapping[str, Any]], *, final_state: bool = True) -> int:
    """States entered, plus each retry (an extra attempt of a task), plus the final state when
    the run has not entered it yet (the Publish step runs just before it)."""
    entered = scheduled = task_states = 0
    for event in history:
        kind = str(event.get("type", ""))
        entered += kind.endswith("StateEntered")
        task_states += kind == "TaskStateEntered"
        scheduled += kind in ("LambdaFunctionScheduled", "TaskScheduled")
    return entered + max(0, scheduled - task_states) + int(final_state)


def run_cost(
    *,
    lambdas: Iterable[LambdaAttempt],
    memory_mb: Mapping[str, int],
    transitions: int,
    conversations: Iterable[Conversation],
    gpu_usd_per_hour: float | None,
    default_memory_mb: int = 128,
) -> Cost:
    """The itemised cost of one run (see the module docstring for what each figure covers)."""
    lambdas = list(lambdas)
    gb_seconds = sum(
        memory_mb.get(a.function, default_memory_mb) / 1024 * a.milliseconds / 1000 for a in lambdas
    )
    lambda_usd = gb_seconds * LAMBDA_USD_PER_GB_SECOND + len(lambdas) * LAMBDA_USD_PER_REQUEST
    step_functions_usd = transitions * STEP_FUNCTIONS_USD_PER_TRANSITION
    nova_usd = gpu_seconds = 0.0
    for conversation in conversations:
        if conversation.backend == "nova-sonic":
            nova_usd += conversation.cost_usd or 0.0
        else:
            gpu_seconds += conversation.gpu_seconds or 0.0
    gpu_usd = None if gpu_usd_per_hour is None else gpu_seconds / 3600 * gpu_usd_per_hour
    total = lambda_usd + step_functions_usd + nova_usd + (gpu_usd or 0.0)
    return Cost(
        lambda_invocations=len(lambdas),
        lambda_gb_seconds=round(gb_seconds, 3),
        lambda_usd=round(lambda_usd, _DIGITS),
        state_transitions=transitions,
        step_functions_usd=round(step_functions_usd, _DIGITS),
        nova_usd=round(nova_usd, _DIGITS),
        gpu_seconds=round(gpu_seconds, 3),
        gpu_usd=None if gpu_usd is None else round(gpu_usd, _DIGITS),
        total_usd=round(total, _DIGITS),
    )


def execution_history(sfn: Any, execution_arn: str) -> list[dict[str, Any]]:
    """GetExecutionHistory, every page, without the states' data."""
    events: list[dict[str, Any]] = []
    kwargs: dict[str, Any] = {
        "executionArn": execution_arn,
        "maxResults": 1000,
        "includeExecutionData": False,
    }
    while True:
        page = sfn.get_execution_history(**kwargs)
        events.extend(page["events"])
        if not page.get("nextToken"):
            return events
        kwargs["nextToken"] = page["nextToken"]


def gpu_usd_per_hour(instance_type: str | None, override: float | None = None) -> float | None:
    """The hourly price of the voice service's instance: the override, else the list price of a
    known type, else None (the run's GPU share is then left out of the total)."""
    if override is not None:
        return override
    return GPU_USD_PER_HOUR.get(instance_type or "")


def _function_name(resource: str) -> str:
    """`arn:…:function:<name>[:qualifier]` → name (a bare name stays as it is)."""
    return resource.split(":function:")[-1].split(":")[0]


def _billed_ms(elapsed: Any) -> int:
    return max(1, math.ceil(elapsed.total_seconds() * 1000))
