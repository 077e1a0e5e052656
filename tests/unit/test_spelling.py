"""Words are scored as the model spells them: the transcript's spelling, else the accented one."""

import unicodedata

import pytest

from fala.core import spelling
from fala.core.spelling import accented, spelled_as_heard, word_counts


@pytest.mark.parametrize(
    ("word", "spelled"),
    [
        ("CODIGO", "código"),
        ("SAIDA", "saída"),
        ("inicio", "início"),
        ("INFORMACAO", "informação"),  # two marks
        ("ENTRADA", "ENTRADA"),  # no accent to restore
        ("pais", "pais"),  # "pais" is commoner than "país"
        ("esta", "está"),  # the commoner spelling; both fold to one comparison key
        ("Saída", "Saída"),  # marked already
        ("13", "13"),
        ("CHECK-IN", "CHECK-IN"),
        ("xqzw", "xqzw"),  # not a word
    ],
)
def test_portuguese_words_take_their_common_spelling(word, spelled):
    assert accented(word) == spelled


@pytest.mark.parametrize(
    ("expected", "transcript", "lang", "spelled"),
    [
        ("CODIGO 3150", "Código 3.150.", "pt", "Código 3150"),  # the transcript's own spelling
        ("SAIDA 17 45", "Sai da 15 para as 6.", "pt", "saída 17 45"),  # not heard: the language's
        ("SAIDA 13 40", "Saida 13 e 40.", "pt", "Saida 13 40"),  # the model wrote it bare
        ("CHECK OUT 17 30", "Check out, 5:30 p.m.", "en", "Check out 17 30"),
        ("CAFE 10 00", "Coffee at ten.", "en", "CAFE 10 00"),  # English words are left as written
        # numbers stay digits even where a heard word normalizes to them ("noon" is 12): the
        # verbalizer needs "12 00" to say the time its ways ("Check out, noon.")
        ("CHECK OUT 12 00", "Check up at noon.", "en", "Check OUT 12 00"),
        ("SAIDA 12 30", "Saída, meio-dia e quinze.", "pt", "Saída 12 30"),
    ],
)
def test_the_transcript_lends_its_spelling_first(expected, transcript, lang, spelled):
    assert spelled_as_heard(expected, transcript, lang) == spelled


def test_the_word_list_is_composed_like_the_variants():
    # the variants are built from precomposed letters ("á", not "a" + U+0301)
    counts = word_counts("pt")
    assert counts["código"] > 1000
    assert all(unicodedata.is_normalized("NFC", w) for w in counts)


@pytest.fixture
def fresh_word_counts():
    word_counts.cache_clear()
    yield word_counts
    word_counts.cache_clear()


def test_word_lists_pre_read_at_image_build_are_the_same_lists(
    tmp_path, monkeypatch, fresh_word_counts
):
    from_json = {lang: spelling._read_words(lang) for lang in ("pt", "en")}
    written = spelling.write_word_cache(tmp_path, ("pt", "en"))
    assert [p.parent for p in written] == [tmp_path, tmp_path]
    monkeypatch.setenv(spelling.WORD_CACHE_ENV, str(tmp_path))
    reads = []
    monkeypatch.setattr(spelling, "_read_words", lambda lang: reads.append(lang) or {})
    assert fresh_word_counts("pt") == from_json["pt"]
    assert fresh_word_counts("en") == from_json["en"]
    assert reads == []  # neither JSON list was read


def test_an_unreadable_pre_read_list_falls_back_to_the_packaged_one(
    tmp_path, monkeypatch, fresh_word_counts
):
    (path,) = spelling.write_word_cache(tmp_path, ("en",))
    path.write_bytes(b"not marshal data")
    monkeypatch.setenv(spelling.WORD_CACHE_ENV, str(tmp_path))
    assert fresh_word_counts("en")["the"] > 1000
    assert fresh_word_counts("pt")["código"] > 1000  # no file for it at all
