"""The verdict from the evidence (fala.core.validation.decide): pure, no model."""

import pytest

from fala.core.normalize import comparison_key, normalize
from fala.core.validation import (
    REASON_ACOUSTIC_MATCH,
    REASON_MATCH,
    REASON_MISMATCH,
    REASON_NO_SPEECH,
    REASON_UNCERTAIN,
    Evidence,
    decide,
)
from fala.core.verbalize import spoken_forms


def scored(gap, *, min_lp=-3.0, closeness=0.5, numbers_conflict=False):
    return Evidence(
        free_matches=False,
        no_speech=False,
        free_logprob=-1.0,
        expected_logprob=-1.0 + gap,
        expected_min_logprob=min_lp,
        closeness=closeness,
        numbers_conflict=numbers_conflict,
        transcript_confidence=0.4,
    )


@pytest.mark.parametrize(
    ("evidence", "reason"),
    [
        (Evidence(False, True), REASON_NO_SPEECH),
        (Evidence(True, False, transcript_confidence=0.6), REASON_MATCH),
        # the expected phrase is as likely as what the recognizer wrote: accept
        (scored(0.1), REASON_ACOUSTIC_MATCH),
        (scored(-0.6), REASON_ACOUSTIC_MATCH),
        # a little less likely: not enough evidence either way
        (scored(-0.85), REASON_UNCERTAIN),
        # clearly less likely: reject
        (scored(-1.5), REASON_MISMATCH),
        # one token of the phrase the audio does not support (a changed digit): reject
        (scored(0.0, min_lp=-10.0), REASON_MISMATCH),
        # a close transcript that heard other numbers is a near miss unless the expected
        # phrase is at least as likely as what was heard
        (scored(-0.3, closeness=0.9, numbers_conflict=True), REASON_MISMATCH),
        (scored(0.2, closeness=0.9, numbers_conflict=True), REASON_ACOUSTIC_MATCH),
        # numbers heard in a garbled transcript are not trusted on their own
        (scored(0.2, closeness=0.3, numbers_conflict=True), REASON_ACOUSTIC_MATCH),
    ],
)
def test_decide(evidence, reason):
    assert decide(evidence)[0] == reason


def test_confidence_bands_are_ordered():
    verdicts = [
        decide(Evidence(True, False, transcript_confidence=0.1)),
        decide(scored(-0.4)),
        decide(scored(-0.85)),
        decide(scored(-1.5)),
        decide(Evidence(False, True)),
    ]
    confidences = [c for _, c in verdicts]
    assert all(0.0 <= c <= 1.0 for c in confidences)
    assert confidences == sorted(confidences, reverse=True)
    assert confidences[0] >= 0.75 > confidences[1] >= 0.5 > confidences[2] >= 0.25 > confidences[3]
    assert confidences[-1] == 0.0


@pytest.mark.parametrize(
    ("expected", "language", "includes"),
    [
        (
            "ENTRADA 13 40",
            "pt",
            [
                "Entrada 13 40",
                "Entrada, 13 e 40.",
                "Entrada, treze e quarenta.",
                "Entrada, uma e quarenta da tarde.",
                "Entrada, vinte para as duas da tarde.",
            ],
        ),
        ("SAIDA 07 00", "pt", ["Saida 07 00", "Saida, sete em ponto."]),
        ("SAIDA 12 30", "pt", ["Saida, meio-dia e meia."]),
        ("ENTRADA 12 00", "pt", ["Entrada, meio-dia."]),
        (
            "CODIGO 3150",
            "pt",
            [
                "Codigo 3150",
                "Codigo, três, um, cinco, zero.",
                "Codigo, 3, 1, 5, 0.",
                "Codigo, três mil cento e cinquenta.",
            ],
        ),
        ("CHECK IN 9 45", "en", ["Check in, nine forty-five.", "Check in, quarter to ten."]),
        ("CHECK OUT 17 30", "en", ["Check out, 5:30 p.m.", "Check out, half past five p m."]),
        ("CHECK OUT 12 00", "en", ["Check out, noon."]),
    ],
)
def test_spoken_forms_include_the_common_ways_of_saying_it(expected, language, includes):
    forms = spoken_forms(expected, language)
    assert forms[0] == includes[0] or includes[0] in forms
    assert set(includes) <= set(forms)


@pytest.mark.parametrize("language", ["pt", "en"])
def test_every_spoken_form_means_the_expected_phrase(language):
    # The safety of accepting the best-scoring form: every form normalizes to the expected key,
    # for every clock time (ambiguous renderings such as "vinte e cinco" for 20:05 are dropped).
    word = "ENTRADA" if language == "pt" else "CHECK IN"
    phrases = [f"{word} {h:02d} {m:02d}" for h in range(24) for m in range(0, 60, 5)]
    phrases += [f"{word} {code}" for code in ("3150", "0042", "7", "100", "2000")]
    for expected in phrases:
        key = comparison_key(normalize(expected, language))
        forms = spoken_forms(expected, language)
        assert len(forms) >= 2, expected
        for form in forms:
            assert comparison_key(normalize(form, language)) == key, (expected, form)


def test_near_misses_differ_in_one_number_and_never_mean_the_phrase():
    from fala.core.verbalize import near_misses

    misses = near_misses("CHECK IN 8 15")
    assert {"CHECK IN 09 15", "CHECK IN 07 15", "CHECK IN 20 15", "CHECK IN 08 50"} <= set(misses)
    assert {"CODIGO 4150", "CODIGO 3151", "CODIGO 315"} <= set(near_misses("CODIGO 3150"))
    for expected, language in [("CHECK IN 8 15", "en"), ("ENTRADA 13 40", "pt")]:
        key = comparison_key(normalize(expected, language))
        for miss in near_misses(expected):
            assert comparison_key(normalize(miss, language)) != key, miss


def test_a_near_miss_that_fits_the_audio_as_well_makes_the_verdict_uncertain():
    accepted = scored(-0.2)
    assert decide(accepted)[0] == REASON_ACOUSTIC_MATCH
    rival = Evidence(**{**accepted.__dict__, "contrast_logprob": accepted.expected_logprob + 0.1})
    assert decide(rival)[0] == REASON_UNCERTAIN
