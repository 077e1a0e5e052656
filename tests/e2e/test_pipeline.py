"""One named test per state-machine path, asserting on the result, the event and the history."""

import functools
import json
import threading

import boto3
import pytest

from fala.core.audio import decode_audio
from fala.core.challenge import ChallengeStore, issue_challenge, secret_key
from fala.core.decision import ACCEPTS
from fala.core.validation import SpeechValidator
from fala.core.voiceprints import enroll
from fala.local.assembly import Resolver
from fala.local.emulator import LocalPipeline, kept_table, local_tables
from fala.model_store import whisper_model_dir
from fala.trace import timeline

from .conftest import AUDIO, states_entered

pytestmark = pytest.mark.e2e
DEMO = AUDIO / "entrada_13_40_pt.wav"
ENROLMENT = ["entrada_13_40_pt.wav", "saida_13_40_pt.wav", "entrada_13_40_pt.ogg"]


def test_happy_path_validates_and_publishes(pipeline):
    # GIVEN the demo clip uploaded with the phrase it says
    run = pipeline.run(
        DEMO.read_bytes(), key="uploads/entrada.wav", metadata={"expected-speech": "ENTRADA 13 40"}
    )

    # THEN the run succeeds through every step, named after the file
    assert run.status == "SUCCEEDED"
    assert run.execution_name.startswith("entrada_wav-")
    assert states_entered(run.history) == [
        "Describe upload",
        "Choose path",
        "Validate speech",
        "Publish outcome",
        "Speech processed",
    ]
    # AND the result document says validated, with the transcript
    validation = run.result["validation"]
    assert validation["validated"] is True
    assert validation["normalized_expected"] == "entrada 13 40"
    assert validation["reason"] in ACCEPTS  # "acoustic match": mkl-avx2
    assert run.result["status"] == "SUCCEEDED"
    assert run.result["upload"]["key"] == "uploads/entrada.wav"
    assert "results/uploads/entrada.wav.json" in pipeline.results()
    # AND one "Speech Processed" event carries the same document
    [event] = run.outcome_events
    assert event["detail-type"] == "Speech Processed"
    assert event["detail"]["validation"] == validation
    # AND the trace reads as a runbook
    steps, status = timeline(run.history)
    assert status == "SUCCEEDED" and all(step.outcome == "ok" for step in steps)


def test_a_run_is_priced_and_every_step_logs_the_uploads_correlation_id(pipeline):
    run = pipeline.run(
        DEMO.read_bytes(), key="uploads/custo.wav", metadata={"expected-speech": "ENTRADA 13 40"}
    )
    assert run.status == "SUCCEEDED"

    # THEN the result document prices the run, item by item
    cost = run.result["cost"]
    assert cost["lambda_invocations"] == 3  # Describe upload, Validate speech, Publish outcome
    assert cost["state_transitions"] == 5  # the four states entered and "Speech processed"
    assert cost["lambda_gb_seconds"] > 0 and cost["lambda_usd"] > 0
    assert cost["nova_usd"] == cost["gpu_seconds"] == 0
    items = cost["lambda_usd"] + cost["step_functions_usd"] + cost["nova_usd"]
    assert cost["total_usd"] == pytest.approx(items, abs=1e-9)
    assert run.outcome_events[0]["detail"]["cost"] == cost

    # AND every Lambda step, from the start Lambda to the outcome, logged the upload's bucket/key
    correlation = f"{pipeline.upload_bucket}/uploads/custo.wav"
    assert len(run.invocations) == 4
    for invocation in run.invocations:
        logged = [json.loads(line) for line in invocation["logs"].splitlines() if '"level"' in line]
        assert logged, f"{invocation['function']} logged nothing"
        assert {line.get("correlation_id") for line in logged} == {correlation}, invocation
    assert run.result["correlation_id"] == correlation
    assert run.outcome_events[0]["detail"]["correlation_id"] == correlation


def test_wrong_phrase_path_is_a_successful_run_that_does_not_validate(pipeline):
    run = pipeline.run(
        DEMO.read_bytes(), key="uploads/entrada.wav", metadata={"expected-speech": "SAIDA 13 40"}
    )

    assert run.status == "SUCCEEDED"
    assert run.result["validation"]["validated"] is False
    assert run.outcome_events[0]["detail-type"] == "Speech Processed"


def test_rejected_upload_path_publishes_a_failure(pipeline):
    # GIVEN a text file dropped into the upload prefix
    run = pipeline.run(
        b"just some notes\n", key="uploads/notes.txt", metadata={"expected-speech": "ENTRADA 13 40"}
    )

    # THEN the run fails at "Describe upload" and says why
    assert run.status == "FAILED"
    assert states_entered(run.history) == ["Describe upload", "Publish failure", "Speech failed"]
    error = run.result["error"]
    assert error["code"] == "upload_rejected"
    assert "not audio" in error["message"]
    assert error["retryable"] is False
    assert run.outcome_events[0]["detail-type"] == "Speech Failed"


def test_missing_expected_speech_path_publishes_a_failure(pipeline):
    run = pipeline.run(DEMO.read_bytes(), key="uploads/entrada.wav", metadata={})

    assert run.status == "FAILED"
    assert "x-amz-meta-expected-speech" in run.result["error"]["message"]


def test_handler_exception_path_is_caught_and_published(pipeline, monkeypatch):
    # GIVEN a validation engine that crashes
    def crash(*args, **kwargs):
        raise RuntimeError("CUDA out of memory (injected)")

    monkeypatch.setattr(SpeechValidator, "validate", crash)
    run = pipeline.run(
        DEMO.read_bytes(), key="uploads/entrada.wav", metadata={"expected-speech": "ENTRADA 13 40"}
    )

    # THEN the failure is caught, published with a retry hint, and the execution fails
    assert run.status == "FAILED"
    assert states_entered(run.history)[-3:] == [
        "Validate speech",
        "Publish failure",
        "Speech failed",
    ]
    error = run.result["error"]
    assert (error["error"], error["code"], error["retryable"]) == (
        "RuntimeError",
        "internal_error",
        True,
    )
    assert "injected" in error["message"]
    steps, status = timeline(run.history)
    assert status == "FAILED"
    assert next(s for s in steps if s.name == "Validate speech").outcome == "caught RuntimeError"


def test_unreadable_audio_path_publishes_invalid_audio(pipeline):
    corrupt = b"RIFF\x24\x00\x00\x00WAVE" + bytes(range(256)) * 4  # WAV magic, no fmt chunk
    run = pipeline.run(
        corrupt, key="uploads/cut.wav", metadata={"expected-speech": "ENTRADA 13 40"}
    )

    assert run.status == "FAILED"
    assert run.result["error"]["code"] == "invalid_audio"


def test_a_redelivered_upload_event_runs_once(pipeline):
    # GIVEN the same S3 event delivered twice (EventBridge is at-least-once)
    pipeline.upload(
        DEMO.read_bytes(), key="uploads/twice.wav", metadata={"expected-speech": "ENTRADA 13 40"}
    )
    [delivery] = pipeline.deliver_events()
    start = pipeline.start_function
    again = start.invoke(delivery["event"])

    # THEN it maps to the same execution (Step Functions answers an identical start of a running
    # execution with that execution, and a closed one with ExecutionAlreadyExists)
    assert again["execution_name"] == delivery["response"]["execution_name"]
    executions = pipeline.sfn.list_executions(stateMachineArn=pipeline.state_machine_arn)[
        "executions"
    ]
    assert len(executions) == 1
    assert pipeline.wait(executions[0]["executionArn"]) == "SUCCEEDED"
    # AND a delivery after the run has closed is recognised as a duplicate
    assert start.invoke(delivery["event"])["duplicate"] is True
    assert len(pipeline.results()) == 1


def test_one_upload_event_delivered_concurrently_runs_once(pipeline):
    # GIVEN one upload, and its S3 event delivered by eight concurrent EventBridge attempts
    pipeline.upload(
        DEMO.read_bytes(), key="uploads/crowd.wav", metadata={"expected-speech": "ENTRADA 13 40"}
    )
    [event] = pipeline.take_upload_events()
    start = pipeline.start_function
    gate = threading.Barrier(8)
    responses: list[tuple[int, bytes, str | None]] = []

    def deliver() -> None:
        gate.wait()
        responses.append(pipeline.lambdas.invoke(start, event))

    threads = [threading.Thread(target=deliver) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    # THEN every delivery succeeds and names the same execution
    assert [error for _, _, error in responses] == [None] * 8
    assert len({json.loads(payload)["execution_name"] for _, payload, _ in responses}) == 1
    # AND there is one execution, one result document and one outcome event
    [execution] = pipeline.sfn.list_executions(stateMachineArn=pipeline.state_machine_arn)[
        "executions"
    ]
    assert pipeline.wait(execution["executionArn"]) == "SUCCEEDED"
    assert pipeline.results() == ["results/uploads/crowd.wav.json"]
    [outcome] = pipeline.outcome_events()
    assert outcome["detail"]["execution"] == execution["executionArn"]


def test_a_challenge_token_in_metadata_is_judged_once_then_refused(pipeline):
    # GIVEN a challenge issued into the stack's challenge table, signed with its key (what POST
    # /challenge does)
    table_id = next(
        lid for lid in pipeline.stack.of_type("AWS::DynamoDB::GlobalTable") if "Challenges" in lid
    )
    key_id = next(
        lid
        for lid in pipeline.stack.of_type("AWS::SecretsManager::Secret")
        if "ChallengeKey" in lid
    )
    store = ChallengeStore(
        boto3.resource("dynamodb").Table(pipeline.resolver.physical_name(table_id)),
        functools.partial(secret_key, pipeline.resolver.physical_name(key_id)),
    )
    challenge = issue_challenge(
        store, action="ENTRADA", language="pt-BR", ttl_seconds=60, utc_offset_minutes=-180
    )
    token = {"challenge-token": challenge.token}

    # WHEN yesterday's recording is uploaded with it, and then again
    first = pipeline.run(DEMO.read_bytes(), key="uploads/punch.wav", metadata=token)
    replay = pipeline.run(DEMO.read_bytes(), key="uploads/punch-again.wav", metadata=token)

    # THEN the first is judged against the challenge's phrase (and does not say it)…
    assert first.status == "SUCCEEDED"
    assert first.result["validation"]["expected_speech"] == challenge.expected_speech
    assert first.result["validation"]["validated"] is False
    # …and the replay fails at once with a reason, not retried
    assert replay.status == "FAILED"
    error = replay.result["error"]
    assert (error["code"], error["retryable"]) == ("challenge_used", False)
    assert "already used" in error["message"]
    tries = [i for i in replay.invocations if i["function"].startswith("ValidationTask")]
    assert len(tries) == 1


def test_a_voice_enrolled_locally_is_checked_by_the_pipeline(stack, tmp_path):
    # GIVEN a voice enrolled as `fala speaker enroll` does: kept in the work dir's tables/
    resolver = Resolver(stack)
    with local_tables(stack, resolver, state_dir=tmp_path):
        table = boto3.resource("dynamodb").Table(kept_table(stack, resolver, "Speakers"))
        enrolment = [decode_audio((AUDIO / n).read_bytes(), max_seconds=30) for n in ENROLMENT]
        enroll(table, "ana", enrolment, retention_days=30)
    kept = tmp_path / "tables" / "speakers.json"
    assert kept.stat().st_mode & 0o777 == 0o600  # a voiceprint is biometric data
    overrides = {"WHISPER_MODEL_DIR": str(whisper_model_dir())}
    with LocalPipeline(stack, work_dir=tmp_path, env_overrides=overrides) as pipeline:
        # WHEN her punch, someone else's and an unknown id's are uploaded
        hers = pipeline.run(
            (AUDIO / "entrada_13_45_pt.wav").read_bytes(),
            key="uploads/ana.wav",
            metadata={"expected-speech": "ENTRADA 13 45", "speaker-id": "ana"},
        )
        other = pipeline.run(
            (AUDIO / "checkin_9_45_en_piper.wav").read_bytes(),
            key="uploads/other.wav",
            metadata={"expected-speech": "CHECK IN 9 45", "language": "en", "speaker-id": "ana"},
        )
        unknown = pipeline.run(
            DEMO.read_bytes(),
            key="uploads/nobody.wav",
            metadata={"expected-speech": "ENTRADA 13 40", "speaker-id": "nobody"},
        )
    # THEN hers is accepted; the other says its phrase but is not her; the unknown id fails once
    assert hers.result["validation"]["validated"] and hers.result["validation"]["accepted"]
    assert hers.result["validation"]["speaker"]["verified"] is True
    speaker = other.result["validation"]["speaker"]
    assert (speaker["verified"], speaker["reason"]) == (False, "mismatch")
    assert other.result["validation"]["accepted"] is False
    assert unknown.status == "FAILED"
    error = unknown.result["error"]
    assert (error["code"], error["retryable"]) == ("speaker_not_found", False)
    tries = [i for i in unknown.invocations if i["function"].startswith("ValidationTask")]
    assert len(tries) == 1
