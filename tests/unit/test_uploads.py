from email.header import Header

import boto3
import pytest
from moto import mock_aws

from fala.core.errors import UploadNotFound, UploadRejected
from fala.core.uploads import UploadLimits, describe_upload

WAV_HEAD = b"RIFF\x24\x00\x00\x00WAVEfmt " + b"\x00" * 40
BUCKET = "uploads-bucket"


@pytest.fixture
def s3():
    with mock_aws():
        client = boto3.client("s3", region_name="us-east-1")
        client.create_bucket(Bucket=BUCKET)
        yield client


def event(key: str) -> dict:
    return {"detail": {"bucket": {"name": BUCKET}, "object": {"key": key, "size": 1}}}


def put(s3, key: str, body: bytes = WAV_HEAD, **metadata: str) -> None:
    s3.put_object(Bucket=BUCKET, Key=key, Body=body, Metadata=metadata)


LIMITS = UploadLimits(max_upload_bytes=1000, default_language="pt-BR")


def test_a_wav_with_expected_speech_becomes_a_validate_job(s3):
    put(s3, "uploads/a.wav", **{"expected-speech": "ENTRADA 13 40"})

    job = describe_upload(event("uploads/a.wav"), s3=s3, limits=LIMITS)

    assert job.mode == "validate"
    assert job.expected_speech == "ENTRADA 13 40"
    assert job.language == "pt-BR"
    assert job.audio_format == "wav"
    assert job.upload.size == len(WAV_HEAD)
    assert job.upload.etag


def test_non_ascii_metadata_arrives_rfc2047_encoded_and_is_decoded(s3):
    put(s3, "uploads/a.wav", **{"expected-speech": Header("SAÍDA 13 40", "utf-8").encode()})
    assert (
        describe_upload(event("uploads/a.wav"), s3=s3, limits=LIMITS).expected_speech
        == "SAÍDA 13 40"
    )


def test_url_encoded_event_keys_are_found(s3):
    put(s3, "uploads/ponto de saída.wav", **{"expected-speech": "X"})
    job = describe_upload(event("uploads/ponto+de+sa%C3%ADda.wav"), s3=s3, limits=LIMITS)
    assert job.upload.key == "uploads/ponto de saída.wav"


@pytest.mark.parametrize(
    ("body", "metadata", "message"),
    [
        (b"", {"expected-speech": "X"}, "is empty"),
        (b"RIFF" + b"\x00" * 2000, {"expected-speech": "X"}, "the limit is 1,000 bytes"),
        (b"hello, this is text", {"expected-speech": "X"}, "not audio in a supported format"),
        (WAV_HEAD, {}, "x-amz-meta-expected-speech"),
        (WAV_HEAD, {"expected-speech": "X", "mode": "sing"}, "not a mode"),
        (WAV_HEAD, {"mode": "auto"}, "x-amz-meta-expected-speech"),
        (WAV_HEAD, {"expected-speech": "X" * 600}, "limit is 500"),
        (WAV_HEAD, {"challenge-token": "not a token!"}, "not a token POST /challenge returned"),
        (
            WAV_HEAD,
            {"expected-speech": "X", "speaker-id": "ana maria/1"},
            "speaker-id='ana maria/1' is not a speaker id",
        ),
    ],
)
def test_bad_uploads_are_rejected_with_a_reason(s3, body, metadata, message):
    put(s3, "uploads/bad", body, **metadata)
    with pytest.raises(UploadRejected, match=message):
        describe_upload(event("uploads/bad"), s3=s3, limits=LIMITS)


def test_a_challenge_token_stands_for_the_expected_phrase(s3):
    token = f"kQ8s_2-nonce-from-api1.1796400000.{'s' * 43}"  # its signature is checked later
    put(s3, "uploads/punch.wav", **{"challenge-token": token})
    job = describe_upload(event("uploads/punch.wav"), s3=s3, limits=LIMITS)
    assert (job.mode, job.expected_speech) == ("validate", None)
    assert job.challenge_token == token


def test_a_conversation_needs_no_expected_phrase(s3):
    put(s3, "uploads/hello.wav", mode="Converse", voice="leo", language="pt-BR")
    job = describe_upload(event("uploads/hello.wav"), s3=s3, limits=LIMITS)
    assert (job.mode, job.expected_speech, job.voice) == ("converse", None, "leo")


def test_an_object_deleted_before_the_read_is_reported_as_gone(s3):
    with pytest.raises(UploadNotFound, match="no longer exists"):
        describe_upload(event("uploads/gone.wav"), s3=s3, limits=LIMITS)


def test_an_event_that_is_not_from_s3_is_rejected(s3):
    with pytest.raises(UploadRejected, match="not an S3"):
        describe_upload({"detail": {}}, s3=s3, limits=LIMITS)


def versioned(s3) -> None:
    s3.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})


def test_an_upload_overwritten_before_the_describe_step_is_described_as_announced(s3):
    versioned(s3)
    first = s3.put_object(
        Bucket=BUCKET, Key="uploads/a.wav", Body=WAV_HEAD, Metadata={"expected-speech": "A 1"}
    )["VersionId"]
    put(s3, "uploads/a.wav", b"not audio at all", **{"expected-speech": "B 2"})
    announced = event("uploads/a.wav")
    announced["detail"]["object"]["version-id"] = first

    job = describe_upload(announced, s3=s3, limits=LIMITS)

    assert job.upload.version_id == first
    assert job.expected_speech == "A 1" and job.audio_format == "wav"


def test_an_upload_deleted_since_its_event_is_not_found_even_with_its_version_kept(s3):
    versioned(s3)
    first = s3.put_object(Bucket=BUCKET, Key="uploads/a.wav", Body=WAV_HEAD)["VersionId"]
    s3.delete_object(Bucket=BUCKET, Key="uploads/a.wav")  # a delete marker; the version stays
    announced = event("uploads/a.wav")
    announced["detail"]["object"]["version-id"] = first

    with pytest.raises(UploadNotFound):
        describe_upload(announced, s3=s3, limits=LIMITS)
