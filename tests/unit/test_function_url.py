"""Function URL requests (payload format 2.0): parsing, errors, responses. No model here: the
validate step is a stand-in; tests/model/test_validation_engine.py runs the real engine."""

import base64
import contextlib
import json
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fala.core.errors import FalaError, InvalidExpectedSpeech, InvalidRequest
from fala.core.function_url import (
    ValidationRequest,
    handle_validation_request,
    parse_request,
)
from fala.core.models import Validation
from fala.core.settings import ValidationSettings

from .conftest import url_event as event

AUDIO = Path(__file__).resolve().parents[1] / "fixtures" / "audio"
WAV = (AUDIO / "entrada_13_40_pt.wav").read_bytes()
SETTINGS = ValidationSettings()


def seed(**overrides) -> dict:
    return {"expected_speech": "ENTRADA 13 40", "audio": base64.b64encode(WAV).decode()} | overrides


def test_seed_contract_parses_with_the_default_language():
    assert parse_request(event(seed()), SETTINGS) == ValidationRequest(
        expected_speech="ENTRADA 13 40", audio=WAV, language="pt-BR"
    )


def test_base64_encoded_body_is_accepted():
    assert parse_request(event(seed(), base64_body=True), SETTINGS).audio == WAV


@pytest.mark.parametrize(
    "audio",
    [
        base64.urlsafe_b64encode(WAV).decode(),
        "  \n" + base64.encodebytes(WAV).decode() + "\n",  # wrapped at 76 columns
        "data:audio/wav;base64," + base64.b64encode(WAV).decode(),
        "data:audio/ogg;codecs=opus;base64," + base64.b64encode(WAV).decode(),
        base64.b64encode(WAV).decode().rstrip("="),  # padding dropped
    ],
    ids=["url-safe", "wrapped", "data-url", "data-url-params", "no-padding"],
)
def test_audio_encodings_that_are_forgiven(audio):
    assert parse_request(event(seed(audio=audio)), SETTINGS).audio == WAV


@pytest.mark.parametrize(
    ("language", "parsed"), [("en-US", "en-US"), ("auto", "auto"), (None, None)]
)
def test_language_is_optional_and_checked(language, parsed):
    assert parse_request(event(seed(language=language)), SETTINGS).language == parsed


@pytest.mark.parametrize(
    ("request_event", "status", "code", "words"),
    [
        (event(seed(), method="GET"), 405, "method_not_allowed", "POST"),
        (event(seed(), path="/validate"), 404, "not_found", "/validate"),
        (event(None), 400, "invalid_request", "no body"),
        (event("not json"), 400, "invalid_request", "not valid JSON"),
        (event("[1, 2]"), 400, "invalid_request", "an array"),
        (event('"text"'), 400, "invalid_request", "a string"),
        (event("[" * 100_000), 400, "invalid_request", "not valid JSON"),
        (event({"audio": "AAAA"}), 400, "invalid_request", "expected_speech"),
        (event({"expected_speech": "X"}), 400, "invalid_request", '"audio" is required'),
        (event(seed(expected_speech=12)), 400, "invalid_request", "a number"),
        (event(seed(audio=["x"])), 400, "invalid_request", "an array"),
        (event(seed(audio="")), 400, "invalid_request", "empty"),
        (event(seed(audio="@@@not base64@@@")), 400, "invalid_request", "base64"),
        (event(seed(language=7)), 400, "invalid_request", "language"),
        (event(seed(language="fr")), 400, "unsupported_language", "pt-BR"),
        (event(seed(langauge="en")), 400, "invalid_request", "langauge"),
        (event(seed(expected_speech="   ")), 422, "invalid_expected_speech", "empty"),
        (event(seed(expected_speech="A" * 201)), 422, "invalid_expected_speech", "200"),
        (event(seed(expected_speech="A\x00B")), 422, "invalid_expected_speech", "U+0000"),
        (
            event(seed(audio=base64.b64encode(b"hello world").decode())),
            422,
            "invalid_audio",
            "11 bytes",
        ),
        (
            {**event(seed()), "body": "***", "isBase64Encoded": True},
            400,
            "invalid_request",
            "UTF-8",
        ),
    ],
)
def test_bad_requests_get_a_status_and_a_message_naming_the_problem(
    request_event, status, code, words
):
    answer = handle_validation_request(request_event, _never_called, SETTINGS)

    assert answer["statusCode"] == status
    assert answer["headers"]["content-type"] == "application/json"
    body = json.loads(answer["body"])
    assert body["error"] == code
    assert words in body["message"]


def test_method_not_allowed_says_which_method_is():
    answer = handle_validation_request(event(seed(), method="PUT"), _never_called, SETTINGS)
    assert answer["headers"]["allow"] == "POST"


def test_audio_over_the_limit_is_refused_before_validation():
    limits = ValidationSettings(max_audio_seconds=1)
    answer = handle_validation_request(event(seed()), _never_called, limits)
    assert answer["statusCode"] == 422
    assert json.loads(answer["body"])["error"] == "audio_too_long"


def test_success_answers_the_validation_document():
    calls = []

    def validate(audio, expected, language):
        calls.append((audio, expected, language))
        return VALIDATION

    answer = handle_validation_request(event(seed(language="en")), validate, SETTINGS)

    assert answer["statusCode"] == 200
    assert json.loads(answer["body"]) == VALIDATION.model_dump()
    [(audio, expected, language)] = calls
    assert audio.dtype == np.float32 and audio.size == pytest.approx(3.83 * 16_000, rel=0.01)
    assert (expected, language) == ("ENTRADA 13 40", "en")


def test_settings_come_from_the_environment():
    env = {"MAX_AUDIO_SECONDS": "12.5", "MAX_EXPECTED_SPEECH_CHARS": "50", "DEFAULT_LANGUAGE": "en"}
    assert ValidationSettings.from_env(env) == ValidationSettings(
        max_audio_seconds=12.5, max_expected_speech_chars=50, default_language="en"
    )
    assert ValidationSettings.from_env({}) == ValidationSettings()
    with pytest.raises(ValueError):
        ValidationSettings.from_env({"MAX_AUDIO_SECONDS": "-1"})
    speakers = {"SPEAKER_THRESHOLD": "0.9", "SPEAKER_TELEPHONE_THRESHOLD": "0.95"}
    settings = ValidationSettings.from_env(speakers)
    assert (settings.speaker_threshold, settings.speaker_telephone_threshold) == (0.9, 0.95)
    with pytest.raises(ValueError):
        ValidationSettings.from_env({"SPEAKER_TELEPHONE_THRESHOLD": "1.5"})  # a cosine is <= 1


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=15), children, max_size=4)
    ),
    max_leaves=12,
)
FIELDS = st.fixed_dictionaries(
    {},
    optional={
        "expected_speech": JSON | st.text(max_size=30),
        "audio": JSON | st.sampled_from(["", "AAAA", "UklGRg==", "data:audio/wav;base64,"]),
        "language": JSON | st.sampled_from(["pt-BR", "en", "xx", "auto"]),
    },
)


@settings(max_examples=300, deadline=None)
@given(st.one_of(JSON, FIELDS), st.booleans(), st.sampled_from(["POST", "GET", "post"]))
def test_arbitrary_json_bodies_only_ever_raise_fala_errors(body, base64_body, method):
    with contextlib.suppress(FalaError):
        parse_request(event(json.dumps(body), method=method, base64_body=base64_body), SETTINGS)


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=200) | st.binary(max_size=200).map(lambda b: b.decode("latin-1")))
def test_arbitrary_raw_bodies_get_a_json_answer(raw):
    answer = handle_validation_request(event(raw), _never_called, SETTINGS)
    assert answer["statusCode"] in (400, 404, 405, 413, 422)
    assert set(json.loads(answer["body"])) == {"error", "message"}


def test_fala_error_subclasses_keep_their_codes():
    assert InvalidExpectedSpeech("x").to_dict() == {
        "error": "invalid_expected_speech",
        "message": "x",
    }
    assert InvalidRequest.status == 400


VALIDATION = Validation(
    validated=True,
    spoken_text_in_audio="Entrada, treze e quarenta.",
    expected_speech="ENTRADA 13 40",
    normalized_expected="entrada 13 40",
    normalized_spoken="entrada 13 40",
    confidence=0.5,
    language="en",
    reason="match",
)


def _never_called(*args):
    raise AssertionError("validate must not run for a bad request")
