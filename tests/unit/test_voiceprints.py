"""Enrolled voices (fala.core.voiceprints) and their routes on the Function URL, against moto's
DynamoDB and the real speaker encoder. The phrase verdict is a stand-in here; how well the
encoder tells voices apart is measured by tests/benchmarks/bench_speaker.py on real speech."""

import base64
import importlib.util
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

from fala.core.audio import decode_audio
from fala.core.errors import InvalidAudio, InvalidRequest, SpeakerNotFound, SpeakersDisabled
from fala.core.function_url import handle_validation_request
from fala.core.settings import ValidationSettings
from fala.core.speaker import DEFAULT_THRESHOLD, EMBEDDING_SIZE, TELEPHONE_THRESHOLD
from fala.core.voiceprints import (
    MODEL,
    check_speaker_id,
    compare,
    enroll,
    forget,
    voiceprint,
)
from tests.benchmarks.bench_robust import phone8k

from .conftest import heard_as_expected, url_event

pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("resemblyzer") is None,
    reason="resemblyzer==0.1.4 (the encoder's weights) is installed by make setup",
)

AUDIO = Path(__file__).resolve().parents[1] / "fixtures" / "audio"
# One synthetic voice says all three; the trial is another recording of that voice.
ENROLMENT = ["entrada_13_40_pt.wav", "saida_13_40_pt.wav", "entrada_13_40_pt.ogg"]
SAME_VOICE = "entrada_13_45_pt.wav"
SAME_VOICE_SLOWER = "entrada_8_05_pt_formant_135.wav"  # espeak-ng's pt-BR voice at 135 wpm
OTHER_VOICE = "checkin_9_45_en_piper.wav"
THRESHOLDS = {"threshold": DEFAULT_THRESHOLD, "telephone_threshold": TELEPHONE_THRESHOLD}
SETTINGS = ValidationSettings()
NOW = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)


def clip(name: str) -> np.ndarray:
    return decode_audio((AUDIO / name).read_bytes(), max_seconds=60)


def b64(name: str) -> str:
    return base64.b64encode((AUDIO / name).read_bytes()).decode()


def enrol(table, speaker_id="ana.souza", names=ENROLMENT, now=None):
    return enroll(table, speaker_id, [clip(n) for n in names], retention_days=365, now=now or NOW)


def test_an_enrolment_keeps_a_voiceprint_and_never_the_audio(table):
    enrolment = enrol(table)
    assert enrolment.to_dict() == {
        "speaker_id": "ana.souza",
        "clips": 3,
        "model": MODEL,
        "enrolled_at": "2026-12-04T12:00:00+00:00",
        "expires_at": "2027-12-04T12:00:00+00:00",
    }
    [item] = table.scan()["Items"]
    assert set(item) == {
        "id",
        "embedding",
        "telephone_embedding",
        "clips",
        "model",
        "enrolled_at",
        "expiration",
    }
    for key in ("embedding", "telephone_embedding"):
        assert len(item[key].value) == EMBEDDING_SIZE * 4  # 1 KiB of float32 each, no audio
    assert item["expiration"] == int((NOW + timedelta(days=365)).timestamp())  # the TTL
    stored = voiceprint(table, "ana.souza", now=NOW)
    for vector in (stored.wideband, stored.telephone):
        assert vector.shape == (EMBEDDING_SIZE,) and abs(np.linalg.norm(vector) - 1) < 1e-5
    assert stored.wideband @ stored.telephone < 0.95  # the line changes how a voice sounds


def test_the_same_voice_is_verified_and_another_is_not(table):
    enrolled = voiceprint(table, enrol(table, now=datetime.now(UTC)).speaker_id)
    same = compare("ana.souza", enrolled, clip(SAME_VOICE), **THRESHOLDS)
    other = compare("ana.souza", enrolled, clip(OTHER_VOICE), **THRESHOLDS)
    assert (same.verified, same.reason) == (True, "match")
    assert same.score >= DEFAULT_THRESHOLD > other.score
    assert (other.verified, other.reason) == (False, "mismatch")
    assert other.telephone_score < TELEPHONE_THRESHOLD
    assert same.telephone_threshold == other.telephone_threshold == TELEPHONE_THRESHOLD


def test_a_voice_enrolled_on_a_microphone_is_verified_through_a_telephone(table):
    # bench_robust's telephone render (G.712's band, 8 kHz): not the channel model the telephone
    # voiceprint is made with (fala.core.audio.telephone_channel).
    enrolled = voiceprint(table, enrol(table, now=datetime.now(UTC)).speaker_id)
    call = compare("ana.souza", enrolled, phone8k(clip(SAME_VOICE_SLOWER)), **THRESHOLDS)
    assert call.score < DEFAULT_THRESHOLD  # the wideband voiceprint alone rejects the call
    assert call.telephone_score >= TELEPHONE_THRESHOLD
    assert (call.verified, call.reason) == (True, "telephone_match")
    impostor = compare("ana.souza", enrolled, phone8k(clip(OTHER_VOICE)), **THRESHOLDS)
    assert (impostor.verified, impostor.reason) == (False, "mismatch")
    assert impostor.telephone_score < TELEPHONE_THRESHOLD


def test_a_voice_enrolled_before_telephone_voiceprints_is_checked_with_the_wideband_one(table):
    enrol(table, now=datetime.now(UTC))
    table.update_item(Key={"id": "ana.souza"}, UpdateExpression="REMOVE telephone_embedding")
    enrolled = voiceprint(table, "ana.souza")
    assert enrolled.telephone is None
    call = compare("ana.souza", enrolled, phone8k(clip(SAME_VOICE_SLOWER)), **THRESHOLDS)
    assert (call.verified, call.reason) == (False, "mismatch")
    assert (call.telephone_score, call.telephone_threshold) == (None, None)
    same = compare("ana.souza", enrolled, clip(SAME_VOICE), **THRESHOLDS)
    assert (same.verified, same.reason) == (True, "match")


def test_a_clip_with_too_little_speech_is_not_verified(table):
    enrolled = voiceprint(table, enrol(table, now=datetime.now(UTC)).speaker_id)
    short = clip(SAME_VOICE)[:16_000]  # one second
    check = compare("ana.souza", enrolled, short, **THRESHOLDS)
    assert (check.verified, check.score, check.reason) == (False, None, "too_little_speech")
    assert check.telephone_score is None


@pytest.mark.parametrize("count", [2, 11])
def test_an_enrolment_needs_three_to_ten_clips(table, count):
    with pytest.raises(InvalidRequest, match="3 to 10 clips"):
        enroll(table, "ana", [clip(SAME_VOICE)] * count, retention_days=1)
    assert table.scan()["Items"] == []


def test_an_enrolment_names_the_clip_that_is_not_speech_or_not_the_same_voice(table):
    with pytest.raises(InvalidAudio, match=r"Enrolment clip 2: .*speech"):
        enrol(table, names=[ENROLMENT[0], "silence.wav", ENROLMENT[1]])
    with pytest.raises(InvalidAudio, match="clip 3 does not sound like the other clips"):
        enrol(table, names=[*ENROLMENT[:2], OTHER_VOICE])
    assert table.scan()["Items"] == []


def test_an_erased_or_expired_voice_is_not_found(table):
    enrol(table, now=datetime.now(UTC))
    forget(table, "ana.souza")
    assert table.scan()["Items"] == []
    with pytest.raises(SpeakerNotFound, match="enrol it first"):
        voiceprint(table, "ana.souza")
    with pytest.raises(SpeakerNotFound, match="nothing was erased"):
        forget(table, "ana.souza")
    enrol(table, now=NOW)  # kept 365 days from NOW
    with pytest.raises(SpeakerNotFound):
        voiceprint(table, "ana.souza", now=NOW + timedelta(days=366))


@pytest.mark.parametrize("bad", ["", "-x", "a b", "a/b", "x" * 129, "ação", None, 7])
def test_a_speaker_id_is_letters_digits_and_a_few_marks(bad):
    with pytest.raises(InvalidRequest, match="speaker_id must be 1-128 characters"):
        check_speaker_id(bad)


def test_without_a_table_the_speaker_check_is_disabled():
    with pytest.raises(SpeakersDisabled):
        voiceprint(None, "ana")


# --- the routes --------------------------------------------------------------------------------


def call(table, path, body=None, method="POST"):
    answer = handle_validation_request(
        url_event(body, method=method, path=path), heard_as_expected, SETTINGS, speakers=table
    )
    return answer["statusCode"], json.loads(answer["body"]), answer["headers"]


def test_the_url_enrols_checks_and_erases_a_voice(table):
    status, enrolment, _ = call(table, "/speakers/ana", {"clips": [b64(n) for n in ENROLMENT]})
    assert (status, enrolment["speaker_id"], enrolment["clips"]) == (201, "ana", 3)

    request = {"expected_speech": "ENTRADA 13 45", "audio": b64(SAME_VOICE), "speaker_id": "ana"}
    status, verdict, _ = call(table, "/", request)
    assert status == 200 and verdict["validated"] and verdict["accepted"]
    assert set(verdict["speaker"]) == {
        "id",
        "verified",
        "score",
        "threshold",
        "telephone_score",
        "telephone_threshold",
        "reason",
    }
    assert verdict["speaker"]["verified"] and verdict["speaker"]["threshold"] == DEFAULT_THRESHOLD
    assert verdict["speaker"]["telephone_threshold"] == TELEPHONE_THRESHOLD

    impostor = {**request, "audio": b64(OTHER_VOICE)}
    status, verdict, _ = call(table, "/", impostor)
    assert status == 200 and verdict["validated"]  # the phrase's verdict stays what it was
    assert verdict["accepted"] is False and verdict["speaker"]["reason"] == "mismatch"

    status, erased, _ = call(table, "/speakers/ana", method="DELETE")
    assert (status, erased) == (200, {"speaker_id": "ana", "erased": True})
    status, error, _ = call(table, "/", request)
    assert (status, error["error"]) == (404, "speaker_not_found")


def test_an_id_in_the_path_may_be_percent_encoded(table):
    body = {"clips": [b64(n) for n in ENROLMENT]}
    status, enrolment, _ = call(table, "/speakers/ana.souza%40acme.com.br", body)
    assert (status, enrolment["speaker_id"]) == (201, "ana.souza@acme.com.br")


def test_without_speaker_id_the_answer_has_no_speaker_fields(table):
    status, verdict, _ = call(
        table, "/", {"expected_speech": "ENTRADA 13 45", "audio": b64(SAME_VOICE)}
    )
    assert status == 200 and "speaker" not in verdict and "accepted" not in verdict


@pytest.mark.parametrize(
    ("path", "body", "method", "status", "error"),
    [
        ("/speakers/ana", {"clips": "x"}, "POST", 400, "invalid_request"),
        ("/speakers/ana", {"clips": ["!!"]}, "POST", 400, "invalid_request"),
        ("/speakers/ana", {"clips": [], "audio": ""}, "POST", 400, "invalid_request"),
        ("/speakers/a%20b", {"clips": []}, "POST", 400, "invalid_request"),
        ("/speakers/ana", None, "GET", 405, "method_not_allowed"),
        ("/speakers/nobody", None, "DELETE", 404, "speaker_not_found"),
        ("/speakers", None, "POST", 404, "not_found"),
    ],
)
def test_bad_speaker_requests_get_a_clear_4xx(table, path, body, method, status, error):
    got, document, headers = call(table, path, body, method)
    assert (got, document["error"]) == (status, error)
    if status == 405:
        assert headers["allow"] == "POST, DELETE"


def test_an_unreadable_enrolment_clip_is_named(table):
    clips = [b64(ENROLMENT[0]), b64("not_audio.txt"), b64(ENROLMENT[1])]
    status, error, _ = call(table, "/speakers/ana", {"clips": clips})
    assert (status, error["error"]) == (422, "invalid_audio")
    assert error["message"].startswith("Enrolment clip 2: ")
    assert table.scan()["Items"] == []


def test_a_deployment_without_the_table_says_so():
    status, error, _ = call(None, "/speakers/ana", {"clips": [b64(n) for n in ENROLMENT]})
    assert (status, error["error"]) == (404, "speakers_disabled")
