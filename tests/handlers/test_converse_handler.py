"""The converse Lambda handler: the Job path against moto's S3 and the direct-invocation seed
contract, with Nova Sonic played by the strict local fake (real SDK, real CRT transport)."""

import base64
import importlib.util
import io
import wave
from pathlib import Path

import boto3
import pytest
from moto import mock_aws

from fala.core.errors import (
    AudioTooLong,
    InvalidAudio,
    InvalidRequest,
    SonicThrottled,
    SonicTimeout,
    UnsupportedLanguage,
    UploadNotFound,
)
from fala.core.models import Conversation, reply_audio_key
from tests.fakes.nova_sonic import running_fake

ROOT = Path(__file__).resolve().parents[2]
AUDIO = ROOT / "tests" / "fixtures" / "audio"
CLIP = (AUDIO / "entrada_13_40_pt.wav").read_bytes()
UPLOADS = "fala-uploads"
RESULTS = "fala-results"


class Context:
    function_name = "converse"
    memory_limit_in_mb = 1024
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:converse"
    aws_request_id = "req-1"


@pytest.fixture(scope="module")
def handler_module():
    with pytest.MonkeyPatch.context() as env:
        env.setenv("POWERTOOLS_TRACE_DISABLED", "true")
        env.setenv("POWERTOOLS_METRICS_NAMESPACE", "FalaTest")
        env.setenv("AWS_DEFAULT_REGION", "us-east-1")
        env.setenv("SONIC_REGION", "us-east-1")
        env.setenv("CHUNK_PACE", "0")
        env.setenv("SONIC_BUDGET_SECONDS", "60")
        env.setenv("RESULTS_BUCKET", RESULTS)
        env.setenv("SYSTEM_PROMPT", 'Say "olá" and be brief.')
        spec = importlib.util.spec_from_file_location(
            "converse_handler", ROOT / "functions" / "converse" / "handler.py"
        )
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        yield module


@pytest.fixture
def s3(handler_module, monkeypatch):
    with mock_aws():
        client = boto3.client("s3", region_name="us-east-1")
        client.create_bucket(Bucket=UPLOADS)
        client.create_bucket(Bucket=RESULTS)
        monkeypatch.setattr(handler_module, "s3", client)
        yield client


@pytest.fixture
def sonic(monkeypatch):
    with running_fake(monkeypatch) as fake:
        yield fake


def job(key: str, **overrides) -> dict:
    return {
        "upload": {"bucket": UPLOADS, "key": key, "size": len(CLIP)},
        "mode": "converse",
        "language": "pt-BR",
        "voice": None,
        "audio_format": "wav",
        **overrides,
    }


def test_a_job_is_answered_with_the_reply_wav_written_next_to_the_results(
    handler_module, s3, sonic
):
    s3.put_object(Bucket=UPLOADS, Key="uploads/entrada.wav", Body=CLIP)
    out = handler_module.handler(job("uploads/entrada.wav"), Context())
    conversation = Conversation.model_validate(out)
    assert conversation.backend == "nova-sonic"
    assert conversation.model == "amazon.nova-2-sonic-v1:0"
    assert conversation.voice == "carolina"
    assert conversation.language == "pt-BR"
    assert conversation.user_text == "Entrada, treze e quarenta."
    assert conversation.assistant_text == "Entendido: entrada às 13h40."
    assert conversation.usage.output_speech_tokens == 90
    assert conversation.cost_usd > 0
    assert out["reply_audio"] == {"bucket": RESULTS, "key": reply_audio_key("uploads/entrada.wav")}
    wav = s3.get_object(Bucket=RESULTS, Key="results/uploads/entrada.wav.reply.wav")
    assert wav["ContentType"] == "audio/wav"
    with wave.open(io.BytesIO(wav["Body"].read())) as w:
        assert (w.getframerate(), w.getnchannels(), w.getsampwidth()) == (24000, 1, 2)
        assert w.getnframes() > 0
    assert sonic.violations == []
    # The system prompt travels as JSON text, quotes intact.
    system = sonic.record.bodies[sonic.record.events.index("textInput")]
    assert system["promptName"] == sonic.record.first("promptStart")["promptName"]


def test_a_given_voice_wins_and_english_defaults_to_matthew(handler_module, s3, sonic):
    s3.put_object(Bucket=UPLOADS, Key="uploads/a.wav", Body=CLIP)
    out = handler_module.handler(job("uploads/a.wav", voice="Leo"), Context())
    assert out["voice"] == "leo"
    out = handler_module.handler(job("uploads/a.wav", language="en"), Context())
    assert out["voice"] == "matthew"
    voices = [r.first("promptStart")["audioOutputConfiguration"]["voiceId"] for r in sonic.records]
    assert voices == ["leo", "matthew"]


def test_a_missing_upload_is_upload_not_found(handler_module, s3, sonic):
    with pytest.raises(UploadNotFound):
        handler_module.handler(job("uploads/gone.wav"), Context())


def test_errors_are_raised_with_their_class_name(handler_module, s3, monkeypatch):
    """Step Functions sees the exception class name as the error (routing: retry/fallback)."""
    s3.put_object(Bucket=UPLOADS, Key="uploads/a.wav", Body=CLIP)
    with running_fake(monkeypatch, failure="throttle"), pytest.raises(SonicThrottled):
        handler_module.handler(job("uploads/a.wav"), Context())
    fast = handler_module.settings.model_copy(update={"output_timeout": 0.5})
    monkeypatch.setattr(handler_module, "settings", fast)
    with running_fake(monkeypatch, failure="hang"), pytest.raises(SonicTimeout):
        handler_module.handler(job("uploads/a.wav"), Context())


def test_direct_invocation_keeps_the_seed_contract(handler_module, sonic):
    out = handler_module.handler({"audio": base64.b64encode(CLIP).decode()}, Context())
    assert set(out) == {"user_text", "assistant_text", "audio"}
    assert out["user_text"] == "Entrada, treze e quarenta."
    assert out["assistant_text"] == "Entendido: entrada às 13h40."
    with wave.open(io.BytesIO(base64.b64decode(out["audio"]))) as w:
        assert w.getframerate() == 24000
    assert sonic.violations == []


@pytest.mark.parametrize(
    ("event", "error", "status"),
    [
        ({"audio": "not base64!"}, InvalidRequest, 400),
        ({"audio": ""}, InvalidAudio, 422),
        ({"audio": base64.b64encode(b"hello, not audio").decode()}, InvalidAudio, 422),
        ({"audio": 42}, InvalidRequest, 400),
        ({}, InvalidRequest, 400),
        ({"audio": base64.b64encode(CLIP).decode(), "language": "xx"}, UnsupportedLanguage, 400),
        ({"audio": base64.b64encode(CLIP).decode(), "voice": "hal"}, InvalidRequest, 400),
        ({"upload": {"bucket": UPLOADS}}, InvalidRequest, 400),
    ],
)
def test_bad_input_is_a_typed_4xx_error_before_any_stream(
    handler_module, sonic, event, error, status
):
    with pytest.raises(error) as caught:
        handler_module.handler(event, Context())
    assert caught.value.status == status
    assert caught.value.message
    assert sonic.records == []


def test_audio_longer_than_the_budget_is_rejected_up_front(handler_module, sonic, monkeypatch):
    tight = handler_module.settings.model_copy(
        update={"budget_seconds": 35.0, "chunk_pace": 1.0, "reply_reserve_seconds": 30.0}
    )
    monkeypatch.setattr(handler_module, "settings", tight)
    with pytest.raises(AudioTooLong, match=r"limit is 2\.5 s"):
        handler_module.handler({"audio": base64.b64encode(CLIP).decode()}, Context())
    assert sonic.records == []
