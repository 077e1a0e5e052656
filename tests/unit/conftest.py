"""Shared by the unit tests of the Function URL's routes: a moto DynamoDB table keyed by `id`
(the shape of every table of the stack, infra/constructs/tables.py) and the Function URL's event."""

import base64
import json

import boto3
import pytest
from moto import mock_aws

from fala.core.models import Validation


@pytest.fixture
def table():
    with mock_aws():
        dynamodb = boto3.resource("dynamodb", region_name="us-east-1")
        yield dynamodb.create_table(
            TableName="table",
            KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )


def url_event(body, *, method="POST", path="/", base64_body=False) -> dict:
    """A Function URL event (payload 2.0); `body` is JSON-encoded unless str/bytes/None."""
    if not isinstance(body, str | bytes) and body is not None:
        body = json.dumps(body)
    if isinstance(body, str):
        body = body.encode()
    if base64_body and body is not None:
        body = base64.b64encode(body)
    return {
        "version": "2.0",
        "rawPath": path,
        "requestContext": {"http": {"method": method, "path": path}},
        "isBase64Encoded": base64_body,
        "body": body.decode() if body is not None else None,
    }


def heard_as_expected(audio, expected: str, language: str | None) -> Validation:
    """A stand-in for the engine's validate: the audio said the phrase."""
    return Validation(
        validated=True,
        spoken_text_in_audio=expected,
        expected_speech=expected,
        normalized_expected=expected.lower(),
        normalized_spoken=expected.lower(),
        confidence=0.99,
        language=language or "pt-BR",
        reason="match",
    )
