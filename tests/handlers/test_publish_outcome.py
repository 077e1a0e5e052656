"""The "Publish outcome" handler against moto: exactly one result document and one outcome event
per execution, however often Step Functions retries the step (or calls it concurrently)."""

import importlib.util
import io
import json
import threading
import time
from pathlib import Path

import boto3
import pytest
from moto import mock_aws

ROOT = Path(__file__).resolve().parents[2]
BUCKET = "fala-uploads"
BUS = "fala-outcomes"
TABLE = "fala-published"


class Context:
    function_name = "publish-outcome"
    memory_limit_in_mb = 256
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:publish-outcome"
    aws_request_id = "req-1"

    @staticmethod
    def get_remaining_time_in_millis() -> int:
        return 30_000


def state(key: str = "uploads/a.wav") -> dict:
    return {
        "detail": {"bucket": {"name": BUCKET}, "object": {"key": key, "size": 10}},
        "job": {
            "upload": {"bucket": BUCKET, "key": key, "size": 10},
            "mode": "converse",
            "language": "pt-BR",
            "audio_format": "wav",
        },
        "conversation": {
            "user_text": "Oi",
            "assistant_text": "Olá! Como posso ajudar?",
            "reply_audio": {"bucket": BUCKET, "key": f"results/{key}.reply.wav"},
            "backend": "nova-sonic",
            "model": "amazon.nova-2-sonic-v1:0",
            "language": "pt-BR",
        },
    }


@pytest.fixture
def aws(monkeypatch):
    for name, value in {
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "test",
        "AWS_SECRET_ACCESS_KEY": "test",
        "RESULTS_BUCKET": BUCKET,
        "EVENT_BUS_NAME": BUS,
        "IDEMPOTENCY_TABLE": TABLE,
        "POWERTOOLS_TRACE_DISABLED": "true",
        "POWERTOOLS_METRICS_NAMESPACE": "FalaTest",
    }.items():
        monkeypatch.setenv(name, value)
    with mock_aws():
        s3 = boto3.client("s3")
        s3.create_bucket(Bucket=BUCKET)
        events = boto3.client("events")
        events.create_event_bus(Name=BUS)
        sqs = boto3.client("sqs")
        tap = sqs.create_queue(QueueName="tap")["QueueUrl"]
        tap_arn = sqs.get_queue_attributes(QueueUrl=tap, AttributeNames=["QueueArn"])["Attributes"][
            "QueueArn"
        ]
        events.put_rule(Name="all", EventBusName=BUS, EventPattern='{"source": ["fala.pipeline"]}')
        events.put_targets(Rule="all", EventBusName=BUS, Targets=[{"Id": "tap", "Arn": tap_arn}])
        boto3.client("dynamodb").create_table(
            TableName=TABLE,
            KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        spec = importlib.util.spec_from_file_location(
            "publish_outcome_handler", ROOT / "functions" / "publish_outcome" / "handler.py"
        )
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        yield module, s3, sqs, tap


def outcome_events(sqs, tap) -> list[dict]:
    messages = sqs.receive_message(QueueUrl=tap, MaxNumberOfMessages=10).get("Messages", [])
    return [json.loads(m["Body"]) for m in messages]


def test_a_retried_publish_puts_one_event_and_returns_the_same_document(aws):
    handler, s3, sqs, tap = aws
    request = {"execution": "arn:aws:states:us-east-1:1:execution:sm:a", "state": state()}

    first = handler.handler(request, Context())
    second = handler.handler(request, Context())

    assert first == second
    assert first["conversation"]["backend"] == "nova-sonic"
    [event] = outcome_events(sqs, tap)
    assert event["detail-type"] == "Speech Processed"
    assert (
        event["detail"]["conversation"]["reply_audio"]["key"] == "results/uploads/a.wav.reply.wav"
    )
    stored = json.loads(
        s3.get_object(Bucket=BUCKET, Key="results/uploads/a.wav.json")["Body"].read()
    )
    assert stored["status"] == "SUCCEEDED"


def test_concurrent_publishes_of_one_execution_put_one_event(aws, monkeypatch):
    from moto.dynamodb.models.table import Table

    handler, _, sqs, tap = aws
    read = Table.get_item

    def slow_read(self, *args, **kwargs):
        # moto reads the current item and then writes in two steps (AWS: one atomic step); the
        # pause widens that gap so that the test fails wherever the write is not atomic.
        found = read(self, *args, **kwargs)
        time.sleep(0.05)
        return found

    monkeypatch.setattr(Table, "get_item", slow_read)
    request = {
        "execution": "arn:aws:states:us-east-1:1:execution:sm:b",
        "state": state("uploads/b"),
    }
    outcomes: list[str] = []
    start = threading.Barrier(8)  # all eight reach the idempotency check together

    def publish() -> None:
        start.wait()
        try:
            handler.handler(request, Context())
            outcomes.append("published")
        except Exception as exc:  # the loser is told another call is in progress; SFN retries it
            outcomes.append(type(exc).__name__)

    threads = [threading.Thread(target=publish) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert len(outcome_events(sqs, tap)) == 1
    assert "published" in outcomes
    assert set(outcomes) <= {"published", "IdempotencyAlreadyInProgressError"}


def test_another_execution_of_the_same_upload_publishes_again(aws):
    handler, _, sqs, tap = aws
    handler.handler({"execution": "arn:…:execution:sm:c", "state": state("uploads/c")}, Context())
    handler.handler(
        {"execution": "arn:…:execution:sm:c-redrive-1", "state": state("uploads/c")}, Context()
    )
    assert len(outcome_events(sqs, tap)) == 2


def test_logs_and_document_carry_the_uploads_correlation_id(aws):
    handler, *_ = aws
    execution = "arn:aws:states:us-east-1:1:execution:sm:d"
    request = {"execution": execution, "state": state("uploads/d")}
    log = io.StringIO()  # the function's CloudWatch log
    previous = handler.logger.registered_handler.setStream(log)
    try:
        document = handler.handler(request, Context())
    finally:
        handler.logger.registered_handler.setStream(previous)

    assert document["correlation_id"] == "fala-uploads/uploads/d"
    logged = [json.loads(line) for line in log.getvalue().splitlines() if '"level"' in line]
    assert [line["message"] for line in logged] == [
        "No cost: the execution history is unreadable",  # no such execution here
        "Outcome published",
    ]
    assert {line["correlation_id"] for line in logged} == {"fala-uploads/uploads/d"}
    assert "cost" not in document  # the result is published all the same
