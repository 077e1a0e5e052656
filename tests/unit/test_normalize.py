"""Canonical text: equivalent phrasings of the same words meet, different words do not."""

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from fala.core.languages import language_family
from fala.core.normalize import (
    comparison_key,
    form_in_digits,
    normalize,
    same_phrase,
    sounds_like_courtesy,
    transcript_reading,
    without_courtesies,
)

CASES = [
    # (language, text, normalized)
    ("pt", "ENTRADA 13 40", "entrada 13 40"),
    ("pt", "Entrada, 13 horas e 40.", "entrada 13 40"),
    ("pt", "Entrada, treze horas e quarenta.", "entrada 13 40"),
    ("pt", "Entrada, treze e quarenta.", "entrada 13 40"),
    ("pt", "entrada 13h40", "entrada 13 40"),
    ("pt", "entrada 13:40", "entrada 13 40"),
    ("pt", "entrada 13 h 40", "entrada 13 40"),
    ("pt", "Entrada: 13 horas e 40 minutos", "entrada 13 40"),
    ("pt", "É... hum, entrada, treze horas e quarenta", "entrada 13 40"),
    ("pt", "Ééé entrada, ahn, 13 40", "entrada 13 40"),
    ("pt", "Entrada 13 horas", "entrada 13"),
    ("pt", "Saída às 13h", "saida 13"),
    ("pt", "Saída às 13hs", "saida 13"),
    ("pt", "Treze e quarenta e cinco", "13 45"),
    ("pt", "uma hora e dez", "1 10"),
    ("pt", "duas horas", "2"),
    ("pt", "vinte e um", "21"),
    ("pt", "mil e duzentos", "1200"),
    # "um" is a number/article in Portuguese, never a filler there
    ("pt", "eu tenho um carro", "eu tenho um carro"),
    ("pt", "entrada um e trinta", "entrada 1 30"),
    # a count of hours is not a time: the words stay
    ("pt", "3 horas de espera", "3 horas de espera"),
    ("pt", "Ação, coração e pão!", "acao coracao e pao"),
    ("en", "CHECK IN 9 45", "check in 9 45"),
    ("en", "Check in, nine forty five.", "check in 9 45"),
    ("en", "Um, uh, check-in at nine forty-five", "check in 9 45"),
    ("en", "Check in 9:45", "check in 9 45"),
    ("en", "Check in 945", "check in 945"),
    ("en", "It's two hours and ten minutes", "it s 2 10"),
    ("en", "Hmm... I have one car", "i have one car"),
    # Whisper's spelling of "check in" before a time
    ("en", "Checking at nine.", "check in 9"),
    ("en", "Checking 815", "check in 815"),
    ("en", "checking account", "checking account"),
    # times: one canonical form — hour without leading zero, midnight is 0 (24 → 0), ":00" and
    # "em ponto"/"o'clock" dropped, "da tarde"/"p.m." add 12 to hours 1 to 11, "e meia" is 30
    ("pt", "Entrada 13h40min", "entrada 13 40"),
    ("pt", "Entrada às 13:40", "entrada 13 40"),
    ("pt", "entrada 1 e 40 da tarde", "entrada 13 40"),
    ("pt", "Entrada, uma e quarenta da tarde.", "entrada 13 40"),
    ("pt", "Entrada, uma e 40 da tarde.", "entrada 13 40"),  # Whisper mixes words and digits
    ("pt", "Saída, duas e 15 da tarde", "saida 14 15"),
    ("pt", "oito e trinta da manhã", "8 30"),
    ("pt", "ENTRADA 08 30", "entrada 8 30"),
    ("pt", "sete da noite", "19"),
    ("pt", "doze da noite", "0"),
    ("pt", "Saída ao meio-dia", "saida 12"),
    ("pt", "Retorno à uma da tarde", "retorno 13"),  # "às duas" in the singular
    ("pt", "Saída à meia-noite", "saida 0"),
    ("pt", "volta à base", "volta a base"),  # "à" before no hour: the article, kept
    ("pt", "Saída, seis horas da tarde.", "saida 18"),
    ("pt", "Entrada, zero hora e quinze.", "entrada 0 15"),
    ("en", "Check in at twelve noon.", "check in 12"),
    ("en", "twelve midnight", "0"),
    ("pt", "meio dia e meia", "12 30"),
    ("pt", "meia-noite", "0"),
    ("pt", "ENTRADA 00 00", "entrada 0"),
    ("pt", "ENTRADA 24 00", "entrada 0"),
    ("pt", "Treze e meia", "13 30"),
    ("pt", "treze horas e meia", "13 30"),
    ("pt", "treze em ponto", "13"),
    ("pt", "ENTRADA 13 00", "entrada 13"),
    ("pt", "13 horas em ponto", "13"),
    ("en", "1:40 p.m.", "13 40"),
    ("en", "at noon", "12"),
    ("en", "midnight", "0"),
    ("en", "one o'clock", "1"),
    ("en", "nine oh five", "9 05"),
    ("en", "seven in the evening", "19"),
    # minutes counted from an hour
    ("en", "half past eight", "8 30"),
    ("en", "at a quarter past eight", "8 15"),
    ("en", "quarter to six p.m.", "17 45"),
    ("en", "ten to one", "12 50"),
    ("en", "twenty five minutes past nine", "9 25"),
    ("pt", "quinze para as oito", "7 45"),
    ("pt", "dez pras oito", "7 50"),
    ("pt", "dez para o meio-dia", "11 50"),
    ("pt", "vinte para a uma da tarde", "12 40"),
    ("pt", "cinco para a meia-noite", "23 55"),
    ("pt", "código para esse 1, 5, 0", "codigo para esse 1 5 0"),
    # digits said one by one: words, digits, Whisper's commas, "meia" for six in Portuguese
    ("pt", "CODIGO 3150", "codigo 3150"),
    ("pt", "Código: três, um, cinco, zero.", "codigo 3 1 5 0"),
    ("pt", "Código 4, 7, 2, 9.", "codigo 4 7 2 9"),
    ("pt", "três meia dois", "3 6 2"),
    ("pt", "código um dois três", "codigo 1 2 3"),
    ("en", "Code four, seven, two, nine.", "code 4 7 2 9"),
    ("en", "Code double oh four two.", "code 0 0 4 2"),  # how many read codes aloud
    ("en", "Code four double seven two", "code 4 7 7 2"),
    ("en", "Code triple seven one", "code 7 7 7 1"),
    ("en", "a double room", "a double room"),
    ("en", "three thousand one hundred fifty", "3150"),
    ("pt", "Entrada, né, treze e quarenta", "entrada 13 40"),
    # languages without number-word support still compare case/accents/punctuation
    ("ja", "こんにちは、世界", "こんにちは 世界"),
    (None, "ENTRADA — 13:40!", "entrada 13 40"),
    ("pt", "", ""),
    ("pt", "...!?", ""),
    ("pt", "hum... é...", ""),
]


@pytest.mark.parametrize(("language", "text", "expected"), CASES)
def test_normalize(language, text, expected):
    assert normalize(text, language) == expected


@pytest.mark.parametrize(
    ("expected", "spoken", "language"),
    [
        ("ENTRADA 13 40", "Entrada, 13 horas e 40.", "pt"),
        ("ENTRADA 13 40", "Entrada, treze e quarenta.", "pt"),
        ("ENTRADA 13 40", "entrada 1340", "pt"),
        ("CHECK IN 9 45", "Check in 945", "en"),
        ("CHECK IN 9 45", "Check-in, 9:45.", "en"),
        ("CODIGO 3150", "Código 3, 1, 5, 0.", "pt"),
        ("CODIGO 3150", "código três mil cento e cinquenta", "pt"),
        ("CODIGO 3150", "código trinta e um cinquenta", "pt"),
        ("CODIGO 4729", "Código quatro sete dois nove.", "pt"),
        ("CODE 4729", "Code 4, 7, 2, 9.", "en"),
        ("ENTRADA 13 40", "Entrada, uma e quarenta da tarde.", "pt"),
        ("ENTRADA 13 40", "Entrada às 13h40min.", "pt"),
        ("SAIDA 12", "Saída, meio-dia.", "pt"),
        ("SAIDA 12 30", "Saída, meio-dia e meia.", "pt"),
        ("SAIDA 00 00", "Saída, meia-noite.", "pt"),
        ("SAIDA 0 15", "Saída, meia-noite e quinze.", "pt"),
        ("ENTRADA 13 00", "Entrada, treze em ponto.", "pt"),
        ("ENTRADA 13 00", "Entrada, treze horas.", "pt"),
        ("ENTRADA 08 30", "Entrada, oito e meia.", "pt"),
        ("CHECK IN 13 40", "Check in, one forty p.m.", "en"),
        ("CHECK OUT 9 00", "Check out, nine o'clock.", "en"),
        ("CHECK IN 8 30", "Check in, half past eight.", "en"),
        ("SAIDA 17 45", "Saída, quinze para as seis da tarde.", "pt"),
        ("INTERVALO 12 00", "Intervalo ao meio-dia.", "pt"),
        ("RETORNO 13 00", "Retorno à uma da tarde.", "pt"),
        ("CHECK IN 8 15", "Check in at a quarter past eight.", "en"),
        ("CHECK IN 9 00", "Checking at nine.", "en"),
        ("CHECK OUT 12 00", "Checkout at noon.", "en"),
    ],
)
def test_equivalent_phrasings_share_a_comparison_key(expected, spoken, language):
    assert comparison_key(normalize(expected, language)) == comparison_key(
        normalize(spoken, language)
    )


@pytest.mark.parametrize(
    ("expected", "spoken", "language"),
    [
        ("ENTRADA 13 40", "Saída, 13 horas e 40.", "pt"),
        ("ENTRADA 13 40", "Entrada, treze e quarenta e cinco.", "pt"),
        ("ENTRADA 13 40", "Entrada, 3 horas e 40.", "pt"),
        ("ENTRADA 13 40", "Não é entrada 13 40", "pt"),
        ("CHECK IN 9 45", "Check out 9 45", "en"),
        ("ENTRADA 13 40", "Entrada, uma e quarenta.", "pt"),
        ("ENTRADA 13 40", "Entrada, uma e quarenta da manhã.", "pt"),
        ("ENTRADA 13 30", "Entrada, treze e quarenta.", "pt"),
        ("ENTRADA 12 30", "Entrada, meia-noite e meia.", "pt"),
        ("CODIGO 3150", "Código 3, 1, 5, 1.", "pt"),
        ("CODIGO 3150", "Código 3150 não", "pt"),
        ("CODE 4729", "Code four seven two.", "en"),
        ("CHECK IN 8 30", "Check in, half past nine.", "en"),
        ("SAIDA 17 45", "Saída, quinze para as cinco da tarde.", "pt"),
        ("CHECK OUT 9 00", "Checking at nine.", "en"),
        ("RETORNO 13 00", "Retorno à uma.", "pt"),  # a bare 12-hour reading stays 1 o'clock
    ],
)
def test_different_words_keep_different_keys(expected, spoken, language):
    assert comparison_key(normalize(expected, language)) != comparison_key(
        normalize(spoken, language)
    )


@pytest.mark.parametrize(
    ("tag", "family"), [("pt-BR", "pt"), ("en_US", "en"), ("EN", "en"), (None, ""), ("", "")]
)
def test_language_family(tag, family):
    assert language_family(tag) == family


# Pieces that exercise the rules (numbers, hour words, joiners, fillers) mixed with any text.
PIECES = st.one_of(
    st.text(max_size=6),
    st.sampled_from(list("0123456789:h.,-é ")),
    st.sampled_from(
        [
            "treze",
            "quarenta",
            "horas",
            "e",
            "um",
            "uma",
            "duas",
            "nine",
            "forty",
            "hum",
            "minutos",
            "meia",
            "meio-dia",
            "meia-noite",
            "em ponto",
            "da tarde",
            "da noite",
            "p.m.",
            "am",
            "oh",
            "o'clock",
            "00",
            "24",
            "08",
            "às",
            "at",
            "zero",
            "três",
        ]
    ),
)
TEXT = st.lists(PIECES, max_size=16).map(" ".join)


@settings(max_examples=300, deadline=None)
@given(TEXT, st.sampled_from(["pt", "en", "pt-BR", "fr", None]))
@example("13h40h40", "pt")
@example("1 hora 2 horas 3", "pt")
@example("um um um", "en")
def test_normalize_never_raises_and_is_idempotent(text, language):
    once = normalize(text, language)
    assert isinstance(once, str)
    assert normalize(once, language) == once
    assert once == once.strip() and "  " not in once
    assert comparison_key(comparison_key(once)) == comparison_key(once)


@pytest.mark.parametrize(
    ("expected", "spoken", "language", "same"),
    [
        ("ENTRADA 13 40", "Bom dia! Entrada, treze e quarenta. Obrigado.", "pt", True),
        ("ENTRADA 13 40", "Oi, entrada 13 e 40, por favor", "pt", True),
        ("CHECK IN 9 45", "Good morning, check in at nine forty-five, thanks.", "en", True),
        ("ENTRADA 13 40", "Bom dia, entrada 13 45", "pt", False),  # the phrase still decides
        ("ENTRADA 13 40", "Não, entrada 13 40", "pt", False),  # only greetings and thanks go
        ("ENTRADA 13 40", "entrada oi 13 40", "pt", False),  # and only at the edges
        ("ENTRADA 13 40", "Bom dia. Obrigado.", "pt", False),  # nothing left
        ("BOM DIA", "Boa noite", "pt", False),  # a phrase of courtesies is compared whole
        ("BOM DIA", "Bom dia!", "pt", True),
    ],
)
def test_greetings_and_thanks_around_a_phrase_are_set_aside(expected, spoken, language, same):
    assert same_phrase(normalize(spoken, language), normalize(expected, language)) is same


@pytest.mark.parametrize(
    ("expected", "spoken", "language", "same"),
    [
        ("CHECK OUT 4 54", "Check out for 54.", "en", True),  # "four", as Whisper often spells it
        ("CHECK OUT 16 20", "Check out for 20pm.", "en", True),
        ("CHECK IN 2 30", "Check in to 30.", "en", True),
        ("CHECK IN 2 30", "Check in, too, 30", "en", True),
        ("CHECK IN 8 15", "Check in ate 15", "en", True),
        ("CHECK OUT 4 54", "Check out for 55.", "en", False),  # the other numbers still decide
        ("CHECK OUT 16 20", "Check out for 30pm.", "en", False),
        ("CHECK IN 2 30", "Check in for 30", "en", False),  # "for" is a 4, never a 2
        ("CHECK IN 4 30", "Check in 4 for 30", "en", False),  # only in the number's place
        ("CHECK IN 4 30", "Check in 30", "en", False),
        ("CHECK IN 8 40", "Check in twenty to nine", "en", True),  # "to" as a word still works
        ("SAIDA 8 30", "Saída até 30", "pt", False),  # "até" is "until", not "eight"
        ("SAIDA 8 30", "Saída ate 30", None, False),  # no language, no homophones
    ],
)
def test_a_number_homophone_in_the_numbers_place_is_the_number(expected, spoken, language, same):
    normalized_expected = normalize(expected, language)
    reading = transcript_reading(spoken, normalized_expected, language)
    assert same_phrase(reading, normalized_expected) is same
    assert same or reading == normalize(spoken, language)  # what was heard, when it is not


@pytest.mark.parametrize(
    ("spoken", "language", "normalized"),
    [
        ("Check in at 945.", "en", "check in 945"),
        ("Check out at 1230", "en", "check out 1230"),
        ("Entrada às 1340", "pt", "entrada 1340"),
        ("Check in at 2460", "en", "check in at 2460"),  # not a time: the word stays
        ("Checking in at 9:45.", "en", "check in 9 45"),
        ("Checking out at 5:30 p.m.", "en", "check out 17 30"),
        ("Check out 530 in the afternoon.", "en", "check out 17 30"),
    ],
)
def test_times_as_whisper_glues_them_and_punches_in_the_progressive(spoken, language, normalized):
    assert normalize(spoken, language) == normalized


def test_courtesies_come_off_both_edges_repeatedly():
    assert without_courtesies("oi bom dia entrada 13 40 muito obrigado tchau") == "entrada 13 40"


@pytest.mark.parametrize(
    "said",
    [
        "saida 18 15 ate amanha",
        "saida 18 15 ate mais tarde",
        "entrada 13 40 tenha um bom dia",  # whole, not "bom dia" leaving "tenha um"
        "check out 5 30 see you tomorrow",
        "check out 5 30 good night",
        "have a nice day check out 5 30",
    ],
)
def test_farewells_come_off_as_greetings_and_thanks_do(said):
    assert without_courtesies(said) in {"saida 18 15", "entrada 13 40", "check out 5 30"}


@pytest.mark.parametrize(
    ("words", "sounds_like"),
    [
        ("obrigada", True),
        ("muito obrigado", True),
        ("obigata", True),  # Whisper's "obrigada" for a synthetic voice
        ("thank you", True),
        ("thanks", True),
        ("have a nice day", True),
        ("ate amanha", True),
        ("kings obrigada", False),  # a word that is not thanks before them
        ("oito", False),
        ("entrada", False),
        ("45", False),
        ("", False),
    ],
)
def test_closing_words_that_sound_like_thanks(words, sounds_like):
    assert sounds_like_courtesy(words) is sounds_like


@pytest.mark.parametrize(
    ("form", "language", "digits"),
    [
        # a lone small number is a number in a phrase's wording, not an article
        ("Entrada, duas horas.", "pt", "Entrada, 2 horas."),
        ("Saída, uma hora e quinze.", "pt", "Saída, 1 hora e 15."),
        ("Break, two oh four.", "en", "Break, 2 oh 4."),
        ("Entrada, treze e quarenta.", "pt", "Entrada, 13 e 40."),
    ],
)
def test_a_phrase_s_wording_has_every_number_in_digits(form, language, digits):
    assert form_in_digits(form, language) == digits
    # running text keeps text2num's reading of a lone "uma"/"one" as a word
    assert normalize("uma entrada", "pt") == "uma entrada"
