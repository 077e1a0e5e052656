"""Faults injected into the emulated pipeline, one named test each: what fails, how the pipeline
retries, and that every failure leaves a result document and an event that say what happened —
or, where even that write fails, a failed execution that `fala redrive` finds and re-runs."""

from __future__ import annotations

import json
import re
import threading
from pathlib import Path

import boto3
import pytest
from botocore.exceptions import ClientError

from fala.core.validation import SpeechValidator
from fala.redrive import redrive

from .conftest import states_entered

AUDIO = Path(__file__).resolve().parents[1] / "fixtures" / "audio"
DEMO = (AUDIO / "entrada_13_40_pt.wav").read_bytes()
EXPECT = {"expected-speech": "ENTRADA 13 40"}


def failures_of(history: list[dict], state_type: str = "LambdaFunctionFailed") -> int:
    return sum(1 for e in history if e["type"] == state_type)


class Fault:
    """A botocore operation that fails (`times` times, or until healed) for the clients made from
    now on — the handlers make theirs when their module first loads, inside the run."""

    def __init__(self, operation: str, *, times: int | None = None, when=lambda params: True):
        self.operation, self.times, self.when = operation, times, when
        self.failed = 0
        self.healed = False
        # before-parameter-build sees the API parameters (Bucket, Key, ...).
        boto3.DEFAULT_SESSION.events.register(f"before-parameter-build.{operation}", self._call)

    def heal(self) -> None:
        self.healed = True

    def _call(self, params, **_):
        if self.healed or not self.when(params):
            return None
        if self.times is not None and self.failed >= self.times:
            return None
        self.failed += 1
        raise ClientError(
            {"Error": {"Code": "InternalError", "Message": f"{self.operation} failed (injected)"}},
            self.operation.rsplit(".", 1)[-1],
        )


def test_fault_validation_crash_once_is_retried_and_the_run_succeeds(pipeline, monkeypatch):
    # GIVEN a validation engine that crashes on its first call only
    real = SpeechValidator.validate
    calls = []

    def flaky(self, *args, **kwargs):
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("worker lost (injected)")
        return real(self, *args, **kwargs)

    monkeypatch.setattr(SpeechValidator, "validate", flaky)
    run = pipeline.run(DEMO, key="uploads/flaky.wav", metadata=EXPECT)

    # THEN Step Functions retried it (backoff + jitter) and the run succeeded
    assert run.status == "SUCCEEDED"
    assert failures_of(run.history) == 1
    assert run.result["validation"]["validated"] is True


def test_a_run_that_does_not_end_says_which_function_it_waits_behind(pipeline, monkeypatch):
    # GIVEN a validation that hangs until released (functions run one at a time in the emulation,
    # so every other run's Lambda task waits behind it)
    real = SpeechValidator.validate
    release = threading.Event()

    def hung(self, *args, **kwargs):
        release.wait(120)
        return real(self, *args, **kwargs)

    monkeypatch.setattr(SpeechValidator, "validate", hung)
    pipeline.upload(DEMO, key="uploads/hung.wav", metadata=EXPECT)
    [delivery] = pipeline.deliver_events()
    arn = delivery["response"]["execution_arn"]

    # THEN waiting on it times out naming its last event and the function running, and where
    try:
        with pytest.raises(TimeoutError) as timed_out:
            pipeline.wait(arn, timeout=3)
    finally:
        release.set()
    message = str(timed_out.value)
    assert re.search(r"still running after 3 s \(last event \w+ \d+ s ago; ", message), message
    assert re.search(r"running now: \S*Valid\S* for \d+ s, at \S+:\d+ wait < ", message), message
    # AND once released the run ends as it would have
    assert pipeline.wait(arn) == "SUCCEEDED"


def test_an_execution_the_local_interpreter_fails_ends_failed_saying_why(pipeline, monkeypatch):
    # GIVEN moto's interpreter failing outside any state (as it can on a thread race), where its
    # thread used to die and leave the execution RUNNING for good
    from moto.stepfunctions.parser.backend.execution import BaseExecutionWorkerCommunication

    def broken(self):
        raise RuntimeWarning("Execution ended with unsupported ProgramState type (injected)")

    monkeypatch.setattr(BaseExecutionWorkerCommunication, "terminated", broken)
    pipeline.upload(DEMO, key="uploads/interpreter.wav", metadata=EXPECT)
    [delivery] = pipeline.deliver_events()
    arn = delivery["response"]["execution_arn"]

    # THEN it ends FAILED at once, the exception its cause
    assert pipeline.wait(arn, timeout=120) == "FAILED"
    described = pipeline.sfn.describe_execution(executionArn=arn)
    assert described["error"] == "States.Runtime"
    assert "RuntimeWarning: Execution ended with unsupported ProgramState" in described["cause"]


def test_fault_upload_deleted_before_the_read_publishes_upload_not_found(pipeline):
    # GIVEN an upload whose object is deleted after its event was emitted
    pipeline.upload(DEMO, key="uploads/gone.wav", metadata=EXPECT)
    pipeline.s3.delete_object(Bucket=pipeline.upload_bucket, Key="uploads/gone.wav")
    [delivery] = pipeline.deliver_events()
    arn = delivery["response"]["execution_arn"]

    # THEN the run fails cleanly with a result document saying the upload is gone
    assert pipeline.wait(arn) == "FAILED"
    result = pipeline.result_document("uploads/gone.wav")
    assert result["error"]["code"] == "upload_not_found"
    assert result["error"]["retryable"] is False


def test_fault_results_write_failing_is_retried_then_redriven(pipeline):
    # GIVEN S3 refusing every results/ write
    fault = Fault("s3.PutObject", when=lambda p: str(p.get("Key", "")).startswith("results/"))
    run = pipeline.run(DEMO, key="uploads/nowrite.wav", metadata=EXPECT)

    # THEN the publish step was tried 4 times (1 + 3 retries) and the run is visible as failed
    assert run.status == "FAILED"
    assert fault.failed == 4
    assert states_entered(run.history)[-1] == "Publish outcome"
    assert run.result is None

    # WHEN S3 recovers and the operator redrives
    fault.heal()
    report = redrive(
        sfn=pipeline.sfn,
        sqs=pipeline.sqs,
        state_machine_arn=pipeline.state_machine_arn,
        dead_letter_queues={},
    )

    # THEN the upload is re-run under a new name and its result is written
    [action] = report.actions
    assert action.startswith(f"re-run {run.execution_name} as {run.execution_name}-redrive-1")
    arn = run.execution_arn + "-redrive-1"
    assert pipeline.wait(arn) == "SUCCEEDED"
    assert pipeline.result_document("uploads/nowrite.wav")["status"] == "SUCCEEDED"


def test_fault_outcome_bus_failing_is_retried_then_the_event_is_put_once(pipeline):
    # GIVEN the outcome bus failing twice
    fault = Fault("events.PutEvents", times=2)
    run = pipeline.run(DEMO, key="uploads/bus.wav", metadata=EXPECT)

    # THEN the retried publish put the outcome event exactly once
    assert run.status == "SUCCEEDED"
    assert fault.failed == 2
    assert [e["detail-type"] for e in run.outcome_events] == ["Speech Processed"]


def test_fault_same_event_delivered_concurrently_runs_once(pipeline):
    # GIVEN the same S3 event delivered to four start Lambdas at once
    pipeline.upload(DEMO, key="uploads/burst.wav", metadata=EXPECT)
    [delivery] = pipeline.deliver_events()
    start = pipeline.start_function
    answers: list[dict] = []
    threads = [
        threading.Thread(target=lambda: answers.append(start.invoke(delivery["event"])))
        for _ in range(4)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    # THEN one execution, one result document, one outcome event
    executions = pipeline.sfn.list_executions(stateMachineArn=pipeline.state_machine_arn)
    [execution] = executions["executions"]
    assert pipeline.wait(execution["executionArn"]) == "SUCCEEDED"
    assert {a["execution_name"] for a in answers} == {execution["name"]}
    assert pipeline.results() == ["results/uploads/burst.wav.json"]
    outcomes = pipeline.outcome_events()
    assert len(outcomes) == 1


def test_fault_dead_lettered_upload_event_is_redriven(pipeline):
    # GIVEN an upload event parked in the intake DLQ (the start Lambda failed every retry)
    pipeline.upload(DEMO, key="uploads/parked.wav", metadata=EXPECT)
    [event] = pipeline.take_upload_events()
    dlq = next(url for url in pipeline.sqs.list_queues()["QueueUrls"] if "IntakeDeadLetters" in url)
    pipeline.sqs.send_message(
        QueueUrl=dlq, MessageBody=json.dumps({"requestPayload": event, "responsePayload": {}})
    )

    # WHEN the operator does a dry run, then a redrive
    dry = redrive(
        sfn=pipeline.sfn,
        sqs=pipeline.sqs,
        state_machine_arn=pipeline.state_machine_arn,
        dead_letter_queues={"Intake": dlq},
        dry_run=True,
    )
    assert dry.actions == ["start the pipeline for uploads/parked.wav"]
    assert not pipeline.sfn.list_executions(stateMachineArn=pipeline.state_machine_arn)[
        "executions"
    ]
    report = redrive(
        sfn=pipeline.sfn,
        sqs=pipeline.sqs,
        state_machine_arn=pipeline.state_machine_arn,
        dead_letter_queues={"Intake": dlq},
    )

    # THEN the pipeline ran for it and the dead letter is gone
    [action] = report.actions
    assert action.startswith("started parked_wav-")
    [execution] = pipeline.sfn.list_executions(stateMachineArn=pipeline.state_machine_arn)[
        "executions"
    ]
    assert pipeline.wait(execution["executionArn"]) == "SUCCEEDED"
    assert not pipeline.sqs.receive_message(QueueUrl=dlq).get("Messages")


@pytest.mark.parametrize("error", ["InvalidAudio"])
def test_redrive_skips_failures_that_need_a_new_upload(pipeline, error):
    run = pipeline.run(
        b"RIFF\x24\x00\x00\x00WAVE" + bytes(256), key="uploads/bad.wav", metadata=EXPECT
    )
    assert run.status == "FAILED"
    report = redrive(
        sfn=pipeline.sfn,
        sqs=pipeline.sqs,
        state_machine_arn=pipeline.state_machine_arn,
        dead_letter_queues={},
    )
    assert report.actions == [f"skip {run.execution_name}: {error} needs a new upload"]


# --- the GPU voice service's job worker ----------------------------------------------------------


class Killed(BaseException):
    """The worker process dying (SIGKILL, OOM, a reclaimed instance): nothing in it catches this."""


def before_call(client, operation: str, action) -> None:
    """`action(params)` before each `operation` made with `client`: one of the emulator's clients,
    which the voice worker uses (the Lambda handlers make their own)."""
    client.meta.events.register(
        f"before-parameter-build.{operation}", lambda params, **_: action(params)
    )


def queue_depth(pipeline, name_part: str) -> int:
    [url] = [u for u in pipeline.sqs.list_queues()["QueueUrls"] if name_part in u]
    attributes = pipeline.sqs.get_queue_attributes(
        QueueUrl=url,
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    return sum(int(n) for n in attributes.values())


@pytest.fixture
def gpu_fallback(short_heartbeat_stack, tmp_path):
    """Nova Sonic saying "model not found" (not retried: straight to the GPU voice service), on
    the app synthesized with a 10 s heartbeat."""
    from fala.local.emulator import LocalPipeline
    from fala.model_store import whisper_model_dir
    from tests.fakes.nova_sonic import FakeNovaSonic, Scenario

    with FakeNovaSonic(Scenario(failure="model_not_found")) as fake:
        overrides = {"WHISPER_MODEL_DIR": str(whisper_model_dir()), **fake.env()}
        with LocalPipeline(
            short_heartbeat_stack, work_dir=tmp_path, env_overrides=overrides
        ) as pipeline:
            assert pipeline.voice_worker.settings == {
                "heartbeat_seconds": 3.0,
                "visibility_seconds": 6,
                "retry_delay_seconds": 3,
                "max_receives": 3,
            }
            yield pipeline


CONVERSE = {"mode": "converse"}


@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")
def test_fault_gpu_worker_that_stops_heart_beating_times_out_with_a_failure_outcome(gpu_fallback):
    # GIVEN a voice worker that freezes after its first heartbeat (a hung process: no more beats,
    # no answer), and no other worker to take the job over
    pipeline = gpu_fallback
    thawed = threading.Event()
    beats: list[int] = []

    def freeze_after_the_first_beat(params):
        beats.append(1)
        if len(beats) > 1:
            thawed.wait()
            raise Killed

    def freeze_reading_the_audio(params):
        if params.get("Key") == "uploads/hung.wav":
            thawed.wait()
            raise Killed

    before_call(pipeline.sfn, "sfn.SendTaskHeartbeat", freeze_after_the_first_beat)
    before_call(pipeline.s3, "s3.GetObject", freeze_reading_the_audio)
    try:
        run = pipeline.run(DEMO, key="uploads/hung.wav", metadata=CONVERSE)
    finally:
        thawed.set()  # the operator kills the hung worker

    # THEN Step Functions ended the task with States.Timeout and the run failed, saying why
    assert run.status == "FAILED"
    assert len(beats) >= 2  # it beat once, then went silent
    timed_out = [e for e in run.history if e["type"] == "TaskTimedOut"]
    assert [e["taskTimedOutEventDetails"]["error"] for e in timed_out] == ["States.Timeout"]
    assert states_entered(run.history)[-5:] == [
        "Converse with Nova Sonic",
        "Converse on GPU voice service",
        "GPU voice service timed out",
        "Publish failure",
        "Speech failed",
    ]
    error = run.result["error"]
    assert (error["error"], error["code"]) == ("States.Timeout", "timeout")
    assert error["retryable"] is True
    assert "no heartbeat for 10 s" in error["message"]
    assert "redrive" in error["message"] and "Redrive" in error["how_to_retry"]
    assert [e["detail-type"] for e in run.outcome_events] == ["Speech Failed"]
    assert run.outcome_events[0]["detail"]["error"] == error


@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")
def test_fault_gpu_worker_killed_mid_job_is_redelivered_and_completed_once(gpu_fallback):
    # GIVEN a voice worker that dies after its turn, before it answers the task token
    pipeline = gpu_fallback
    killed = threading.Event()

    answered: list[int] = []
    receives: list[tuple[str, int]] = []  # (message id, receive count) of each job delivery
    received_before_the_kill: list[int] = []

    def die_before_the_first_answer(params):
        if not killed.is_set():
            received_before_the_kill.append(len(receives))
            killed.set()
            raise Killed

    def record_job_receives(parsed, **_):
        for message in parsed.get("Messages", []):
            if json.loads(message["Body"]).get("detail-type") == "Voice Job Requested":
                count = int(message["Attributes"]["ApproximateReceiveCount"])
                receives.append((message["MessageId"], count))

    before_call(pipeline.sfn, "sfn.SendTaskSuccess", die_before_the_first_answer)
    pipeline.sfn.meta.events.register(
        "after-call.sfn.SendTaskSuccess", lambda **_: answered.append(1)
    )
    pipeline.sqs.meta.events.register("after-call.sqs.ReceiveMessage", record_job_receives)

    pipeline.upload(DEMO, key="uploads/killed.wav", metadata=CONVERSE)
    [delivery] = pipeline.deliver_events()
    arn = delivery["response"]["execution_arn"]
    assert killed.wait(timeout=300), "the worker never reached its answer"

    # WHEN a new worker starts (as ECS replaces the task)
    pipeline.voice_worker.start()

    # THEN the job came back after the visibility timeout and was completed, once
    assert pipeline.wait(arn) == "SUCCEEDED"
    [before_the_kill] = received_before_the_kill
    assert len(receives) == before_the_kill + 1  # redelivered once after the kill
    assert len({message_id for message_id, _ in receives}) == 1  # one job message throughout
    assert [count for _, count in receives] == list(range(1, len(receives) + 1))
    assert answered == [1]  # the dead worker's answer never reached Step Functions
    # (a busy machine may add a "retry": the local LLM timing out is a backend outage, retried)
    outcomes = pipeline.voice_worker.outcomes
    assert outcomes[-1] == "succeeded" and set(outcomes[:-1]) <= {"retry"}
    history = pipeline.history(arn)
    assert sum(e["type"] == "TaskSucceeded" for e in history) == 1
    assert not [e for e in history if e["type"] in ("TaskTimedOut", "TaskFailed")]
    result = pipeline.result_document("uploads/killed.wav")
    assert result["status"] == "SUCCEEDED"
    assert result["conversation"]["backend"] == "gpu-service"
    # AND its cost counts the surviving worker's GPU seconds at the instance's hourly price
    gpu_seconds = result["conversation"]["gpu_seconds"]
    assert gpu_seconds > 0 and result["cost"]["gpu_seconds"] == gpu_seconds
    assert result["cost"]["gpu_usd"] == pytest.approx(gpu_seconds / 3600 * 1.006, abs=1e-9)
    assert [k for k in pipeline.results() if k.endswith(".json")] == [
        "results/uploads/killed.wav.json"
    ]
    assert [e["detail-type"] for e in pipeline.outcome_events()] == ["Speech Processed"]
    assert queue_depth(pipeline, "VoiceJobsQueue") == 0
    assert queue_depth(pipeline, "VoiceJobsDeadLetters") == 0
