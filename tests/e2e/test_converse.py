"""The converse and auto paths through the local emulation, one named test per path, with the
real Nova Sonic SDK talking to the strict transport-level fake (tests/fakes/nova_sonic.py)."""

from __future__ import annotations

import io
import json
import threading
import wave
from collections.abc import Iterator
from unittest import mock

import pytest

from fala.local.emulator import LocalPipeline
from fala.model_store import whisper_model_dir
from tests.fakes.nova_sonic import FakeNovaSonic, Scenario

from .conftest import AUDIO, states_entered

DEMO = (AUDIO / "entrada_13_40_pt.wav").read_bytes()
SAIDA = (AUDIO / "saida_13_40_pt.wav").read_bytes()


@pytest.fixture
def sonic(stack, tmp_path) -> Iterator[tuple[FakeNovaSonic, LocalPipeline]]:
    with FakeNovaSonic(Scenario()) as fake:
        overrides = {
            "WHISPER_MODEL_DIR": str(whisper_model_dir()),
            **fake.env(),
            "CHUNK_PACE": "0",  # the fake does not need real time; the protocol is the same
        }
        with LocalPipeline(stack, work_dir=tmp_path, env_overrides=overrides) as pipeline:
            yield fake, pipeline


def failing_first(monkeypatch, failures: list[str | None]) -> None:
    """The fake answers with these failure modes in turn (None: a normal answer), then normally."""
    pending = list(failures)

    def scenario(self: FakeNovaSonic) -> Scenario:
        return Scenario(failure=pending.pop(0) if pending else None)

    monkeypatch.setattr(FakeNovaSonic, "scenario", property(scenario), raising=False)


def test_converse_path_answered_by_nova_sonic(sonic):
    fake, pipeline = sonic
    run = pipeline.run(DEMO, key="uploads/oi.wav", metadata={"mode": "converse"})

    assert run.status == "SUCCEEDED"
    assert states_entered(run.history) == [
        "Describe upload",
        "Choose path",
        "Converse with Nova Sonic",
        "Publish outcome",
        "Speech processed",
    ]
    conversation = run.result["conversation"]
    assert conversation["backend"] == "nova-sonic"
    assert conversation["user_text"] == Scenario.user_text
    assert conversation["assistant_text"] == Scenario.assistant_text  # FINAL, not SPECULATIVE
    assert conversation["voice"] == "carolina" and conversation["language"] == "pt-BR"
    assert conversation["cost_usd"] > 0
    assert run.result["cost"]["nova_usd"] == conversation["cost_usd"]
    # every step, the Nova Sonic Lambda included, logged the upload's correlation id
    correlation = f"{pipeline.upload_bucket}/uploads/oi.wav"
    assert len(run.invocations) == 4  # start, describe, converse, publish
    for invocation in run.invocations:
        logged = [json.loads(line) for line in invocation["logs"].splitlines() if '"level"' in line]
        assert {line.get("correlation_id") for line in logged} == {correlation}, invocation
    reply = pipeline.s3.get_object(
        Bucket=pipeline.upload_bucket, Key="results/uploads/oi.wav.reply.wav"
    )
    with wave.open(io.BytesIO(reply["Body"].read())) as wav:
        assert (wav.getframerate(), wav.getnchannels(), wav.getsampwidth()) == (24000, 1, 2)
    assert fake.violations == []
    assert [e["detail-type"] for e in run.outcome_events] == ["Speech Processed"]


def test_converse_path_throttled_then_answered(sonic, monkeypatch):
    fake, pipeline = sonic
    failing_first(monkeypatch, ["throttle"])
    run = pipeline.run(DEMO, key="uploads/busy.wav", metadata={"mode": "converse"})

    assert run.status == "SUCCEEDED"
    failed = [e for e in run.history if e["type"] == "LambdaFunctionFailed"]
    assert [e["lambdaFunctionFailedEventDetails"]["error"] for e in failed] == ["SonicThrottled"]
    assert run.result["conversation"]["backend"] == "nova-sonic"
    assert fake.violations == []


def test_converse_path_unreadable_audio_fails_without_retry(sonic):
    _, pipeline = sonic
    corrupt = b"RIFF\x24\x00\x00\x00WAVE" + bytes(range(256)) * 4
    run = pipeline.run(corrupt, key="uploads/cut.wav", metadata={"mode": "converse"})

    assert run.status == "FAILED"
    assert states_entered(run.history)[-3:] == [
        "Converse with Nova Sonic",
        "Publish failure",
        "Speech failed",
    ]
    assert sum(e["type"] == "LambdaFunctionFailed" for e in run.history) == 1
    assert run.result["error"]["code"] == "invalid_audio"


def test_auto_path_validates_and_converses_in_parallel(sonic):
    fake, pipeline = sonic
    run = pipeline.run(
        DEMO, key="uploads/ambos.wav", metadata={"mode": "auto", "expected-speech": "ENTRADA 13 40"}
    )

    assert run.status == "SUCCEEDED"
    entered = states_entered(run.history)
    assert {
        "Validate and converse",
        "Validate speech (auto)",
        "Converse with Nova Sonic (auto)",
    } <= set(entered)
    assert run.result["validation"]["validated"] is True
    assert run.result["conversation"]["assistant_text"] == Scenario.assistant_text
    assert fake.violations == []


def test_converse_path_falls_back_to_the_gpu_voice_service(sonic, monkeypatch):
    # GIVEN Nova Sonic throttled, then unavailable on every retry
    fake, pipeline = sonic
    failing_first(monkeypatch, ["throttle", "unavailable", "unavailable", "unavailable"])
    run = pipeline.run(DEMO, key="uploads/fallback.wav", metadata={"mode": "converse"})

    # THEN the job went to the voice service's worker (real Whisper, SmolLM2, Piper) and answered
    assert run.status == "SUCCEEDED", run.result
    entered = states_entered(run.history)
    assert entered[-4:] == [
        "Converse with Nova Sonic",
        "Converse on GPU voice service",
        "Publish outcome",
        "Speech processed",
    ]
    failed = [e for e in run.history if e["type"] == "LambdaFunctionFailed"]
    assert [e["lambdaFunctionFailedEventDetails"]["error"] for e in failed] == [
        "SonicThrottled",
        "SonicUnavailable",
        "SonicUnavailable",
        "SonicUnavailable",
    ]
    conversation = run.result["conversation"]
    assert conversation["backend"] == "gpu-service"
    assert "entrada" in conversation["user_text"].lower()
    assert conversation["assistant_text"]
    reply = pipeline.s3.get_object(
        Bucket=pipeline.upload_bucket, Key=conversation["reply_audio"]["key"]
    )["Body"].read()
    with wave.open(io.BytesIO(reply)) as wav:
        assert wav.getnframes() > 0
    assert fake.violations == []


def test_without_a_bedrock_fake_the_emulation_never_calls_aws_and_falls_back_at_once(pipeline):
    # GIVEN the plain local emulation (no AWS_ENDPOINT_URL_BEDROCK_RUNTIME), as `fala run` uses it
    run = pipeline.run(DEMO, key="uploads/offline.wav", metadata={"mode": "converse"})

    # THEN Nova Sonic failed once, before any client was made, final and named (no retries), and
    # the voice service answered
    assert run.status == "SUCCEEDED", run.result
    failed = [e for e in run.history if e["type"] == "LambdaFunctionFailed"]
    assert [e["lambdaFunctionFailedEventDetails"]["error"] for e in failed] == [
        "SonicNotConfigured"
    ]
    assert "never calls AWS" in failed[0]["lambdaFunctionFailedEventDetails"]["cause"]
    assert run.result["conversation"]["backend"] == "gpu-service"


def test_an_upload_overwritten_mid_run_is_read_in_the_version_the_run_began_with(
    pipeline, monkeypatch
):
    """mode=auto: validation and conversation read the upload in parallel. The key is overwritten
    right after "Describe upload" first reads it: every later read must still get that version."""
    from botocore.client import BaseClient
    from moto.s3.models import S3Backend

    key = "uploads/overwritten.wav"
    reads: list[str | None] = []  # the VersionId of each GetObject a client sent for the upload
    overwritten = threading.Event()
    make_api_call = BaseClient._make_api_call
    get_object = S3Backend.get_object

    def calling(self, operation, params):  # every client in this process, the Lambdas' too
        if operation == "GetObject" and params.get("Key") == key:
            reads.append(params.get("VersionId"))
        return make_api_call(self, operation, params)

    def serving(self, bucket_name, key_name, *args, **kwargs):
        found = get_object(self, bucket_name, key_name, *args, **kwargs)
        if key_name == key and reads and not overwritten.is_set():
            overwritten.set()  # after the describe step's format sniff, a new upload lands
            # (its own "Object Created" event would start a second run: not the one tested)
            with mock.patch("moto.s3.models.notifications.send_event"):
                self.put_object(bucket_name, key_name, SAIDA)
        return found

    monkeypatch.setattr(BaseClient, "_make_api_call", calling)
    monkeypatch.setattr(S3Backend, "get_object", serving)
    metadata = {"mode": "auto", "expected-speech": "ENTRADA 13 40"}
    first = pipeline.upload(DEMO, key=key, metadata=metadata)["VersionId"]
    [delivery] = pipeline.deliver_events()
    status = pipeline.wait(delivery["response"]["execution_arn"])

    assert status == "SUCCEEDED"
    assert overwritten.is_set()
    latest = pipeline.s3.head_object(Bucket=pipeline.upload_bucket, Key=key)["VersionId"]
    assert latest != first
    # the sniff, the validation and the conversation (Sonic is off here: the voice worker)
    assert len(reads) >= 3 and set(reads) == {first}, reads
