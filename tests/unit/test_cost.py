"""The run's cost from its execution history: Lambda GB-seconds, state transitions, Nova tokens,
GPU seconds — at the list prices in fala/core/cost.py."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from fala.core import cost
from fala.core.cost import (
    LambdaAttempt,
    gpu_usd_per_hour,
    lambda_attempts,
    run_cost,
    state_transitions,
)
from fala.core.models import Conversation, Usage
from fala.core.sonic.pricing import cost_usd

T0 = datetime(2025, 12, 1, 12, 0, 0, tzinfo=UTC)
ARN = "arn:aws:lambda:us-east-1:123456789012:function:"


class History:
    """An execution history as GetExecutionHistory returns it (ids, previous ids, timestamps)."""

    def __init__(self) -> None:
        self.events: list[dict] = []

    def add(self, kind: str, at_ms: float, *, previous: int | None = None, **details) -> int:
        event_id = len(self.events) + 1
        event = {
            "id": event_id,
            "previousEventId": event_id - 1 if previous is None else previous,
            "type": kind,
            "timestamp": T0 + timedelta(milliseconds=at_ms),
        }
        event.update(details)
        self.events.append(event)
        return event_id

    def lambda_attempt(self, name: str, start_ms: float, end_ms: float | None, end="Succeeded"):
        scheduled = self.add(
            "LambdaFunctionScheduled",
            start_ms,
            lambdaFunctionScheduledEventDetails={"resource": ARN + name},
        )
        started = self.add("LambdaFunctionStarted", start_ms, previous=scheduled)
        if end_ms is not None:
            self.add(f"LambdaFunction{end}", end_ms, previous=started)


def test_each_attempt_is_billed_from_start_to_end_rounded_up_to_the_millisecond():
    history = History()
    history.add("TaskStateEntered", 0)
    history.lambda_attempt("describe", 0, 40.2)
    history.add("TaskStateEntered", 41)
    history.lambda_attempt("validate", 41, 1041, end="Failed")  # retried: billed too
    history.lambda_attempt("validate", 3041, 5041.5)
    assert lambda_attempts(history.events) == [
        LambdaAttempt("describe", 41),
        LambdaAttempt("validate", 1000),
        LambdaAttempt("validate", 2001),
    ]


def test_parallel_branches_interleave_and_still_pair_by_previous_event():
    history = History()
    a = history.add(
        "LambdaFunctionScheduled", 0, lambdaFunctionScheduledEventDetails={"resource": ARN + "a"}
    )
    b = history.add(
        "LambdaFunctionScheduled", 1, lambdaFunctionScheduledEventDetails={"resource": ARN + "b"}
    )
    a_started = history.add("LambdaFunctionStarted", 2, previous=a)
    b_started = history.add("LambdaFunctionStarted", 3, previous=b)
    history.add("LambdaFunctionSucceeded", 503, previous=b_started)
    history.add("LambdaFunctionSucceeded", 1002, previous=a_started)
    assert sorted(lambda_attempts(history.events), key=lambda x: x.function) == [
        LambdaAttempt("a", 1000),
        LambdaAttempt("b", 500),
    ]


def test_the_publish_step_counts_itself_until_now():
    history = History()
    history.lambda_attempt("publish", 100, None)  # running: it is the one reading the history
    assert lambda_attempts(history.events) == []
    now = T0 + timedelta(milliseconds=350)
    assert lambda_attempts(history.events, now=now) == [LambdaAttempt("publish", 250)]


def test_state_transitions_count_states_retries_and_the_final_state():
    history = History()
    for _ in range(3):  # Describe upload, Validate speech, Publish outcome
        history.add("TaskStateEntered", 0)
    history.add("ChoiceStateEntered", 0)
    for name in ("describe", "validate", "validate", "publish"):  # validate retried once
        history.lambda_attempt(name, 0, 1)
    assert state_transitions(history.events) == 4 + 1 + 1
    assert state_transitions(history.events, final_state=False) == 5


def test_run_cost_itemises_lambda_step_functions_nova_and_gpu():
    gpu_turn = Conversation(
        user_text="oi",
        assistant_text="olá",
        backend="gpu-service",
        model="llama3.2:3b",
        language="pt-BR",
        gpu_seconds=36.0,
    )
    result = run_cost(
        lambdas=[LambdaAttempt("validate", 1000), LambdaAttempt("publish", 500)],
        memory_mb={"validate": 1024, "publish": 2048},
        transitions=4,
        conversations=[gpu_turn],
        gpu_usd_per_hour=1.0,
    )
    # 1 GB x 1 s + 2 GB x 0.5 s = 2 GB-s; two requests; 4 transitions; 36 s of a $1/h GPU
    lambda_usd = 2 * cost.LAMBDA_USD_PER_GB_SECOND + 2 * cost.LAMBDA_USD_PER_REQUEST
    assert result.lambda_invocations == 2 and result.lambda_gb_seconds == 2.0
    assert result.lambda_usd == pytest.approx(lambda_usd, abs=1e-10)
    assert result.step_functions_usd == pytest.approx(4 * 0.000025)
    assert (result.gpu_seconds, result.gpu_usd, result.nova_usd) == (36.0, 0.01, 0.0)
    assert result.total_usd == pytest.approx(lambda_usd + 4 * 0.000025 + 0.01, abs=1e-10)


def test_nova_tokens_are_priced_at_the_prices_kept_with_the_others():
    usage = Usage(
        input_speech_tokens=1000,
        input_text_tokens=1000,
        output_speech_tokens=1000,
        output_text_tokens=1000,
    )
    nova = Conversation(
        user_text="oi",
        assistant_text="olá",
        backend="nova-sonic",
        model="amazon.nova-2-sonic-v1:0",
        language="pt-BR",
        usage=usage,
        cost_usd=cost_usd(usage),
    )
    assert nova.cost_usd == pytest.approx(
        cost.NOVA_SONIC_SPEECH_INPUT_PER_1K
        + cost.NOVA_SONIC_TEXT_INPUT_PER_1K
        + cost.NOVA_SONIC_SPEECH_OUTPUT_PER_1K
        + cost.NOVA_SONIC_TEXT_OUTPUT_PER_1K
    )
    result = run_cost(
        lambdas=[], memory_mb={}, transitions=0, conversations=[nova], gpu_usd_per_hour=None
    )
    assert result.nova_usd == result.total_usd == nova.cost_usd
    assert result.gpu_usd is None


def test_unknown_memory_counts_as_lambdas_minimum_and_unknown_gpu_price_is_left_out():
    result = run_cost(
        lambdas=[LambdaAttempt("stranger", 1000)],
        memory_mb={},
        transitions=0,
        conversations=[
            Conversation(
                user_text="a",
                assistant_text="b",
                backend="gpu-service",
                model="m",
                language="en",
                gpu_seconds=10,
            )
        ],
        gpu_usd_per_hour=None,
    )
    assert result.lambda_gb_seconds == 0.125
    assert result.gpu_seconds == 10 and result.gpu_usd is None
    assert result.total_usd == result.lambda_usd


@pytest.mark.parametrize(
    ("instance", "override", "price"),
    [("g5.xlarge", None, 1.006), ("g6.xlarge", None, 0.8048), ("g5.xlarge", 0.5, 0.5)],
)
def test_gpu_hourly_price_is_the_override_or_the_list_price(instance, override, price):
    assert gpu_usd_per_hour(instance, override) == price


def test_an_unknown_instance_type_has_no_price():
    assert gpu_usd_per_hour("g99.mega", None) is None
