"""`fala run`'s exit status from the run's outcome: what scripts gate on."""

import pytest

from fala.cli import ExitCode, exit_code


def outcome(status="SUCCEEDED", **result):
    return {"status": status, "result": result}


@pytest.mark.parametrize(
    ("run", "code"),
    [
        (outcome(validation={"validated": True}), ExitCode.OK),
        (outcome(validation={"validated": False}), ExitCode.NOT_VALIDATED),
        (outcome(validation={"validated": True, "accepted": True}), ExitCode.OK),
        (outcome(validation={"validated": True, "accepted": False}), ExitCode.NOT_VALIDATED),
        (outcome(conversation={"reply_text": "Olá"}), ExitCode.OK),
        (outcome("FAILED", error={"code": "upload_rejected", "retryable": False}), ExitCode.USAGE),
        (
            outcome("FAILED", error={"code": "sonic_unavailable", "retryable": True}),
            ExitCode.FAILED,
        ),
        (outcome("TIMED_OUT"), ExitCode.FAILED),
        ({"status": "FAILED", "result": None}, ExitCode.FAILED),
    ],
    ids=[
        "validated",
        "not-validated",
        "speaker-verified",
        "speaker-not-verified",
        "converse",
        "refused",
        "backend",
        "timeout",
        "no-result",
    ],
)
def test_exit_code_says_the_verdict_and_who_must_act(run, code):
    assert exit_code(run) == code


def test_exit_codes_are_the_documented_numbers():
    assert [c.value for c in ExitCode] == [0, 1, 2, 3]
