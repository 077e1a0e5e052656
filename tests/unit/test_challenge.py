"""Challenge phrases (fala.core.challenge) and their routes on the Function URL, against moto's
DynamoDB: genuine (signed, on record), fresh and unused, or a clear 4xx. The validate step is a
stand-in here; the real engine on a challenge phrase is in tests/e2e/test_function_url.py."""

import base64
import json
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from fala.core.challenge import (
    ChallengeStore,
    challenge_phrase,
    issue_challenge,
    redeem_challenge,
    token_digest,
)
from fala.core.errors import (
    ChallengeExpired,
    ChallengeForged,
    ChallengeNotFound,
    ChallengesDisabled,
    ChallengeUsed,
    InvalidRequest,
)
from fala.core.function_url import handle_validation_request
from fala.core.settings import ValidationSettings

from .conftest import heard_as_expected, url_event

WAV = (
    Path(__file__).resolve().parents[1] / "fixtures" / "audio" / "entrada_13_40_pt.wav"
).read_bytes()
SETTINGS = ValidationSettings()
NOON_UTC = datetime(2026, 12, 4, 15, 7, tzinfo=UTC)  # 12:07 in Brasília
KEY = b"a key of at least thirty-two bytes"


@pytest.fixture
def store(table):
    return ChallengeStore(table, lambda: KEY)


def issue(store, *, now=NOON_UTC, language="pt-BR", action=None, ttl=60):
    return issue_challenge(
        store, action=action, language=language, ttl_seconds=ttl, utc_offset_minutes=-180, now=now
    )


def test_a_challenge_is_the_local_time_and_a_code_said_in_the_language(store):
    challenge = issue(store)
    action, hour, minute, word, code = challenge.expected_speech.split()
    assert (action, hour, minute, word) == ("ENTRADA", "12", "07", "CODIGO")
    assert len(code) == 3 and code.isdigit()
    assert challenge.say.startswith("Entrada, meio-dia e sete, código ")
    assert challenge.expires_at == NOON_UTC + timedelta(seconds=60)
    english = issue(store, language="en", action="check out")
    assert english.expected_speech.startswith("CHECK OUT 12 07 CODE ")
    assert english.say.startswith("Check out, twelve oh seven, code ")


def test_the_table_keeps_a_digest_of_the_token_never_the_token(store, table):
    challenge = issue(store)
    [item] = table.scan()["Items"]
    assert item["id"] == token_digest(challenge.token) != challenge.token
    assert challenge.token not in json.dumps(item, default=str)
    assert item["expiration"] > item["expires_at"]  # TTL: kept past expiry to read "used"


def test_a_challenge_is_redeemed_once(store):
    challenge = issue(store)
    redeemed = redeem_challenge(store, challenge.token, now=NOON_UTC + timedelta(seconds=5))
    assert (redeemed.expected_speech, redeemed.language) == (challenge.expected_speech, "pt-BR")
    with pytest.raises(ChallengeUsed, match="already used"):
        redeem_challenge(store, challenge.token, now=NOON_UTC + timedelta(seconds=6))


def test_an_expired_challenge_is_refused_and_stays_unused(store, table):
    challenge = issue(store, ttl=30)
    with pytest.raises(ChallengeExpired, match="expired"):
        redeem_challenge(store, challenge.token, now=NOON_UTC + timedelta(seconds=30))
    [item] = table.scan()["Items"]
    assert "used_at" not in item


def test_a_forged_or_altered_token_is_refused_before_any_table_access(store, table):
    challenge = issue(store)
    nonce, expires, signature = challenge.token.split(".")
    later = str(int(expires) + 3600)  # a longer life, signature kept
    elsewhere = issue(ChallengeStore(table, lambda: b"another deployment's key, 32 bytes"))
    forgeries = [
        f"{nonce}.{later}.{signature}",
        f"{'A' * 22}.{expires}.{signature}",
        f"{nonce}.{expires}.{'A' * 43}",
        elsewhere.token,
    ]
    tableless = ChallengeStore(None, lambda: KEY)  # refused before any table access
    for forged in forgeries:
        with pytest.raises(ChallengeForged, match="signature does not verify"):
            redeem_challenge(tableless, forged, now=NOON_UTC)
    assert redeem_challenge(store, challenge.token, now=NOON_UTC).expected_speech


def test_a_signed_token_no_longer_on_record_is_not_found_and_a_malformed_one_is_bad(store, table):
    challenge = issue(store)
    table.delete_item(Key={"id": token_digest(challenge.token)})  # DynamoDB's TTL, a day later
    with pytest.raises(ChallengeNotFound, match="no longer on record"):
        redeem_challenge(store, challenge.token, now=NOON_UTC)
    for bad in ("", "short", "A" * 22, "x" * 80, challenge.token + "A", "bad token!!", 42):
        with pytest.raises(InvalidRequest, match="challenge_token"):
            redeem_challenge(store, bad, now=NOON_UTC)


def test_a_challenge_key_must_be_long_enough():
    with pytest.raises(ValueError, match="32 bytes"):
        issue(ChallengeStore(None, lambda: b"short"))


def test_of_concurrent_requests_with_one_token_exactly_one_gets_through(store):
    challenge = issue(store)
    outcomes, start = [], threading.Barrier(8)

    def use():
        start.wait()
        try:
            redeem_challenge(store, challenge.token, now=NOON_UTC + timedelta(seconds=1))
            outcomes.append("redeemed")
        except ChallengeUsed:
            outcomes.append("used")

    threads = [threading.Thread(target=use) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["redeemed"] + ["used"] * 7


def test_a_retried_use_redeems_again_and_no_other_use_does(store, table):
    challenge = issue(store, ttl=30)
    first = NOON_UTC + timedelta(seconds=5)
    by = "s3://uploads/punch.wav#v1"
    assert redeem_challenge(store, challenge.token, now=first, by=by).expected_speech
    # the pipeline step retried, even past the expiry: the same upload version
    later = NOON_UTC + timedelta(seconds=90)
    assert redeem_challenge(store, challenge.token, now=later, by=by).expected_speech
    with pytest.raises(ChallengeUsed):
        redeem_challenge(store, challenge.token, now=first, by="s3://uploads/punch.wav#v2")
    with pytest.raises(ChallengeUsed):
        redeem_challenge(store, challenge.token, now=first)
    [item] = table.scan()["Items"]
    assert item["used_at"] == int(first.timestamp())  # the first use's time is kept


def test_without_a_table_there_are_no_challenges():
    with pytest.raises(ChallengesDisabled, match="not enabled"):
        redeem_challenge(None, f"{'A' * 22}.{9**10}.{'A' * 43}")


def test_unknown_actions_are_refused_with_the_ones_there_are():
    with pytest.raises(InvalidRequest, match="ENTRADA, SAIDA, INTERVALO, RETORNO"):
        challenge_phrase("LUNCH", "pt-BR", NOON_UTC, "123")
    assert challenge_phrase("saída", "pt-BR", NOON_UTC, "123")[0] == "SAIDA 15 07 CODIGO 123"


# --- on the Function URL -------------------------------------------------------------------------


def judge(expected, language):
    return heard_as_expected(None, expected, language)


def call(store, path, body, validate=None):
    calls = []

    def recording(audio, expected, language):
        calls.append((expected, language))
        return (validate or judge)(expected, language)

    answer = handle_validation_request(url_event(body, path=path), recording, SETTINGS, store)
    return answer["statusCode"], json.loads(answer["body"]), calls


def test_the_url_issues_a_challenge_and_validates_against_it_once(store):
    status, challenge, _ = call(store, "/challenge", None)
    assert status == 201
    assert set(challenge) == {"challenge_token", "expected_speech", "say", "language", "expires_at"}
    audio = base64.b64encode(WAV).decode()
    request = {"audio": audio, "challenge_token": challenge["challenge_token"]}
    status, body, calls = call(store, "/", request)
    assert status == 200 and body["validated"] and body["challenge"] == {"verified": True}
    assert calls == [(challenge["expected_speech"], "pt-BR")]
    # the same request again: a replay
    status, body, calls = call(store, "/", request)
    assert (status, body["error"], calls) == (409, "challenge_used", [])


def test_bad_audio_does_not_spend_the_challenge(store):
    _, challenge, _ = call(store, "/challenge", {"language": "en", "action": "CHECK IN"})
    token = challenge["challenge_token"]
    status, body, _ = call(
        store, "/", {"audio": base64.b64encode(b"not audio").decode(), "challenge_token": token}
    )
    assert (status, body["error"]) == (422, "invalid_audio")
    status, body, calls = call(
        store, "/", {"audio": base64.b64encode(WAV).decode(), "challenge_token": token}
    )
    assert status == 200 and calls == [(challenge["expected_speech"], "en")]


@pytest.mark.parametrize(
    ("path", "body", "status", "error"),
    [
        ("/challenge", {"action": "LUNCH"}, 400, "invalid_request"),
        ("/challenge", {"language": "auto"}, 400, "invalid_request"),
        ("/challenge", {"language": "fr"}, 400, "unsupported_language"),
        ("/challenge", {"colour": "red"}, 400, "invalid_request"),
        ("/", {"audio": "AAAA", "challenge_token": 7}, 400, "invalid_request"),
        (
            "/",
            {
                "audio": base64.b64encode(WAV).decode(),
                "challenge_token": f"{'B' * 22}.{9**10}.{'C' * 43}",
            },
            403,
            "challenge_forged",
        ),
    ],
)
def test_challenge_requests_that_are_refused(store, path, body, status, error):
    answer_status, answer, _ = call(store, path, body)
    assert (answer_status, answer["error"]) == (status, error)
    assert answer["message"]


def test_another_phrase_with_the_token_is_refused(store):
    _, challenge, _ = call(store, "/challenge", None)
    request = {
        "audio": base64.b64encode(WAV).decode(),
        "challenge_token": challenge["challenge_token"],
        "expected_speech": "ENTRADA 13 40",
    }
    status, body, calls = call(store, "/", request)
    assert (status, body["error"], calls) == (400, "invalid_request", [])
    assert "not the challenge's phrase" in body["message"]


def test_without_a_table_challenges_are_not_enabled():
    answer = handle_validation_request(url_event(None, path="/challenge"), judge, SETTINGS, None)
    assert answer["statusCode"] == 404
    assert json.loads(answer["body"])["error"] == "challenges_disabled"


def test_a_validation_without_a_token_never_reads_the_key(table):
    def unreachable() -> bytes:
        raise AssertionError("the signing key was read")

    request = {"audio": base64.b64encode(WAV).decode(), "expected_speech": "ENTRADA 13 40"}
    status, body, calls = call(ChallengeStore(table, unreachable), "/", request)
    assert status == 200 and body["validated"] and calls == [("ENTRADA 13 40", "pt-BR")]
