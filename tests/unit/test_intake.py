import re

import boto3
import pytest
from moto import mock_aws

from fala.core.intake import MAX_NAME_LENGTH, execution_name, start_execution


def detail(key: str, *, etag: str = "abc", version: str | None = None) -> dict:
    obj = {"key": key, "size": 10, "etag": etag}
    if version is not None:
        obj["version-id"] = version
    return {"bucket": {"name": "bucket"}, "object": obj}


@pytest.mark.parametrize(
    "key",
    [
        "uploads/entrada.wav",
        "uploads/Ponto de Saída (1).mp3",
        "uploads/" + "x" * 500,
        "uploads/../..",
        "uploads/",
    ],
)
def test_execution_names_are_valid_step_functions_names(key):
    name = execution_name(detail(key))
    assert re.fullmatch(r"[A-Za-z0-9_-]{1,80}", name)
    assert len(name) <= MAX_NAME_LENGTH


def test_execution_name_reads_like_the_file():
    assert execution_name(detail("uploads/entrada_13_40.wav")).startswith("entrada_13_40_wav-")


def test_same_object_same_name_new_content_new_name():
    assert execution_name(detail("uploads/a.wav")) == execution_name(detail("uploads/a.wav"))
    assert execution_name(detail("uploads/a.wav")) != execution_name(
        detail("uploads/a.wav", etag="def")
    )
    assert execution_name(detail("uploads/a.wav", version="1")) != execution_name(
        detail("uploads/a.wav", version="2")
    )


def test_unversioned_null_version_falls_back_to_etag():
    assert execution_name(detail("uploads/a.wav", version="null")) == execution_name(
        detail("uploads/a.wav")
    )


@mock_aws
def test_a_redelivered_event_starts_one_execution():
    sfn = boto3.client("stepfunctions", region_name="us-east-1")
    arn = sfn.create_state_machine(
        name="m",
        definition='{"StartAt": "Done", "States": {"Done": {"Type": "Succeed"}}}',
        roleArn="arn:aws:iam::123456789012:role/r",
    )["stateMachineArn"]
    event = {"id": "1", "detail": detail("uploads/a.wav")}
    redelivered = {"id": "2", "detail": detail("uploads/a.wav")}

    first = start_execution(event, sfn=sfn, state_machine_arn=arn)
    second = start_execution(redelivered, sfn=sfn, state_machine_arn=arn)

    assert first["duplicate"] is False
    assert second == {"execution_name": first["execution_name"], "duplicate": True}
    assert len(sfn.list_executions(stateMachineArn=arn)["executions"]) == 1
