"""What the result document's cost needs from the stack: each function's memory, the GPU's hourly
price, and read access to the execution's own history — nothing more."""

from __future__ import annotations

import json
from typing import Any

import pytest
from cdk_synth import Synth, only, synthesize


def _rendered(value: Any) -> str:
    """An environment value with each CloudFormation reference shown as <LogicalId>."""
    if isinstance(value, str):
        return value
    if "Fn::Join" in value:
        separator, parts = value["Fn::Join"]
        return separator.join(_rendered(p) for p in parts)
    return f"<{value.get('Ref') or value['Fn::GetAtt'][0]}>"


def _publish(synth: Synth) -> tuple[str, dict[str, Any]]:
    return synth.function(description_starts="Fala pipeline: write the result")


def _memory_of(synth: Synth, description: str) -> tuple[str, int]:
    logical_id, function = synth.function(description_starts=description)
    return f"<{logical_id}>", function["Properties"]["MemorySize"]


def test_publish_knows_the_memory_of_every_step_it_prices(default_synth: Synth) -> None:
    _, publish = _publish(default_synth)
    env = publish["Properties"]["Environment"]["Variables"]
    memory = json.loads(_rendered(env["FUNCTION_MEMORY_MB"]))
    assert memory == dict(
        _memory_of(default_synth, d)
        for d in (
            "Fala pipeline: describe",
            "Fala speech validation step",
            "Fala pipeline: one spoken turn",
        )
    )
    assert "GPU_USD_PER_HOUR" not in env  # no voice service, no GPU share


def test_publish_may_read_only_its_own_state_machines_execution_history(
    default_synth: Synth,
) -> None:
    _, publish = _publish(default_synth)
    machine_id, _ = only(default_synth.of_type("AWS::StepFunctions::StateMachine"))
    reads = [
        s
        for s in default_synth.statements_of_function(publish)
        if "states:GetExecutionHistory" in json.dumps(s["Action"])
    ]
    (statement,) = reads
    assert statement["Action"] == "states:GetExecutionHistory"
    resource = _rendered(statement["Resource"])
    assert resource == (
        f"arn:<AWS::Partition>:states:<AWS::Region>:<AWS::AccountId>:execution:<{machine_id}>:*"
    )


@pytest.mark.parametrize(
    ("context", "price"),
    [
        ({}, "1.006"),  # g5.xlarge at its list price
        ({"fala:voice_instance_type": "g6.xlarge"}, "0.8048"),
        ({"fala:voice_instance_usd_per_hour": "0.45"}, "0.45"),  # e.g. a Savings Plan rate
    ],
)
def test_publish_prices_gpu_seconds_at_the_instance_hourly_price(
    tmp_path, context: dict[str, str], price: str
) -> None:
    synth = synthesize(tmp_path, **{"fala:voice_service": "true", **context})
    _, publish = _publish(synth)
    assert publish["Properties"]["Environment"]["Variables"]["GPU_USD_PER_HOUR"] == price
