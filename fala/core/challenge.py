"""Challenge phrases: replay resistance for the time clock.

`POST /challenge` hands out a phrase to say — the action, the current time and a short random
code ("ENTRADA 13 40 CODIGO 472") — with a single-use token valid for a short time. A validation
request carrying the token is judged against that phrase, and only once: a recording of
yesterday's punch says yesterday's time and code, and a captured request cannot be sent again.

The token is signed: 128 random bits and the expiry, with an HMAC-SHA256 of both under the
deployment's key (a Secrets Manager secret; ChallengeStore.key_source). The table keeps only the
token's SHA-256 (a leaked table grants nothing), with the phrase and the expiry. Genuine means
the signature verifies — checked before any read, so a forged or altered token costs no table
access — and the record exists; fresh that its expiry is ahead; unused that the one conditional
write that marks it used succeeds: DynamoDB evaluates the condition and the write atomically, so
of two concurrent requests with one token exactly one gets through.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from fala.core.errors import (
    ChallengeExpired,
    ChallengeForged,
    ChallengeNotFound,
    ChallengesDisabled,
    ChallengeUsed,
    InvalidRequest,
)
from fala.core.languages import language_family
from fala.core.verbalize import digit_by_digit, time_forms

ACTIONS = {
    "pt": ("ENTRADA", "SAIDA", "INTERVALO", "RETORNO"),
    "en": ("CHECK IN", "CHECK OUT", "BREAK", "BACK"),
}
CODE_WORD = {"pt": "CODIGO", "en": "CODE"}
SPOKEN_ACTION = {
    "ENTRADA": "Entrada",
    "SAIDA": "Saída",
    "INTERVALO": "Intervalo",
    "RETORNO": "Retorno",
    "CHECK IN": "Check in",
    "CHECK OUT": "Check out",
    "BREAK": "Break",
    "BACK": "Back",
}
CODE_DIGITS = 3
TOKEN_BYTES = 16
MIN_KEY_BYTES = 32
# nonce (16 bytes) . expiry (Unix seconds) . HMAC-SHA256 of both, base64url without padding
_TOKEN = re.compile(r"^[A-Za-z0-9_-]{22}\.[0-9]{10}\.[A-Za-z0-9_-]{43}$")
# DynamoDB deletes expired items within days, not seconds: freshness is the condition's job,
# the TTL only keeps the table small. Kept a day past expiry so a late replay still reads "used".
TTL_GRACE = timedelta(days=1)


@dataclass(frozen=True)
class ChallengeStore:
    """Where challenges are recorded (a boto3 DynamoDB Table) and where the key signing their
    tokens comes from: read only when a challenge is issued or redeemed, so a validation without
    one never waits on Secrets Manager."""

    table: Any
    key_source: Callable[[], bytes]

    @property
    def key(self) -> bytes:
        key = self.key_source()
        if len(key) < MIN_KEY_BYTES:
            raise ValueError(f"A challenge key needs at least {MIN_KEY_BYTES} bytes.")
        return key


@dataclass(frozen=True)
class Challenge:
    token: str
    expected_speech: str  # what the validation compares with ("ENTRADA 13 40 CODIGO 472")
    say: str  # as a person reads it ("Entrada, treze e quarenta, código quatro, sete, dois.")
    language: str
    expires_at: datetime

    def to_dict(self) -> dict[str, Any]:
        return {
            "challenge_token": self.token,
            "expected_speech": self.expected_speech,
            "say": self.say,
            "language": self.language,
            "expires_at": self.expires_at.isoformat(timespec="seconds"),
        }


@dataclass(frozen=True)
class RedeemedChallenge:
    expected_speech: str
    language: str


def secret_key(secret_id: str) -> bytes:
    """The signing key kept in Secrets Manager (the stack's ChallengeKey), cached for five
    minutes by Powertools, so a rotated key is picked up without a cold start."""
    from aws_lambda_powertools.utilities import parameters

    return str(parameters.get_secret(secret_id, max_age=300)).encode()


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _signature(key: bytes, nonce: str, expires: int) -> str:
    mac = hmac.new(key, f"fala-challenge|{nonce}|{expires}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(mac).rstrip(b"=").decode()


def signed_token(key: bytes, expires: int) -> str:
    nonce = secrets.token_urlsafe(TOKEN_BYTES)
    return f"{nonce}.{expires}.{_signature(key, nonce, expires)}"


def is_signed(key: bytes, token: str) -> bool:
    """Whether a well-formed `token` (is_token) carries its signature under `key`."""
    nonce, expires, signature = token.split(".")
    return hmac.compare_digest(signature, _signature(key, nonce, int(expires)))


def challenge_phrase(action: str | None, language: str, at: datetime, code: str) -> tuple[str, str]:
    """(expected_speech, how it is said) for `action` at the local time `at` with `code`."""
    lang = "en" if language_family(language) == "en" else "pt"
    actions = ACTIONS[lang]
    chosen = (action or actions[0]).strip().upper().replace("SAÍDA", "SAIDA")
    if chosen not in actions:
        raise InvalidRequest(
            f"Action {action!r} is not one of {', '.join(actions)} (language {language})."
        )
    expected = f"{chosen} {at.hour} {at.minute:02d} {CODE_WORD[lang]} {code}"
    forms = time_forms(at.hour, at.minute, lang)
    said_time = next((f for f in forms if not any(c.isdigit() for c in f)), forms[0])
    said_code = digit_by_digit(code, lang)
    code_word = "código" if lang == "pt" else "code"
    return expected, f"{SPOKEN_ACTION[chosen]}, {said_time}, {code_word} {said_code}."


def issue_challenge(
    store: ChallengeStore | None,
    *,
    action: str | None,
    language: str,
    ttl_seconds: int,
    utc_offset_minutes: int,
    now: datetime | None = None,
) -> Challenge:
    """A new challenge with a signed token, recorded in the store's table."""
    store = _enabled(store)
    now = now or datetime.now(UTC)
    local = now.astimezone(timezone(timedelta(minutes=utc_offset_minutes)))
    code = "".join(secrets.choice("0123456789") for _ in range(CODE_DIGITS))
    expected, say = challenge_phrase(action, language, local, code)
    expires_at = now + timedelta(seconds=ttl_seconds)
    token = signed_token(store.key, int(expires_at.timestamp()))
    store.table.put_item(
        Item={
            "id": token_digest(token),
            "expected_speech": expected,
            "language": language,
            "expires_at": int(expires_at.timestamp()),
            "expiration": int((expires_at + TTL_GRACE).timestamp()),
        },
        ConditionExpression="attribute_not_exists(id)",
    )
    return Challenge(token, expected, say, language, expires_at.replace(microsecond=0))


def is_token(token: object) -> bool:
    return isinstance(token, str) and _TOKEN.match(token) is not None


def check_phrase(expected: str | None, challenge: RedeemedChallenge, field: str) -> None:
    """A phrase sent along with a token must be the challenge's (or be left out)."""
    if expected is not None and expected.upper().split() != challenge.expected_speech.split():
        raise InvalidRequest(
            f"{field} {expected!r} is not the challenge's phrase ({challenge.expected_speech!r}); "
            f"send the token without {field}."
        )


def _enabled(store: ChallengeStore | None) -> ChallengeStore:
    if store is None:
        raise ChallengesDisabled(
            "Challenge phrases are not enabled in this deployment (no challenge table)."
        )
    return store


def redeem_challenge(
    store: ChallengeStore | None,
    token: str,
    *,
    now: datetime | None = None,
    by: str | None = None,
) -> RedeemedChallenge:
    """The challenge of `token`, marked used; ChallengeForged/NotFound/Expired/Used otherwise.

    `by` names the use (the upload's version): the same use may redeem again — a retried
    pipeline step — and no other."""
    if not is_token(token):
        raise InvalidRequest(
            'Field "challenge_token" is not a token POST /challenge returned; ask for a new one.'
        )
    store = _enabled(store)
    if not is_signed(store.key, token):
        raise ChallengeForged(
            "This challenge token's signature does not verify: this deployment did not issue "
            "it, or it was altered. Ask POST /challenge for a new one."
        )
    table = store.table
    now = now or datetime.now(UTC)
    from botocore.exceptions import ClientError

    unused = "attribute_not_exists(used_at)"
    values: dict[str, Any] = {":now": int(now.timestamp())}
    update = "SET used_at = :now"
    if by is not None:
        # a retry of the same use finds the token used by itself, maybe after the expiry
        unused = f"(({unused} AND expires_at > :now) OR used_by = :by)"
        update = "SET used_at = if_not_exists(used_at, :now), used_by = :by"
        values[":by"] = by
    else:
        unused = f"{unused} AND expires_at > :now"
    try:
        item = table.update_item(
            Key={"id": token_digest(token)},
            UpdateExpression=update,
            ConditionExpression=f"attribute_exists(id) AND {unused}",
            ExpressionAttributeValues=values,
            ReturnValues="ALL_NEW",
            ReturnValuesOnConditionCheckFailure="ALL_OLD",
        )["Attributes"]
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
            raise
        old = error.response.get("Item")
        if old is None:
            # Without ReturnValuesOnConditionCheckFailure support, read it (strongly).
            old = table.get_item(Key={"id": token_digest(token)}, ConsistentRead=True).get("Item")
        if not old:
            raise ChallengeNotFound(
                "This challenge is no longer on record (it expired long ago); ask POST "
                "/challenge for a new one."
            ) from None
        if "used_at" in old:
            raise ChallengeUsed(
                "This challenge was already used; each one is good for one validation. "
                "Ask POST /challenge for a new phrase."
            ) from None
        raise ChallengeExpired(
            "This challenge has expired; say the phrase within its time. "
            "Ask POST /challenge for a new one."
        ) from None
    return RedeemedChallenge(str(item["expected_speech"]), str(item["language"]))
