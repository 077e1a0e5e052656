"""Canonical text for comparing what was expected with what was spoken.

Both sides go through the same steps, so a rule only has to make equivalent phrasings meet; it
never has to be "right" about the meaning. The pipeline, in order:

1. Unicode NFKC + casefold.
2. Written times: "13:40", "13h40", "13.40" → "13 40"; "13h" → "13".
3. Number words → digits with text2num (`alpha2digit`), language-aware.
4. Punctuation → spaces; tokens.
5. Filler words (per language) dropped, then accents folded.
6. Token rules (`TOKEN_RULES`): small rewrites around numbers, e.g. "13 horas e 40" → "13 40".

`comparison_key` then removes the spaces between adjacent numbers, because digit grouping is not
audible: Whisper writes "nine forty five" as "945" or "9:45" or "9 45".

Extending: add a `TokenRule` to `TOKEN_RULES` (e.g. "meio-dia", "e meia", digits said one by one)
and a row to tests/unit/test_normalize.py.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from text_to_num import alpha2digit

# Languages text2num converts number words for (others keep their words: still a fair compare).
NUMBER_WORD_LANGUAGES = frozenset({"pt", "en", "es", "fr", "de", "it", "nl"})

# Hesitations. Per language because "um" is "one"/"a" in Portuguese but a filler in English, and
# Portuguese "é" ("is") is also the commonest hesitation; dropped on both sides it costs nothing.
_FILLERS = {
    "pt": re.compile(r"é+|é+h+|e+h+|ã+h*|a+h+|h+[aã]+|hu*m+|u+h+|a+h+n+|m{2,}|hmm+"),
    "en": re.compile(r"u+h+|u+m+|u+h+m+|e+r+m*|e+h+|a+h+|h+m+|hu+m+|m{2,}"),
}

_TIME = re.compile(r"\b(\d{1,2})\s*[:h.]\s*(\d{2})\b")  # 13:40, 13h40, 13 h 40, 9.45
_HOUR_SUFFIX = re.compile(r"\b(\d{1,2})h(?:s|rs?)?\b")  # 13h, 13hs, 13hr (attached only)
_NON_WORD = re.compile(r"[\W_]+")

_HOUR_WORDS = frozenset({"hora", "horas", "h", "hs", "hr", "hrs", "hour", "hours"})
_MINUTE_WORDS = frozenset({"minuto", "minutos", "min", "mins", "minute", "minutes"})
_JOINERS = frozenset({"e", "and"})
_SMALL_HOUR_WORDS = {"um": "1", "uma": "1", "duas": "2", "one": "1", "two": "2"}


def is_number(token: str) -> bool:
    return token.isdigit()


@dataclass(frozen=True)
class TokenRule:
    """A rewrite over the token list; `apply` returns the new list (or the same one)."""

    name: str
    apply: Callable[[list[str]], list[str]]


def _small_hour_words(tokens: list[str]) -> list[str]:
    # "uma hora e dez", "duas horas": text2num leaves um/uma/duas alone (they double as articles).
    return [
        _SMALL_HOUR_WORDS.get(tok, tok)
        if i + 1 < len(tokens) and tokens[i + 1] in _HOUR_WORDS
        else tok
        for i, tok in enumerate(tokens)
    ]


def _drop_units_in_times(tokens: list[str]) -> list[str]:
    # "13 horas e 40 minutos" / "13 h 40" / "13 e 40" → "13 40". A word goes only when it sits
    # between numbers (or is "minutos" right after such a time), so "3 horas de espera" stays.
    out: list[str] = []
    i = 0
    while i < len(tokens):
        tok = tokens[i]
        if out and is_number(out[-1]):
            rest = tokens[i:]
            if tok in _HOUR_WORDS and len(rest) > 1 and is_number(rest[1]):
                i += 1
                continue
            if tok in _HOUR_WORDS and len(rest) > 2 and rest[1] in _JOINERS and is_number(rest[2]):
                i += 2
                continue
            if tok in _JOINERS and len(rest) > 1 and is_number(rest[1]) and _after_hour(tokens, i):
                i += 1
                continue
            if tok in _MINUTE_WORDS and _after_hour(tokens, i - 1):
                i += 1
                continue
        out.append(tok)
        i += 1
    return out


def _after_hour(tokens: Sequence[str], i: int) -> bool:
    """True when tokens[i-1] is a number that reads as an hour (a time, not a count)."""
    return i >= 1 and is_number(tokens[i - 1]) and len(tokens[i - 1]) <= 2


def _drop_trailing_hour_word(tokens: list[str]) -> list[str]:
    # "entrada 13 horas" ≡ "entrada 13": an hour word right after a number, at the end.
    if len(tokens) >= 2 and tokens[-1] in _HOUR_WORDS and is_number(tokens[-2]):
        return tokens[:-1]
    return tokens


TOKEN_RULES: tuple[TokenRule, ...] = (
    TokenRule("small hour words", _small_hour_words),
    TokenRule("units in times", _drop_units_in_times),
    TokenRule("trailing hour word", _drop_trailing_hour_word),
)


def language_family(language: str | None) -> str:
    """'pt-BR' → 'pt', 'en-US' → 'en'; '' for none."""
    return (language or "").split("-")[0].split("_")[0].lower()


def normalize(text: str, language: str | None) -> str:
    """Canonical, comparable form of `text`. Never raises; idempotent."""
    lang = language_family(language)
    # Run to a fixed point: number words can surface only after an earlier step (rare, but it keeps
    # normalize(normalize(x)) == normalize(x) true by construction).
    for _ in range(5):
        result = _normalize_once(text, lang)
        if result == text:
            break
        text = result
    return text


def _normalize_once(text: str, lang: str) -> str:
    text = unicodedata.normalize("NFKC", text).casefold()
    text = _TIME.sub(r"\1 \2", text)
    text = _HOUR_SUFFIX.sub(r"\1", text)
    text = _numbers_to_digits(text, lang)
    tokens = _NON_WORD.sub(" ", text).split()
    filler = _FILLERS.get(lang)
    if filler:
        tokens = [t for t in tokens if not filler.fullmatch(t)]
    tokens = [_fold_accents(t) for t in tokens]
    if filler:
        tokens = [t for t in tokens if not filler.fullmatch(t)]
    for rule in TOKEN_RULES:
        tokens = rule.apply(tokens)
    return " ".join(tokens)


def _numbers_to_digits(text: str, lang: str) -> str:
    if lang not in NUMBER_WORD_LANGUAGES:
        return text
    try:
        return alpha2digit(text, lang)
    except Exception:
        # text2num has raised on odd inputs (stray signs, huge numbers); words then stay words.
        return text


def _fold_accents(token: str) -> str:
    decomposed = unicodedata.normalize("NFKD", token)
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def comparison_key(normalized: str) -> str:
    """`normalized` with adjacent numbers joined ("check in 9 45" → "check in 945")."""
    out: list[str] = []
    for tok in normalized.split():
        if out and is_number(tok) and is_number(out[-1]):
            out[-1] += tok
        else:
            out.append(tok)
    return " ".join(out)
