"""With "language": "auto", a phrase whose words belong to one language is heard in it."""

import pytest

from fala.core.phrase_language import language_of


@pytest.mark.parametrize(
    ("phrase", "language"),
    [
        ("ENTRADA 13 40", "pt"),
        ("SAIDA 13 40", "pt"),  # unaccented, as operators write it
        ("CODIGO 3150", "pt"),
        ("meio-dia e meia", "pt"),
        ("senha 1234", "pt"),
        ("Entrada, treze e quarenta.", "pt"),
        ("CHECK IN 9 45", "en"),
        ("half past eight", "en"),
        ("Check in, nine forty-five.", "en"),
        ("START 8 00", "en"),
        ("13 40", None),  # digits: the audio decides
        ("3150", None),
        ("Maria", None),  # a name both languages use
        ("hotel 5", None),
        ("13h40", None),
        ("", None),
    ],
)
def test_the_words_choose_the_language_only_when_they_tell(phrase, language):
    assert language_of(phrase) == language
