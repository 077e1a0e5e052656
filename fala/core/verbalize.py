"""How an expected phrase is *said*: the surface forms the recognizer is asked to score.

Operators write "ENTRADA 13 40" or "CODIGO 3150"; people say "treze e quarenta", "uma e quarenta
da tarde", "vinte para as duas", "três, um, cinco, zero", and Whisper writes what it hears in
words or digits ("Entrada, 13 e 40.", "Check out 5:30 p.m."). Scoring the expected phrase under
the model (see fala.core.validation) needs it in the forms a person would say and the model
would write, so this module renders them: as written, then every clock time and number the
common ways it is said in the language. Only the rendering differs; every form means the same
thing (the same normalize() key) as the expected phrase — that is what makes accepting the best
scoring one safe.
"""

from __future__ import annotations

import difflib
import functools
import itertools
import re
from collections.abc import Iterator

from num2words import num2words

from fala.core.languages import language_family
from fala.core.normalize import (
    DAY_PERIODS,
    HOUR_WORDS,
    JOINERS,
    SENTENCE_PUNCTUATION,
    SMALL_HOUR_WORDS,
    comparison_key,
    fold_accents,
    form_in_digits,
    hour_in_period,
    is_glued_time,
    normalize,
)

# Forms scored per phrase (one batched decoder pass): enough for every way a time is said,
# few enough that the pass stays a small part of the model time.
MAX_FORMS = 10
# "fifteen"/"fifty", "thirteen"/"thirty": the classic confusion of spoken minutes.
_TEEN_TY = {13: (30,), 14: (40,), 15: (50,), 30: (13,), 40: (14,), 50: (15,)}
_NUM2WORDS_LANG = {"pt": "pt_BR", "en": "en"}
_FEMININE = {"um": "uma", "dois": "duas"}  # hours are feminine in Portuguese: "uma hora"
_DIGIT_NAMES = {
    "pt": ["zero", "um", "dois", "três", "quatro", "cinco", "seis", "sete", "oito", "nove"],
    "en": ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"],
}


def number_words(n: int, lang: str, *, feminine: bool = False) -> str:
    """`n` in words ("treze", "forty-five", "três mil cento e cinquenta"); never raises."""
    try:
        words = num2words(n, lang=_NUM2WORDS_LANG.get(lang, "en"))
    except (OverflowError, NotImplementedError, ValueError):
        return digit_by_digit(str(abs(n)), lang)
    words = words.replace(",", "")  # num2words writes "três mil, cento e cinquenta"
    if lang == "pt" and feminine:
        head, _, last = words.rpartition(" ")
        words = f"{head} {_FEMININE.get(last, last)}".strip()
    return words


def digit_by_digit(digits: str, lang: str) -> str:
    names = _DIGIT_NAMES["pt" if lang == "pt" else "en"]
    return ", ".join(names[int(d)] for d in digits if d in "0123456789")


def spoken_forms(expected: str, lang: str, *, glued: bool = False) -> list[str]:
    """Distinct renderings of `expected` for scoring: as written first, then each clock time and
    number said the common ways (at most MAX_FORMS). A rendering that does not normalize to the
    expected phrase's own key (an ambiguous one: "vinte e cinco" for 20:05 reads as 25) is
    dropped, so accepting any form never accepts another meaning. `glued`: English times also
    as one number ("Check in 945."), as Whisper often writes them — for comparing two readings
    as whole phrases only: the numerals' pass reads a number's value from its tokens, and " 65"
    + "2" is not 6 and 52."""
    tokens = expected.split()
    # Every form ends its sentence: scoring covers only text tokens, never the end of text, so an
    # unterminated form would be scored as a prefix ("Entrada, 13 e 40" of "… 13 e 45.").
    written = _sentence_case(" ".join(tokens)).rstrip(".") + "."
    segments: list[list[str]] = []
    first_number = None
    i = 0
    while i < len(tokens):
        tok = tokens[i]
        nxt = tokens[i + 1] if i + 1 < len(tokens) else ""
        if _is_number(tok) and first_number is None:
            first_number = len(segments)
        if _hour(tok) is not None and _minute(nxt) is not None:
            segments.append(time_forms(int(tok), int(nxt), lang, glued=glued))
            i += 2
            continue
        segments.append(number_forms(tok, lang) if _is_number(tok) else [tok])
        i += 1
    if not written.strip(" .,"):
        return []
    forms: list[str] = []
    for combination in itertools.islice(itertools.product(*segments), MAX_FORMS * 2):
        words = list(combination)
        # Whisper puts a comma between the words and the number ("Entrada, 13…"), not before a
        # preposition ("Check out at noon.") nor a glued time ("Check in 945.")
        first = words[first_number].split()[0] if first_number else ""
        if first_number and first not in ("at", "ao", "à") and not is_glued_time(first):
            words[first_number - 1] += ","
        forms.append(_sentence_case(" ".join(words)).rstrip(".") + ".")
    key = comparison_key(normalize(expected, lang))
    same = [f for f in dict.fromkeys(forms) if comparison_key(normalize(f, lang)) == key]
    return list(dict.fromkeys([written, *same]))[:MAX_FORMS]


# A time written as one token ("7:45", "13h40", "9:45AM", "13H").
_WRITTEN_TIME = re.compile(
    r"(?P<hour>\d{1,2})(?:(?:[:.]|hs?)(?P<minute>\d{2}))?(?P<unit>hs?)?(?P<half>[ap]\.?m\.?)?",
    re.IGNORECASE,
)


def judged_phrase(expected: str, language: str | None) -> str:
    """The phrase in the shape the decision judges it: its number words as digits (in `language`,
    when known) and each clock time as two numbers on the 24-hour clock (on_24_hour_clock):
    "ENTRADA TRES E QUARENTA" → "ENTRADA 3 40", "Entrada, 13 horas e 40." → "Entrada 13 40". In
    words a phrase's numbers had none of the rules numbers meet (near misses, numeral leads, the
    3/13 homophone): an MBROLA "treze e quarenta" heard "entrada 340" was a match at 0.99 for
    ENTRADA TRES E QUARENTA, `uncertain` for ENTRADA 3 40. Each rewrite is made only where
    normalize() reads it as the phrase itself."""
    phrase = expected
    lang = language_family(language)
    if lang:
        # every number word, a lone "duas" too: kept only where normalize() reads it the same
        words = [t.strip(SENTENCE_PUNCTUATION) for t in form_in_digits(expected, lang).split()]
        words = [t for t in words if t]
        in_digits = " ".join(_joined_times(words))
        unchanged = in_digits == " ".join(t.strip(SENTENCE_PUNCTUATION) for t in expected.split())
        if not unchanged and normalize(in_digits, lang) == normalize(expected, lang):
            phrase = in_digits
    return on_24_hour_clock(phrase)


def _joined_times(tokens: list[str]) -> list[str]:
    """An hour and its minutes as two adjacent numbers: "13 HORAS E 40", "13 E 5", "UMA E 40 DA
    TARDE" → "13 40", "13 05", "1 40 DA TARDE" (checked by the caller)."""
    out: list[str] = []
    i = 0
    while i < len(tokens):
        digits = _hour(tokens[i])
        small = SMALL_HOUR_WORDS.get(tokens[i].lower())
        hour = digits if digits is not None else int(small) if small else None
        unit = i + 1 < len(tokens) and tokens[i + 1].lower() in HOUR_WORDS
        j = i + 1 + unit
        if j < len(tokens) and tokens[j].lower() in JOINERS:
            j += 1
        minute = tokens[j] if i + 1 < j < len(tokens) else ""
        if hour is not None and _is_number(minute) and len(minute) <= 2 and int(minute) < 60:
            out += [str(hour), f"{int(minute):02d}"]
            i = j + 1
        elif digits is not None and unit:
            out += [tokens[i], "00"]  # "18 HORAS"
            i += 2
        else:
            out.append(tokens[i])
            i += 1
    return out


def on_24_hour_clock(expected: str) -> str:
    """`expected` with each clock time as two numbers on the 24-hour clock, the shape its near
    misses, spoken forms and partners are generated from: "CHECK IN 7:45 PM" → "CHECK IN 19 45",
    "ENTRADA 13H40" → "ENTRADA 13 40", "CHECK IN 7 PM" → "CHECK IN 19 00" (written "7 45 AM",
    its other half of the day was made "19 45 AM", said "7:45 p.m. am", which nothing fits). A
    rewrite that normalize() would read differently, in either language, is not made."""
    tokens: list[str] = []
    for token in expected.split():
        tokens += _split_time(token)
    out: list[str] = []
    i = 0
    while i < len(tokens):
        hour, minute, length = _time_at(tokens, i)
        half = _day_half_at(tokens, i + length) if hour is not None else None
        if hour is None or (half is None and length == 2):
            out += tokens[i : i + max(length, 1)]
            i += max(length, 1)
            continue
        if half is not None:
            hour = hour_in_period(hour, half)
            length += len(half)
        out += [str(hour), f"{minute:02d}"]
        i += length
    rewritten = " ".join(out)
    if rewritten == " ".join(expected.split()):
        return expected
    same = all(normalize(rewritten, lang) == normalize(expected, lang) for lang in ("pt", "en"))
    return rewritten if same else expected


def _split_time(token: str) -> list[str]:
    """A time written as one token, as separate ones: "7:45" → 7 45, "9:45AM" → 9 45 AM, "13H" →
    13 00, "9PM" → 9 PM; anything else (a plain number too) as it is."""
    written = _WRITTEN_TIME.fullmatch(token)
    if not written or not (written["minute"] or written["unit"] or written["half"]):
        return [token]
    minute = written["minute"] or ("00" if written["unit"] else None)
    if minute is not None and int(minute) >= 60:
        return [token]
    return [written["hour"], *([minute] if minute else []), *filter(None, [written["half"]])]


def _time_at(tokens: list[str], i: int) -> tuple[int | None, int, int]:
    """The (hour, minute, tokens taken) of a time starting at `tokens[i]`: "7 45" (two tokens), or
    before a half of the day "745" or an hour alone ("7 PM"); (None, 0, 0) if there is none."""
    hour = _hour(tokens[i])
    minute = _minute(tokens[i + 1]) if i + 1 < len(tokens) else None
    if hour is not None and minute is not None:
        return hour, minute, 2
    if _day_half_at(tokens, i + 1) is None:
        return None, 0, 0
    if hour is not None and 1 <= hour <= 12:
        return hour, 0, 1
    glued = tokens[i]  # "745 PM"
    if _is_number(glued) and len(glued) in (3, 4) and int(glued[-2:]) < 60:
        glued_hour = int(glued[:-2])
        if 1 <= glued_hour <= 12:
            return glued_hour, int(glued[-2:]), 1
    return None, 0, 0


def _day_half_at(tokens: list[str], i: int) -> tuple[str, ...] | None:
    """The words naming a half of the day at `tokens[i]` (one of normalize's DAY_PERIODS)."""
    words = tuple(fold_accents(t.lower().replace(".", "")) for t in tokens[i : i + 3])
    return next((period for period, _ in DAY_PERIODS if words[: len(period)] == period), None)


def near_misses(expected: str, *, hours_only: bool = False) -> list[str]:
    """Phrases that differ from `expected` in one number, as an operator would write them: another
    hour, minute or half of the day for a time, one digit changed or dropped for a code. The
    audio must support the expected phrase better than each of these (fala.core.decision).
    `hours_only`: the other hours of its times only (the hour before and after, the other half
    of the day) — the readings whose spoken hour can be the phrase's in another wording
    ("cinco" is 17 in "cinco e quarenta e cinco da tarde", 16 in "quinze para as cinco")."""
    tokens = expected.split()
    out: list[str] = []
    i = 0
    while i < len(tokens):
        tok = tokens[i]
        nxt = tokens[i + 1] if i + 1 < len(tokens) else ""
        hour, minute = _hour(tok), _minute(nxt)
        if hour is not None and minute is not None:
            times = [(hour + 1, minute), (hour - 1, minute), ((hour + 12) % 24, minute)]
            if not hours_only:
                times += [(hour, (minute + d) % 60) for d in (5, -5, 10, -10)]
                times += [(hour, m) for m in _TEEN_TY.get(minute, ())]
            for h, m in times:
                out.append(" ".join([*tokens[:i], f"{h % 24:02d}", f"{m:02d}", *tokens[i + 2 :]]))
            i += 2
            continue
        if hours_only:
            i += 1
            continue
        if _is_number(tok):
            variants = [
                tok[:j] + str((int(d) + step) % 10) + tok[j + 1 :]
                for j, d in enumerate(tok)
                for step in (1, -1)
            ]
            variants += [tok[:-1]] if len(tok) >= 3 else [str(int(tok) + 1), str(int(tok) - 1)]
            out += [" ".join([*tokens[:i], v, *tokens[i + 1 :]]) for v in variants if v]
        i += 1
    return list(dict.fromkeys(o for o in out if o != expected))


def teen_ty_misses(expected: str) -> list[str]:
    """`expected` with a minute replaced by the one it is most often heard as in English
    ("fifteen"/"fifty": 8 15 → 8 50): the rival a transcript equal to the phrase still has to beat,
    since noise and echo blur exactly what tells them apart (the stress, the final "n")."""
    tokens = expected.split()
    return [
        " ".join([*tokens[: i + 1], f"{other:02d}", *tokens[i + 2 :]])
        for i, _, minute in _times(tokens)
        for other in _TEEN_TY.get(minute, ())
    ]


# How Whisper starts writing a half of the day after a time ("7:45 p.m.", "11.29pm", "12. 29. AM",
# "oito e quinze da noite"), per half: the first token of each of these. Words that start either
# half ("in the morning"/"in the evening", "da manhã"/"da noite") count for both.
DAY_HALF_STARTS: dict[str, dict[str, tuple[str, ...]]] = {
    "en": {
        "am": (" a.m.", " am", " AM", " A.M.", "am", "AM", "a.m."),
        "pm": (" p.m.", " pm", " PM", " P.M.", "pm", "PM", "p.m."),
        "either": (" in the",),
    },
    "pt": {"am": (), "pm": (), "either": (" da", " Da")},
}


def day_half_partner(expected: str) -> tuple[str, str] | None:
    """The half of the day ("am" or "pm") that a time ending the phrase is not in, and the phrase
    with its time there, where the phrase said without a half reads as that time — hours 1-12
    on the 24-hour clock: "seven forty-five" is 7 45 unless "p m" follows (19 45), "twelve
    twenty-nine" 12 29 unless "a m" does (0 29). None for any other phrase."""
    tokens = [t for t in (t.strip(SENTENCE_PUNCTUATION) for t in expected.split()) if t]
    times = list(_times(tokens))
    if not times or times[-1][0] != len(tokens) - 2 or not 1 <= times[-1][1] <= 12:
        return None
    at, hour, _ = times[-1]
    other = (hour + 12) % 24
    return ("am" if other == 0 else "pm"), " ".join([*tokens[:at], str(other), tokens[-1]])


def said_in_day_half(forms: list[str], partner: str, lang: str) -> list[str]:
    """How `partner` (day_half_partner's phrase) is said naming its half of the day: each of the
    phrase's `forms` that names none, in its own wording, with the half appended ("The time is 12
    29." → "The time is 12 29 a.m.", "12 29 AM.", "12 29am."), then the partner's own forms that
    name one ("The time is, twelve twenty-nine a m.")."""
    hours = [hour for _, hour, _ in _times(partner.split())]
    if not hours:
        return []
    hour = hours[-1]
    if lang == "pt":
        halves = [f" {period}." for period in _pt_periods(hour)] if hour else []
    else:
        half = "p" if hour else "a"
        halves = [f" {half}.m.", f" {half.upper()}M.", f"{half}m."]
    appended = [
        form.rstrip(SENTENCE_PUNCTUATION + " ") + end
        for form in forms
        if not names_day_half(form)
        for end in halves
    ]
    named = [form for form in spoken_forms(partner, lang) if names_day_half(form)]
    return list(dict.fromkeys([*appended, *named]))


def ty_minutes(expected: str) -> list[int]:
    """The minutes of `expected`'s times that are "-ty" ones with a "-teen" partner (30, 40, 50:
    "thirty"/"thirteen")."""
    return [m for _, _, m in _times(expected.split()) if m >= 30 and m in _TEEN_TY]


# Hours that Portuguese says alike without a "-teen" between them: "doze" and "dois"/"duas" differ
# by one vowel. Real speech (holdout2, Leticia) saying "Entrada, duas e vinte da tarde" was heard
# "Entrada, 1220 da tarde." with every numeral clear: a 0.99 match for ENTRADA 12 20 until the two
# were weighed in words.
SOUND_ALIKE_HOURS = {"pt": {2: 12, 12: 2}}


def teen_partner(n: int, lang: str | None = None) -> int | None:
    """`n` with or without its "-teen"/"dez-" (7 ↔ 17, "sete"/"dezessete"), for 3-9 and 13-19;
    in `lang` (a language family) also the number it says alike (SOUND_ALIKE_HOURS)."""
    alike = SOUND_ALIKE_HOURS.get(lang or "", {})
    if n in alike:
        return alike[n]
    if not 3 <= n % 10 <= 9 or n >= 20:
        return None
    return n + 10 if n < 10 else n - 10


def teen_hour_misses(expected: str, lang: str | None = None) -> list[str]:
    """`expected` with an hour of a time said with or without its "-teen"/"dez-" (3 ↔ 13 … 9 ↔
    19: "três"/"treze", "seven"/"seventeen"), or in `lang` as a number said alike (Portuguese 2 ↔
    12): a reading the audio's numeral ranking may leave out, since the two are written as
    numerals of different lengths."""
    tokens = expected.split()
    out = []
    for i, hour, _ in _times(tokens):
        other = teen_partner(hour, lang)
        if other is None:
            continue
        written = f"{other:02d}" if tokens[i].startswith("0") else str(other)
        out.append(" ".join([*tokens[:i], written, *tokens[i + 1 :]]))
    return out


def with_values(expected: str, values: tuple[tuple[str, ...], ...]) -> list[str]:
    """`expected` with one of its numbers replaced by each of its `values` (digits, one tuple per
    number of the phrase, in order): the readings the audio itself suggests, whatever they are.
    Nothing when its numbers and `values` do not pair up (a code tokenized in pieces)."""
    words = expected.split()
    slots = [i for i, w in enumerate(words) if w.isdecimal()]
    if len(slots) != len(values):
        return []
    # a value as wide as the number it replaces: minute 5 is written "05" in "ENTRADA 8 05"
    return [
        " ".join([*words[:i], value.zfill(len(words[i])), *words[i + 1 :]])
        for i, options in zip(slots, values, strict=True)
        for value in options
        if value.isdecimal() and int(value) != int(words[i])
    ]


def heard_instead(form: str, heard: str, lang: str) -> list[tuple[str, str]]:
    """(`form` with one span of its words replaced by the words the transcript has in their
    place, the expected words replaced) for each span where they differ in words, not numbers:
    "Fida, treze e quarenta." for "Entrada, treze e quarenta." heard as "Fida, treze e p'u
    areta.". Numbers are weighed on their own (every substitution, fala.core.decision), so
    each run of them, however written ("treze e quarenta", "3.40", "nine forty-five"), is one
    item that only aligns the words around it: "Check out 945" for "Check in, nine forty-five."
    puts "out" in place of "in"."""
    said, written = form.split(), heard.split()
    said_keys = [_word_key(w, lang) for w in said]
    written_keys = [_word_key(w, lang) for w in written]
    said_items, written_items = _number_runs(said_keys), _number_runs(written_keys)
    spans = []
    matcher = difflib.SequenceMatcher(
        None, [k for k, _, _ in said_items], [k for k, _, _ in written_items], autojunk=False
    )
    for op, a1, a2, b1, b2 in matcher.get_opcodes():
        if op != "replace":
            continue
        said_run, heard_run = said_items[a1:a2], written_items[b1:b2]
        i1, i2, j1, j2 = said_run[0][1], said_run[-1][2], heard_run[0][1], heard_run[-1][2]
        if len(said_run) == len(heard_run):  # item for item ("Saída, treze" heard as "Siva, 13")
            pairs = [(s[1], s[2], w[1], w[2]) for s, w in zip(said_run, heard_run, strict=True)]
        elif i2 - i1 == j2 - j1:  # word for word ("Saída, treze" heard as "Siva, treme")
            pairs = [
                (i, i + 1, j, j + 1) for i, j in zip(range(i1, i2), range(j1, j2), strict=True)
            ]
        else:
            pairs = [(i1, i2, j1, j2)]
        spans += [
            (i1, i2, j1, j2)
            for i1, i2, j1, j2 in pairs
            if _differ_in_words(said_keys[i1:i2], written_keys[j1:j2])
        ]
    out = []
    for i1, i2, j1, j2 in spans:
        # the heard words, ending as the expected span ends ("Fida," for "Entrada,")
        ending = said[i2 - 1][len(said[i2 - 1].rstrip(SENTENCE_PUNCTUATION)) :]
        instead = " ".join(w.strip(SENTENCE_PUNCTUATION) for w in written[j1:j2]) + ending
        replaced = " ".join(w.strip(SENTENCE_PUNCTUATION) for w in said[i1:i2])
        out.append((" ".join([*said[:i1], instead, *said[i2:]]), replaced))
    return out


# Words that a phrase's meaning turns on and that sound alike or fill the same slot: the audio
# must prefer the expected one to each (fala.core.decision), whatever the transcript heard.
# General vocabulary of clocks, agents and switches, not the phrases of any corpus.
_CONFUSABLE_GROUPS = {
    "en": (
        ("in", "out", "off", "on"),
        ("login", "logout", "logoff", "logon"),
        ("start", "stop"),
        ("break", "back"),
        ("enable", "disable"),
        ("enabled", "disabled"),
        ("lock", "unlock"),
        ("locked", "unlocked"),
        ("activate", "deactivate"),
        ("activated", "deactivated"),
        ("open", "close"),
        ("opened", "closed"),
        ("yes", "no"),
        ("entry", "exit"),
        ("arrival", "departure"),
    ),
    "pt": (
        ("entrada", "saída", "intervalo", "retorno"),
        ("entrar", "sair", "voltar"),
        ("início", "fim"),
        ("ligado", "desligado"),
        ("ligar", "desligar"),
        ("ativado", "desativado"),
        ("ativar", "desativar"),
        ("bloqueado", "desbloqueado"),
        ("bloquear", "desbloquear"),
        ("aberto", "fechado"),
        ("abrir", "fechar"),
        ("sim", "não"),
        ("chegada", "partida"),
    ),
}
# A negating prefix turns a word into its opposite ("unlocked", "desligado"): its removal is a
# rival of a prefixed word (the groups above hold the common pairs either way).
_NEGATING_PREFIXES = {"en": ("un", "dis"), "pt": ("des",)}
_MIN_STEM = 4
MAX_CONFUSABLES = 6


def confusable_words(form: str, lang: str) -> list[tuple[str, str]]:
    """(`form` with one word replaced by a word it can be confused with, the word replaced), for
    every such word of `form`: "Agent logged off." → ("Agent logged in.", "off"), …"""
    groups = _CONFUSABLE_GROUPS.get(lang, ())
    words = form.split()
    out: list[tuple[str, str]] = []
    for i, word in enumerate(words):
        bare = word.strip(SENTENCE_PUNCTUATION)
        key = _fold(bare)
        rivals = [r for g in groups if key in map(_fold, g) for r in g if _fold(r) != key]
        rivals += [
            bare[len(p) :]
            for p in _NEGATING_PREFIXES.get(lang, ())
            if key.startswith(p) and len(key) - len(p) >= _MIN_STEM
        ]
        ending = word[len(word.rstrip(SENTENCE_PUNCTUATION)) :]
        start = word[: len(word) - len(word.lstrip(SENTENCE_PUNCTUATION))]
        for rival in dict.fromkeys(rivals):
            cased = rival.upper() if bare.isupper() and len(bare) > 1 else rival
            cased = cased[:1].upper() + cased[1:] if bare[:1].isupper() else cased
            out.append((" ".join([*words[:i], start + cased + ending, *words[i + 1 :]]), bare))
    return out[:MAX_CONFUSABLES]


def _fold(word: str) -> str:
    """A word without case or accents ("Saída" → "saida")."""
    return comparison_key(normalize(word, "en"))


def _differ_in_words(said: list[str], heard: list[str]) -> bool:
    """Two spans of comparison keys are other words: no number, nothing normalized away, and
    not the same words."""
    return said != heard and all(k and not _has_digit(k) for k in [*said, *heard])


def _has_digit(key: str) -> bool:
    return any(c.isdigit() for c in key)


NUMBER_RUN = "#"
# Words between two numbers that belong to the number ("treze e quarenta", "quinze para as seis").
MAX_NUMBER_JOINERS = 2


def _number_runs(keys: list[str]) -> list[tuple[str, int, int]]:
    """(key, first word, past the last word) per item: a word, or a run of numbers with the few
    words joining them, keyed NUMBER_RUN."""
    numeric = [_has_digit(k) for k in keys]
    items, i = [], 0
    while i < len(keys):
        end = i + 1
        while numeric[i]:
            window = range(end, min(end + MAX_NUMBER_JOINERS + 1, len(keys)))
            following = next((j for j in window if numeric[j]), None)
            if following is None:
                break
            end = following + 1
        items.append((NUMBER_RUN if numeric[i] else keys[i], i, end))
        i = end
    return items


def _word_key(word: str, lang: str) -> str:
    """What a word means to the comparison ("Entrada," → "entrada", "treze" → "13")."""
    return comparison_key(normalize(word, lang))


def form_like(phrase: str, lang: str, like: str) -> str:
    """The rendering of `phrase` closest in wording to `like` (a form of another phrase), so two
    phrases are compared as said the same way: "Entrada, 13 e 45." against "Entrada, 13 e 40."."""
    return closest_wording(spoken_forms(phrase, lang) or [phrase], like)


def closest_wording(forms: list[str], like: str) -> str:
    """The one of `forms` (renderings of one phrase) worded most like `like`."""
    return max(forms, key=lambda f: difflib.SequenceMatcher(None, f, like).ratio())


def time_forms(hour: int, minute: int, lang: str, *, glued: bool = False) -> list[str]:
    """The ways a clock time is said (and written by Whisper), most common first."""
    return _pt_time_forms(hour, minute) if lang == "pt" else _en_time_forms(hour, minute, glued)


def number_forms(digits: str, lang: str) -> list[str]:
    """A code digit by digit ("três, um, cinco, zero" / "3, 1, 5, 0") and as one number."""
    if len(digits) >= 3 or (digits.startswith("0") and len(digits) > 1):
        forms = [digit_by_digit(digits, lang), ", ".join(digits)]
        if not digits.startswith("0"):
            forms.append(number_words(int(digits), lang))
        return forms
    return [number_words(int(digits), lang, feminine=True), digits]


def _pt_time_forms(hour: int, minute: int) -> list[str]:
    h = hour % 24
    hw = _pt_hour(h)
    mw = number_words(minute, "pt")
    forms: list[str] = []
    if minute == 0 and h in (0, 12):
        forms += [hw] + (["12 horas", "doze horas"] if h == 12 else [])
        forms.append(("ao " if h == 12 else "à ") + hw)  # "Saída ao meio-dia."
    elif minute == 0:
        forms += [f"{hw} em ponto", f"{h} horas", f"{hw} horas"]
    else:
        hours = "hora" if h == 1 else "horas"
        forms += [f"{h} e {minute}", f"{hw} e {mw}", f"{h} {hours} e {minute}"]
        if h % 12:  # "treze horas e quarenta", as often said as written in digits
            forms.append(f"{hw} {hours} e {mw}")
        if minute == 30:
            forms.append(f"{hw} e meia")
    if 13 <= h <= 23 or 1 <= h <= 11:  # the 12-hour clock: "uma e quarenta da tarde"
        h12 = _pt_hour(h % 12)
        for period in _pt_periods(h):
            forms.append(f"{h12} e {mw} {period}" if minute else f"{h12} {period}")
    if minute >= 40:  # minutes to the next hour: "vinte para as duas", "dez para o meio-dia"
        nxt = (h + 1) % 24
        article = "o" if nxt == 12 else "a" if nxt in (0, 1, 13) else "as"
        before = f"{number_words(60 - minute, 'pt')} para {article} {_pt_hour(nxt % 12 or nxt)}"
        period = " da tarde" if 13 <= nxt <= 18 else " da noite" if nxt > 18 else ""
        forms.append(before + period)
    return forms


def _pt_periods(h: int) -> list[str]:
    """How the half of the day is said after an hour of the 12-hour clock."""
    if h < 5:
        return ["da madrugada", "da manhã"]
    return ["da manhã"] if h < 12 else ["da tarde"] if h < 19 else ["da noite"]


def _pt_hour(h: int) -> str:
    if h == 12:
        return "meio-dia"
    if h == 0:
        return "meia-noite"
    return number_words(h, "pt", feminine=True)


def _en_time_forms(hour: int, minute: int, glued: bool = False) -> list[str]:
    h = hour % 24
    h12 = h % 12 or 12
    pm = 12 < h < 24
    hw = number_words(h12, "en")
    mw = number_words(minute, "en") if minute >= 10 else "oh " + number_words(minute, "en")
    suffix, suffix_words = (" p.m.", " p m") if pm else (" a.m.", " a m") if h == 0 else ("", "")
    forms: list[str] = []
    if minute == 0:
        named = {12: "noon", 0: "midnight"}.get(h)
        forms += [named or f"{hw} o'clock{suffix_words}"]
        forms += [f"{h12}{suffix}" if pm else f"{h12} o'clock"]
        if named:
            forms.append(f"at {named}")  # "Check out at noon."
    else:
        forms += [f"{h12}:{minute:02d}{suffix}", f"{hw} {mw}{suffix_words}"]
        if glued:  # "Check in 945": the wording the audio fits best may be this one
            forms.append(f"{h12}{minute:02d}{suffix}")
        # minutes counted from the hour in fives: "ten past six", "quarter to ten", "twenty to one"
        to_next = number_words((h + 1) % 12 or 12, "en")
        past = {15: "quarter", 30: "half"}.get(minute, number_words(minute, "en"))
        to = "quarter" if minute == 45 else number_words(60 - minute, "en")
        if minute % 5 == 0 and minute <= 30:
            forms.append(f"{past} past {hw}{suffix_words}")
        elif minute % 5 == 0:
            forms.append(f"{to} to {to_next}{suffix_words}")
    if 1 <= h <= 11:  # mornings are said bare ("eight thirty") or with the half of the day
        forms.append(f"{h12}:{minute:02d} a.m." if minute else f"{h12} a.m.")
    if h == 12 and minute:  # …and so are the minutes after noon ("twelve twenty-nine p m")
        forms.append(f"12:{minute:02d} p.m.")
    return forms


# A half of the day named in a transcript or a form: "9.47pm", "12. 29. AM", "12:29 a.m.", "nine
# forty-seven a m", "da noite", "in the morning" — not the verb of "I am".
_NAMED_DAY_HALF = re.compile(r"\d[\s.,]*[ap]\.?\s?m\b|\b[ap]\.\s?m\b|\b[ap] m\b", re.IGNORECASE)
_CAPITAL_DAY_HALF = re.compile(r"\b[AP]M\b")  # "The time is 12. 29. AM"
# …and in words, after a number: "oito da noite", "nine in the morning" — not "Sai da noite",
# European Portuguese "Saída, oito" as Whisper base hears it.
_DAY_HALF_WORDS = re.compile(
    r"([\w-]+)[\s,.]+(?:"
    + "|".join(" ".join(p) for p, _ in DAY_PERIODS if len(p) > 1 and min(map(len, p)) > 1)
    + r")\b",
    re.IGNORECASE,
)


def names_day_half(text: str) -> bool:
    if _NAMED_DAY_HALF.search(text) or _CAPITAL_DAY_HALF.search(text):
        return True
    return any(
        word.isdecimal() or word.lower() in _number_words()
        for word in _DAY_HALF_WORDS.findall(fold_accents(text))
    )


@functools.cache
def _number_words() -> frozenset[str]:
    """Every word of the numbers 0-59 in Portuguese and English ("quarenta", "cinco", "forty"),
    and "meia" ("oito e meia da noite")."""
    words = {"meia"}
    for lang in _NUM2WORDS_LANG:
        for n in range(60):
            for feminine in (False, True):
                said = fold_accents(number_words(n, lang, feminine=feminine))
                words.update(re.split(r"[\s-]+", said))
    return frozenset(words - JOINERS)


def _is_number(token: str) -> bool:
    return bool(re.fullmatch(r"[0-9]+", token))


def times_in(phrase: str) -> list[tuple[int, int, int]]:
    """(index of the hour, hour, minute) of each time in a phrase ("check in 7 50" → [(2, 7, 50)];
    "check in 7 5" and "2 60" have none)."""
    return list(_times(phrase.split()))


def _times(tokens: list[str]) -> Iterator[tuple[int, int, int]]:
    """(index of the hour, hour, minute) of each time in a phrase's tokens ("CHECK IN 7 50")."""
    for i in range(len(tokens) - 1):
        hour, minute = _hour(tokens[i]), _minute(tokens[i + 1])
        if hour is not None and minute is not None:
            yield i, hour, minute


def _hour(token: str) -> int | None:
    return int(token) if _is_number(token) and len(token) <= 2 and int(token) <= 24 else None


def _minute(token: str) -> int | None:
    return int(token) if _is_number(token) and len(token) == 2 and int(token) < 60 else None


def _sentence_case(text: str) -> str:
    text = text.strip().lower()
    return text[:1].upper() + text[1:]
