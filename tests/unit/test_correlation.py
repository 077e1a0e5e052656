"""One correlation id per run, whatever payload a step receives: the upload's bucket/key."""

from __future__ import annotations

import pytest

from fala.core.correlation import correlation_id_of

UPLOAD = {"bucket": "fala-uploads", "key": "uploads/a b.wav", "size": 3}
EVENT = {"detail": {"bucket": {"name": "fala-uploads"}, "object": {"key": "uploads/a b.wav"}}}
JOB = {"upload": UPLOAD, "mode": "validate", "audio_format": "wav"}


@pytest.mark.parametrize(
    "payload",
    [
        EVENT,  # Start pipeline, Describe upload
        JOB,  # Validate speech, Converse
        {"execution": "arn", "state": {**EVENT, "job": JOB}},  # Publish outcome
        {"execution": "arn", "state": {"job": JOB, "error": {}}},  # a state without the event
    ],
)
def test_every_step_payload_names_the_same_upload(payload):
    assert correlation_id_of(payload) == "fala-uploads/uploads/a b.wav"


@pytest.mark.parametrize(
    "payload",
    [
        None,
        "uploads/a.wav",
        {},
        {"audio": "UklGRg=="},  # Converse invoked directly: no upload
        {"detail": {"bucket": {"name": 3}, "object": {"key": "k"}}},
        {"detail": "x", "upload": ["x"]},
        {"upload": {"bucket": "", "key": "k"}},
        {"state": {"detail": {"object": {"key": "k"}}}},
    ],
)
def test_payloads_without_an_upload_have_none(payload):
    assert correlation_id_of(payload) is None
