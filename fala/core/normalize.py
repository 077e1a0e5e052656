"""Canonical text for comparing what was expected with what was spoken.

Both sides go through the same steps, so a rule only has to make equivalent phrasings meet; it
never has to be "right" about the meaning. The pipeline, in order:

1. Unicode NFKC + casefold.
2. Written times: "13:40", "13h40", "13.40" → "13 40"; "13h" → "13".
3. Number words → digits with text2num (`alpha2digit`), language-aware.
4. Punctuation → spaces; tokens.
5. Filler words (per language) dropped, then accents folded.
6. Token rules (`TOKEN_RULES`): small rewrites around numbers, e.g. "13 horas e 40" → "13 40".

`comparison_key` then removes the spaces, because word and digit boundaries are not audible:
Whisper writes "nine forty five" as "945" or "9:45" or "9 45", and "Saída" as "Sai da".

Extending: add a `TokenRule` to `TOKEN_RULES` (e.g. "meio-dia", "e meia", digits said one by one)
and a row to tests/unit/test_normalize.py.
"""

from __future__ import annotations

import difflib
import re
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from text_to_num import alpha2digit

from fala.core.languages import language_family

# What ends a word in a transcript ("Entrada," "40."), stripped to compare or swap words.
SENTENCE_PUNCTUATION = ".,;:!?"
# Languages text2num converts number words for (others keep their words: still a fair compare).
NUMBER_WORD_LANGUAGES = frozenset({"pt", "en", "es", "fr", "de", "it", "nl"})

# Hesitations. Per language because "um" is "one"/"a" in Portuguese but a filler in English, and
# Portuguese "é" ("is") is also the commonest hesitation; dropped on both sides it costs nothing.
_FILLERS = {
    "pt": re.compile(r"né|ne|é+|é+h+|e+h+|ã+h*|a+h+|h+[aã]+|hu*m+|u+h+|a+h+n+|m{2,}|hmm+"),
    "en": re.compile(r"u+h+|u+m+|u+h+m+|e+r+m*|e+h+|a+h+|h+m+|hu+m+|m{2,}"),
}

# 13:40, 13h40, 13 h 40, 9.45, 13h40min, 13:40h
_TIME = re.compile(r"\b(\d{1,2})\s*[:h.]\s*(\d{2})(?:h|hs|min|mins)?\b")
_HOUR_SUFFIX = re.compile(r"\b(\d{1,2})h(?:s|rs?)?\b")  # 13h, 13hs, 13hr (attached only)
_OCLOCK = re.compile(r"\bo\W{0,2}clock\b")
# "530PM", "5.30pm", "1230 a.m." → "5 30 pm": Whisper glues the period to a time said in words
_GLUED_PERIOD = re.compile(r"\b(\d{1,2})[:.]?(\d{2})?\s*([ap])\.?\s?m\b\.?")
_NON_WORD = re.compile(r"[\W_]+")

HOUR_WORDS = frozenset({"hora", "horas", "h", "hs", "hr", "hrs", "hour", "hours"})
_MINUTE_WORDS = frozenset({"minuto", "minutos", "min", "mins", "minute", "minutes"})
JOINERS = frozenset({"e", "and"})
SMALL_HOUR_WORDS = {"um": "1", "uma": "1", "duas": "2", "one": "1", "two": "2"}


def is_number(token: str) -> bool:
    return token.isdecimal()


@dataclass(frozen=True)
class TokenRule:
    """A rewrite over the token list; `apply` returns the new list (or the same one)."""

    name: str
    apply: Callable[[list[str]], list[str]]


def _small_hour_words(tokens: list[str]) -> list[str]:
    # "uma hora e dez", "duas e meia", "uma da tarde": text2num leaves um/uma/duas alone (they
    # double as articles), so they become hours only where what follows makes them one.
    return [
        SMALL_HOUR_WORDS.get(tok, tok)
        if i + 1 < len(tokens)
        and (
            tokens[i + 1] in HOUR_WORDS
            or tokens[i + 1] == "oclock"
            or tuple(tokens[i + 1 : i + 3]) in _AFTER_AN_HOUR
            or (tokens[i + 1] == "oh" and _is_digit(tokens[i + 2] if i + 2 < len(tokens) else ""))
            or (tok in ("uma", "duas") and _minutes_follow(tokens, i + 1))
        )
        else tok
        for i, tok in enumerate(tokens)
    ]


def _minutes_follow(tokens: list[str], i: int) -> bool:
    """ "e 40" at tokens[i:]: Whisper writes "uma e 40 da tarde" for "uma e quarenta da tarde"."""
    return tokens[i : i + 1] == ["e"] and i + 1 < len(tokens) and _is_minute(tokens[i + 1])


def _drop_units_in_times(tokens: list[str]) -> list[str]:
    # "13 horas e 40 minutos" / "13 h 40" / "13 e 40" → "13 40". A word goes only when it sits
    # between numbers (or is "minutos" right after such a time), so "3 horas de espera" stays.
    out: list[str] = []
    i = 0
    while i < len(tokens):
        tok = tokens[i]
        if out and is_number(out[-1]):
            rest = tokens[i:]
            skip = 0
            if tok in HOUR_WORDS and len(rest) > 1 and is_number(rest[1]):
                skip = 1
            elif tok in HOUR_WORDS and len(rest) > 2 and rest[1] in JOINERS and is_number(rest[2]):
                skip = 2
            elif tok in JOINERS and len(rest) > 1 and is_number(rest[1]) and _after_hour(tokens, i):
                skip = 1
            if skip:
                # what follows the hour is its minutes: "nove e cinco" is 9:05
                out.append(_as_minutes(tokens[i + skip]))
                i += skip + 1
                continue
            if tok in _MINUTE_WORDS and _after_hour(tokens, i - 1):
                i += 1
                continue
        out.append(tok)
        i += 1
    return out


def _as_minutes(token: str) -> str:
    return token.zfill(2) if len(token) == 1 else token


def _after_hour(tokens: Sequence[str], i: int) -> bool:
    """True when tokens[i-1] is a number that reads as an hour (a time, not a count)."""
    return i >= 1 and is_number(tokens[i - 1]) and len(tokens[i - 1]) <= 2


def _drop_trailing_hour_word(tokens: list[str]) -> list[str]:
    # "entrada 13 horas" ≡ "entrada 13": an hour word right after a number, at the end.
    if len(tokens) >= 2 and tokens[-1] in HOUR_WORDS and is_number(tokens[-2]):
        return tokens[:-1]
    return tokens


def _named_times(tokens: list[str]) -> list[str]:
    # "meio-dia" → 12, "meia-noite" → 0, "noon" → 12, "midnight" → 0 (midnight is hour 0, never 24:
    # see _clock_times). Hyphens are gone by now, so both spellings arrive as two tokens.
    out: list[str] = []
    i = 0
    while i < len(tokens):
        pair = tuple(tokens[i : i + 2])
        if pair in _NAMED_TIME_PAIRS:
            out.append(_NAMED_TIME_PAIRS[pair])
            i += 2
            continue
        named = _NAMED_TIMES.get(tokens[i])
        if named is not None and out[-1:] == ["12"]:
            out.pop()  # "twelve noon", "twelve midnight"
        out.append(named or tokens[i])
        i += 1
    return out


def _meia(tokens: list[str]) -> list[str]:
    # "treze e meia" / "13 horas e meia" → "... e 30"; in digits said one by one Brazilians say
    # "meia" (meia dúzia) for six: "três meia dois" → "3 6 2".
    out: list[str] = []
    for i, tok in enumerate(tokens):
        if tok == "meia":
            prev = tokens[i - 1] if i else ""
            before = tokens[i - 2] if i >= 2 else ""
            nxt = tokens[i + 1] if i + 1 < len(tokens) else ""
            if prev in JOINERS and (_is_hour(before) or before in HOUR_WORDS):
                tok = "30"
            elif _is_digit(prev) or (_is_digit(nxt) and prev not in JOINERS):
                tok = "6"
        out.append(tok)
    return out


def _digit_words_in_sequences(tokens: list[str]) -> list[str]:
    # text2num leaves a lone small number word where a sequence was broken ("3 6 dois" after
    # "três meia dois"); next to a single digit, a digit word is a digit.
    out = list(tokens)
    for i, tok in enumerate(out):
        digit = _DIGIT_WORDS.get(tok)
        if digit is None:
            continue
        prev = out[i - 1] if i else ""
        nxt = out[i + 1] if i + 1 < len(out) else ""
        if _is_digit(prev) or _is_digit(nxt):
            out[i] = digit
    return out


def _repeated_digits(tokens: list[str]) -> list[str]:
    # English codes read aloud: "double four", "triple seven", "double oh" → "4 4", "7 7 7", "0 0".
    # Read from the end, so that "double double 4" settles in one pass (normalize is idempotent).
    rest: list[str] = []
    for tok in reversed(tokens):
        times = _REPEATS.get(tok)
        digit = "0" if rest[:1] in (["oh"], ["o"], ["zero"]) else rest[0] if rest else ""
        if times and _is_digit(digit):
            rest[:1] = [digit] * times
        else:
            rest.insert(0, tok)
    return rest


def _oh_digit(tokens: list[str]) -> list[str]:
    # English "nine oh five" → "9 05".
    out: list[str] = []
    i = 0
    while i < len(tokens):
        tok = tokens[i]
        if (
            tok in {"oh", "o"}
            and out
            and _is_hour(out[-1])
            and i + 1 < len(tokens)
            and _is_digit(tokens[i + 1])
        ):
            out.append("0" + tokens[i + 1])
            i += 2
            continue
        out.append(tok)
        i += 1
    return out


def _relative_times(tokens: list[str]) -> list[str]:
    # Minutes counted from an hour: "half past 8" → "8 30", "quarter to 6" → "5 45",
    # "10 past 9" → "9 10"; pt-BR "15 para as 8" / "10 para o meio-dia" → "7 45" / "11 50".
    out: list[str] = []
    i = 0
    while i < len(tokens):
        minutes = _RELATIVE_MINUTES.get(tokens[i], tokens[i])
        after = 1 + (i + 1 < len(tokens) and tokens[i + 1] in _MINUTE_WORDS)
        direction = tokens[i + after] if i + after < len(tokens) else ""
        j = i + after + 1
        if direction in _TO_WORDS and j < len(tokens) and tokens[j] in _TO_ARTICLES:
            j += 1
        hour = SMALL_HOUR_WORDS.get(tokens[j], tokens[j]) if j < len(tokens) else ""
        relative = direction in _PAST_WORDS or direction in _TO_WORDS
        if relative and minutes.isdecimal() and 0 < int(minutes) < 60 and _is_hour(hour):
            h, m = int(hour), int(minutes)
            if direction in _TO_WORDS:
                # on a 12-hour clock "ten to one" is 12:50; "cinco para a meia-noite" 23:55
                h, m = 12 if h == 1 else (h - 1) % 24, 60 - m
            if tokens[i] == "quarter" and out[-1:] == ["a"]:
                out.pop()  # "at a quarter past eight"
            out += [str(h), _as_minutes(str(m))]
            i = j + 1
            continue
        out.append(tokens[i])
        i += 1
    return out


def _on_the_hour(tokens: list[str]) -> list[str]:
    # "treze em ponto", "one o'clock", "13 horas em ponto" → the hour alone.
    out: list[str] = []
    i = 0
    while i < len(tokens):
        after = out and (_is_hour(out[-1]) or out[-1] in HOUR_WORDS)
        words = next((w for w in _ON_THE_HOUR if tuple(tokens[i : i + len(w)]) == w), None)
        if after and words:
            i += len(words)
            continue
        out.append(tokens[i])
        i += 1
    return out


def _period_of_day(tokens: list[str]) -> list[str]:
    # "1 40 da tarde" / "1:40 p.m." → "13 40"; "8 da manhã" / "8 am" → "8"; "12 da noite" → "0".
    out: list[str] = []
    i = 0
    while i < len(tokens):
        found = next((w for w, _ in DAY_PERIODS if tuple(tokens[i : i + len(w)]) == w), None)
        if found and len(out) >= 2 and out[-1] in HOUR_WORDS and _is_hour(out[-2]):
            out.pop()  # "seis horas da tarde"
        if found and out and is_glued_time(out[-1]):
            out[-1:] = [out[-1][:-2], out[-1][-2:]]  # "530 in the afternoon"
        if found and out:
            hour_at = _hour_index(out)
            if hour_at is not None:
                out[hour_at] = str(hour_in_period(int(out[hour_at]), found))
                i += len(found)
                continue
        out.append(tokens[i])
        i += 1
    return out


def hour_in_period(hour: int, period: tuple[str, ...]) -> int:
    """`hour` said with the half of the day `period` (one of DAY_PERIODS), on the 24-hour clock:
    7 and "da noite" → 19, 12 and "am" → 0, 12 and "pm" → 12."""
    if dict(DAY_PERIODS)[period] == 12 and 1 <= hour <= 11:
        return hour + 12
    return 0 if hour == 12 and period in MIDNIGHT_PERIODS else hour


def _hour_index(out: list[str]) -> int | None:
    """Index of the hour in a time ending `out` ("1", "1 40"), else None."""
    if len(out) >= 2 and _is_hour(out[-2]) and _is_minute(out[-1]):
        return len(out) - 2
    if out and _is_hour(out[-1]):
        return len(out) - 1
    return None


def _clock_times(tokens: list[str]) -> list[str]:
    # One canonical clock time: hour without a leading zero, hour 24 → 0, ":00" dropped —
    # "08 30" → "8 30", "13 00" → "13", "24 00" → "0". A pair counts as a time when the first
    # number reads as an hour (≤ 2 digits, ≤ 24) and the second as minutes (exactly 2 digits,
    # < 60); single digits said one by one ("4 7 2 9") never form a pair.
    out: list[str] = []
    i = 0
    while i < len(tokens):
        tok = tokens[i]
        nxt = tokens[i + 1] if i + 1 < len(tokens) else ""
        if _is_hour(tok) and len(nxt) == 2 and _is_minute(nxt):
            out.append(str(int(tok) % 24))
            if nxt != "00":
                out.append(nxt)
            i += 2
            continue
        out.append(tok)
        i += 1
    return out


def _checking(tokens: list[str]) -> list[str]:
    # Whisper writes "check in" before a time as the word it sounds like: "Checking at nine.";
    # people say "checking in/out at 9:45" for the punch itself.
    out: list[str] = []
    for i, tok in enumerate(tokens):
        nxt = tokens[i + 1 : i + 2]
        if tok == "checking" and nxt and nxt[0] in ("in", "out"):
            out.append("check")
        elif tok == "checking" and nxt and (is_number(nxt[0]) or nxt[0] in _TIME_PREPOSITIONS):
            out += ["check", "in"]
        else:
            out.append(tok)
    return out


def _time_prepositions(tokens: list[str]) -> list[str]:
    # "entrada às 13 40" ≡ "entrada 13 40"; "check in at 9 45" ≡ "check in 9 45";
    # "saída ao meio-dia", "retorno à uma da tarde"; "check in at 945", as Whisper glues a time.
    return [
        tok
        for i, tok in enumerate(tokens)
        if not (
            tok in _TIME_PREPOSITIONS
            and i + 1 < len(tokens)
            and (_is_hour(tokens[i + 1]) or is_glued_time(tokens[i + 1]))
        )
    ]


def _is_digit(token: str) -> bool:
    return len(token) == 1 and token.isdecimal()


def _is_hour(token: str) -> bool:
    return token.isdecimal() and len(token) <= 2 and int(token) <= 24


def _is_minute(token: str) -> bool:
    return token.isdecimal() and len(token) == 2 and int(token) < 60


def is_glued_time(token: str) -> bool:
    """ "945", "1340": an hour and its minutes written as one number."""
    return (
        token.isdecimal()
        and len(token) in (3, 4)
        and _is_hour(token[:-2])
        and _is_minute(token[-2:])
    )


_DIGIT_WORDS = {
    **dict.fromkeys(("zero",), "0"),
    **dict.fromkeys(("um", "uma", "one"), "1"),
    **dict.fromkeys(("dois", "duas", "two"), "2"),
    **dict.fromkeys(("tres", "três", "three"), "3"),
    **dict.fromkeys(("quatro", "four"), "4"),
    **dict.fromkeys(("cinco", "five"), "5"),
    **dict.fromkeys(("seis", "six"), "6"),
    **dict.fromkeys(("sete", "seven"), "7"),
    **dict.fromkeys(("oito", "eight"), "8"),
    **dict.fromkeys(("nove", "nine"), "9"),
}
_NAMED_TIME_PAIRS = {
    ("meio", "dia"): "12",
    ("meia", "noite"): "0",
    ("zero", "hora"): "0",  # "zero hora": midnight, as Brazilians also say it
    ("zero", "horas"): "0",
}
_NAMED_TIMES = {"meiodia": "12", "meianoite": "0", "noon": "12", "midday": "12", "midnight": "0"}
_ON_THE_HOUR = {("em", "ponto"), ("oclock",)}
_AFTER_AN_HOUR = frozenset(
    {("e", "meia"), ("em", "ponto"), ("da", "tarde"), ("da", "manha"), ("da", "manhã")}
    | {("da", "noite"), ("da", "madrugada")}
)
_RELATIVE_MINUTES = {"half": "30", "quarter": "15"}
_REPEATS = {"double": 2, "triple": 3}
_PAST_WORDS = frozenset({"past", "after"})
_TO_WORDS = frozenset({"to", "para", "pras", "pra"})
_TO_ARTICLES = frozenset({"as", "a", "o"})
MIDNIGHT_PERIODS = frozenset({("da", "noite"), ("a", "m"), ("am",)})
DAY_PERIODS: tuple[tuple[tuple[str, ...], int], ...] = (
    (("da", "tarde"), 12),
    (("da", "noite"), 12),
    (("p", "m"), 12),
    (("pm",), 12),
    (("in", "the", "afternoon"), 12),
    (("in", "the", "evening"), 12),
    (("da", "manha"), 0),
    (("da", "madrugada"), 0),
    (("a", "m"), 0),
    (("am",), 0),
    (("in", "the", "morning"), 0),
)
_TIME_PREPOSITIONS = frozenset({"as", "at", "ao"})

TOKEN_RULES: tuple[TokenRule, ...] = (
    TokenRule("small hour words", _small_hour_words),
    TokenRule("named times", _named_times),
    TokenRule("meia", _meia),
    TokenRule("repeated digits", _repeated_digits),
    TokenRule("digit words in sequences", _digit_words_in_sequences),
    TokenRule("oh digit", _oh_digit),
    TokenRule("relative times", _relative_times),
    TokenRule("on the hour", _on_the_hour),
    TokenRule("units in times", _drop_units_in_times),
    TokenRule("trailing hour word", _drop_trailing_hour_word),
    TokenRule("period of day", _period_of_day),
    TokenRule("clock times", _clock_times),
    TokenRule("checking", _checking),
    TokenRule("time prepositions", _time_prepositions),
)


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
    text = _OCLOCK.sub(" oclock ", text)  # before text2num, which reads the "o" as zero
    text = _GLUED_PERIOD.sub(lambda m: f"{m[1]} {m[2] or ''} {m[3]}m ", text)
    text = numbers_to_digits(text, lang)
    tokens = _NON_WORD.sub(" ", text).split()
    tokens = _singular_time_preposition(tokens)
    filler = _FILLERS.get(lang)
    if filler:
        tokens = [t for t in tokens if not filler.fullmatch(t)]
    tokens = [fold_accents(t) for t in tokens]
    if filler:
        tokens = [t for t in tokens if not filler.fullmatch(t)]
    for rule in TOKEN_RULES:
        tokens = rule.apply(tokens)
    return " ".join(tokens)


def _singular_time_preposition(tokens: list[str]) -> list[str]:
    # "à uma", "à meia-noite" are "às duas" in the singular; folded, "à" would read as the article
    # "a", which stays ("volta à base" ≡ "volta a base").
    return [
        "as" if tok == "à" and i + 1 < len(tokens) and _hour_follows(tokens[i + 1]) else tok
        for i, tok in enumerate(tokens)
    ]


def _hour_follows(token: str) -> bool:
    return _is_hour(token) or token in SMALL_HOUR_WORDS or token in ("meia", "meio")


def numbers_to_digits(text: str, lang: str) -> str:
    """Number words in `text` as digits, the rest as it is ("quinze para as seis" → "15 para as
    6")."""
    if lang not in NUMBER_WORD_LANGUAGES:
        return text
    try:
        return alpha2digit(text, lang)
    except Exception:
        # text2num has raised on odd inputs (stray signs, huge numbers); words then stay words.
        return text


def form_in_digits(form: str, lang: str) -> str:
    """A wording of a phrase with every number word as digits, a lone small one too ("Entrada,
    duas horas." → "Entrada, 2 horas."): text2num leaves numbers below 3 standing alone as words,
    since in running text "um"/"uma"/"one" is mostly an article, but in a phrase's wordings every
    number word is a number."""
    if lang not in NUMBER_WORD_LANGUAGES:
        return form
    try:
        return alpha2digit(form, lang, threshold=0)
    except Exception:
        return form  # as numbers_to_digits


def fold_accents(token: str) -> str:
    decomposed = unicodedata.normalize("NFKD", token)
    return "".join(c for c in decomposed if not unicodedata.combining(c))


# Greetings, thanks and farewells said around a phrase ("Bom dia! Entrada, treze e quarenta.
# Obrigado.", "Check out, five thirty. See you tomorrow."): they change nothing the phrase says,
# so the transcript is compared without them at its edges. Longest first, so that "tenha um bom
# dia" comes off whole, not as "bom dia".
_COURTESIES = tuple(
    sorted(
        (
            tuple(phrase.split())
            for phrase in (
                "bom dia", "boa tarde", "boa noite", "oi", "ola", "alo", "muito obrigado",
                "muito obrigada", "obrigado", "obrigada", "por favor", "tchau", "valeu",
                "ate amanha", "ate logo", "ate mais", "ate mais tarde", "ate ja", "bom trabalho",
                "bom descanso", "boa semana", "bom fim de semana", "tenha um bom dia",
                "hello", "hi", "hey", "good morning", "good afternoon", "good evening", "thank you",
                "thanks", "please", "bye", "goodbye", "good bye", "good night", "see you",
                "see you later", "see you tomorrow", "have a nice day", "have a good day",
                "have a good one", "take care", "cheers",
            )
        ),
        key=len,
        reverse=True,
    )
)  # fmt: skip
# The most words of one of them ("tenha um bom dia", "have a nice day").
MAX_COURTESY_WORDS = len(_COURTESIES[0])


def without_courtesies(normalized: str) -> str:
    """`normalized` without the greetings, thanks and farewells at its start and end ("bom dia
    entrada 13 40 obrigado" → "entrada 13 40"); words between them are kept ("entrada oi 13
    40")."""
    tokens = normalized.split()
    trimmed = True
    while trimmed and tokens:
        trimmed = False
        for words in _COURTESIES:
            n = len(words)
            if tuple(tokens[:n]) == words:
                tokens, trimmed = tokens[n:], True
            elif tuple(tokens[-n:]) == words:
                tokens, trimmed = tokens[:-n], True
    return " ".join(tokens)


# How close (difflib ratio) a transcript's closing word must be to a one-word thanks or greeting
# to sound like it, the closeness a near miss is held to (decision.NEAR_MISS_CLOSENESS), not
# fitted: Whisper writes a synthetic voice's "obrigada" as "obigata" (0.80; "obicata", 0.67, under
# generic kernels, is not thanks).
COURTESY_CLOSENESS = 0.75


def sounds_like_courtesy(normalized: str) -> bool:
    """`normalized` is thanks or greetings only, or one word within COURTESY_CLOSENESS of a
    one-word thanks or greeting ("obigata")."""
    if not normalized:
        return False
    if not without_courtesies(normalized):
        return True
    return " " not in normalized and any(
        len(words) == 1
        and difflib.SequenceMatcher(None, normalized, words[0]).ratio() >= COURTESY_CLOSENESS
        for words in _COURTESIES
    )


def heard_key(normalized_spoken: str, normalized_expected: str) -> str:
    """The comparison key of what the transcript says of the phrase: without its greetings and
    thanks, unless the phrase itself has such words at its edges ("BOM DIA" is not said by
    "boa noite") or nothing else was said."""
    if without_courtesies(normalized_expected) != normalized_expected:
        return comparison_key(normalized_spoken)
    return comparison_key(without_courtesies(normalized_spoken) or normalized_spoken)


def same_phrase(normalized_spoken: str, normalized_expected: str) -> bool:
    """The transcript says the expected phrase (`heard_key` equal to the phrase's key)."""
    return heard_key(normalized_spoken, normalized_expected) == comparison_key(normalized_expected)


# English words that sound exactly like a number, as Whisper writes them where its language model
# prefers a word: "Check out for 54." for "four fifty-four", "Check in to 30.".
_HOMOPHONES = {"en": {"for": "4", "fore": "4", "to": "2", "too": "2", "won": "1", "ate": "8"}}
_WORDS = re.compile(r"[^\W\d_]+")


def transcript_reading(transcript: str, normalized_expected: str, language: str | None) -> str:
    """`normalize(transcript)`, or the transcript with one homophone of a number read as that
    number when that reading says the expected phrase ("Check out for 20pm" → "check out 16 20"
    for CHECK OUT 16 20): only where the phrase has that number in the homophone's place is
    "for" a 4."""
    normalized = normalize(transcript, language)
    homophones = _HOMOPHONES.get(language_family(language), {})
    if not homophones or same_phrase(normalized, normalized_expected):
        return normalized
    for word in _WORDS.finditer(transcript):
        digit = homophones.get(word.group().casefold())
        if digit is None:
            continue
        reading = normalize(transcript[: word.start()] + digit + transcript[word.end() :], language)
        if same_phrase(reading, normalized_expected):
            return reading
    return normalized


def comparison_key(normalized: str) -> str:
    """`normalized` without spaces ("check in 9 45" → "checkin945", "sai da" → "saida"): word and
    digit boundaries are not audible — Whisper writes "nine forty five" as "945" or "9:45" or
    "9 45", and "Saída" as "Sai da"."""
    return "".join(normalized.split())
