"""moto's check-then-write calls are atomic under threads, as on AWS (fala/local/atomic_moto.py).

moto's race window is a few bytecodes wide and rarely shows; each test widens it with a pause
between the check and the write, so that without the lock every thread passes the check."""

import json
import threading
import time

import boto3
import pytest
from moto import mock_aws

THREADS = 8
PAUSE = 0.05


@pytest.fixture
def aws(monkeypatch):
    for name, value in {
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "test",
        "AWS_SECRET_ACCESS_KEY": "test",
    }.items():
        monkeypatch.setenv(name, value)
    with mock_aws(config={"stepfunctions": {"execute_state_machine": True}}):
        yield


def at_once(call) -> list[str]:
    """Run `call` in THREADS threads released together; each one's outcome, in any order."""
    gate = threading.Barrier(THREADS)
    outcomes: list[str] = []

    def run() -> None:
        gate.wait()
        try:
            call()
            outcomes.append("ok")
        except Exception as exc:
            outcomes.append(type(exc).__name__)

    threads = [threading.Thread(target=run) for _ in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return outcomes


def test_a_conditional_put_lets_exactly_one_writer_through(aws, monkeypatch):
    from moto.dynamodb.models.table import Table

    read = Table.get_item

    def slow_read(self, *args, **kwargs):  # the condition's read of the current item
        found = read(self, *args, **kwargs)
        time.sleep(PAUSE)
        return found

    monkeypatch.setattr(Table, "get_item", slow_read)
    dynamodb = boto3.client("dynamodb")
    dynamodb.create_table(
        TableName="records",
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )

    outcomes = at_once(
        lambda: dynamodb.put_item(
            TableName="records",
            Item={"id": {"S": "execution-1"}, "status": {"S": "INPROGRESS"}},
            ConditionExpression="attribute_not_exists(id)",
        )
    )

    assert sorted(outcomes) == ["ConditionalCheckFailedException"] * (THREADS - 1) + ["ok"]


def test_concurrent_starts_of_one_name_make_one_execution(aws, monkeypatch):
    from moto.stepfunctions.models import StateMachine

    check = StateMachine._handle_name_input_idempotency

    def slow_check(self, *args, **kwargs):  # the look for an execution of that name
        found = check(self, *args, **kwargs)
        time.sleep(PAUSE)
        return found

    monkeypatch.setattr(StateMachine, "_handle_name_input_idempotency", slow_check)
    sfn = boto3.client("stepfunctions")
    machine = sfn.create_state_machine(
        name="pipeline",
        definition=json.dumps(
            {"StartAt": "Wait", "States": {"Wait": {"Type": "Wait", "Seconds": 1, "End": True}}}
        ),
        roleArn="arn:aws:iam::123456789012:role/pipeline",
    )["stateMachineArn"]

    outcomes = at_once(
        lambda: sfn.start_execution(stateMachineArn=machine, name="upload-1", input="{}")
    )

    # Step Functions answers an identical start of a running execution with that execution.
    assert outcomes == ["ok"] * THREADS
    executions = sfn.list_executions(stateMachineArn=machine)["executions"]
    assert [e["name"] for e in executions] == ["upload-1"]
