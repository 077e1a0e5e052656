import json

import boto3
import pytest
from moto import mock_aws

from fala.core.models import Cost
from fala.core.outcome import OutcomeTargets, error_info, publish_outcome

UPLOAD = {
    "bucket": "results-bucket",
    "key": "uploads/a.wav",
    "size": 3,
    "etag": "e",
    "version_id": None,
}
VALIDATION = {
    "validated": True,
    "spoken_text_in_audio": "Entrada, 13 horas e 40.",
    "expected_speech": "ENTRADA 13 40",
    "normalized_expected": "entrada 13 40",
    "normalized_spoken": "entrada 13 40",
    "confidence": 0.9,
    "language": "pt",
    "reason": "match",
}
EVENT_DETAIL = {
    "bucket": {"name": "results-bucket"},
    "object": {"key": "uploads/a.wav", "size": 3, "etag": "e"},
}


@pytest.fixture
def aws():
    with mock_aws():
        s3 = boto3.client("s3", region_name="us-east-1")
        events = boto3.client("events", region_name="us-east-1")
        sqs = boto3.client("sqs", region_name="us-east-1")
        s3.create_bucket(Bucket="results-bucket")
        events.create_event_bus(Name="outcomes")
        queue = sqs.create_queue(QueueName="tap")["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"][
            "QueueArn"
        ]
        events.put_rule(
            Name="tap", EventBusName="outcomes", EventPattern='{"source": ["fala.pipeline"]}'
        )
        events.put_targets(Rule="tap", EventBusName="outcomes", Targets=[{"Id": "1", "Arn": arn}])
        yield (
            s3,
            events,
            lambda: [
                json.loads(m["Body"])
                for m in sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10)["Messages"]
            ],
        )


def publish(state: dict, s3, events):
    targets = OutcomeTargets("results-bucket", "outcomes")
    return publish_outcome("arn:exec", state, s3=s3, events=events, targets=targets)


def test_a_validation_is_published_as_document_and_event(aws):
    s3, events, received = aws
    state = {"detail": EVENT_DETAIL, "job": {"upload": UPLOAD}, "validation": VALIDATION}

    doc = publish(state, s3, events)

    stored = json.loads(
        s3.get_object(Bucket="results-bucket", Key="results/uploads/a.wav.json")["Body"].read()
    )
    assert stored["status"] == "SUCCEEDED" == doc.status
    assert stored["validation"]["validated"] is True
    assert stored["execution"] == "arn:exec"
    [event] = received()
    assert event["detail-type"] == "Speech Processed"
    assert event["detail"]["upload"]["key"] == "uploads/a.wav"


def test_the_document_and_event_carry_the_runs_cost_and_correlation_id(aws):
    s3, events, received = aws
    state = {"detail": EVENT_DETAIL, "job": {"upload": UPLOAD}, "validation": VALIDATION}
    metered = []

    def meter(document):
        metered.append(document.execution)
        return Cost(
            lambda_invocations=3,
            lambda_gb_seconds=6.0,
            lambda_usd=0.0001006,
            state_transitions=6,
            step_functions_usd=0.00015,
            nova_usd=0.0,
            gpu_seconds=0.0,
            total_usd=0.0002506,
        )

    targets = OutcomeTargets("results-bucket", "outcomes")
    doc = publish_outcome("arn:exec", state, s3=s3, events=events, targets=targets, meter=meter)

    assert metered == ["arn:exec"]
    stored = json.loads(
        s3.get_object(Bucket="results-bucket", Key="results/uploads/a.wav.json")["Body"].read()
    )
    assert stored["cost"] == doc.cost.model_dump(exclude_none=True)
    assert stored["cost"]["total_usd"] == 0.0002506
    assert stored["correlation_id"] == "results-bucket/uploads/a.wav"
    [event] = received()
    assert event["detail"]["cost"] == stored["cost"]
    assert event["detail"]["correlation_id"] == "results-bucket/uploads/a.wav"


def test_a_failure_before_the_job_exists_is_published_from_the_event(aws):
    s3, events, received = aws
    cause = json.dumps(
        {
            "errorMessage": "s3://results-bucket/uploads/a.wav is empty",
            "errorType": "UploadRejected",
        }
    )
    state = {"detail": EVENT_DETAIL, "error": {"Error": "UploadRejected", "Cause": cause}}

    doc = publish(state, s3, events)

    assert doc.status == "FAILED"
    assert doc.error.code == "upload_rejected"
    assert doc.error.message == "s3://results-bucket/uploads/a.wav is empty"
    assert doc.error.retryable is False
    [event] = received()
    assert event["detail-type"] == "Speech Failed"


@pytest.mark.parametrize(
    ("error", "code", "retryable"),
    [
        (
            {"Error": "InvalidAudio", "Cause": '{"errorMessage": "not audio"}'},
            "invalid_audio",
            False,
        ),
        ({"Error": "States.Timeout", "Cause": ""}, "timeout", True),
        # the GPU voice service's backend outage, reported by its worker's task failure
        ({"Error": "LLMUnavailable", "Cause": "endpoint down"}, "llm_unavailable", True),
        ({"Error": "Lambda.ServiceException", "Cause": "boom"}, "internal_error", True),
        ({"Error": "RuntimeError", "Cause": "not json {"}, "internal_error", True),
        ({}, "internal_error", True),
    ],
)
def test_errors_become_codes_a_user_can_act_on(error, code, retryable):
    info = error_info(error)
    assert (info.code, info.retryable) == (code, retryable)
    assert info.message and info.how_to_retry
