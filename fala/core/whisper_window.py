"""The encoder window Whisper sees, for the validator and the voice service's speech to text.

Whisper is trained on 30 s windows, but CTranslate2 encodes a shorter mel input: a window fitted
to a short clip is 4-5x cheaper to encode (15 s), and the decoder's cross-attention shrinks with
it. Too short a window makes the decoder repeat itself or mishear (whisper.cpp users keep
audio_ctx at about 10 s), so a fitted window has a floor, and a transcript is bounded by the
clip's length (`max_new_tokens`) and checked for loops (`looks_looped`).
"""

from __future__ import annotations

import math
import zlib
from dataclasses import dataclass
from typing import Any

import numpy as np

from fala.core.audio import SAMPLE_RATE

N_FRAMES = 3000  # one 30 s Whisper window of mel frames (100 a second)
# A fitted window is the clip plus WINDOW_MARGIN_FRAMES of silence, at least WINDOW_FLOOR_FRAMES,
# at most N_FRAMES. On the validator's dev split, judged wholly on a fitted window, TAR was 0.863
# at 15 s and 0.838 at 10 s (0.900 on 30 s).
WINDOW_FLOOR_FRAMES = 1500
WINDOW_MARGIN_FRAMES = 200
# A validated phrase is at most a few hundred characters; a transcript far longer than that is
# a mismatch anyway, and the cap stops a hallucination loop from decoding 448 tokens (≈2.5 s).
MAX_NEW_TOKENS = 160
# …and so does the clip's length: speech says at most about this many tokens a second (fast
# Portuguese ≈ 8), so a transcript longer than that is the decoder repeating itself.
TOKENS_PER_SECOND = 15
MIN_NEW_TOKENS = 24
# Whisper's own rules (faster-whisper's defaults): a transcript that gzip compresses more than
# this is a repetition loop; one whose no-speech probability is high *and* whose text is
# improbable is silence the decoder filled with words.
LOOP_COMPRESSION_RATIO = 2.4
NO_SPEECH_THRESHOLD = 0.6
LOG_PROB_THRESHOLD = -1.0


def encoder_window(frames: int, floor: int = WINDOW_FLOOR_FRAMES) -> int:
    """Mel frames the encoder sees for a clip of `frames`: the clip and a margin, at least
    `floor`, at most N_FRAMES, even (the encoder halves it)."""
    window = min(N_FRAMES, max(floor, frames + WINDOW_MARGIN_FRAMES))
    return window + window % 2


def max_new_tokens(seconds: float, cap: int = MAX_NEW_TOKENS) -> int:
    """The most tokens a transcript of `seconds` of speech can need, at most `cap`."""
    return min(cap, MIN_NEW_TOKENS + math.ceil(TOKENS_PER_SECOND * seconds))


def compression_ratio(text: str) -> float:
    data = text.encode()
    return len(data) / len(zlib.compress(data)) if data else 0.0


def looks_looped(text: str) -> bool:
    return compression_ratio(text) > LOOP_COMPRESSION_RATIO


def filled_silence(text: str, avg_logprob: float, no_speech_prob: float) -> bool:
    """Whisper's no-speech rule, plus: a repetition loop ("o que é o que é …") is not evidence
    of speech either."""
    improbable = avg_logprob < LOG_PROB_THRESHOLD or looks_looped(text)
    return no_speech_prob > NO_SPEECH_THRESHOLD and improbable


@dataclass(frozen=True)
class Greedy:
    """One greedy transcript of an encoded window."""

    tokens: tuple[int, ...]  # text tokens, no end of text
    text: str
    avg_logprob: float  # -inf when there is no token
    no_speech_prob: float
    filled_its_bound: bool  # stopped by max_new_tokens, not by the end of text: likely a loop
    logits: Any = None  # each step's vocabulary logits, when asked for


def greedy(
    model: Any,
    encoded: Any,
    tokenizer: Any,
    seconds: float,
    *,
    cap: int = MAX_NEW_TOKENS,
    beam_size: int = 1,
    vocab_logits: bool = False,
) -> Greedy:
    """The transcript of `seconds` of speech from `encoded` under a faster-whisper `WhisperModel`
    and its `Tokenizer`: no timestamps, no prompt, no temperature fallback, at most
    `max_new_tokens(seconds, cap)` tokens."""
    prompt = [*tokenizer.sot_sequence, tokenizer.no_timestamps]
    room = max_new_tokens(seconds, cap)
    result = model.model.generate(
        encoded,
        [prompt],
        beam_size=beam_size,
        max_length=len(prompt) + room,
        return_scores=True,
        return_no_speech_prob=True,
        return_logits_vocab=vocab_logits,
        suppress_blank=True,
        suppress_tokens=[-1],
    )[0]
    tokens = tuple(t for t in result.sequences_ids[0] if t < tokenizer.eot)
    return Greedy(
        tokens=tokens,
        text=tokenizer.decode(list(tokens)).strip(),
        # CTranslate2's score is the summed log-probability divided by the length.
        avg_logprob=float(result.scores[0]) if tokens else -math.inf,
        no_speech_prob=float(result.no_speech_prob),
        filled_its_bound=len(tokens) >= room,
        logits=result.logits[0] if vocab_logits else None,
    )


def encode(
    model: Any, audio: np.ndarray, *, fitted: bool, floor: int = WINDOW_FLOOR_FRAMES
) -> tuple[Any, int, int]:
    """(encoder output, the clip's mel frames, the window's frames) of the first 30 s of 16 kHz
    `audio` under a faster-whisper `WhisperModel`: over Whisper's 30 s window, or with `fitted`
    over one fitted to the clip (`encoder_window`, at least `floor` frames)."""
    from faster_whisper.audio import pad_or_trim

    features = model.feature_extractor(audio[: 30 * SAMPLE_RATE])
    frames = min(features.shape[-1], N_FRAMES)
    window = encoder_window(frames, floor) if fitted else N_FRAMES
    return model.encode(pad_or_trim(features[:, :window], length=window)), frames, window
