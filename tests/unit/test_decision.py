"""The verdict from the evidence (fala.core.decision.decide): pure, no model."""

from dataclasses import replace

import pytest

from fala.core.decision import (
    CALIBRATED_CONFIDENCE,
    CONFIDENCE_GROUPS,
    GROUP_GARBLED_MISMATCH,
    REASON_ACOUSTIC_MATCH,
    REASON_MATCH,
    REASON_MISMATCH,
    REASON_NO_SPEECH,
    REASON_UNCERTAIN,
    Evidence,
    confidence,
    decide,
    needs_contrast,
    needs_numerals,
)
from fala.core.normalize import comparison_key, normalize
from fala.core.verbalize import spoken_forms


def scored(
    gap,
    *,
    min_lp=-3.0,
    closeness=0.5,
    numbers_conflict=False,
    margin=0.5,
    contrast=True,
    numerals=(),
    heard_word_leads=(),
    confusable_leads=(),
    free=-1.0,
    heard_partner_lead=float("inf"),
):
    """Evidence with the expected phrase `gap` nats/token below the free transcript and, unless
    `contrast` is False (a phrase without numbers), `margin` above its best near miss;
    `numerals`: (log P of each expected numeral, log P of its likeliest rival);
    `heard_word_leads`: how much likelier (per token) with the heard words in place;
    `heard_partner_lead`: how much likelier the transcript's "-teen"/"-ty" partner reading is."""
    expected = free + gap
    return Evidence(
        free_matches=False,
        no_speech=False,
        free_logprob=free,
        expected_logprob=expected,
        expected_min_logprob=min_lp,
        closeness=closeness,
        numbers_conflict=numbers_conflict,
        contrast_logprob=expected - margin if contrast else float("-inf"),
        contrast_form="Entrada, 13 e 45." if contrast else "",
        numerals=numerals,
        heard_word_leads=heard_word_leads,
        confusable_leads=confusable_leads,
        heard_partner_lead=heard_partner_lead,
    )


@pytest.mark.parametrize(
    ("evidence", "reason"),
    [
        (Evidence(False, True), REASON_NO_SPEECH),
        (Evidence(True, False), REASON_MATCH),
        # the transcript is the phrase, and the decoder chose each numeral clearly: a match…
        (Evidence(True, False, free_numeral_lead=2.5), REASON_MATCH),
        # …but a numeral taken by a hair ("750" barely over "715") cannot vouch for the phrase
        (Evidence(True, False, free_numeral_lead=0.4), REASON_UNCERTAIN),
        # …and ended it clearly where it ends with one ("The time is 11", then the end of
        # text 0.35 against " 59" 0.31, for a saytime "eleven fifty-nine")
        (Evidence(True, False, free_numeral_lead=2.5, free_end_lead=0.12), REASON_UNCERTAIN),
        (Evidence(True, False, free_numeral_lead=2.5, free_end_lead=1.4), REASON_MATCH),
        # …and one the audio, scored as whole phrases, does not make e times likelier than its
        # "-teen"/"-ty" partner ("Check in, 750." heard where "seven fifteen" fits as well)
        (Evidence(True, False, free_numeral_lead=4.5, teen_ty_lead=2.5), REASON_MATCH),
        (Evidence(True, False, free_numeral_lead=4.5, teen_ty_lead=0.4), REASON_UNCERTAIN),
        (Evidence(True, False, free_numeral_lead=4.5, teen_ty_lead=-1.1), REASON_UNCERTAIN),
        # …and in noisy or reverberant audio a "-ty" minute said so ("Check in 850.") beats its
        # "-teen" partner by no lead at all, while a "-teen" one, or one worded without its
        # "-ty" ("ten to nine"), is held to the lead alone
        (Evidence(True, False, teen_ty_lead=3.6, says_ty_minute=True), REASON_MATCH),
        (
            Evidence(True, False, teen_ty_lead=3.6, says_ty_minute=True, level_fall_db=17.0),
            REASON_UNCERTAIN,
        ),
        (Evidence(True, False, teen_ty_lead=3.6, level_fall_db=17.0), REASON_MATCH),
        (
            Evidence(True, False, teen_ty_lead=3.6, says_ty_minute=True, level_fall_db=34.0),
            REASON_MATCH,
        ),
        # …and one after whose closing time the decoder might as well have named the other half
        # of the day ("The time is 12 29." for real speech saying "twelve twenty-nine a m")
        (Evidence(True, False, free_numeral_lead=3.7, day_half_lead=4.2), REASON_MATCH),
        (Evidence(True, False, free_numeral_lead=3.7, day_half_lead=0.5), REASON_UNCERTAIN),
        # …and one whose hour's "-teen"/"dez-" partner fits as well in the same wording ("Entrada,
        # 340." written in noise for "treze horas e quarenta")
        (Evidence(True, False, free_numeral_lead=3.7, teen_hour_lead=0.45), REASON_MATCH),
        (Evidence(True, False, free_numeral_lead=3.7, teen_hour_lead=-0.1), REASON_UNCERTAIN),
        # …by the teen-hour margin, not the near-miss one: "três" and "treze" sound alike
        (Evidence(True, False, free_numeral_lead=3.7, teen_hour_lead=0.2), REASON_UNCERTAIN),
        # …and never one at an hour its partner can sound exactly like (Portuguese 3: "treze e
        # sete", its final vowel elided, is "três e sete"), however far it leads
        (
            Evidence(
                True,
                False,
                free_numeral_lead=3.7,
                teen_hour_lead=2.0,
                hour_sounds_like_partner=True,
            ),
            REASON_UNCERTAIN,
        ),
        # the expected phrase is as likely as what the recognizer wrote: accept
        (scored(0.1), REASON_ACOUSTIC_MATCH),
        # …unless its "-teen"/"-ty" partner, scored whole in the way it fits best, is within a
        # nat, as for a match ("Check out 3 15." scored where "350" was heard)
        (replace(scored(0.1), teen_ty_lead=1.5), REASON_ACOUSTIC_MATCH),
        (replace(scored(0.1), teen_ty_lead=0.66), REASON_UNCERTAIN),
        (
            replace(scored(0.1), teen_ty_lead=5.0, says_ty_minute=True, level_fall_db=15.0),
            REASON_UNCERTAIN,
        ),
        (replace(scored(0.1), teen_ty_lead=5.0, level_fall_db=15.0), REASON_ACOUSTIC_MATCH),
        # …and its hour's "-teen"/"dez-" partner, compared in the same wording twice (in words),
        # must trail it by the teen-hour margin ("três" barely over "treze" in words)
        (replace(scored(0.1), teen_hour_lead=0.6), REASON_ACOUSTIC_MATCH),
        (replace(scored(0.1), teen_hour_lead=0.2), REASON_UNCERTAIN),
        (replace(scored(0.1), teen_hour_lead=0.04), REASON_UNCERTAIN),
        (
            replace(scored(0.1), teen_hour_lead=2.0, hour_sounds_like_partner=True),
            REASON_UNCERTAIN,
        ),
        # less likely than a garbled transcript, but far more likely than every near miss
        (scored(-1.1), REASON_ACOUSTIC_MATCH),
        # …without near misses to beat (no numbers in the phrase) that is not enough
        (scored(-1.1, contrast=False), REASON_UNCERTAIN),
        (scored(-0.5, contrast=False), REASON_ACOUSTIC_MATCH),
        # a near miss fits the audio about as well: not enough evidence either way
        (scored(-0.2, margin=0.02), REASON_UNCERTAIN),
        (scored(-0.2, margin=-0.5), REASON_UNCERTAIN),
        # the weaker the phrase's own score, the clearer its lead over the near misses must be
        (scored(-0.3, margin=0.3), REASON_ACOUSTIC_MATCH),
        (scored(-1.1, margin=0.2), REASON_UNCERTAIN),
        # a little further: uncertain; clearly less likely: reject
        (scored(-1.8), REASON_UNCERTAIN),
        (scored(-2.2), REASON_MISMATCH),
        # one token of the phrase the audio does not support (a changed digit): reject
        (scored(0.0, min_lp=-10.0), REASON_MISMATCH),
        # a close transcript that heard other numbers is a near miss unless the expected
        # phrase is nearly as likely as what was heard
        (scored(-0.6, closeness=0.9, numbers_conflict=True), REASON_MISMATCH),
        (scored(-0.2, closeness=0.9, numbers_conflict=True), REASON_ACOUSTIC_MATCH),
        # …but a transcript that heard the phrase's "-teen"/"-ty" partner ("Check out 315" for
        # CHECK OUT 3 50) rules it out only when the audio prefers that partner as clearly as a
        # match for it would need; else the audio does not tell the two apart
        (
            scored(-0.6, closeness=0.9, numbers_conflict=True, heard_partner_lead=2.5),
            REASON_MISMATCH,
        ),
        (
            scored(-0.6, closeness=0.9, numbers_conflict=True, heard_partner_lead=0.4),
            REASON_UNCERTAIN,
        ),
        (scored(-2.2, heard_partner_lead=-3.2), REASON_UNCERTAIN),
        # …and one whose partner is a "-ty" minute said so ("Check in 850." for CHECK IN 8 15)
        # cannot be that clear in noisy or reverberant audio
        (
            replace(scored(-2.2, heard_partner_lead=3.3), heard_partner_says_ty=True),
            REASON_MISMATCH,
        ),
        (
            replace(
                scored(-2.2, heard_partner_lead=3.3), heard_partner_says_ty=True, level_fall_db=17
            ),
            REASON_UNCERTAIN,
        ),
        # …and so does one that heard its hour's "-teen"/"dez-" partner in digits ("Entrada, 3 e
        # 40." for ENTRADA 13 40): it must prefer "três" to "treze" as a match for 3 40 would
        (
            replace(
                scored(-0.6, closeness=0.9, numbers_conflict=True), heard_hour_partner_lead=0.5
            ),
            REASON_MISMATCH,
        ),
        (
            replace(
                scored(-0.6, closeness=0.9, numbers_conflict=True), heard_hour_partner_lead=0.1
            ),
            REASON_UNCERTAIN,
        ),
        # numbers heard in a garbled transcript are not trusted on their own
        (scored(-1.0, closeness=0.3, numbers_conflict=True), REASON_ACOUSTIC_MATCH),
        # …nor in a close one when the audio prefers every expected numeral ("Check in line 45")
        (
            scored(
                -0.6, closeness=0.9, numbers_conflict=True, numerals=((-1.0, -7.5), (-2.7, -6.6))
            ),
            REASON_ACOUSTIC_MATCH,
        ),
        (
            scored(
                -0.6, closeness=0.9, numbers_conflict=True, numerals=((-1.0, -7.5), (-2.7, -3.0))
            ),
            REASON_MISMATCH,
        ),
        # …and an acoustic match must beat itself with the other half of the day named as clearly
        (replace(scored(0.1), day_half_lead=2.0), REASON_ACOUSTIC_MATCH),
        (replace(scored(0.1), day_half_lead=-1.6), REASON_UNCERTAIN),
        # at one numeral the audio clearly says another ("45" for 40), whatever the mean says
        (scored(-0.1, numerals=((-0.2, -6.0), (-5.2, -0.4))), REASON_UNCERTAIN),
        # a rival that is merely possible, or not far ahead, does not veto
        (scored(-0.1, numerals=((-0.2, -6.0), (-7.0, -4.6))), REASON_ACOUSTIC_MATCH),
        (scored(-0.1, numerals=((-0.2, -6.0), (-2.9, -0.6))), REASON_ACOUSTIC_MATCH),
        # at one word the audio clearly says what was heard ("Saída" for "Entrada"): however
        # well the rest fits, the phrase was not said; a garbled spelling of it does not veto
        (scored(-0.9, heard_word_leads=(3.6,)), REASON_UNCERTAIN),
        (scored(-0.9, heard_word_leads=(2.4, -1.5)), REASON_ACOUSTIC_MATCH),
        # a confusable word ("in" for "off") must be clearly less likely than the phrase's own,
        # whatever the transcript heard ("Agent Logdoth" for "Agent logged off")
        (scored(-0.2, confusable_leads=(-4.0, -6.0)), REASON_ACOUSTIC_MATCH),
        (scored(-0.2, confusable_leads=(-4.0, -1.0)), REASON_UNCERTAIN),
        (scored(-0.2, confusable_leads=(0.5,)), REASON_UNCERTAIN),
        # the more garbled the free transcript, the more margin over the near misses: the same
        # lead that accepts beside a clear transcript is not enough beside a doubtful one
        (scored(0.5, margin=0.3, free=-1.0), REASON_ACOUSTIC_MATCH),
        (scored(0.5, margin=0.3, free=-2.5), REASON_UNCERTAIN),
        (scored(0.5, margin=0.6, free=-2.5), REASON_ACOUSTIC_MATCH),
        (scored(-0.2, confusable_leads=(-2.2,), free=-1.0), REASON_ACOUSTIC_MATCH),
        (scored(-0.2, confusable_leads=(-2.2,), free=-2.5), REASON_UNCERTAIN),
    ],
)
def test_decide(evidence, reason):
    assert decide(evidence) == reason


def test_the_near_misses_are_scored_only_when_the_phrase_could_be_accepted():
    assert needs_contrast(scored(-1.1, contrast=False))
    assert not needs_contrast(scored(-2.2, contrast=False))
    assert not needs_contrast(scored(0.0, min_lp=-10.0, contrast=False))
    assert not needs_contrast(Evidence(True, False))


def test_confidence_is_a_probability_that_keeps_the_outcomes_in_order():
    """Every outcome has a confidence; an accept is near certain, and hearing other words says
    more against the phrase than hearing none or not telling (`uncertain` may lean either way:
    it is what the audio could not settle), and only silence rules it out."""
    reasons = (REASON_MATCH, REASON_ACOUSTIC_MATCH, REASON_UNCERTAIN, REASON_NO_SPEECH)
    assert set(CONFIDENCE_GROUPS) == {*reasons, REASON_MISMATCH}
    assert {*CONFIDENCE_GROUPS.values(), GROUP_GARBLED_MISMATCH} == set(CALIBRATED_CONFIDENCE)
    of = {reason: CALIBRATED_CONFIDENCE[CONFIDENCE_GROUPS[reason]] for reason in CONFIDENCE_GROUPS}
    assert of[REASON_MATCH] == of[REASON_ACOUSTIC_MATCH] > 0.9
    assert 0.0 < of[REASON_MISMATCH] < min(of[REASON_UNCERTAIN], of[REASON_NO_SPEECH])
    assert max(of[REASON_UNCERTAIN], of[REASON_NO_SPEECH]) < of[REASON_MATCH]


def test_other_words_heard_say_less_against_the_phrase_when_the_model_garbled_them():
    """A mismatch whose free transcript the model itself found unlikely (below
    -CLEAR_FREE_LOGPROB a token: a voice it cannot follow) is fitted apart, and says the phrase
    more often than one it heard clearly."""
    clear = scored(-3.0, free=-0.4)
    garbled = scored(-3.0, free=-1.6)
    assert decide(clear) == decide(garbled) == REASON_MISMATCH
    assert confidence(REASON_MISMATCH, clear) == CALIBRATED_CONFIDENCE[REASON_MISMATCH]
    assert confidence(REASON_MISMATCH, garbled) == CALIBRATED_CONFIDENCE[GROUP_GARBLED_MISMATCH]
    assert confidence(REASON_MISMATCH, clear) < confidence(REASON_MISMATCH, garbled) < 0.5


def test_only_silence_has_no_chance_of_saying_the_phrase():
    heard_nothing = Evidence(False, True)
    silence = Evidence(False, True, silent=True)
    assert decide(heard_nothing) == decide(silence) == REASON_NO_SPEECH
    assert confidence(REASON_NO_SPEECH, silence) == 0.0
    assert confidence(REASON_NO_SPEECH, heard_nothing) == CALIBRATED_CONFIDENCE[REASON_NO_SPEECH]
    assert confidence(REASON_MATCH, Evidence(True, False)) == CALIBRATED_CONFIDENCE["accept"]


@pytest.mark.parametrize(
    ("expected", "language", "includes"),
    [
        (
            "ENTRADA 13 40",
            "pt",
            [
                "Entrada 13 40.",
                "Entrada, 13 e 40.",
                "Entrada, treze e quarenta.",
                "Entrada, uma e quarenta da tarde.",
                "Entrada, vinte para as duas da tarde.",
            ],
        ),
        # the hour said with its word "horas" in words too, and "hora" for one o'clock
        ("ENTRADA 13 40", "pt", ["Entrada, treze horas e quarenta.", "Entrada, 13 horas e 40."]),
        ("SAIDA 1 05", "pt", ["Saida, uma hora e cinco.", "Saida, 1 hora e 5."]),
        ("SAIDA 07 00", "pt", ["Saida 07 00.", "Saida, sete em ponto."]),
        ("SAIDA 12 30", "pt", ["Saida, meio-dia e meia."]),
        ("ENTRADA 08 30", "pt", ["Entrada, oito e meia.", "Entrada, oito e trinta da manhã."]),
        ("SAIDA 02 10", "pt", ["Saida, duas e dez da madrugada.", "Saida, duas e dez da manhã."]),
        ("ENTRADA 12 00", "pt", ["Entrada, meio-dia."]),
        (
            "CODIGO 3150",
            "pt",
            [
                "Codigo 3150.",
                "Codigo, três, um, cinco, zero.",
                "Codigo, 3, 1, 5, 0.",
                "Codigo, três mil cento e cinquenta.",
            ],
        ),
        ("CHECK IN 9 45", "en", ["Check in, nine forty-five.", "Check in, quarter to ten."]),
        ("CHECK IN 8 30", "en", ["Check in, half past eight.", "Check in, 8:30 a.m."]),
        ("CHECK OUT 17 30", "en", ["Check out, 5:30 p.m.", "Check out, half past five p m."]),
        ("CHECK OUT 12 00", "en", ["Check out, noon.", "Check out at noon."]),
        ("CHECK OUT 18 10", "en", ["Check out, 6:10 p.m.", "Check out, ten past six p m."]),
        ("CHECK IN 8 40", "en", ["Check in, eight forty.", "Check in, twenty to nine."]),
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
    codes = {"CODIGO 4150", "CODIGO 2150", "CODIGO 3151", "CODIGO 3159", "CODIGO 315"}
    assert codes <= set(near_misses("CODIGO 3150"))
    for expected, language in [("CHECK IN 8 15", "en"), ("ENTRADA 13 40", "pt")]:
        key = comparison_key(normalize(expected, language))
        for miss in near_misses(expected):
            assert comparison_key(normalize(miss, language)) != key, miss


@pytest.mark.parametrize(
    ("written", "in_24_hours"),
    [
        ("CHECK IN 7:45 PM", "CHECK IN 19 45"),
        ("THE TIME IS 7 45 P.M.", "THE TIME IS 19 45"),
        ("THE TIME IS 7 45 P M", "THE TIME IS 19 45"),
        ("CHECK IN 745 PM", "CHECK IN 19 45"),
        ("CHECK IN 7:45", "CHECK IN 7 45"),
        ("ENTRADA 13H40", "ENTRADA 13 40"),
        ("ENTRADA 1 40 DA TARDE", "ENTRADA 13 40"),
        ("ENTRADA 7 45 DA NOITE", "ENTRADA 19 45"),
        ("SAIDA 6 DA TARDE", "SAIDA 18 00"),
        ("BACK 9 IN THE MORNING", "BACK 9 00"),
        ("CHECK IN 12 00 AM", "CHECK IN 0 00"),
        ("CHECK IN 12 PM", "CHECK IN 12 00"),
        ("ENTRADA 12 DA NOITE", "ENTRADA 0 00"),
        ("CHECK IN 9:45AM", "CHECK IN 9 45"),
        ("CHECK IN 9.45pm", "CHECK IN 21 45"),
        ("CHECK IN 9PM", "CHECK IN 21 00"),
        ("ENTRADA 13H", "ENTRADA 13 00"),
        ("ENTRADA 13:40H", "ENTRADA 13 40"),
        ("CHECK IN 7:75", "CHECK IN 7:75"),  # not a time
        # already in shape, or not a time
        ("ENTRADA 13 40", "ENTRADA 13 40"),
        ("CHECK IN 7 45", "CHECK IN 7 45"),
        ("CODIGO 3150", "CODIGO 3150"),
        ("CODE 745", "CODE 745"),
        ("CHECK IN 15 PM", "CHECK IN 15 PM"),  # no 12-hour time: left to normalize as it was
    ],
)
def test_times_are_judged_on_the_24_hour_clock_in_the_shape_near_misses_are_made_from(
    written, in_24_hours
):
    from fala.core.verbalize import on_24_hour_clock

    assert on_24_hour_clock(written) == in_24_hours
    for language in ("pt", "en"):  # the rewrite never changes what the phrase means
        assert normalize(in_24_hours, language) == normalize(written, language)


@pytest.mark.parametrize(
    ("written", "language", "judged"),
    [
        ("ENTRADA TRES E QUARENTA", "pt-BR", "ENTRADA 3 40"),
        ("Entrada, 13 horas e 40.", "pt", "Entrada 13 40"),
        ("ENTRADA TREZE E CINCO", "pt", "ENTRADA 13 05"),
        ("ENTRADA UMA E QUARENTA DA TARDE", "pt", "ENTRADA 13 40"),
        ("CHECK IN SEVEN FORTY-FIVE P M", "en", "CHECK IN 19 45"),
        ("CODIGO TRES UM CINCO ZERO", "pt", "CODIGO 3 1 5 0"),
        ("SAIDA 18 HORAS", "pt", "SAIDA 18 00"),
        ("CHECK IN 7:45 PM", None, "CHECK IN 19 45"),  # the language unknown: times only
        ("ENTRADA TREZE E QUARENTA", None, "ENTRADA TREZE E QUARENTA"),
        ("ENTRADA 13 40", "pt", "ENTRADA 13 40"),
        ("ENTRADA MEIO-DIA", "pt", "ENTRADA MEIO-DIA"),  # no number word text2num reads
        # a lone small number too (session 40; text2num leaves it a word by default)
        ("ENTRADA DUAS HORAS", "pt", "ENTRADA 2 00"),
        ("ENTRADA UMA HORA DA TARDE", "pt", "ENTRADA 13 00"),
        ("TENHO UM CARRO", "pt", "TENHO UM CARRO"),  # an article: normalize keeps it a word
        ("Thank you for your patience", "en", "Thank you for your patience"),
    ],
)
def test_a_phrase_is_judged_with_its_numbers_in_digits(written, language, judged):
    from fala.core.verbalize import judged_phrase

    assert judged_phrase(written, language) == judged
    if language:
        assert normalize(judged, language) == normalize(written, language)


def test_a_time_with_its_half_of_the_day_is_contrasted_with_the_other_half():
    # A real voice saying "the time is seven forty-five p m" was accepted at 0.99 as THE TIME IS
    # 7 45 AM: its other half was generated as "7:45 p.m. am", which nothing said fits.
    from fala.core.verbalize import near_misses, on_24_hour_clock

    misses = near_misses(on_24_hour_clock("THE TIME IS 7 45 AM"))
    assert {"THE TIME IS 19 45", "THE TIME IS 08 45", "THE TIME IS 07 50"} <= set(misses)
    assert "The time is, 7:45 p.m." in spoken_forms("THE TIME IS 19 45", "en")
    assert not any("a.m. am" in form for form in spoken_forms("THE TIME IS 7 45", "en"))
    # a time written in one token had no near miss and no spoken form but itself
    assert near_misses("CHECK IN 7:45") == []
    assert len(near_misses(on_24_hour_clock("CHECK IN 7:45"))) >= 7
    assert "Check in, seven forty-five." in spoken_forms(on_24_hour_clock("CHECK IN 7:45"), "en")


@pytest.mark.parametrize(
    ("text", "named"),
    [
        ("The time is 9.47pm.", True),
        ("The time is 12.29 am", True),
        ("The time is 12. 29. AM", True),
        ("Check in, 7:45 p.m.", True),
        ("Check in, nine forty-seven a m.", True),  # a spoken form
        ("Entrada, sete e quarenta e cinco da noite.", True),
        ("Back at nine in the morning", True),
        ("I am here at 9 45", False),
        ("Sai da noite, being good.", False),  # European "Saída, oito" as Whisper base hears it
        ("I work in the morning", False),
        ("Amanhã, 9 e 45", False),
    ],
)
def test_a_half_of_the_day_is_named_by_its_words_not_by_the_verb_am(text, named):
    from fala.core.verbalize import names_day_half

    assert names_day_half(text) is named


def test_every_time_between_an_hour_and_a_day_half_can_be_said_with_it():
    # so that where the audio names the half of the day, the phrase is scored saying one too
    from fala.core.verbalize import names_day_half

    for hour in range(24):
        for minute in (0, 5, 29, 45):
            forms = spoken_forms(f"CHECK IN {hour} {minute:02d}", "en")
            named = minute != 0 or hour not in (0, 12)  # "noon" and "midnight" need no half
            assert any(names_day_half(form) for form in forms) is named, (hour, minute)


@pytest.mark.parametrize(
    ("expected", "partner"),
    [
        ("THE TIME IS 10 54", ("pm", "THE TIME IS 22 54")),
        ("THE TIME IS 12 29", ("am", "THE TIME IS 0 29")),  # 12 29 PM, judged
        ("Check in 9 45.", ("pm", "Check in 21 45")),
        ("ENTRADA 8 15", ("pm", "ENTRADA 20 15")),
        ("ENTRADA 13 40", None),  # said bare, 13 is no other time
        ("ENTRADA 0 15", None),
        ("CODIGO 3150", None),
        ("ENTRADA 8 15 PORTA 2", None),  # the half would not follow the time
    ],
)
def test_a_closing_time_said_bare_can_be_the_other_half_of_the_day(expected, partner):
    from fala.core.verbalize import day_half_partner

    assert day_half_partner(expected) == partner


def test_the_other_half_of_the_day_is_said_in_the_phrase_s_own_wordings():
    from fala.core.verbalize import said_in_day_half

    forms = ["The time is 12 29.", "The time is, 12:29 p.m."]
    said = said_in_day_half(forms, "THE TIME IS 0 29", "en")
    assert said[:3] == ["The time is 12 29 a.m.", "The time is 12 29 AM.", "The time is 12 29am."]
    assert "The time is, twelve twenty-nine a m." in said
    assert not any("p.m." in form for form in said)
    assert said_in_day_half(["Entrada, 8 e 15."], "ENTRADA 20 15", "pt") == [
        "Entrada, 8 e 15 da noite.",
        "Entrada, oito e quinze da noite.",
    ]


def test_the_near_misses_of_another_hour_are_the_hour_before_after_and_twelve_away():
    from fala.core.verbalize import near_misses

    assert near_misses("SAIDA 17 45", hours_only=True) == [
        "SAIDA 18 45",
        "SAIDA 16 45",
        "SAIDA 05 45",
    ]
    assert set(near_misses("SAIDA 17 45", hours_only=True)) < set(near_misses("SAIDA 17 45"))
    assert near_misses("CODIGO 3150", hours_only=True) == []  # a code has no hour


def test_a_teen_or_ty_minute_has_its_partner_as_the_rival_a_match_must_beat():
    from fala.core.verbalize import teen_ty_misses

    assert teen_ty_misses("CHECK IN 7 50") == ["CHECK IN 7 15"]
    assert teen_ty_misses("CHECK OUT 17 30") == ["CHECK OUT 17 13"]
    assert teen_ty_misses("Check in 9 14 please") == ["Check in 9 40 please"]
    assert teen_ty_misses("CHECK IN 9 45") == teen_ty_misses("CODE 1530") == []


def test_a_wording_names_a_ty_minute_only_by_its_number():
    from fala.core.validation import _names_ty_minute
    from fala.core.verbalize import ty_minutes

    assert ty_minutes("CHECK IN 7 50") == [50]
    assert ty_minutes("CHECK OUT 23 30") == [30]
    assert ty_minutes("CHECK IN 7 15") == ty_minutes("CHECK IN 9 45") == []
    for said in (
        "Check in, seven fifty.",
        "Check in 750.",
        "Check in, 7:50 a.m.",
        "Check in 7 50.",
    ):
        assert _names_ty_minute(said, "CHECK IN 7 50"), said
    assert _names_ty_minute("Check out 1150 p.m.", "CHECK OUT 23 50")
    # worded without the syllable its "-teen" partner differs by
    assert not _names_ty_minute("Check in, ten to eight.", "CHECK IN 7 50")
    assert not _names_ty_minute("Check in, half past eight.", "CHECK IN 8 30")
    # transcripts, as a match is worded (Whisper's own punctuation)
    assert _names_ty_minute("Check out 5.30pm.", "CHECK OUT 17 30")
    assert not _names_ty_minute("Check out half past two in the afternoon.", "CHECK OUT 14 30")
    # a "-teen" minute, or a number that merely ends alike, is not one
    assert not _names_ty_minute("Check in, seven fifteen.", "CHECK IN 7 15")
    assert not _names_ty_minute("Check in 7 505", "CHECK IN 7 50")


def test_a_transcript_that_heard_the_minute_s_teen_or_ty_partner_names_it():
    from fala.core.validation import heard_partner

    assert heard_partner("CHECK OUT 3 50", "Check out 315", "en") == "CHECK OUT 3 15"
    assert heard_partner("CHECK IN 7 15", "Check in, seven fifty.", "en") == "CHECK IN 7 50"
    # another minute, or the phrase itself, is not its partner
    assert heard_partner("CHECK OUT 3 50", "Check out 355", "en") is None
    assert heard_partner("CHECK OUT 3 50", "Check out 350", "en") is None
    assert heard_partner("CHECK IN 9 45", "Check in 915", "en") is None


def test_a_transcript_that_heard_the_hour_s_teen_partner_names_it():
    from fala.core.validation import heard_hour_partner

    assert heard_hour_partner("ENTRADA 13 40", "Entrada, 3 e 40.", "pt") == "ENTRADA 3 40"
    assert heard_hour_partner("SAIDA 8 15", "Saída, dezoito e quinze.", "pt") == "SAIDA 18 15"
    assert heard_hour_partner("CHECK IN 7 45", "Check in 1745", "en") == "CHECK IN 17 45"
    # another hour, another minute, or the phrase itself, is not its partner
    assert heard_hour_partner("ENTRADA 13 40", "Entrada, 2 e 40.", "pt") is None
    assert heard_hour_partner("ENTRADA 13 40", "Entrada, 3 e 45.", "pt") is None
    assert heard_hour_partner("ENTRADA 13 40", "Entrada, 13 e 40.", "pt") is None
    # an hour without a partner (1, 10, 11, 20-23; 2 and 12 outside Portuguese) has none
    assert heard_hour_partner("ENTRADA 11 40", "Entrada, 1 e 40.", "pt") is None
    assert heard_hour_partner("CHECK IN 12 40", "Check in 240", "en") is None
    # Portuguese "doze" and "duas" differ by a vowel: 12 and 2 are partners there
    assert heard_hour_partner("ENTRADA 12 40", "Entrada, 2 e 40.", "pt") == "ENTRADA 2 40"


def test_portuguese_3_sounds_like_13_unless_its_half_of_the_day_was_heard():
    from fala.core.validation import _hour_sounds_like_partner as sounds_like

    assert sounds_like("ENTRADA 03 07", "Entrada, 3 e 7.", "pt")
    assert sounds_like("SAIDA 3 40", "Saída, três e quarenta.", "pt-BR")
    # "da manhã", "da madrugada": 13 is "da tarde"
    assert not sounds_like("ENTRADA 03 07", "Entrada, três e sete da manhã.", "pt")
    assert not sounds_like("ENTRADA 03 00", "Entrada, 3 da Madrugada.", "pt")
    # 13 keeps the teen-hour margin; other hours and English are told by their syllables
    assert not sounds_like("ENTRADA 13 07", "Entrada, 13 e 7.", "pt")
    assert not sounds_like("ENTRADA 07 13", "Entrada, 7 e 13.", "pt")
    assert not sounds_like("CHECK IN 3 07", "Check in 3 07", "en")
    assert not sounds_like("CODIGO 3150", "3150", "pt")


def test_a_wording_names_an_hour_by_its_own_number_or_not():
    from fala.core.validation import _names_hour

    assert _names_hour("Entrada, treze horas e quarenta.", "13", "pt")
    assert _names_hour("Entrada, 13h40.", "13", "pt")
    assert _names_hour("Check in 715.", "7", "en")
    assert _names_hour("Entrada, 03 e 40.", "03", "pt")
    # the 12-hour clock names 13 as "uma"; "13" does not name 3
    assert not _names_hour("Entrada, uma e quarenta da tarde.", "13", "pt")
    assert not _names_hour("Entrada, 13 horas e 40.", "3", "pt")


def test_a_match_s_hour_is_weighed_when_the_transcript_writes_it_in_digits():
    from fala.core.validation import _hour_in_digits

    assert _hour_in_digits("Entrada, 340.", "ENTRADA 3 40", "pt")  # glued to its minutes
    assert _hour_in_digits("Entrada, 3,40 horas.", "ENTRADA 3 40", "pt")
    assert _hour_in_digits("Entrada 13h40", "ENTRADA 13 40", "pt")
    assert _hour_in_digits("Check in 945", "CHECK IN 9 45", "en")
    # in words the decoder wrote the syllable that tells "treze" from "três"
    assert not _hour_in_digits("Entrada, treze e quarenta.", "ENTRADA 13 40", "pt")
    # only the hour counts: 3 is not in "13 40", nor the minute 15 an hour
    assert not _hour_in_digits("Entrada, 13 e 40.", "ENTRADA 3 40", "pt")
    assert not _hour_in_digits("Saída, cinco e quinze da tarde", "SAIDA 17 15", "pt")
    # an hour without a "-teen"/"dez-" partner (nor, in Portuguese, one said alike) is never weighed
    assert not _hour_in_digits("Entrada, 11 horas.", "ENTRADA 11 00", "pt")
    assert not _hour_in_digits("Check in 1220", "CHECK IN 12 20", "en")
    assert _hour_in_digits("Entrada, 1220 da tarde.", "ENTRADA 12 20", "pt")  # or "duas e vinte"?
    assert not _hour_in_digits("Código 3150", "CODIGO 3150", "pt")


def test_a_match_naming_the_hour_by_another_number_is_weighed_in_its_own_wording():
    from fala.core.validation import _heard_teen_swaps

    # "quinze para as dezessete" is 16 45, "quinze para as sete" its partner 6 45
    assert _heard_teen_swaps("Entrada, 15 para 17.", "ENTRADA 16 45", "pt") == [
        ("Entrada, 15 para dezessete.", "Entrada, 15 para sete.")
    ]
    assert _heard_teen_swaps("Entrada 15 para o 7.", "ENTRADA 06 45", "pt") == [
        ("Entrada 15 para o sete.", "Entrada 15 para o dezessete.")
    ]
    # the hour's own number is weighed in the phrase's forms, not here
    assert _heard_teen_swaps("Entrada, 3 e 40.", "ENTRADA 3 40", "pt") == []
    # a swap that does not say the partner (15 → 5 is another minute), glued or "h" times
    assert _heard_teen_swaps("Saída, 8 e 15.", "SAIDA 18 15", "pt") == []
    assert _heard_teen_swaps("Entrada, 13h40", "ENTRADA 13 40", "pt") == []
    # English says 17 15 "five fifteen p m": no "seventeen" to weigh
    assert _heard_teen_swaps("Check in 7 15", "CHECK IN 7 15", "en") == []


def test_a_partner_hour_said_only_in_digits_is_not_weighed():
    from fala.core.validation import _says_hour_in_words, spoken_forms

    # "três e quarenta", "treze e quarenta": the syllable that tells them apart can be weighed
    assert _says_hour_in_words(spoken_forms("ENTRADA 3 40", "pt"), "3", "pt")
    assert _says_hour_in_words(spoken_forms("SAIDA 18 15", "pt"), "18", "pt")
    assert _says_hour_in_words(spoken_forms("CHECK IN 9 45", "en"), "9", "en")
    # English says 19 45 "seven forty-five p m": only "19 45" names 19, in digits
    assert not _says_hour_in_words(spoken_forms("CHECK IN 19 45", "en"), "19", "en")
    assert not _says_hour_in_words(spoken_forms("CHECK OUT 17 50", "en"), "17", "en")


def test_an_hour_has_itself_with_or_without_its_teen_as_a_rival_reading():
    from fala.core.verbalize import teen_hour_misses

    assert teen_hour_misses("ENTRADA 13 40") == ["ENTRADA 3 40"]
    assert teen_hour_misses("SAIDA 3 40") == ["SAIDA 13 40"]
    assert teen_hour_misses("ENTRADA 08 30") == ["ENTRADA 18 30"]  # zero-padded stays padded
    assert teen_hour_misses("CHECK IN 19 05") == ["CHECK IN 9 05"]
    for phrase in ("ENTRADA 12 00", "ENTRADA 22 10", "ENTRADA 1 15", "CODIGO 3150"):
        assert teen_hour_misses(phrase) == []
    # Portuguese says 12 and 2 alike ("doze"/"duas"): each is the other's rival there only
    assert teen_hour_misses("ENTRADA 12 20", "pt") == ["ENTRADA 2 20"]
    assert teen_hour_misses("SAIDA 02 20", "pt") == ["SAIDA 12 20"]
    assert teen_hour_misses("CHECK IN 12 20", "en") == []


def test_a_near_miss_that_fits_the_audio_as_well_makes_the_verdict_uncertain():
    accepted = scored(-0.2)
    assert decide(accepted) == REASON_ACOUSTIC_MATCH
    rival = Evidence(**{**accepted.__dict__, "contrast_logprob": accepted.expected_logprob + 0.1})
    assert decide(rival) == REASON_UNCERTAIN


def test_the_numerals_are_read_only_when_they_could_change_an_accept():
    assert needs_numerals(scored(-0.1))  # an accept they could veto
    # a close transcript with other numbers: rejected unless they lift the near-miss rule
    assert needs_numerals(scored(-0.6, closeness=0.9, numbers_conflict=True))
    assert not needs_numerals(scored(-2.2))  # rejected whatever they say
    assert not needs_numerals(scored(-0.2, margin=0.02))  # a near miss fits as well already
    assert not needs_numerals(Evidence(True, False))
    # a heard word that vetoes the accept does not spare the pass: both are read at once
    assert needs_numerals(scored(-0.1, heard_word_leads=(5.0,)))


@pytest.mark.parametrize(
    ("form", "heard", "language", "instead"),
    [
        # the action word differs: the phrase with the heard word in its place
        (
            "Entrada, treze e quarenta.",
            "Fida, treze e p'u areta.",
            "pt",
            [("Fida, treze e quarenta.", "Entrada")],  # "quarenta"/"p'u areta": a number
        ),
        (
            "Saída, quinze para as seis da tarde.",
            "Sai da 15 para a sessão da Taji.",
            "pt",
            [
                ("Sai da, quinze para as seis da tarde.", "Saída"),
                # "quinze para as seis" is one number: "para a sessão" is not put in its place
                ("Saída, quinze para as seis da Taji.", "tarde"),
            ],
        ),
        # a number however written aligns the words around it, and only them
        (
            "Entrada, treze e quarenta.",
            "Sai da, 3ª e 40.",
            "pt",
            [("Sai da, treze e quarenta.", "Entrada")],
        ),
        (
            "Entrada, treze e quarenta.",
            "Saída, 3.40",
            "pt",
            [("Saída, treze e quarenta.", "Entrada")],
        ),
        (
            "Check in, nine forty-five.",
            "Check out 945",
            "en",
            [("Check out, nine forty-five.", "in")],
        ),
        # word for word where as many words differ: the number among them is left out
        (
            "Saída, treze e quarenta.",
            "Siva, treme, e guarenta.",
            "pt",
            [("Siva, treze e quarenta.", "Saída")],
        ),
        ("Check in, 9:45.", "Check in line 45.", "en", []),  # numbers are weighed on their own
        ("Entrada, 13 e 40.", "Entrada 13 e 40.", "pt", []),  # the same words
        ("Entrada, meio-dia.", "Entrada.", "pt", []),  # nothing heard in its place
    ],
)
def test_the_heard_words_are_put_in_place_of_the_expected_ones(form, heard, language, instead):
    from fala.core.verbalize import heard_instead

    assert heard_instead(form, heard, language) == instead


@pytest.mark.parametrize(
    ("form", "lang", "rivals"),
    [
        ("Agent logged off.", "en", ["Agent logged in.", "Agent logged out.", "Agent logged on."]),
        ("SAIDA 13 40", "pt", ["ENTRADA 13 40", "INTERVALO 13 40", "RETORNO 13 40"]),
        ("Desligado.", "pt", ["Ligado."]),
        ("Unlocked the door", "en", ["Locked the door"]),
        ("Código 3150", "pt", []),
    ],
)
def test_confusable_words_swap_the_word_a_phrase_turns_on(form, lang, rivals):
    from fala.core.verbalize import confusable_words

    assert [rival for rival, _ in confusable_words(form, lang)] == rivals


def test_with_values_puts_each_suggested_value_in_place_of_its_number():
    from fala.core.verbalize import with_values

    assert with_values("ENTRADA 8 16", (("08", "9"), ("15", "16", "18"))) == [
        "ENTRADA 9 16",
        "ENTRADA 8 15",
        "ENTRADA 8 18",
    ]
    assert with_values("CODIGO 3150", (("31",), ("50",))) == []  # a code read in two pieces
    # a shorter value is written as wide as the number it replaces: minute 5 of 8 45 is "05"
    assert with_values("ENTRADA 8 45", (("18",), ("5", "15"))) == [
        "ENTRADA 18 45",
        "ENTRADA 8 05",
        "ENTRADA 8 15",
    ]


@pytest.mark.parametrize(
    ("heard", "expected", "lang", "other"),
    [
        ("Entrada, 13 e 45.", "ENTRADA 13 40", "pt", "entrada 13 45"),
        ("Bom dia! Saída, 13 e 40.", "ENTRADA 13 40", "pt", "saida 13 40"),
        ("Intervalo 13 40", "ENTRADA 13 40", "pt", "intervalo 13 40"),
        ("Sai da 15 para a 6 da tarde.", "SAIDA 18 45", "pt", "saida 17 45"),
        ("Código 3151", "CODIGO 3150", "pt", "codigo 3151"),
        ("Check in 945", "CHECK OUT 9 45", "en", "check in 9 45"),
        ("Agent logged in.", "AGENT LOGGED OFF", "en", "agent logged in"),
        # the phrase itself; words garbled, left out or added; a word that is no rival of its own
        ("Entrada, 13 e 40.", "ENTRADA 13 40", "pt", None),
        ("Entrar, da 440.", "ENTRADA 13 40", "pt", None),
        ("Entrada, 13.", "ENTRADA 13 40", "pt", None),
        ("Check in 945", "CHECK IN 9", "en", None),
        ("Código 31500", "CODIGO 3150", "pt", None),
        ("The time is 12 29 and 5.", "THE TIME IS 12 29", "en", None),
        ("Check up at noon.", "CHECK OUT 12 00", "en", None),
        # other numbers than a listed near miss's (verbalize.near_misses), whose false accepts
        # no benchmark counts
        ("Entrada, 1220 da tarde.", "ENTRADA 14 20", "pt", None),
        ("Entrada, 3 e 40.", "ENTRADA 13 40", "pt", None),  # its "-teen" partner: step 4's
        ("Check in 945", "CHECK IN 21 46", "en", None),
        # a time heard as no time: the same one ("8 1"), or none at all ("2 60")
        ("8 1", "8 01", "en", None),
        ("2, 60", "2 50", "en", None),
    ],
)
def test_a_transcript_that_is_another_phrase_of_the_same_words_names_it(
    heard, expected, lang, other
):
    from fala.core.validation import another_phrase_heard

    assert another_phrase_heard(normalize(heard, lang), normalize(expected, lang), lang) == other


def test_another_phrase_clearly_heard_is_a_mismatch():
    # set by the engine only where the evidence would accept that phrase as a match
    heard_other = Evidence(False, False, another_phrase_heard=True)
    assert decide(heard_other) == REASON_MISMATCH
    assert confidence(REASON_MISMATCH, heard_other) == CALIBRATED_CONFIDENCE[REASON_MISMATCH]


def test_a_transcript_that_heard_the_phrase_s_digits_and_more_is_no_acoustic_match():
    from fala.core.validation import _goes_on

    # "Check in 945" for CHECK IN 9: "Check in, 9." scores per token as well as the whole
    accepted = scored(-0.7, numbers_conflict=True, closeness=0.9, numerals=((-0.1, -8.0),))
    assert decide(accepted) == REASON_ACOUSTIC_MATCH
    assert decide(replace(accepted, heard_more_digits=True)) == REASON_UNCERTAIN
    # …or where the audio more likely than not goes on with a numeral after the phrase
    assert decide(replace(accepted, numeral_after=0.89)) == REASON_UNCERTAIN
    assert decide(replace(accepted, numeral_after=0.06)) == REASON_ACOUSTIC_MATCH
    # …or where its sentence more likely than not does not end there ("Break 2" heard for "break
    # two oh four": "-" or "," next, the end 0.13), unless the thanks the transcript closes with
    # are likelier to follow than a numeral
    assert decide(replace(accepted, phrase_end=0.13)) == REASON_UNCERTAIN
    assert decide(replace(accepted, phrase_end=0.74)) == REASON_ACOUSTIC_MATCH
    thanked = replace(accepted, phrase_end=0.08, thanks_next=0.078, numeral_after=0.029)
    assert decide(thanked) == REASON_ACOUSTIC_MATCH
    assert decide(replace(thanked, numeral_after=0.09)) == REASON_UNCERTAIN
    assert decide(replace(thanked, thanks_next=0.0, numeral_after=0.0)) == REASON_UNCERTAIN
    assert _goes_on("945", "9") and _goes_on("31500", "3150")
    assert not _goes_on("945", "945") and not _goes_on("45", "945") and not _goes_on("1340", "")
    assert not _goes_on("1045", "9")


def test_a_code_heard_a_digit_at_a_time_must_lead_its_near_misses_written_that_way():
    from fala.core.validation import _code_digits_apart

    # "Código 3. 1. 5. 0." heard for CODIGO 31500: its best form writes it as one number, where
    # "31500" outscored "3150"; written a digit at a time, "3150" led by 0.6 nats a token
    accepted = scored(-0.5, margin=0.5)
    assert decide(accepted) == REASON_ACOUSTIC_MATCH
    assert decide(replace(accepted, apart_lead=-0.6)) == REASON_UNCERTAIN
    assert decide(replace(accepted, apart_lead=0.4)) == REASON_ACOUSTIC_MATCH
    forms = ["Codigo 31500.", "Codigo, três, um, cinco, zero, zero.", "Codigo, 3, 1, 5, 0, 0."]
    apart = "Codigo, 3, 1, 5, 0, 0."
    assert _code_digits_apart(forms, "CODIGO 31500", "Código 3. 1. 5. 0.") == apart
    assert _code_digits_apart(forms, "CODIGO 31500", "Código 3, 5, 0") == apart
    # heard as one number ("Código 3.150."), or not a code: the wording decides nothing more
    assert _code_digits_apart(forms, "CODIGO 31500", "Código 3.150.") is None
    assert _code_digits_apart(["Entrada, 8 e 5."], "ENTRADA 08 05", "Entrada, 8 e 5.") is None
