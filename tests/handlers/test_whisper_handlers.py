"""The container's handlers, imported as the image runs them (package `whisper_validation` next to
`fala`), with the real model: the Function URL handler with payload 2.0 events, the task handler
against moto's S3."""

import base64
import importlib
import json
import sys
from pathlib import Path

import boto3
import pytest
from moto import mock_aws

from fala.core.decision import ACCEPTS
from fala.core.errors import InvalidAudio, InvalidExpectedSpeech, UploadNotFound

ROOT = Path(__file__).resolve().parents[2]
AUDIO = ROOT / "tests" / "fixtures" / "audio"
DEMO = (AUDIO / "entrada_13_40_pt.wav").read_bytes()
BUCKET = "fala-uploads"


class Context:
    function_name = "whisper-validation"
    memory_limit_in_mb = 3008
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:whisper-validation"
    aws_request_id = "req-1"


@pytest.fixture(scope="module")
def handlers(whisper_model_path, speech_validator):
    """Import api/task once, with the environment the image sets."""
    with pytest.MonkeyPatch.context() as env:
        env.setenv("WHISPER_MODEL_DIR", whisper_model_path)
        env.setenv("POWERTOOLS_TRACE_DISABLED", "true")
        env.setenv("POWERTOOLS_METRICS_NAMESPACE", "FalaTest")
        env.setenv("AWS_DEFAULT_REGION", "us-east-1")
        env.syspath_prepend(str(ROOT / "containers" / "whisper_validation"))
        api = importlib.import_module("whisper_validation.api")
        task = importlib.import_module("whisper_validation.task")
        engine = sys.modules["whisper_validation.engine"]
        # The engine shares the session's model instead of loading a second one.
        assert engine.validator() is speech_validator
        yield api, task


@pytest.fixture
def s3(handlers, monkeypatch):
    _, task = handlers
    with mock_aws():
        client = boto3.client("s3", region_name="us-east-1")
        client.create_bucket(Bucket=BUCKET)
        monkeypatch.setattr(task, "s3", client)
        yield client


def url_event(body: dict | str, *, method: str = "POST") -> dict:
    return {
        "version": "2.0",
        "rawPath": "/",
        "headers": {"content-type": "application/json"},
        "requestContext": {"requestId": "abc-123", "http": {"method": method, "path": "/"}},
        "isBase64Encoded": False,
        "body": body if isinstance(body, str) else json.dumps(body),
    }


def job(key: str, **overrides) -> dict:
    return {
        "upload": {
            "bucket": BUCKET,
            "key": key,
            "size": len(DEMO),
            "etag": None,
            "version_id": None,
        },
        "mode": "validate",
        "expected_speech": "ENTRADA 13 40",
        "language": "pt-BR",
        "voice": None,
        "audio_format": "wav",
    } | overrides


def test_api_validates_the_seed_contract(handlers):
    api, _ = handlers
    body = {"expected_speech": "ENTRADA 13 40", "audio": base64.b64encode(DEMO).decode()}

    answer = api.handler(url_event(body), Context())

    assert answer["statusCode"] == 200
    result = json.loads(answer["body"])
    assert result["validated"] is True
    assert result["normalized_expected"] == "entrada 13 40"
    assert result["reason"] in ACCEPTS  # "acoustic match": mkl-avx2
    assert set(result) == {
        "validated",
        "spoken_text_in_audio",
        "expected_speech",
        "normalized_expected",
        "normalized_spoken",
        "confidence",
        "language",
        "reason",
    }


@pytest.mark.parametrize(
    ("event", "status", "code"),
    [
        (url_event("{}", method="GET"), 405, "method_not_allowed"),
        (url_event("nope"), 400, "invalid_request"),
        (url_event({"expected_speech": "X", "audio": "aGVsbG8="}), 422, "invalid_audio"),
    ],
)
def test_api_answers_bad_requests_with_json_errors(handlers, event, status, code):
    api, _ = handlers
    answer = api.handler(event, Context())
    assert answer["statusCode"] == status
    assert json.loads(answer["body"])["error"] == code


def test_api_turns_an_unexpected_crash_into_a_json_500(handlers, speech_validator, monkeypatch):
    api, _ = handlers

    def crash(*args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(speech_validator, "validate", crash)
    body = {"expected_speech": "ENTRADA 13 40", "audio": base64.b64encode(DEMO).decode()}
    answer = api.handler(url_event(body), Context())

    assert answer["statusCode"] == 500
    assert json.loads(answer["body"])["error"] == "internal_error"


def test_task_validates_an_upload_from_s3(handlers, s3):
    _, task = handlers
    s3.put_object(Bucket=BUCKET, Key="uploads/entrada.wav", Body=DEMO)

    result = task.handler(job("uploads/entrada.wav"), Context())

    assert result["validated"] is True
    assert result["reason"] in ACCEPTS  # "acoustic match": mkl-avx2
    assert result["language"] == "pt-BR"
    json.dumps(result)  # a state output: plain JSON


def test_task_reads_the_announced_version(handlers, s3):
    _, task = handlers
    s3.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})
    first = s3.put_object(Bucket=BUCKET, Key="uploads/v.wav", Body=DEMO)["VersionId"]
    s3.put_object(Bucket=BUCKET, Key="uploads/v.wav", Body=b"overwritten, not audio")
    upload = job("uploads/v.wav")["upload"] | {"version_id": first}

    # The newest version is not audio, the announced one is: decoding succeeds only if the task
    # read the announced one. Expected speech is invalid so the model is not run.
    with pytest.raises(InvalidExpectedSpeech):
        task.handler(job("uploads/v.wav", upload=upload, expected_speech="..."), Context())
    assert task.read_upload(task.Upload.model_validate(upload)) == DEMO


def test_task_missing_object_is_upload_not_found(handlers, s3):
    _, task = handlers
    with pytest.raises(UploadNotFound, match=r"s3://fala-uploads/uploads/gone\.wav"):
        task.handler(job("uploads/gone.wav"), Context())


def test_task_without_expected_speech_fails_before_reading(handlers, s3):
    _, task = handlers
    with pytest.raises(InvalidExpectedSpeech):
        task.handler(job("uploads/never-read.wav", expected_speech=None), Context())


def test_task_unreadable_audio_is_invalid_audio(handlers, s3):
    _, task = handlers
    s3.put_object(Bucket=BUCKET, Key="uploads/notes.txt", Body=b"just some notes\n")
    with pytest.raises(InvalidAudio):
        task.handler(job("uploads/notes.txt", audio_format="wav"), Context())


def test_typed_errors_reach_step_functions_by_class_name():
    # Lambda reports the exception class as errorType; the state machine catches on these names.
    assert (InvalidAudio.__name__, UploadNotFound.__name__) == ("InvalidAudio", "UploadNotFound")


def emitted_metrics(output: str) -> set[str]:
    """The metric names of the CloudWatch embedded-metric documents printed on stdout."""
    names = set()
    for line in output.splitlines():
        if line.startswith("{") and '"_aws"' in line:
            for directive in json.loads(line)["_aws"]["CloudWatchMetrics"]:
                names |= {m["Name"] for m in directive["Metrics"]}
    return names


def test_enrolments_and_erasures_are_counted_like_verdicts(handlers, monkeypatch, capsys):
    # Without a count of their own, Powertools warns "No application metrics to publish" on
    # every successful enrolment or erasure, and nobody can chart them.
    api, _ = handlers
    engine = sys.modules["whisper_validation.engine"]
    with mock_aws():
        table = boto3.resource("dynamodb", region_name="us-east-1").create_table(
            TableName="speakers",
            KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        monkeypatch.setattr(engine, "speaker_table", lambda: table)
        clips = ["entrada_13_40_pt.wav", "saida_13_40_pt.wav", "entrada_13_40_pt.ogg"]
        body = {"clips": [base64.b64encode((AUDIO / c).read_bytes()).decode() for c in clips]}
        enrol = url_event(body) | {"rawPath": "/speakers/emp-7"}
        erase = url_event("", method="DELETE") | {"rawPath": "/speakers/emp-7"}

        capsys.readouterr()
        assert api.handler(enrol, Context())["statusCode"] == 201
        assert emitted_metrics(capsys.readouterr().out) == {"SpeakersEnrolled"}
        assert api.handler(erase, Context())["statusCode"] == 200
        assert emitted_metrics(capsys.readouterr().out) == {"SpeakersErased"}
        assert api.handler(erase, Context())["statusCode"] == 404
        assert emitted_metrics(capsys.readouterr().out) == {"SpeechValidationErrors"}
