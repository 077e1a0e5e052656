"""The verdict from the evidence (fala.core.validation.decide): pure, no model."""

import pytest

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
        (scored(-0.4), REASON_ACOUSTIC_MATCH),
        # a little less likely: not enough evidence either way
        (scored(-0.7), REASON_UNCERTAIN),
        # clearly less likely: reject
        (scored(-1.5), REASON_MISMATCH),
        # one token of the phrase the audio does not support (a changed digit): reject
        (scored(0.0, min_lp=-10.0), REASON_MISMATCH),
        # a close transcript that heard other numbers is a near miss, whatever the scores
        (scored(0.2, closeness=0.9, numbers_conflict=True), REASON_MISMATCH),
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
        decide(scored(-0.7)),
        decide(scored(-1.5)),
        decide(Evidence(False, True)),
    ]
    confidences = [c for _, c in verdicts]
    assert all(0.0 <= c <= 1.0 for c in confidences)
    assert confidences == sorted(confidences, reverse=True)
    assert confidences[0] >= 0.75 > confidences[1] >= 0.5 > confidences[2] >= 0.25 > confidences[3]
    assert confidences[-1] == 0.0


@pytest.mark.parametrize(
    ("expected", "language", "forms"),
    [
        ("ENTRADA 13 40", "pt", ["Entrada 13 40", "Entrada, treze e quarenta."]),
        ("SAIDA 07 00", "pt", ["Saida 07 00", "Saida, sete em ponto."]),
        ("CODIGO 3150", "pt", ["Codigo 3150", "Codigo, três, um, cinco, zero."]),
        ("CHECK IN 9 45", "en", ["Check in 9 45", "Check in, nine forty five."]),
        ("CHECK OUT 17 30", "en", ["Check out 17 30", "Check out, five thirty p m."]),
    ],
)
def test_spoken_forms(expected, language, forms):
    assert spoken_forms(expected, language) == forms
