"""How an expected phrase is *said*: the surface forms the recognizer is asked to score.

Operators write "ENTRADA 13 40" or "CODIGO 3150"; Whisper writes what it hears, often in words
("Entrada, treze e quarenta."). Scoring the expected phrase under the model (see
fala.core.validation) needs it in forms the model would write, so this module renders a few:
as written (sentence case), and with numbers in words — clock times as times ("13 40" →
"treze e quarenta" / "one forty"), codes digit by digit ("3150" → "três, um, cinco, zero").
Only the rendering differs; the meaning (the normalize() key) is the expected phrase's own.
"""

from __future__ import annotations

_PT_UNITS = ["zero", "um", "dois", "três", "quatro", "cinco", "seis", "sete", "oito", "nove"]
_PT_TEENS = [
    "dez",
    "onze",
    "doze",
    "treze",
    "catorze",
    "quinze",
    "dezesseis",
    "dezessete",
    "dezoito",
    "dezenove",
]
_PT_TENS = [
    "_",
    "_",
    "vinte",
    "trinta",
    "quarenta",
    "cinquenta",
    "sessenta",
    "setenta",
    "oitenta",
    "noventa",
]
_EN_UNITS = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]
_EN_TEENS = [
    "ten",
    "eleven",
    "twelve",
    "thirteen",
    "fourteen",
    "fifteen",
    "sixteen",
    "seventeen",
    "eighteen",
    "nineteen",
]
_EN_TENS = ["_", "_", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"]


def number_words(n: int, lang: str, *, feminine: bool = False) -> str:
    """0 to 99 in words ("treze", "forty five"); other numbers digit by digit."""
    if not 0 <= n <= 99:
        return digit_by_digit(str(n), lang)
    if lang == "pt":
        units, teens, tens, joiner = _PT_UNITS, _PT_TEENS, _PT_TENS, " e "
    else:
        units, teens, tens, joiner = _EN_UNITS, _EN_TEENS, _EN_TENS, " "
    if n < 10:
        word = units[n]
        if lang == "pt" and feminine:
            word = {"um": "uma", "dois": "duas"}.get(word, word)
        return word
    if n < 20:
        return teens[n - 10]
    ten, unit = divmod(n, 10)
    if unit == 0:
        return tens[ten]
    return tens[ten] + joiner + number_words(unit, lang, feminine=feminine)


def digit_by_digit(digits: str, lang: str) -> str:
    units = _PT_UNITS if lang == "pt" else _EN_UNITS
    return ", ".join(units[int(d)] for d in digits if d.isdecimal())


def spoken_forms(expected: str, lang: str) -> list[str]:
    """Distinct renderings of `expected` for scoring: as written, then numbers in words."""
    tokens = expected.split()
    written = _sentence_case(" ".join(tokens))
    words: list[str] = []
    first_number = None
    i = 0
    while i < len(tokens):
        tok = tokens[i]
        nxt = tokens[i + 1] if i + 1 < len(tokens) else ""
        if tok.isdecimal() and first_number is None:
            first_number = len(words)
        if _hour(tok) is not None and _minute(nxt) is not None:
            words.append(_time_words(int(tok), int(nxt), lang))
            i += 2
            continue
        if tok.isdecimal():
            if len(tok) >= 3 or (len(tok) == 2 and tok.startswith("0")):
                words.append(digit_by_digit(tok, lang))
            else:
                words.append(number_words(int(tok), lang, feminine=True))
        else:
            words.append(tok)
        i += 1
    if first_number:  # Whisper puts a comma between the words and the number: "Entrada, treze…"
        words[first_number - 1] += ","
    forms = [written, _sentence_case(" ".join(words)) + "."]
    return list(dict.fromkeys(f for f in forms if f.strip(" .,")))


def _time_words(hour: int, minute: int, lang: str) -> str:
    if lang == "pt":
        h = "meia-noite" if hour in (0, 24) else number_words(hour, "pt", feminine=True)
        if minute == 0:
            return h + " em ponto" if hour not in (0, 24) else h
        return f"{h} e {number_words(minute, 'pt')}"
    h12 = hour % 12 or 12
    suffix = " p m" if 12 < hour < 24 else ""
    if minute == 0:
        return "noon" if hour == 12 else f"{number_words(h12, 'en')} o'clock{suffix}"
    m = number_words(minute, "en") if minute >= 10 else "oh " + number_words(minute, "en")
    return f"{number_words(h12, 'en')} {m}{suffix}"


def _hour(token: str) -> int | None:
    return int(token) if token.isdecimal() and len(token) <= 2 and int(token) <= 24 else None


def _minute(token: str) -> int | None:
    return int(token) if token.isdecimal() and len(token) == 2 and int(token) < 60 else None


def _sentence_case(text: str) -> str:
    text = text.strip().lower()
    return text[:1].upper() + text[1:]
