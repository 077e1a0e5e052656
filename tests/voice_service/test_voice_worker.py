"""The job worker against moto: a real state machine (events:putEvents.waitForTaskToken) executed by
moto, its event routed by a real EventBridge rule to SQS (with a DLQ), audio and replies in S3."""

from __future__ import annotations

import functools
import json
import threading
import time

import boto3
import pytest
from moto import mock_aws
from voice_service.backends import Backends
from voice_service.engine import TurnResult, VoiceEngine
from voice_service.errors import LLMUnavailable, TextTooLong
from voice_service.worker import JobWorker, start_in_thread
from voice_testkit import fixture_audio, make_llm, make_settings

from fala.core.audio import decode_audio
from fala.core.errors import error_types
from fala.core.models import Conversation, Job, Upload, reply_audio_key
from fala.core.outcome import error_info

REGION = "us-east-1"
UPLOADS, RESULTS = "fala-uploads", "fala-results"
MAX_RECEIVES = 3
VISIBILITY = 1  # seconds: a dead worker's job reappears quickly in tests
LONG_POLL_SECONDS = 20  # SQS's maximum WaitTimeSeconds


class Killed(BaseException):
    """Stands for the process dying mid-job (SIGKILL, OOM): nothing in the worker catches it."""


class Recorder:
    """Wraps a boto3 client, counting calls by operation and failing chosen ones once."""

    def __init__(self, client, fail_once: set[str] | None = None) -> None:
        self._client = client
        self.calls: dict[str, int] = {}
        self.kwargs: dict[str, dict] = {}  # the last call's arguments, by operation
        self.history: list[tuple[str, dict]] = []
        self._fail_once = set(fail_once or ())
        self._called = threading.Condition()

    def wait_for(self, operation: str, count: int) -> None:
        """Block until `operation` was called `count` times (a worker that never calls fails the
        test on the suite's hang guard, pytest-timeout)."""
        with self._called:
            self._called.wait_for(lambda: self.calls.get(operation, 0) >= count)

    def __getattr__(self, name):
        method = getattr(self._client, name)

        def call(*args, **kwargs):
            with self._called:
                self.calls[name] = self.calls.get(name, 0) + 1
                self.kwargs[name] = kwargs
                self.history.append((name, kwargs))
                self._called.notify_all()
            if name in self._fail_once:
                self._fail_once.discard(name)
                raise ConnectionError(f"{name}: connection reset")
            return method(*args, **kwargs)

        return call


class AWS:
    def __init__(self) -> None:
        self.s3 = boto3.client("s3", region_name=REGION)
        self.sqs = boto3.client("sqs", region_name=REGION)
        self.sfn = boto3.client("stepfunctions", region_name=REGION)
        events = boto3.client("events", region_name=REGION)
        for bucket in (UPLOADS, RESULTS):
            self.s3.create_bucket(Bucket=bucket)
        self.dlq = self.sqs.create_queue(QueueName="voice-jobs-dlq")["QueueUrl"]
        dlq_arn = self.arn(self.dlq)
        self.queue = self.sqs.create_queue(
            QueueName="voice-jobs",
            Attributes={
                "VisibilityTimeout": str(VISIBILITY),
                "RedrivePolicy": json.dumps(
                    {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": MAX_RECEIVES}
                ),
            },
        )["QueueUrl"]
        events.create_event_bus(Name="fala-bus")
        events.put_rule(
            Name="voice-jobs",
            EventBusName="fala-bus",
            EventPattern=json.dumps(
                {"source": ["fala.pipeline"], "detail-type": ["Voice Job Requested"]}
            ),
        )
        events.put_targets(
            Rule="voice-jobs",
            EventBusName="fala-bus",
            Targets=[{"Id": "queue", "Arn": self.arn(self.queue)}],
        )
        definition = {
            "StartAt": "GPU voice service",
            "States": {
                "GPU voice service": {
                    "Type": "Task",
                    "Resource": "arn:aws:states:::events:putEvents.waitForTaskToken",
                    "HeartbeatSeconds": 30,
                    "TimeoutSeconds": 120,
                    "Parameters": {
                        "Entries": [
                            {
                                "EventBusName": "fala-bus",
                                "Source": "fala.pipeline",
                                "DetailType": "Voice Job Requested",
                                "Detail": {
                                    "task_token.$": "$$.Task.Token",
                                    "execution.$": "$$.Execution.Id",
                                    "job.$": "$.job",
                                    "results_bucket": RESULTS,
                                },
                            }
                        ]
                    },
                    "End": True,
                }
            },
        }
        self.state_machine = self.sfn.create_state_machine(
            name="speech-pipeline",
            definition=json.dumps(definition),
            roleArn="arn:aws:iam::123456789012:role/pipeline",
        )["stateMachineArn"]
        self._runs = 0

    def arn(self, queue_url: str) -> str:
        attributes = self.sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])
        return attributes["Attributes"]["QueueArn"]

    def start(self, audio: bytes | None, *, key="uploads/clip.wav", job: dict | None = None) -> str:
        if audio is not None:
            self.s3.put_object(Bucket=UPLOADS, Key=key, Body=audio)
        if job is None:
            upload = Upload(bucket=UPLOADS, key=key, size=len(audio or b""))
            job = Job(upload=upload, mode="converse", language="en", audio_format="wav")
            job = job.model_dump(mode="json")
        self._runs += 1
        return self.sfn.start_execution(
            stateMachineArn=self.state_machine,
            name=f"run-{self._runs}",
            input=json.dumps({"job": job}),
        )["executionArn"]

    def wait(self, execution: str) -> dict:
        """The execution once it has ended (moto runs it on a thread of its own)."""
        while True:
            described = self.sfn.describe_execution(executionArn=execution)
            if described["status"] != "RUNNING":
                return described
            time.sleep(0.05)

    def failure(self, execution: str) -> dict:
        history = self.sfn.get_execution_history(executionArn=execution)["events"]
        for event in history:
            if "executionFailedEventDetails" in event:
                return event["executionFailedEventDetails"]
        return {}

    def counts(self, queue_url: str) -> tuple[int, int]:
        attributes = self.sqs.get_queue_attributes(
            QueueUrl=queue_url,
            AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
        )["Attributes"]
        return (
            int(attributes["ApproximateNumberOfMessages"]),
            int(attributes["ApproximateNumberOfMessagesNotVisible"]),
        )

    def worker(self, turn, *, sqs=None, sfn=None, outcomes=None, **kwargs) -> JobWorker:
        return JobWorker(
            sqs=sqs or self.sqs,
            s3=self.s3,
            sfn=sfn or self.sfn,
            queue_url=self.queue,
            turn=turn,
            max_receives=MAX_RECEIVES,
            retry_delay_seconds=0,
            on_outcome=outcomes.append if outcomes is not None else None,
            **kwargs,
        )


@pytest.fixture
def aws(monkeypatch):
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": REGION,
    }.items():
        monkeypatch.setenv(name, value)
    with mock_aws(config={"stepfunctions": {"execute_state_machine": True}}):
        yield AWS()


def fake_turn(calls: list, *, until=None):
    """A turn that, given `until`, keeps working until that returns (what the worker does
    meanwhile, such as heartbeats, is what a test observes), not for a set time."""

    def turn(audio: bytes, language, voice) -> TurnResult:
        calls.append((len(audio), language, voice))
        decode_audio(audio, max_seconds=30)  # InvalidAudio for bytes that are not audio
        if until is not None:
            until()
        return TurnResult(
            user_text="check in nine forty five",
            assistant_text="Your check-in is confirmed.",
            wav=b"RIFF....WAVEfake",
            language=language or "en",
            model="fake-llm",
            voice="en_US-joe-medium",
            tts_backend="piper",
            usage={"prompt_tokens": 12, "completion_tokens": 6},
        )

    return turn


def poll_until_message(worker: JobWorker) -> int:
    """One SQS long poll (the longest SQS allows): it returns as soon as a message is visible —
    the event takes a moment to reach the queue, a dead worker's job reappears only after the
    visibility timeout — and empty only when none arrived."""
    handled = worker.poll_once(wait_seconds=LONG_POLL_SECONDS)
    assert handled, "no message reached the queue"
    return handled


def test_job_round_trip_with_the_real_engine(aws, llm_url, stt, piper):
    settings = make_settings(llm_url)
    engine = VoiceEngine(settings, Backends(stt=stt, llm=make_llm(settings), tts=piper))
    outcomes: list[str] = []
    worker = aws.worker(engine.turn, outcomes=outcomes)
    execution = aws.start(fixture_audio("checkin_9_45_en_piper.wav"), key="uploads/checkin.wav")

    assert poll_until_message(worker) == 1
    described = aws.wait(execution)
    assert outcomes == ["succeeded"]
    assert described["status"] == "SUCCEEDED", aws.failure(execution)
    conversation = Conversation.model_validate_json(described["output"])
    assert conversation.backend == "gpu-service"
    assert "9" in conversation.user_text or "nine" in conversation.user_text.lower()
    assert conversation.assistant_text
    assert conversation.reply_audio.bucket == RESULTS
    assert conversation.reply_audio.key == reply_audio_key("uploads/checkin.wav")
    assert conversation.language == "en" and conversation.voice == "en_US-joe-medium"
    reply = aws.s3.get_object(Bucket=RESULTS, Key=conversation.reply_audio.key)
    assert reply["ContentType"] == "audio/wav" and reply["Body"].read()[:4] == b"RIFF"
    assert aws.counts(aws.queue) == (0, 0)


def test_heartbeats_while_the_job_runs(aws):
    sfn = Recorder(aws.sfn)
    calls: list = []
    beaten = functools.partial(sfn.wait_for, "send_task_heartbeat", 4)
    worker = aws.worker(fake_turn(calls, until=beaten), sfn=sfn, heartbeat_seconds=0.2)
    execution = aws.start(fixture_audio("checkin_9_45_en_piper.wav"))
    poll_until_message(worker)
    assert aws.wait(execution)["status"] == "SUCCEEDED"
    assert sfn.calls["send_task_heartbeat"] >= 4  # one before the work, then every 0.2 s
    assert sfn.calls["send_task_success"] == 1
    output = json.loads(aws.sfn.describe_execution(executionArn=execution)["output"])
    assert output["usage"] == {
        "input_speech_tokens": 0,
        "input_text_tokens": 12,
        "output_speech_tokens": 0,
        "output_text_tokens": 6,
    }


def test_beats_renew_the_jobs_visibility_so_no_other_worker_takes_it(aws):
    # GIVEN a job that takes longer than the queue's visibility timeout, and a second worker
    # polling the queue all the while
    sqs = Recorder(aws.sqs)
    stop = threading.Event()
    taken_by_the_other: list = []
    other = aws.worker(fake_turn(taken_by_the_other))

    def other_polls() -> None:
        while not stop.is_set():
            other.poll_once(wait_seconds=0)
            stop.wait(0.1)

    poller = threading.Thread(target=other_polls)
    # the job outlives the visibility timeout three times over: 15 renewals 0.2 s apart
    renewed = functools.partial(sqs.wait_for, "change_message_visibility", 15 * VISIBILITY)
    slow = fake_turn(calls := [], until=renewed)

    def turn(*args):
        poller.start()  # the first worker has the job now
        return slow(*args)

    worker = aws.worker(turn, sqs=sqs, heartbeat_seconds=0.2, visibility_seconds=VISIBILITY)
    execution = aws.start(fixture_audio("checkin_9_45_en_piper.wav"))
    try:
        poll_until_message(worker)
    finally:
        stop.set()
        poller.join()

    # THEN each beat renewed the job's visibility: the other worker never saw it
    assert aws.wait(execution)["status"] == "SUCCEEDED"
    assert len(calls) == 1 and taken_by_the_other == []
    assert sqs.calls["change_message_visibility"] >= 5
    assert sqs.kwargs["change_message_visibility"]["VisibilityTimeout"] == VISIBILITY
    assert aws.counts(aws.queue) == (0, 0)


def test_worker_killed_mid_job_is_redelivered_and_completed_once(aws):
    calls: list = []

    def dying_turn(audio, language, voice):
        calls.append("killed")
        raise Killed

    execution = aws.start(fixture_audio("checkin_9_45_en_piper.wav"))
    with pytest.raises(Killed):
        poll_until_message(aws.worker(dying_turn))
    assert aws.counts(aws.queue) == (0, 1)  # in flight, not deleted
    assert aws.sfn.describe_execution(executionArn=execution)["status"] == "RUNNING"

    sfn = Recorder(aws.sfn)
    outcomes: list[str] = []
    survivor = aws.worker(fake_turn(calls), sfn=sfn, outcomes=outcomes)
    poll_until_message(survivor)  # after the visibility timeout
    assert outcomes == ["succeeded"]
    assert aws.wait(execution)["status"] == "SUCCEEDED"
    assert sfn.calls["send_task_success"] == 1
    assert calls[0] == "killed" and len(calls) == 2
    assert aws.counts(aws.queue) == (0, 0) and aws.counts(aws.dlq) == (0, 0)


def test_lost_delete_does_not_complete_the_job_twice(aws):
    calls: list = []
    execution = aws.start(fixture_audio("checkin_9_45_en_piper.wav"))
    flaky = Recorder(aws.sqs, fail_once={"delete_message"})
    with pytest.raises(ConnectionError):
        poll_until_message(aws.worker(fake_turn(calls), sqs=flaky))
    assert aws.wait(execution)["status"] == "SUCCEEDED"

    outcomes: list[str] = []
    sfn = Recorder(aws.sfn)
    poll_until_message(aws.worker(fake_turn(calls), sfn=sfn, outcomes=outcomes))
    assert outcomes == ["already_done"]  # the token is answered: dropped without work
    assert len(calls) == 1 and "send_task_success" not in sfn.calls
    assert aws.counts(aws.queue) == (0, 0)


def test_audio_that_is_not_audio_fails_the_task_with_a_typed_error(aws):
    outcomes: list[str] = []
    sfn = Recorder(aws.sfn)
    execution = aws.start(fixture_audio("not_audio.txt"))
    poll_until_message(aws.worker(fake_turn([]), sfn=sfn, outcomes=outcomes))
    assert outcomes == ["failed"]
    assert aws.wait(execution)["status"] == "FAILED"
    assert aws.failure(execution)["error"] == "InvalidAudio"
    # moto drops the cause from the history; the worker sent it.
    assert sfn.kwargs["send_task_failure"]["error"] == "InvalidAudio"
    assert "could not be decoded" in sfn.kwargs["send_task_failure"]["cause"]
    assert aws.counts(aws.queue) == (0, 0)


def test_missing_upload_and_invalid_job_are_typed_failures(aws):
    missing = aws.start(None, key="uploads/gone.wav")
    invalid = aws.start(None, job={"upload": {"bucket": UPLOADS}})
    outcomes: list[str] = []
    sfn = Recorder(aws.sfn)
    worker = aws.worker(fake_turn([]), sfn=sfn, outcomes=outcomes)
    poll_until_message(worker)
    poll_until_message(worker)
    failures = {k["error"]: k["cause"] for n, k in sfn.history if n == "send_task_failure"}
    assert set(failures) == {"UploadNotFound", "InvalidRequest"}
    assert "job document is invalid" in failures["InvalidRequest"]
    assert "no longer exists" in failures["UploadNotFound"]
    assert outcomes == ["failed", "failed"]
    assert aws.failure(aws.wait(missing)["executionArn"])["error"] == "UploadNotFound"
    assert aws.failure(aws.wait(invalid)["executionArn"])["error"] == "InvalidRequest"


def test_backend_outage_is_retried_then_fails_the_task_by_name(aws):
    calls: list = []

    def llm_down(audio, language, voice):
        calls.append(1)
        raise LLMUnavailable("The LLM endpoint http://localhost:11434/v1 could not be reached.")

    outcomes: list[str] = []
    worker = aws.worker(llm_down, outcomes=outcomes)
    execution = aws.start(fixture_audio("checkin_9_45_en_piper.wav"))
    for _ in range(MAX_RECEIVES):
        poll_until_message(worker)
    assert outcomes == ["retry", "retry", "failed"]
    assert aws.wait(execution)["status"] == "FAILED"
    assert aws.failure(execution)["error"] == "LLMUnavailable"
    assert aws.counts(aws.queue) == (0, 0) and aws.counts(aws.dlq) == (0, 0)
    # The PublishOutcome Lambda (no voice service code in it) explains the name.
    info = error_info({"Error": "LLMUnavailable", "Cause": "down"})
    assert (info.code, info.retryable) == ("llm_unavailable", True)


def test_an_http_only_error_fails_the_task_by_its_registered_base(aws):
    """TextTooLong is the HTTP API's own; the job reports InvalidRequest, which the pipeline's
    registry knows (never retried; the result document says to fix the input)."""

    def too_long(audio, language, voice):
        raise TextTooLong("`text` has 2001 characters; the limit is 2000.")

    sfn = Recorder(aws.sfn)
    outcomes: list[str] = []
    execution = aws.start(fixture_audio("checkin_9_45_en_piper.wav"))
    poll_until_message(aws.worker(too_long, sfn=sfn, outcomes=outcomes))
    assert outcomes == ["failed"]
    assert aws.wait(execution)["status"] == "FAILED"
    assert aws.failure(execution)["error"] == "InvalidRequest"
    sent = sfn.kwargs["send_task_failure"]
    assert sent["error"] in error_types()
    info = error_info({"Error": sent["error"], "Cause": sent["cause"]})
    assert (info.code, info.retryable) == ("invalid_request", False)
    assert "limit is 2000" in info.message


def test_unexpected_error_leaves_the_message_for_redelivery(aws):
    def bug(audio, language, voice):
        raise ZeroDivisionError("a bug")

    outcomes: list[str] = []
    worker = aws.worker(bug, outcomes=outcomes)
    execution = aws.start(fixture_audio("checkin_9_45_en_piper.wav"))
    poll_until_message(worker)
    poll_until_message(worker)  # back at once (retry delay 0 in tests)
    assert outcomes == ["error", "error"]
    assert aws.sfn.describe_execution(executionArn=execution)["status"] == "RUNNING"


def test_malformed_messages_are_left_to_reach_the_dlq(aws):
    aws.sqs.send_message(QueueUrl=aws.queue, MessageBody="not json at all")
    aws.sqs.send_message(QueueUrl=aws.queue, MessageBody=json.dumps({"detail": {"job": {}}}))
    outcomes: list[str] = []
    worker = aws.worker(fake_turn([]), outcomes=outcomes)
    # each message is received MAX_RECEIVES times, then moved to the DLQ on the next receive
    for _ in range(4 * MAX_RECEIVES):
        if aws.counts(aws.dlq)[0] == 2:
            break
        worker.poll_once(wait_seconds=VISIBILITY + 1)  # a left message reappears after VISIBILITY
    assert set(outcomes) == {"malformed"}
    assert len(outcomes) == 2 * MAX_RECEIVES  # each delivered maxReceiveCount times
    assert aws.counts(aws.dlq)[0] == 2 and aws.counts(aws.queue) == (0, 0)


def test_run_loop_serves_jobs_until_stopped(aws):
    calls: list = []
    worker = aws.worker(fake_turn(calls))
    stop_worker = start_in_thread(worker, wait_seconds=1)
    try:
        executions = [
            aws.start(fixture_audio("checkin_9_45_en_piper.wav"), key=f"uploads/{i}.wav")
            for i in range(3)
        ]
        assert [aws.wait(e)["status"] for e in executions] == ["SUCCEEDED"] * 3
    finally:
        stop_worker()
    assert not [t for t in threading.enumerate() if t.name == "voice-job-worker" and t.is_alive()]
    assert len(calls) == 3
    keys = {o["Key"] for o in aws.s3.list_objects_v2(Bucket=RESULTS)["Contents"]}
    assert keys == {reply_audio_key(f"uploads/{i}.wav") for i in range(3)}


def test_worker_needs_no_web_framework():
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    code = (
        "import sys; import voice_service.worker;"
        "assert 'fastapi' not in sys.modules and 'torch' not in sys.modules, sorted(sys.modules)"
    )
    subprocess.run([sys.executable, "-c", code], cwd=root, check=True, timeout=60)
    assert threading.active_count() >= 1
