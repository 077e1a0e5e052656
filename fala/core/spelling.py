"""How the model would spell the words of an expected phrase.

Operators write "SAIDA" and "CODIGO"; Whisper writes "Saída" and "Código", and scores a word as
it spells it: unaccented "Codigo" is three unlikely tokens ("C", "od", "igo", 8-10 nats below
"Código"), which would sink a phrase that was said. So before a phrase is scored, each word takes
the spelling of the transcript when the transcript has the same word, else (Portuguese) its
commonest accented spelling in pyspellchecker's word-frequency list. Accents never change what a
phrase means to the comparison (fala.core.normalize folds them), only how it is scored.
"""

from __future__ import annotations

import functools
import gzip
import itertools
import json
import marshal
import os
from importlib.metadata import version
from importlib.resources import files
from pathlib import Path

from fala.core.normalize import SENTENCE_PUNCTUATION, normalize

# The accented letters of Portuguese, by the letter an operator types instead.
_ACCENTED = {
    "a": "áàâã",
    "e": "éê",
    "i": "í",
    "o": "óôõ",
    "u": "úü",
    "c": "ç",
}
# Portuguese words carry at most two marks ("informação", "ações").
_MAX_MARKS = 2


def spelled_as_heard(expected: str, transcript: str, lang: str) -> str:
    """`expected` with each word spelled as the transcript spells it when they are the same word
    ("SAIDA" → "Saída"), else, in Portuguese, as the language commonly spells it ("CODIGO" →
    "código"). Numbers stay digits: "noon" and "meio-dia" normalize to 12, but only the phrase's
    verbalizer knows the ways a number is said (fala.core.verbalize.spoken_forms)."""
    heard = {normalize(w, None): w.strip(SENTENCE_PUNCTUATION) for w in transcript.split()}
    words = []
    for word in expected.split():
        if word.isdigit():
            words.append(word)
            continue
        same = heard.get(normalize(word, None))
        words.append(same or (accented(word) if lang == "pt" else word))
    return " ".join(words)


def accented(word: str) -> str:
    """`word` ("CODIGO") as Portuguese most often spells it ("código"): unchanged when it has
    marks already, is not a word, or is commonest bare ("pais" stays, "esta" becomes "está"; the
    meaning compared is the same either way, only the score can differ)."""
    bare = word.lower()
    if not bare.isascii() or not bare.isalpha():
        return word
    counts = word_counts("pt")
    best, best_count = word, counts.get(bare, 0)
    for variant in _variants(bare):
        if counts.get(variant, 0) > best_count:
            best, best_count = variant, counts[variant]
    return best


def _variants(bare: str):
    """Every spelling of `bare` with one or two of its letters accented."""
    places = [i for i, c in enumerate(bare) if c in _ACCENTED]
    for marks in range(1, _MAX_MARKS + 1):
        for chosen in itertools.combinations(places, marks):
            for letters in itertools.product(*(_ACCENTED[bare[i]] for i in chosen)):
                chars = list(bare)
                for i, letter in zip(chosen, letters, strict=True):
                    chars[i] = letter
                yield "".join(chars)


# A folder of the word lists pre-read at image build time (`write_word_cache`): a cold start
# reads them 3x faster than from pyspellchecker's gzip JSON (~0.5 s for both).
WORD_CACHE_ENV = "FALA_WORD_CACHE_DIR"


@functools.cache
def word_counts(lang: str) -> dict[str, int]:
    """Word → frequency, from pyspellchecker's list for `lang` (once a process: the validator
    reads both at load so no request pays for them)."""
    folder = os.environ.get(WORD_CACHE_ENV)
    if folder:
        try:
            # the fastest reader of a plain dict; the file is the image's own, written by this
            # Python (its name has the list's version), and any mismatch falls back to the JSON
            return marshal.loads(_cached_words(Path(folder), lang).read_bytes())  # noqa: S302
        except (OSError, ValueError, EOFError, TypeError):
            pass
    return _read_words(lang)


def _read_words(lang: str) -> dict[str, int]:
    resource = files("spellchecker") / "resources" / f"{lang}.json.gz"
    with resource.open("rb") as raw, gzip.open(raw, "rt", encoding="utf-8") as text:
        return json.load(text)  # NFC already, as the variants are (tests/unit/test_spelling.py)


def _cached_words(folder: Path, lang: str) -> Path:
    return folder / f"{lang}-pyspellchecker-{version('pyspellchecker')}.marshal"


def write_word_cache(folder: Path, langs: tuple[str, ...]) -> list[Path]:
    """Pre-read word lists for processes whose WORD_CACHE_ENV is `folder` (an image build step)."""
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for lang in langs:
        path = _cached_words(folder, lang)
        path.write_bytes(marshal.dumps(_read_words(lang)))
        written.append(path)
    return written
