"""The speech-validation engine: did the audio say the expected text?

One code path for every entry point (Function URL, state machine task, local emulation).

Decision (`decide`): the free greedy transcript is the primary evidence. It is validated
("match") when the transcript and the expected text have the same `comparison_key` (see
fala.core.normalize: case, accents, punctuation, number words, time formats and hesitations do
not matter) — an equality, not "the expected words appear somewhere". When they differ, the
expected phrase (rendered as written and in words, fala.core.verbalize) is *scored* under the
model with the audio — one batched teacher-forced pass over the cached encoder output — and
accepted ("acoustic match") only when it is nearly as likely as the free transcript, no token of
it is implausible, it is clearly more likely than every near miss (another hour, minute or
digit, scored the same way), at no numeral of it does the audio clearly prefer another
numeral (every one-numeral substitution, read from one pass over its form in digits), and at no
word of it does the audio clearly prefer the word the transcript has in its place ("Saída" for
"Entrada"). Words are scored as the model writes them: with the transcript's or the language's
spelling (fala.core.spelling), tokenized as the model tokenizes (fala.core.whisper_tokenizer).
Biased or prompted decoding is never used: the model is never asked to say the phrase.
"uncertain" (a reject) covers the band between.

`confidence` is the probability that the audio says the expected phrase given the outcome: the
share of the labelled corpus' dev clips with that outcome that say it (CALIBRATED_CONFIDENCE).
"""

from __future__ import annotations

import dataclasses
import difflib
import functools
import logging
import math
import os
import time
import unicodedata
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from fala.core.audio import SAMPLE_RATE
from fala.core.errors import InvalidAudio, InvalidExpectedSpeech, UnsupportedLanguage
from fala.core.models import Validation
from fala.core.normalize import comparison_key, language_family, normalize, numbers_to_digits
from fala.core.phrase_language import PHRASE_LANGUAGES, language_of, load_word_lists
from fala.core.spelling import spelled_as_heard
from fala.core.verbalize import form_like, heard_instead, near_misses, spoken_forms
from fala.core.whisper_tokenizer import with_all_merges

logger = logging.getLogger(__name__)

# Accepted language tags (case-insensitive) → Whisper language code.
LANGUAGES = {"pt-br": "pt", "pt": "pt", "en": "en", "en-us": "en", "en-gb": "en"}
SUPPORTED_LANGUAGES = ("pt-BR", "pt", "en", "en-US", "en-GB")
AUTO_LANGUAGE = "auto"  # what a caller sends to ask for detection

REASON_MATCH = "match"
REASON_MISMATCH = "mismatch"
REASON_NO_SPEECH = "no speech"
REASON_ACOUSTIC_MATCH = "acoustic match"  # transcript differs in form, the audio scores the phrase
REASON_UNCERTAIN = "uncertain"  # not enough evidence either way: a reject

DEFAULT_MAX_EXPECTED_CHARS = 200
# Below this RMS level (about -60 dBFS) there is nothing to hear; skip the model entirely.
SILENCE_RMS = 1e-3
# The expected text is at most a few hundred characters; a transcript far longer than that is a
# mismatch anyway, and the cap stops a hallucination loop from decoding 448 tokens (≈2.5 s).
MAX_NEW_TOKENS = 160
# Whisper's own no-speech rule (faster-whisper defaults): a segment whose no-speech probability
# is high *and* whose text is improbable is silence the decoder filled with words.
NO_SPEECH_THRESHOLD = 0.6
LOG_PROB_THRESHOLD = -1.0
N_FRAMES = 3000  # one 30 s Whisper window of mel frames
# Scoring cross-attends only to the encoder positions that hold the clip plus this much of the
# padding after it (one position per 20 ms: 100 = 2 s), not to all 1,500 of the 30 s window: the
# decoder's cross-attention keys and values are computed per candidate, so this makes a scoring
# pass ~6x cheaper (3.7 s clip, 8 candidates: 1,047 → 163 ms) while moving per-token scores by
# ≤ 0.2 nats — and every score compared in a decision comes from the same trimmed pass. The free
# transcript keeps the whole window it was trained on: trimmed, 89 of 157 dev transcripts changed.
SCORE_TAIL_POSITIONS = 100


def resolve_language(language: str | None) -> str | None:
    """Whisper's code for an accepted tag; None (or "auto") means detect."""
    if language is None or language.strip().lower() in ("", AUTO_LANGUAGE):
        return None
    code = LANGUAGES.get(language.strip().lower().replace("_", "-"))
    if code is None:
        raise UnsupportedLanguage(
            f"Language {language!r} is not supported; use one of "
            f"{', '.join(SUPPORTED_LANGUAGES)}, or {AUTO_LANGUAGE!r} to detect it."
        )
    return code


def check_expected_speech(expected: str | None, *, max_chars: int) -> str:
    """The expected text, stripped; raises InvalidExpectedSpeech when it cannot be compared."""
    if expected is None or not expected.strip():
        raise InvalidExpectedSpeech(
            "expected_speech is empty; send the words the audio should contain, "
            'e.g. "ENTRADA 13 40".'
        )
    text = expected.strip()
    if len(text) > max_chars:
        raise InvalidExpectedSpeech(
            f"expected_speech has {len(text)} characters; the limit is {max_chars}. "
            "Validate a shorter phrase."
        )
    controls = sorted({f"U+{ord(c):04X}" for c in text if unicodedata.category(c) == "Cc"})
    if controls:
        raise InvalidExpectedSpeech(
            f"expected_speech contains control characters ({', '.join(controls)}); "
            "send plain text on one line."
        )
    if not normalize(text, "pt") and not normalize(text, "en"):
        raise InvalidExpectedSpeech(
            f"expected_speech {text!r} has no words to compare (only punctuation or "
            "hesitations); send the words the audio should contain."
        )
    return text


@dataclass(frozen=True)
class Transcript:
    text: str
    language: str  # Whisper code, requested or detected
    confidence: float
    no_speech: bool
    tokens: tuple[int, ...] = ()
    avg_logprob: float = 0.0
    no_speech_prob: float = 0.0


@dataclass(frozen=True)
class Evidence:
    """What the decision is made from (all log-probabilities are per-token means, nats)."""

    free_matches: bool  # the free transcript normalizes to the expected phrase
    no_speech: bool
    free_logprob: float = 0.0  # the free transcript, teacher-forced
    expected_logprob: float = -math.inf  # the best spoken form of the expected phrase
    expected_min_logprob: float = -math.inf  # its least likely token
    expected_form: str = ""
    closeness: float = 0.0  # difflib ratio of the two comparison keys
    numbers_conflict: bool = False  # the transcript heard numbers, and other ones
    # the best near miss (another hour, minute, digit — verbalize.near_misses), said the same way
    contrast_logprob: float = -math.inf
    contrast_form: str = ""
    # each numeral of the phrase's best form in digits: (log P of it, log P of the likeliest other
    # numeral of its length) at its place in the sentence — every one-numeral substitution
    numerals: tuple[tuple[float, float], ...] = ()
    # each span of words the transcript has in place of the phrase's ("Fida" for "Entrada"):
    # how much likelier the phrase is with the heard words, per token of the expected ones
    heard_word_leads: tuple[float, ...] = ()

    @property
    def gap(self) -> float:
        """How far (nats/token) the expected phrase scores below the free transcript, negated."""
        return self.expected_logprob - self.free_logprob

    @property
    def plausible(self) -> bool:
        """No token of the expected phrase is one the audio does not support."""
        return self.expected_min_logprob >= MIN_TOKEN_LOGPROB

    @property
    def numeral_support(self) -> float:
        """The smallest lead (nats) of an expected numeral over its likeliest rival."""
        return min((mine - rival for mine, rival in self.numerals), default=-math.inf)

    @property
    def another_numeral_heard(self) -> bool:
        """At some numeral the audio clearly says another one ("45" where 40 was expected)."""
        return any(
            rival >= RIVAL_NUMERAL_LOGPROB and rival - mine >= RIVAL_NUMERAL_LEAD
            for mine, rival in self.numerals
        )

    @property
    def another_word_heard(self) -> bool:
        """At some word the audio clearly says what was heard ("Saída" where "Entrada" was
        expected), as clearly as a numeral must be outscored to be vetoed."""
        return any(lead >= RIVAL_NUMERAL_LEAD for lead in self.heard_word_leads)


# Thresholds of the acoustic decision, set on the corpus' dev split (tests/benchmarks/
# bench_accuracy.py, evidence dumped per clip in .fala/bench/accuracy.json); see `decide`.
# The expected phrase may be this far (nats/token) below the free transcript when it also beats
# every near miss (the free transcript of diphone or accented speech is often garbled: "Sai da,
# desotão e quinze" for "Saída, dezoito e quinze")…
ACCEPT_GAP = 1.6
# …by at least this much per token, and by more the further it is below the free transcript.
# (Session 8: 1.25 and 0.2 were set before the numeral and word vetoes existed; with them, dev
# accepts 74 of 80 positives at 1.6 and 0.05 against 70 — and no negative on 1.55 to 3.0.)
CONTRAST_MARGIN = 0.05
CONTRAST_SLOPE = 0.5  # extra margin per nat/token of gap beyond UNCONTRASTED_GAP
UNCONTRASTED_GAP = 0.7  # a phrase without numbers has no near misses: a stricter gap instead.
UNCERTAIN_GAP = 2.0  # between the accept gap and this: "uncertain"; beyond: "mismatch"
MIN_TOKEN_LOGPROB = -9.0  # no token of the expected phrase may be less likely than this
# A transcript this close to the expected phrase that heard *other* numbers ("Check in 955" for
# CHECK IN 9 45) is a likely near miss: the expected phrase must then be nearly as likely as
# what was heard. One changed digit moves a per-token mean only a little, hence the small gap.
NEAR_MISS_CLOSENESS = 0.75
NEAR_MISS_GAP = 0.4
# …unless the audio prefers every expected numeral to every other by this much (nats): then the
# transcript misheard a number ("Check in line 45" for "nine forty-five").
NUMERAL_SUPPORT = 1.0
# A numeral whose likeliest rival is this likely (log P) and this far ahead (nats) was not said.
# One teacher-forced pass gives the whole distribution at each numeral, so every substitution
# is compared, not only the scored near misses (8091 for 8061 is not one of those).
RIVAL_NUMERAL_LOGPROB = -1.5
RIVAL_NUMERAL_LEAD = 3.0


# `confidence` per outcome: the share of the corpus' dev clips with that outcome that say the
# phrase, add-one smoothed ((positives + 1) / (clips + 2)), so that it reads as a probability.
# The two accepts are one group: neither accepted a negative, and a per-outcome fit would only
# rank them by their number of clips. "no speech" is 0: nothing was heard. `make bench-accuracy`
# refits these on dev, prints them next to these values and measures them (Brier score,
# reliability) on the holdout splits. Session 10 fit: accepts 74/74, uncertain 2/20, mismatch 4/60.
CALIBRATED_CONFIDENCE = {
    REASON_MATCH: 0.99,
    REASON_ACOUSTIC_MATCH: 0.99,
    REASON_UNCERTAIN: 0.14,
    REASON_MISMATCH: 0.08,
    REASON_NO_SPEECH: 0.0,
}


def needs_contrast(ev: Evidence) -> bool:
    """Whether the near misses must be scored: only when the phrase could be accepted."""
    return not ev.free_matches and not ev.no_speech and ev.plausible and ev.gap >= -ACCEPT_GAP


def needs_numerals(ev: Evidence) -> bool:
    """Whether the numerals must be read (a teacher-forced pass of ~10 ms per token): only when
    the phrase would be accepted were every numeral supported — they can only veto an accept or
    lift the near-miss rule."""
    uncontested = dataclasses.replace(ev, numerals=((0.0, -math.inf),), heard_word_leads=())
    return decide(uncontested) == REASON_ACOUSTIC_MATCH


def decide(ev: Evidence) -> str:
    """The outcome (reason) the evidence supports; its confidence is CALIBRATED_CONFIDENCE.

    1. No speech → "no speech". The free (unbiased) transcript matches → "match".
    2. Otherwise the expected phrase is *scored* (teacher-forced, never generated, in each way it
       is said — fala.core.verbalize) and accepted ("acoustic match") only when none of its
       tokens is implausible (≥ MIN_TOKEN_LOGPROB), its best form is within ACCEPT_GAP
       nats/token of the free transcript (NEAR_MISS_GAP when the transcript is a close phrase
       with other numbers; UNCONTRASTED_GAP when the phrase has no numbers), and it beats every
       near miss said the same way — another hour, minute, half of the day or digit — by
       CONTRAST_MARGIN, more the weaker its score (CONTRAST_SLOPE): a per-token mean dilutes one
       changed digit, a direct comparison does not.
       A near miss that fits as well, or a numeral where the audio clearly says another one
       (Evidence.another_numeral_heard), or a word where it clearly says the one the transcript
       has in its place (Evidence.another_word_heard) → "uncertain". A close transcript with
       other numbers is not held to NEAR_MISS_GAP when the audio prefers every expected
       numeral (NUMERAL_SUPPORT).
    3. Short of that but within UNCERTAIN_GAP → "uncertain" (a reject); else "mismatch".
    """
    if ev.no_speech:
        return REASON_NO_SPEECH
    if ev.free_matches:
        return REASON_MATCH
    gap, plausible = ev.gap, ev.plausible
    near_miss = ev.numbers_conflict and ev.closeness >= NEAR_MISS_CLOSENESS
    near_miss = near_miss and ev.numeral_support < NUMERAL_SUPPORT
    if near_miss:
        accept_gap = NEAR_MISS_GAP
    else:
        accept_gap = ACCEPT_GAP if ev.contrast_form else UNCONTRASTED_GAP
    if plausible and gap >= -accept_gap:
        margin = CONTRAST_MARGIN + CONTRAST_SLOPE * max(0.0, -gap - UNCONTRASTED_GAP)
        if (
            ev.expected_logprob - ev.contrast_logprob < margin
            or ev.another_numeral_heard
            or ev.another_word_heard
        ):
            return REASON_UNCERTAIN  # a near miss, numeral or heard word fits as well
        return REASON_ACOUSTIC_MATCH
    if near_miss or not plausible or gap < -UNCERTAIN_GAP:
        return REASON_MISMATCH
    return REASON_UNCERTAIN


def numbers_in(normalized: str) -> str:
    return "".join(t for t in normalized.split() if t.isdecimal())


class SpeechValidator:
    """Whisper (CTranslate2) loaded once per process; `validate` is safe to call repeatedly."""

    def __init__(
        self,
        model_dir: str | Path,
        *,
        compute_type: str = "int8",
        cpu_threads: int | None = None,
        beam_size: int = 1,
        max_expected_chars: int = DEFAULT_MAX_EXPECTED_CHARS,
    ) -> None:
        model_path = Path(model_dir)
        if not (model_path / "model.bin").is_file():
            # Checked here because faster-whisper would take an unknown path for a hub model
            # name and try to download it.
            raise FileNotFoundError(f"No Whisper model (model.bin) in {model_path}")
        from faster_whisper import WhisperModel  # heavy import, only where a model is built

        self.cpu_threads = cpu_threads or available_cpus()
        self.beam_size = beam_size
        self.max_expected_chars = max_expected_chars
        started = time.perf_counter()
        self.model = WhisperModel(
            str(model_path),
            device="cpu",
            compute_type=compute_type,
            cpu_threads=self.cpu_threads,
            local_files_only=True,
        )
        # Scoring encodes text: it must encode it as the model writes it (see whisper_tokenizer).
        self.model.hf_tokenizer = with_all_merges(self.model.hf_tokenizer)
        load_word_lists()  # read once here, not in the first request
        self.load_seconds = time.perf_counter() - started
        logger.info(
            "Whisper model loaded",
            extra={"model_dir": str(model_path), "seconds": round(self.load_seconds, 3)},
        )

    def transcribe(self, audio: np.ndarray, whisper_language: str | None) -> Transcript:
        transcript, _ = self._transcribe(audio, whisper_language)
        return transcript

    def _transcribe(self, audio: np.ndarray, whisper_language: str | None):
        """Free greedy transcript and the encoder output (reused by `_score`)."""
        if audio.size == 0:
            raise InvalidAudio("The audio has no samples.")
        if float(np.sqrt(np.mean(np.square(audio, dtype=np.float64)))) < SILENCE_RMS:
            return Transcript("", whisper_language or "", 0.0, no_speech=True), None
        from faster_whisper.audio import pad_or_trim
        from faster_whisper.tokenizer import Tokenizer

        # One 30 s window, one encoder pass, greedy, no timestamps, no temperature fallback:
        # the floor is one encoder pass plus a few decoder steps.
        features = self.model.feature_extractor(audio[: 30 * SAMPLE_RATE])
        frames = min(features.shape[-1], N_FRAMES)
        encoded = self.model.encode(pad_or_trim(features[:, :N_FRAMES]))
        language = whisper_language or self._detect_language(encoded)
        tokenizer = Tokenizer(self.model.hf_tokenizer, True, task="transcribe", language=language)
        prompt = [*tokenizer.sot_sequence, tokenizer.no_timestamps]
        result = self.model.model.generate(
            encoded,
            [prompt],
            beam_size=self.beam_size,
            max_length=len(prompt) + MAX_NEW_TOKENS,
            return_scores=True,
            return_no_speech_prob=True,
            suppress_blank=True,
            suppress_tokens=[-1],
        )[0]
        tokens = tuple(t for t in result.sequences_ids[0] if t < tokenizer.eot)
        # CTranslate2's score is the summed log-probability divided by the length.
        avg_logprob = float(result.scores[0]) if tokens else -math.inf
        text = tokenizer.decode(list(tokens)).strip()
        # Whisper's no-speech rule, plus: a repetition loop ("o que é o que é …", compression
        # ratio above Whisper's 2.4) is not evidence of speech either.
        improbable = avg_logprob < LOG_PROB_THRESHOLD or _compression_ratio(text) > 2.4
        silent = result.no_speech_prob > NO_SPEECH_THRESHOLD and improbable
        if silent or not text:
            return Transcript("", language, 0.0, no_speech=True), None
        transcript = Transcript(
            text=text,
            language=language,
            confidence=min(max(math.exp(avg_logprob), 0.0), 1.0),
            no_speech=False,
            tokens=tokens,
            avg_logprob=avg_logprob,
            no_speech_prob=float(result.no_speech_prob),
        )
        # Scoring sees the clip and a little padding (SCORE_TAIL_POSITIONS), not the whole window.
        positions = min(N_FRAMES // 2, frames // 2 + SCORE_TAIL_POSITIONS)
        memory = np.ascontiguousarray(np.asarray(encoded)[:, :positions])
        return transcript, (memory, frames, tokenizer)

    def _detect_language(self, encoded) -> str:
        """The likeliest language Fala compares, for a phrase whose words do not tell (digits,
        names): Whisper often takes Brazilian Portuguese for Spanish or Galician, and a
        transcript in another language can never match the phrase."""
        ranked = self.model.model.detect_language(encoded)[0]
        return next(code for token, _ in ranked if (code := token.strip("<|>")) in PHRASE_LANGUAGES)

    def _score(self, state, candidates: list[list[int]]) -> list[np.ndarray]:
        """Teacher-forced log-probability of each token of each candidate, given the audio.

        One batched decoder pass over the cached encoder output (CTranslate2 `align`)."""
        import ctranslate2

        memory, frames, tokenizer = state
        batch = np.repeat(memory, len(candidates), axis=0)
        results = self.model.model.align(
            ctranslate2.StorageView.from_array(batch),
            list(tokenizer.sot_sequence),  # align appends <|notimestamps|> itself
            candidates,
            [frames] * len(candidates),
        )
        return [np.log(np.maximum(np.asarray(r.text_token_probs), 1e-9)) for r in results]

    def gather_evidence(
        self, audio: np.ndarray, expected: str, whisper_language: str | None
    ) -> tuple[Transcript, Evidence, str, str]:
        transcript, state = self._transcribe(audio, whisper_language)
        lang = transcript.language or whisper_language
        normalized_spoken = normalize(transcript.text, lang)
        normalized_expected = normalize(expected, lang)
        if transcript.no_speech or not normalized_spoken or state is None:
            return transcript, Evidence(False, True), normalized_spoken, normalized_expected
        spoken_key = comparison_key(normalized_spoken)
        expected_key = comparison_key(normalized_expected)
        if spoken_key == expected_key:
            return transcript, Evidence(True, False), normalized_spoken, normalized_expected
        tokenizer = state[2]
        family = language_family(lang)
        forms = spoken_forms(spelled_as_heard(expected, transcript.text, family), family)
        candidates = [list(transcript.tokens)] + [tokenizer.encode(" " + f) for f in forms]
        scores = self._score(state, candidates)
        free = float(scores[0].mean())
        best = max(range(1, len(scores)), key=lambda i: float(scores[i].mean()))
        spoken_numbers = numbers_in(normalized_spoken)
        ev = Evidence(
            free_matches=False,
            no_speech=False,
            free_logprob=free,
            expected_logprob=float(scores[best].mean()),
            expected_min_logprob=float(scores[best].min()),
            expected_form=forms[best - 1],
            closeness=difflib.SequenceMatcher(None, spoken_key, expected_key).ratio(),
            numbers_conflict=bool(spoken_numbers)
            and spoken_numbers != numbers_in(normalized_expected),
        )
        if needs_contrast(ev):
            ev = self._contrast(state, ev, scores[best], expected, transcript.text, family)
        if needs_numerals(ev):
            # The best form as said, its numbers in digits: weighing the numerals of another
            # wording ("17 e 45" for "quinze para as seis") would weigh numbers never said.
            in_digits = tokenizer.encode(" " + numbers_to_digits(ev.expected_form, family))
            ev = dataclasses.replace(ev, numerals=self._numerals(state, in_digits))
        return transcript, ev, normalized_spoken, normalized_expected

    def _contrast(
        self, state, ev: Evidence, own: np.ndarray, expected: str, heard: str, lang: str
    ) -> Evidence:
        """`ev` with its rivals scored, in a second, small pass paid only when the phrase could be
        accepted on its score: the best near miss of the expected phrase, said the same way, and
        the phrase with the transcript's words in place of each span of its words they differ
        in (fala.core.verbalize.heard_instead). `own` is the phrase's per-token score from the
        first pass (a candidate's score does not depend on its batch: they agree to 1e-6)."""
        tokenizer = state[2]
        forms = [
            form_like(spelled_as_heard(p, heard, lang), lang, ev.expected_form)
            for p in near_misses(expected)
        ]
        forms = list(dict.fromkeys(f for f in forms if f != ev.expected_form))
        instead = heard_instead(ev.expected_form, heard, lang)
        if not forms and not instead:
            return ev
        candidates = [*(f for f, _ in instead), *forms]
        scores = self._score(state, [tokenizer.encode(" " + f) for f in candidates])
        with_heard, near = scores[: len(instead)], scores[len(instead) :]
        leads = tuple(
            (float(s.sum()) - float(own.sum())) / len(tokenizer.encode(" " + words))
            for s, (_, words) in zip(with_heard, instead, strict=True)
        )
        ev = dataclasses.replace(ev, heard_word_leads=leads)
        if not near:
            return ev
        best = max(range(len(near)), key=lambda i: float(near[i].mean()))
        return dataclasses.replace(
            ev, contrast_logprob=float(near[best].mean()), contrast_form=forms[best]
        )

    def _numerals(self, state, form: list[int]) -> tuple[tuple[float, float], ...]:
        """(log P of each numeral token of `form`, log P of its likeliest rival of the same length)
        at its place, from the vocabulary distribution of one teacher-forced pass."""
        import ctranslate2

        memory, _, tokenizer = state
        places = [(j, t) for j, t in enumerate(form) if t in self._numeral_tokens]
        if not places:
            return ()
        # Forced tokens are decoded one step each (~10 ms): stop at the last numeral.
        form = form[: places[-1][0] + 1]
        prompt = [*tokenizer.sot_sequence, tokenizer.no_timestamps, *form]
        result = self.model.model.generate(
            ctranslate2.StorageView.from_array(memory),
            [prompt],
            beam_size=1,
            # the logits of every forced position come back only with room to decode past them
            max_length=len(prompt) + len(form) + 4,
            return_logits_vocab=True,
            suppress_blank=False,
            suppress_tokens=[],
        )[0]
        logits = np.asarray(result.logits[0], dtype=np.float64)
        if logits.shape[0] < len(form):  # not expected; then there is no numeral evidence
            return ()
        out = []
        for j, token in places:
            row = logits[j] - logits[j].max()
            logp = row - np.log(np.exp(row).sum())
            rivals = self._numeral_tokens[token]
            out.append((float(logp[token]), float(logp[rivals].max())))
        return tuple(out)

    @functools.cached_property
    def _numeral_tokens(self) -> dict[int, np.ndarray]:
        """Each numeral token (" 45", "7", " 1815"…) → the other numeral tokens it can be
        mistaken for: as many digits, the same leading space."""
        shapes = {}  # numeral token → (leading space, length)
        for piece, token in self.model.hf_tokenizer.get_vocab().items():
            text = piece.replace("Ġ", " ")  # byte-level BPE writes a leading space as Ġ
            digits = text.removeprefix(" ")
            if digits.isascii() and digits.isdigit():
                shapes[token] = (text != digits, len(digits))
        alike: dict[tuple[bool, int], list[int]] = {}
        for token, shape in shapes.items():
            alike.setdefault(shape, []).append(token)
        return {
            token: np.array([t for t in alike[shape] if t != token])
            for token, shape in shapes.items()
            if len(alike[shape]) > 1
        }

    def validate(
        self,
        audio: np.ndarray,
        expected_speech: str,
        language: str | None,
        *,
        max_expected_chars: int | None = None,
    ) -> Validation:
        """Transcribe `audio` (16 kHz mono float32) and compare it with `expected_speech`."""
        return self.assess(audio, expected_speech, language, max_expected_chars=max_expected_chars)[
            0
        ]

    def assess(
        self,
        audio: np.ndarray,
        expected_speech: str,
        language: str | None,
        *,
        max_expected_chars: int | None = None,
    ) -> tuple[Validation, Evidence]:
        """`validate`, plus the evidence the verdict was made from (for benchmarks, logs)."""
        expected = check_expected_speech(
            expected_speech, max_chars=max_expected_chars or self.max_expected_chars
        )
        # "auto": the phrase's own language when its words tell, else the audio's (see
        # fala.core.phrase_language)
        requested = resolve_language(language)
        whisper_language = requested or language_of(expected)
        language_source = "request" if requested else "phrase" if whisper_language else "audio"
        started = time.perf_counter()
        transcript, evidence, normalized_spoken, normalized_expected = self.gather_evidence(
            audio, expected, whisper_language
        )
        reason = decide(evidence)
        logger.info(
            "Speech validated",
            extra={
                "reason": reason,
                "language": transcript.language,
                "language_source": language_source,
                "audio_seconds": round(audio.size / SAMPLE_RATE, 2),
                "seconds": round(time.perf_counter() - started, 3),
            },
        )
        validation = Validation(
            validated=reason in (REASON_MATCH, REASON_ACOUSTIC_MATCH),
            spoken_text_in_audio=transcript.text,
            expected_speech=expected,
            normalized_expected=normalized_expected,
            normalized_spoken=normalized_spoken,
            confidence=CALIBRATED_CONFIDENCE[reason],
            language=_reported_language(language, transcript.language),
            reason=reason,
        )
        return validation, evidence


def _compression_ratio(text: str) -> float:
    data = text.encode()
    return len(data) / len(zlib.compress(data)) if data else 0.0


@functools.cache
def shared_validator(model_dir: str) -> SpeechValidator:
    """The process-wide validator for `model_dir`: every entry point in a process (the API and
    task handlers, the local emulation, the tests) shares one loaded model."""
    return SpeechValidator(model_dir)


def _reported_language(requested: str | None, detected: str) -> str:
    """The caller's tag in canonical case ("pt-BR"), else the detected Whisper code."""
    if requested and resolve_language(requested):
        wanted = requested.strip().lower().replace("_", "-")
        return next(tag for tag in SUPPORTED_LANGUAGES if tag.lower() == wanted)
    return detected or "unknown"


def available_cpus() -> int:
    """CPUs this process may run on (the Lambda/cgroup share, not the host's count)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux (a developer's Mac)
        return os.cpu_count() or 1
