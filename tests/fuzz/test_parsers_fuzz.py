"""Every parser of user input, fuzzed: what it must never do (raise anything but its typed error)
and what it must always keep (valid names, round trips, idempotence).

Parsers: the Function URL request (fala.core.function_url, and the local server's event mapping
in fala.local.function_url), S3 metadata decoding and the whole "Describe upload" check
(fala.core.uploads), execution names (fala.core.intake), container sniffing (fala.core.formats),
text normalization and verbalization (fala.core.normalize / verbalize), the expected-speech and
language checks (fala.core.validation), and audio decoding (fala.core.audio).
"""

from __future__ import annotations

import base64
import json
import re
from email.header import Header
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from botocore.exceptions import ClientError
from hypothesis import assume, example, given, settings
from hypothesis import strategies as st

from fala.core.audio import decode_audio
from fala.core.errors import (
    AudioTooLong,
    FalaError,
    InvalidAudio,
    InvalidExpectedSpeech,
    UnsupportedLanguage,
    UploadNotFound,
    UploadRejected,
)
from fala.core.formats import SNIFF_BYTES, SUPPORTED_FORMATS, sniff_format
from fala.core.function_url import handle_validation_request, parse_request
from fala.core.intake import MAX_NAME_LENGTH, execution_name, object_identity
from fala.core.models import Job, Validation
from fala.core.normalize import comparison_key, normalize
from fala.core.settings import ValidationSettings
from fala.core.uploads import MAX_METADATA_VALUE_CHARS, UploadLimits, _decode, describe_upload
from fala.core.validation import check_expected_speech, resolve_language
from fala.core.verbalize import number_words, spoken_forms
from fala.local.function_url import from_result, to_event

from .conftest import FUZZ, count

AUDIO = Path(__file__).resolve().parents[1] / "fixtures" / "audio"
SETTINGS = ValidationSettings()
NAME = re.compile(r"[A-Za-z0-9_-]{1,80}")
STATUSES = {200, 400, 404, 405, 413, 422}

# Text of every kind: any code point (surrogates included, as JSON "\ud800" escapes produce them).
ANY_TEXT = st.text(st.characters(codec=None), max_size=80)
JSON_SCALARS = st.none() | st.booleans() | st.integers() | st.floats() | ANY_TEXT
JSON = st.recursive(
    JSON_SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(ANY_TEXT, inner, max_size=4),
    max_leaves=12,
)
FIELD_VALUES = JSON | st.binary(max_size=64).map(lambda b: base64.b64encode(b).decode())
REQUEST_BODIES = st.fixed_dictionaries(
    {},
    optional={
        "expected_speech": FIELD_VALUES,
        "audio": FIELD_VALUES,
        "language": FIELD_VALUES | st.sampled_from(["pt-BR", "en", "auto", "", "PT_br"]),
    },
)


def url_event(body: str | None, *, method="POST", path="/", b64=False) -> dict[str, Any]:
    return {
        "version": "2.0",
        "rawPath": path,
        "requestContext": {"http": {"method": method, "path": path}},
        "isBase64Encoded": b64,
        "body": body,
    }


def stand_in_validate(audio, expected, language) -> Validation:
    return Validation(
        validated=False,
        spoken_text_in_audio="",
        expected_speech=expected,
        normalized_expected="",
        normalized_spoken="",
        confidence=0.0,
        language=language or "pt-BR",
        reason="no speech",
    )


def answer_is_well_formed(answer: dict[str, Any]) -> dict[str, Any]:
    assert answer["statusCode"] in STATUSES, answer
    document = json.loads(answer["body"])
    if answer["statusCode"] != 200:
        assert set(document) == {"error", "message"}
        assert document["message"].strip()
    return document


# --- the Function URL request -------------------------------------------------------------------


@settings(FUZZ, max_examples=1500)
@given(
    REQUEST_BODIES | JSON,
    st.booleans(),
    st.sampled_from(["POST", "post", "GET", "PUT", ""]),
    st.sampled_from(["/", "/x", "", "/../"]),
)
def test_parse_request_only_raises_fala_errors(body, b64, method, path):
    count("function_url.parse_request: JSON bodies")
    raw = json.dumps(body)
    if b64:
        raw = base64.b64encode(raw.encode("utf-8", "surrogatepass")).decode()
    try:
        request = parse_request(url_event(raw, method=method, path=path, b64=b64), SETTINGS)
    except FalaError as error:
        assert 400 <= error.status < 500
        assert error.message.strip()
    else:
        assert isinstance(request.expected_speech, str) and request.expected_speech.strip()
        assert isinstance(request.audio, bytes)


@settings(FUZZ, max_examples=1200)
@given(
    st.binary(max_size=300),
    st.sampled_from(
        ["application/json", "text/plain", "application/octet-stream", "", "image/png; x=1"]
    ),
    st.sampled_from(["POST", "GET", "DELETE"]),
    st.sampled_from(["/", "/?a=b", "/validate", "//", "/%2e%2e/"]),
)
@example(b'{"expected_speech": "X", "audio": "UklGRg=="}', "application/json", "POST", "/")
@example(b"\xff\xfe{}", "application/json", "POST", "/")
def test_any_http_request_gets_a_json_answer(raw, content_type, method, target):
    """The local server's event mapping plus the handler logic, on arbitrary bytes."""
    count("function_url: raw HTTP bodies through to_event + handler")
    event = to_event(method, target, {"content-type": content_type}, raw, "127.0.0.1")
    answer = handle_validation_request(event, stand_in_validate, SETTINGS)
    answer_is_well_formed(answer)
    status, headers, payload = from_result(answer)
    assert status == answer["statusCode"] and headers["content-type"] == "application/json"
    json.loads(payload)


@settings(FUZZ, max_examples=1000)
@given(
    st.binary(min_size=1, max_size=200),
    st.sampled_from(["standard", "urlsafe", "unpadded", "wrapped", "data-url", "spaced"]),
)
def test_audio_field_base64_forms_round_trip(audio, form):
    count("function_url: audio base64 forms round trip")
    text = base64.b64encode(audio).decode()
    if form == "urlsafe":
        text = base64.urlsafe_b64encode(audio).decode()
    elif form == "unpadded":
        text = text.rstrip("=")
    elif form == "wrapped":
        text = "\n".join(text[i : i + 76] for i in range(0, len(text), 76))
    elif form == "data-url":
        text = "data:audio/wav;base64," + text
    elif form == "spaced":
        text = f"  {text}\r\n"
    body = json.dumps({"expected_speech": "ENTRADA 13 40", "audio": text})
    assert parse_request(url_event(body), SETTINGS).audio == audio


# --- S3 metadata and "Describe upload" ----------------------------------------------------------

NO_LINE_BREAKS = st.text(
    st.characters(codec="utf-8", exclude_characters="\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029"),
    max_size=120,
)


@settings(FUZZ, max_examples=1000)
@given(NO_LINE_BREAKS)
def test_rfc2047_metadata_round_trips(text):
    count("uploads._decode: RFC 2047 round trip")
    encoded = Header(text, "utf-8").encode(maxlinelen=0) if not text.isascii() else text
    assert _decode(encoded) == text or ("=?" in text and text.isascii())


@settings(FUZZ, max_examples=1000)
@example("=?utf-8?b?00000?=")
@given(
    st.text(st.characters(codec="ascii"), max_size=700)
    | st.builds(
        lambda charset, enc, payload: f"=?{charset}?{enc}?{payload}?=",
        st.sampled_from(["utf-8", "UTF-8", "iso-8859-1", "x-unknown", "", "utf-16"]),
        st.sampled_from(["q", "Q", "b", "B", "x", ""]),
        st.text(st.characters(codec="ascii"), max_size=60),
    )
)
def test_metadata_decoding_never_raises_anything_but_a_rejection(value):
    count("uploads._decode: arbitrary ASCII header values")
    try:
        text = _decode(value)
    except UploadRejected as error:
        # Too long, or a malformed encoded word — either way the message says what to send.
        assert str(MAX_METADATA_VALUE_CHARS) in error.message or "RFC 2047" in error.message
    else:
        assert isinstance(text, str)


class FakeS3:
    """Just enough of an S3 client for describe_upload: one object, or none."""

    class exceptions:
        ClientError = ClientError

    def __init__(self, head: dict[str, Any] | None, first_bytes: bytes):
        self.head, self.first_bytes = head, first_bytes

    def head_object(self, Bucket, Key, VersionId=None):
        if self.head is None:
            raise ClientError({"Error": {"Code": "404", "Message": "Not Found"}}, "HeadObject")
        return self.head

    def get_object(self, Bucket, Key, Range, VersionId=None):
        class Body:
            def read(_self) -> bytes:
                return self.first_bytes[:SNIFF_BYTES]

        return {"Body": Body()}


METADATA_NAMES = st.sampled_from(
    ["expected-speech", "Expected-Speech", "mode", "MODE", "language", "voice", "x", ""]
)
METADATA = st.dictionaries(
    METADATA_NAMES,
    st.text(st.characters(codec="ascii"), max_size=40)
    | st.sampled_from(["validate", " Validate ", "converse", "auto", "=?utf-8?q?ENTRADA_13?="]),
    max_size=5,
)
MAGIC = st.sampled_from([b"RIFF\0\0\0\0WAVE", b"OggS", b"fLaC", b"ID3", b"\xff\xfb", b"", b"PK"])


@settings(FUZZ, max_examples=1000)
@given(
    st.one_of(
        st.none(),
        st.fixed_dictionaries(
            {"ContentLength": st.integers(0, 50_000_000), "Metadata": METADATA},
            optional={"ETag": st.text(max_size=10), "VersionId": st.none() | st.text(max_size=8)},
        ),
    ),
    MAGIC,
    st.binary(max_size=80),
    st.text(max_size=40),
)
def test_describe_upload_makes_a_job_or_a_typed_refusal(head, magic, tail, key):
    count("uploads.describe_upload: heads, metadata, first bytes")
    event = {"detail": {"bucket": {"name": "b"}, "object": {"key": "uploads/" + key}}}
    s3 = FakeS3(head, magic + tail)
    try:
        job = describe_upload(event, s3=s3, limits=UploadLimits(max_upload_bytes=20_000_000))
    except (UploadRejected, UploadNotFound) as error:
        assert error.message.strip()
    else:
        assert isinstance(job, Job)
        assert job.audio_format in SUPPORTED_FORMATS
        assert 0 < job.upload.size <= 20_000_000
        assert job.mode != "validate" or (job.expected_speech or "").strip()


@settings(FUZZ, max_examples=300)
@given(JSON)
def test_describe_upload_refuses_events_that_are_not_s3_events(detail):
    count("uploads.describe_upload: arbitrary event details")
    with pytest.raises((UploadRejected, UploadNotFound)):
        describe_upload({"detail": detail}, s3=FakeS3(None, b""), limits=UploadLimits())


# --- execution names ----------------------------------------------------------------------------

KEYS = st.one_of(
    st.text(st.characters(codec="utf-8"), max_size=1024),
    st.text(st.characters(codec="utf-8"), max_size=20).map(lambda k: "uploads/" + k),
    st.text(alphabet=" _?*+.-/", max_size=12).map(lambda k: "uploads/a" + k + "b.wav"),
)
VERSIONS = st.one_of(st.none(), st.just("null"), st.just(""), st.text(max_size=32))


def detail_of(key: str, version: str | None, etag: str) -> dict[str, Any]:
    obj = {"key": key, "etag": etag}
    if version is not None:
        obj["version-id"] = version
    return {"bucket": {"name": "uploads-bucket"}, "object": obj}


@settings(FUZZ, max_examples=1500)
@given(KEYS, VERSIONS, st.text(max_size=34))
def test_execution_names_are_always_valid_step_functions_names(key, version, etag):
    count("intake.execution_name: validity")
    name = execution_name(detail_of(key, version, etag))
    assert NAME.fullmatch(name) and len(name) <= MAX_NAME_LENGTH
    assert execution_name(detail_of(key, version, etag)) == name  # a redelivery: same name


@settings(FUZZ, max_examples=1000)
@given(KEYS, VERSIONS, st.text(max_size=8), KEYS, VERSIONS, st.text(max_size=8))
def test_distinct_uploads_get_distinct_execution_names(k1, v1, e1, k2, v2, e2):
    count("intake.execution_name: distinctness")
    d1, d2 = detail_of(k1, v1, e1), detail_of(k2, v2, e2)
    if object_identity(d1) != object_identity(d2):
        assert execution_name(d1) != execution_name(d2)


# --- container sniffing -------------------------------------------------------------------------


@settings(FUZZ, max_examples=1500)
@given(st.binary(max_size=SNIFF_BYTES * 2))
def test_sniff_format_never_raises_and_names_a_supported_format(head):
    count("formats.sniff_format: arbitrary bytes")
    assert sniff_format(head) in (*SUPPORTED_FORMATS, None)


@settings(FUZZ, max_examples=500)
@given(
    st.sampled_from(
        [
            (b"RIFF\x10\x00\x00\x00WAVE", "wav"),
            (b"OggS", "ogg"),
            (b"fLaC", "flac"),
            (b"ID3", "mp3"),
            (b"\xff\xfb", "mp3"),
            (b"\x00\x00\x00\x20ftyp", "m4a"),
            (b"\x1a\x45\xdf\xa3", "webm"),
        ]
    ),
    st.binary(max_size=SNIFF_BYTES),
)
def test_sniff_format_recognizes_every_magic_whatever_follows(magic_and_format, tail):
    count("formats.sniff_format: magic + arbitrary tail")
    magic, expected = magic_and_format
    assume(not (expected == "webm" and tail[:4] == b"ftyp"))  # see the test below
    assert sniff_format(magic + tail) == expected


def test_webm_magic_wins_over_ftyp_at_offset_4():
    assert sniff_format(b"\x1a\x45\xdf\xa3ftyp" + bytes(8)) == "webm"


# --- text: normalize, verbalize, the expected-speech and language checks ----------------------


@settings(FUZZ, max_examples=600)
@given(ANY_TEXT, st.sampled_from(["pt", "en", "pt-BR", "en-US", "es", "", None]))
@example("\ud800 13h40 \u202e", "pt")
@example("ﬁve past ⅓ 十三 ١٣:٤٠", "en")
@example("ENTRADA 13² ፩ 𐩀 40", "pt")
def test_normalize_never_raises_on_any_unicode_and_is_idempotent(text, language):
    count("normalize.normalize / comparison_key: arbitrary unicode")
    once = normalize(text, language)
    assert isinstance(once, str)
    assert normalize(once, language) == once
    key = comparison_key(once)
    assert comparison_key(key) == key


# Characters str.isdigit() accepts and int() refuses once crashed normalize/verbalize.
@pytest.mark.parametrize("text", ["ENTRADA 𐩀 40", "ENTRADA ፩", "ENTRADA 13²", "①②"])
def test_digits_int_cannot_read_are_words(text):
    assert normalize(text, "pt")
    assert spoken_forms(text, "pt")
    assert check_expected_speech(text, max_chars=200)


@settings(FUZZ, max_examples=600)
@given(
    st.lists(
        st.one_of(ANY_TEXT, st.integers(0, 10**6).map(str), st.sampled_from(["13", "40", "09"])),
        max_size=8,
    ).map(" ".join),
    st.sampled_from(["pt", "en", "es"]),
)
def test_spoken_forms_never_raise_and_render_every_number(text, lang):
    count("verbalize.spoken_forms: arbitrary phrases")
    forms = spoken_forms(text, lang)
    assert forms == list(dict.fromkeys(forms))
    assert all(isinstance(f, str) and f.strip(" .,") for f in forms)


@settings(FUZZ, max_examples=400)
@given(st.integers(-(10**12), 10**12), st.sampled_from(["pt", "en"]), st.booleans())
def test_number_words_never_raise(n, lang, feminine):
    count("verbalize.number_words: any integer")
    words = number_words(n, lang, feminine=feminine)
    assert words
    if 0 <= n <= 99:
        assert not any(c.isdigit() for c in words)


@settings(FUZZ, max_examples=600)
@given(st.none() | ANY_TEXT | st.text(max_size=400), st.integers(1, 300))
def test_check_expected_speech_accepts_or_says_why(text, limit):
    count("validation.check_expected_speech: arbitrary text")
    try:
        checked = check_expected_speech(text, max_chars=limit)
    except InvalidExpectedSpeech as error:
        assert "expected_speech" in error.message
    else:
        assert checked == checked.strip() and 0 < len(checked) <= limit


@settings(FUZZ, max_examples=500)
@given(st.none() | ANY_TEXT | st.sampled_from(["pt-BR", "PT_br", " en-us ", "auto", "AUTO"]))
def test_resolve_language_answers_a_code_or_lists_the_supported_ones(language):
    count("validation.resolve_language: arbitrary tags")
    try:
        code = resolve_language(language)
    except UnsupportedLanguage as error:
        assert "pt-BR" in error.message
    else:
        assert code in (None, "pt", "en")


# --- audio decoding -----------------------------------------------------------------------------

FIXTURES = {p.name: p.read_bytes() for p in sorted(AUDIO.iterdir()) if p.suffix != ".txt"}
SMALL_FIXTURES = {n: b for n, b in FIXTURES.items() if len(b) < 40_000}


def decodes_or_refuses(data: bytes, max_seconds: float = 30.0) -> None:
    try:
        samples = decode_audio(data, max_seconds=max_seconds)
    except (InvalidAudio, AudioTooLong) as error:
        assert error.message.strip()
    else:
        assert samples.dtype == np.float32 and samples.ndim == 1 and samples.size > 0
        assert np.isfinite(samples).all() and np.abs(samples).max() <= 1.0


@settings(FUZZ, max_examples=500)
@given(
    st.binary(max_size=2048) | st.tuples(MAGIC, st.binary(max_size=512)).map(lambda t: t[0] + t[1])
)
def test_decode_audio_on_arbitrary_bytes_only_refuses_with_typed_errors(data):
    count("audio.decode_audio: arbitrary bytes")
    decodes_or_refuses(data)


@st.composite
def mutated_fixture(draw) -> bytes:
    """A real clip, cut short and/or with bytes overwritten or inserted."""
    data = bytearray(FIXTURES[draw(st.sampled_from(sorted(SMALL_FIXTURES)))])
    for _ in range(draw(st.integers(1, 6))):
        position = draw(st.integers(0, len(data) - 1))
        action = draw(st.sampled_from(["flip", "insert", "cut", "zero-run"]))
        if action == "flip":
            data[position] = draw(st.integers(0, 255))
        elif action == "insert":
            data[position:position] = draw(st.binary(min_size=1, max_size=16))
        elif action == "cut":
            del data[position:]
            if not data:
                break
        else:
            data[position : position + 64] = bytes(64)
    return bytes(data)


@settings(FUZZ, max_examples=400)
@given(mutated_fixture(), st.sampled_from([30.0, 1.0, 0.1]))
def test_decode_audio_on_damaged_real_files_only_refuses_with_typed_errors(data, max_seconds):
    count("audio.decode_audio: damaged real clips")
    decodes_or_refuses(data, max_seconds)
