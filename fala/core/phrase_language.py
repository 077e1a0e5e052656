"""The language an expected phrase is written in, for requests that ask Fala to detect it.

A phrase is validated in its own language. Whisper base takes robotic or accented Brazilian
Portuguese for Spanish or English (the bench clip "Entrada, treze e quarenta": English 0.15,
Portuguese not in its top five), and a transcript in another language than the phrase's can
never match it. So when a request says `"language": "auto"`, the phrase's words choose the
language whenever they clearly belong to one — the same language the caller would have sent —
and only a phrase whose words do not tell (digits, names, words common to both) is left to the
audio.
"""

from __future__ import annotations

import functools
import math
import re

from fala.core.spelling import accented, word_counts

PHRASE_LANGUAGES = ("pt", "en")  # Whisper codes, as fala.core.validation.LANGUAGES
# The phrase's words must be this many times likelier in one language's word list than in the
# other's (the product over its words) for the phrase to choose: one everyday word ("senha",
# "start") is; a name or a word both languages use ("Maria", "hotel", "taxi") is not.
DECISIVE_LOG_RATIO = math.log(100)
# The frequency of a word absent from a list: a word read a few times in either corpus.
UNSEEN = 1e-8
_WORD = re.compile(r"[^\W\d_]+")  # runs of letters: "meio-dia" is two words, "13h40" one


def language_of(phrase: str) -> str | None:
    """ "pt" or "en" when the phrase's words clearly belong to that language, else None."""
    lead = sum(_portuguese_log_ratio(word) for word in _WORD.findall(phrase.lower()))
    if lead >= DECISIVE_LOG_RATIO:
        return "pt"
    if lead <= -DECISIVE_LOG_RATIO:
        return "en"
    return None


def _portuguese_log_ratio(word: str) -> float:
    """log(frequency in Portuguese / frequency in English); an operator's unaccented "saida" is
    read as the "saída" it stands for."""
    pt = word_counts("pt").get(accented(word), 0) / _total("pt")
    en = word_counts("en").get(word, 0) / _total("en")
    return math.log((pt + UNSEEN) / (en + UNSEEN))


def load_word_lists() -> None:
    """Read both word lists and their totals now (at model load), so no request pays for them."""
    for lang in PHRASE_LANGUAGES:
        _total(lang)


@functools.cache
def _total(lang: str) -> int:
    return sum(word_counts(lang).values())
