"""Hostile S3 uploads through the local emulation of the deployed pipeline.

Every case is uploaded into one emulated AWS (one batch: upload all, deliver the events, wait for
every execution), then each row checks what its upload ended in: a result document
`results/<key>.json` with the expected status and, on failure, an `error{code, message}` whose
message says what to fix; and exactly one outcome event. `test_nothing_is_lost_or_doubled` checks
the batch as a whole: one execution, one result document and one outcome event per upload.
"""

from __future__ import annotations

import base64
import sys
import unicodedata
from dataclasses import dataclass, field
from typing import Any

import pytest

from fala.core.decision import ACCEPTS
from fala.core.models import result_key

from .conftest import DEMO_WAV, MAX_UPLOAD_BYTES, SILENCE_WAV, run_uploads, wav

pytestmark = pytest.mark.e2e

S3_MAX_KEY_BYTES = 1024
PHRASE = {"expected-speech": "ENTRADA 13 40"}


def rfc2047(text: str) -> str:
    return f"=?UTF-8?B?{base64.b64encode(text.encode()).decode()}?="


def delete_every_version(pipeline, key: str) -> None:
    """Gone for good: on a versioned bucket a plain delete only adds a delete marker."""
    listed = pipeline.s3.list_object_versions(Bucket=pipeline.upload_bucket, Prefix=key)
    for version in listed.get("Versions", []) + listed.get("DeleteMarkers", []):
        if version["Key"] == key:
            pipeline.s3.delete_object(
                Bucket=pipeline.upload_bucket, Key=key, VersionId=version["VersionId"]
            )


@dataclass(frozen=True)
class Case:
    name: str
    key: str
    body: bytes
    metadata: dict[str, str]
    status: str  # SUCCEEDED | FAILED (of the run and of the result document)
    code: str | None = None  # error.code when FAILED
    says: tuple[str, ...] = ()  # words the error message must contain (what to fix)
    reason: str | tuple[str, ...] | None = None  # validation.reason when SUCCEEDED (or one of)
    before_delivery: Any = None  # tamper with S3 after the upload, before the event arrives
    marks: tuple = field(default=())


# The demo clip is accepted on every CPU kind: a "match" where it is heard exactly, an "acoustic
# match" where Intel's MKL kernels limited to AVX2 garble it (tests/with_isa.sh mkl-avx2).
DEMO_ACCEPTED = ACCEPTS

LONG = "uploads/" + "a" * (S3_MAX_KEY_BYTES - len("uploads/") - len(".wav")) + ".wav"
LONG_ACCENTS = "uploads/" + "é" * ((S3_MAX_KEY_BYTES - len("uploads/") - len(".wav")) // 2) + ".wav"

CASES = [
    # --- keys -------------------------------------------------------------------------------
    Case(
        "dot-dot key",
        "uploads/../../etc/passwd.wav",
        SILENCE_WAV,
        PHRASE,
        "SUCCEEDED",
        reason="no speech",
    ),
    Case(
        "dot segments and double slash",
        "uploads/a/./b//c.wav",
        SILENCE_WAV,
        PHRASE,
        "SUCCEEDED",
        reason="no speech",
    ),
    Case(
        "NFC accented key",
        "uploads/" + unicodedata.normalize("NFC", "saída.wav"),
        SILENCE_WAV,
        PHRASE,
        "SUCCEEDED",
        reason="no speech",
    ),
    Case(
        "NFD accented key (same text, other bytes)",
        "uploads/" + unicodedata.normalize("NFD", "saída.wav"),
        SILENCE_WAV,
        PHRASE,
        "SUCCEEDED",
        reason="no speech",
    ),
    Case(
        "emoji key",
        "uploads/🎤 gravação 🇧🇷.wav",
        SILENCE_WAV,
        PHRASE,
        "SUCCEEDED",
        reason="no speech",
    ),
    Case(
        "pt-BR key, real speech",
        "uploads/Ponto de Saída — João (1) ç ã õ.wav",
        DEMO_WAV,
        PHRASE,
        "SUCCEEDED",
        reason=DEMO_ACCEPTED,
    ),
    Case(
        "spaces and plus signs",
        "uploads/check in+out 9+45.wav",
        SILENCE_WAV,
        PHRASE,
        "SUCCEEDED",
        reason="no speech",
    ),
    Case(
        "percent-encoded look-alike",
        "uploads/check%20in%2Bout.wav",
        SILENCE_WAV,
        PHRASE,
        "SUCCEEDED",
        reason="no speech",
    ),
    Case(
        "key of 1,024 bytes (S3's maximum)",
        LONG,
        SILENCE_WAV,
        PHRASE,
        "SUCCEEDED",
        reason="no speech",
    ),
    Case(
        "key of 1,020 bytes in two-byte characters",
        LONG_ACCENTS,
        SILENCE_WAV,
        PHRASE,
        "SUCCEEDED",
        reason="no speech",
    ),
    Case(
        "sanitizes like others: a b",
        "uploads/a b.wav",
        SILENCE_WAV,
        PHRASE,
        "SUCCEEDED",
        reason="no speech",
    ),
    Case(
        "sanitizes like others: a_b",
        "uploads/a_b.wav",
        SILENCE_WAV,
        PHRASE,
        "SUCCEEDED",
        reason="no speech",
    ),
    Case(
        "sanitizes like others: a?b",
        "uploads/a?b.wav",
        SILENCE_WAV,
        PHRASE,
        "SUCCEEDED",
        reason="no speech",
    ),
    Case(
        "sanitizes like others: a*b",
        "uploads/a*b.wav",
        SILENCE_WAV,
        PHRASE,
        "SUCCEEDED",
        reason="no speech",
    ),
    Case(
        "ASL/JSON injection in the key",
        'uploads/"},{"x":"$.job States.Format(.wav',
        SILENCE_WAV,
        PHRASE,
        "SUCCEEDED",
        reason="no speech",
    ),
    # --- bodies -------------------------------------------------------------------------------
    Case(
        "over max_upload_mb",
        "uploads/huge.wav",
        wav(MAX_UPLOAD_BYTES / 8000 + 5),
        PHRASE,
        "FAILED",
        "upload_rejected",
        ("bytes", "limit", "shorter"),
    ),
    Case(
        "empty object",
        "uploads/empty.wav",
        b"",
        PHRASE,
        "FAILED",
        "upload_rejected",
        ("empty", "upload an audio file"),
    ),
    Case(
        "PNG named .wav",
        "uploads/picture.wav",
        b"\x89PNG\r\n\x1a\n" + bytes(300),
        PHRASE,
        "FAILED",
        "upload_rejected",
        ("not audio", "wav"),
    ),
    Case(
        "text file",
        "uploads/notes.mp3",
        "notas da reunião\n".encode() * 20,
        PHRASE,
        "FAILED",
        "upload_rejected",
        ("not audio",),
    ),
    Case(
        "OGG magic then zeros",
        "uploads/junk.ogg",
        b"OggS" + bytes(400),
        PHRASE,
        "FAILED",
        "invalid_audio",
        ("could not be decoded", "Send"),
    ),
    Case(
        "WAV header only",
        "uploads/header.wav",
        DEMO_WAV[:44],
        PHRASE,
        "FAILED",
        "invalid_audio",
        ("no samples",),
    ),
    Case(
        "audio over the length limit",
        "uploads/long.wav",
        wav(31),
        PHRASE,
        "FAILED",
        "audio_too_long",
        ("limit is 30 s", "shorter"),
    ),
    # --- metadata -----------------------------------------------------------------------------
    Case(
        "no metadata at all",
        "uploads/bare.wav",
        SILENCE_WAV,
        {},
        "FAILED",
        "upload_rejected",
        ("x-amz-meta-expected-speech",),
    ),
    Case(
        "unknown mode",
        "uploads/mode.wav",
        SILENCE_WAV,
        {**PHRASE, "mode": "translate"},
        "FAILED",
        "upload_rejected",
        ("'translate'", "validate"),
    ),
    Case(
        "mode in odd case and spaces",
        "uploads/mode-case.wav",
        SILENCE_WAV,
        {**PHRASE, "mode": "  VALIDATE "},
        "SUCCEEDED",
        reason="no speech",
    ),
    Case(
        "unsupported language",
        "uploads/lang.wav",
        SILENCE_WAV,
        {**PHRASE, "language": "xx-YY"},
        "FAILED",
        "unsupported_language",
        ("pt-BR", "auto"),
    ),
    Case(
        "expected speech over the limit",
        "uploads/exp201.wav",
        SILENCE_WAV,
        {"expected-speech": "ENTRADA " * 26},
        "FAILED",
        "invalid_expected_speech",
        ("limit is 200",),
    ),
    Case(
        "metadata value over 500 characters",
        "uploads/exp600.wav",
        SILENCE_WAV,
        {"expected-speech": "A" * 600},
        "FAILED",
        "upload_rejected",
        ("limit is 500",),
    ),
    Case(
        "RFC 2047 encoded phrase, real speech",
        "uploads/rfc2047.wav",
        DEMO_WAV,
        {"expected-speech": "=?utf-8?q?ENTRADA_13_40?="},
        "SUCCEEDED",
        reason=DEMO_ACCEPTED,
    ),
    Case(
        "non-ASCII phrase (encoded by the client)",
        "uploads/saida-meta.wav",
        SILENCE_WAV,
        {"expected-speech": "SAÍDA 13 40 às três"},
        "SUCCEEDED",
        reason="no speech",
    ),
    Case(
        "CRLF header injection, RFC 2047 smuggled",
        "uploads/crlf.wav",
        SILENCE_WAV,
        {"expected-speech": rfc2047("ENTRADA 13 40\r\nx-amz-meta-mode: converse")},
        "FAILED",
        "invalid_expected_speech",
        ("control characters", "one line"),
    ),
    Case(
        "JSON injection: quote-brace",
        "uploads/inject-json.wav",
        SILENCE_WAV,
        {"expected-speech": '"}'},
        "FAILED",
        "invalid_expected_speech",
        ("no words",),
    ),
    Case(
        "ASL injection: $.job and States.Format(",
        "uploads/inject-asl.wav",
        SILENCE_WAV,
        {"expected-speech": "States.Format('{}', $.job)", "voice": '"},"mode":"converse'},
        "SUCCEEDED",
        reason="no speech",
    ),
    Case(
        "unknown charset in RFC 2047",
        "uploads/charset.wav",
        SILENCE_WAV,
        {**PHRASE, "language": "=?x-unknown?q?pt?="},
        "FAILED",
        "unsupported_language",
        ("x-unknown",),
    ),
    Case(
        "undecodable RFC 2047 phrase",
        "uploads/rfc-bad.wav",
        SILENCE_WAV,
        {"expected-speech": "=?UTF-8?B?!!!?="},
        "FAILED",
        "upload_rejected",
        ("=?UTF-8?B?!!!?=",),
    ),
    Case(
        "truncated RFC 2047 base64 word",
        "uploads/rfc-truncated.wav",
        SILENCE_WAV,
        {"expected-speech": "=?utf-8?b?00000?="},
        "FAILED",
        "upload_rejected",
        ("=?utf-8?b?00000?=",),
    ),
    Case(
        "deleted between the event and the read",
        "uploads/gone.wav",
        SILENCE_WAV,
        PHRASE,
        "FAILED",
        "upload_not_found",
        ("no longer exists", "again"),
        before_delivery=delete_every_version,
    ),
]


@pytest.fixture(scope="module")
def batch(upload_pipeline):
    uploads = [
        {"key": c.key, "body": c.body, "metadata": c.metadata, "before_delivery": c.before_delivery}
        for c in CASES
    ]
    return run_uploads(upload_pipeline, uploads)


def test_the_table_has_distinct_keys():
    assert len({c.key for c in CASES}) == len(CASES)


@pytest.mark.parametrize("case", [pytest.param(c, id=c.name, marks=c.marks) for c in CASES])
def test_hostile_upload_ends_in_one_clear_outcome(batch, case):
    outcome = batch["outcomes"][case.key]

    # exactly one run, and it ended the way the row says
    assert outcome.statuses == [case.status], outcome
    document = outcome.result
    assert document is not None, f"no results/{case.key}.json"
    assert document["status"] == case.status
    assert document["upload"]["key"] == case.key
    # exactly one outcome event, carrying the same verdict
    [event] = outcome.events
    assert event["detail-type"] == (
        "Speech Processed" if case.status == "SUCCEEDED" else "Speech Failed"
    )
    assert event["detail"]["status"] == case.status
    if case.status == "FAILED":
        error = document["error"]
        assert error["code"] == case.code, error
        for words in case.says:
            assert words in error["message"], error["message"]
        assert error["how_to_retry"]
    else:
        assert "error" not in document
        reasons = case.reason if isinstance(case.reason, tuple) else (case.reason,)
        assert document["validation"]["reason"] in reasons


def test_names_that_sanitize_alike_are_still_distinct_runs(batch):
    names = [batch["outcomes"][f"uploads/a{c}b.wav"].execution_names[0] for c in " _?*"]
    assert len({n.rsplit("-", 1)[0] for n in names}) == 1  # same readable part
    assert len(set(names)) == 4  # different runs


def test_nfc_and_nfd_keys_are_two_uploads_with_two_results(batch):
    nfc = "uploads/" + unicodedata.normalize("NFC", "saída.wav")
    nfd = "uploads/" + unicodedata.normalize("NFD", "saída.wav")
    assert nfc != nfd
    assert batch["outcomes"][nfc].result["upload"]["key"] == nfc
    assert batch["outcomes"][nfd].result["upload"]["key"] == nfd
    assert batch["outcomes"][nfc].execution_names != batch["outcomes"][nfd].execution_names


def test_execution_names_are_valid_for_step_functions(batch):
    for outcome in batch["outcomes"].values():
        for name in outcome.execution_names:
            assert 1 <= len(name) <= 80 and name.replace("_", "").replace("-", "").isalnum()
            assert name.isascii()


def test_nothing_is_lost_or_doubled(batch, upload_pipeline):
    keys = [c.key for c in CASES]
    # one start per upload, one outcome event per upload, one result document per upload
    started = [d["event"]["detail"]["object"]["key"] for d in batch["deliveries"]]
    assert sorted(started) == sorted(keys)
    published = [e["detail"]["upload"]["key"] for e in batch["events"]]
    assert sorted(published) == sorted(keys)
    assert sorted(upload_pipeline.results()) == sorted(result_key(k) for k in keys)


def test_result_keys_fit_s3s_key_limit(batch, upload_pipeline):
    for stored in upload_pipeline.results():
        assert len(stored.encode()) <= S3_MAX_KEY_BYTES, f"{len(stored.encode())} bytes"


def test_header_injection_with_raw_crlf_is_refused_before_anything_runs(upload_pipeline):
    # S3 clients refuse header values with newlines; only the RFC 2047 route (above) gets through
    with pytest.raises(ValueError, match="newline"):
        upload_pipeline.upload(
            SILENCE_WAV,
            key="uploads/crlf-raw.wav",
            metadata={"expected-speech": "ENTRADA 13 40\r\nx-amz-meta-mode: converse"},
        )
    assert upload_pipeline.deliver_events() == []


def test_object_deleted_between_describe_and_validate_fails_clearly(upload_pipeline, monkeypatch):
    # GIVEN "Describe upload" succeeds, and the object vanishes right after it
    describe = next(
        f for f in upload_pipeline.lambdas.functions.values() if "DescribeUpload" in f.logical_id
    )
    describe.load()
    module = sys.modules[f"_fala_fn_{describe.logical_id}"]
    original = module.describe_upload
    key = "uploads/vanishing.wav"

    def describe_then_delete(*args, **kwargs):
        job = original(*args, **kwargs)
        delete_every_version(upload_pipeline, key)
        return job

    monkeypatch.setattr(module, "describe_upload", describe_then_delete)
    out = run_uploads(upload_pipeline, [{"key": key, "body": DEMO_WAV, "metadata": PHRASE}])[
        "outcomes"
    ][key]

    # THEN the validation step reports it gone, with what to do
    assert out.statuses == ["FAILED"]
    assert out.result["error"]["code"] == "upload_not_found"
    assert "upload it again" in out.result["error"]["message"]
    assert len(out.events) == 1


def test_a_long_non_ascii_phrase_can_be_uploaded(upload_pipeline):
    phrase = "SAÍDA DO TURNO DA MANHÃ ÀS 13 40 PORTÃO NÚMERO 3"
    key = "uploads/long-phrase.wav"
    out = run_uploads(
        upload_pipeline,
        [{"key": key, "body": SILENCE_WAV, "metadata": {"expected-speech": phrase}}],
    )["outcomes"][key]
    assert out.statuses == ["SUCCEEDED"]
    assert out.result["validation"]["expected_speech"] == phrase
