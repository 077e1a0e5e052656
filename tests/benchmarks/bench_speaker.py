"""Speaker verification (issue #24): fala.core.speaker's GE2E embedding on real recorded voices.

    .venv/bin/python -m tests.benchmarks.bench_speaker [--quick] [--check] [--renders clean,gsm]
        [--enrolment clean|matched] [--enrolment-clips 3-10] [--threshold T]
        [--telephone-threshold T]

Voices: Debian's telephony prompt packs, each one professional speaker (fetched with `apt-get
download` into .fala/cache/speakers/, never committed, like the expressive voices below; all are
8 kHz recordings, two of them GSM 06.10 files, decoded and resampled to 16 kHz like any upload):

    fit half     allison (en-US, asterisk-core-sounds-en-wav), ivrvoice_ru (ru-RU, -ru-wav),
                 carlo (it-IT, male, -it-wav), menardi (it-IT, asterisk-prompt-it-menardi-wav)
    report half  june (fr-CA, asterisk-core-sounds-fr-wav), armelle (fr-FR, GSM,
                 asterisk-prompt-fr-armelle), july (es-CO, GSM, asterisk-prompt-es-co)

Each voice is enrolled with ENROLMENT_PROMPTS (3, or --enrolment-clips) clean prompts as
fala.core.voiceprints enrols (two voiceprints: the mean of their embeddings, and of their
embeddings through fala.core.audio.telephone_channel) and tried with up to --max-trials other
prompts of 2-8 s (the same ones for enrolments of 3 to 5), rendered (clean, phone8k: the 300-3400
Hz channel, gsm: a GSM 06.10 round trip, noise10: pink noise at 10 dB SNR; bench_robust's renders),
against every enrolment: its own (target) and the others' (non-target). With --enrolment matched
the enrolment prompts go through the same render as the trials they are scored against (one
enrolment per voice and render: users who enrol and punch on the same phone or device); the
default, clean, enrols every voice once with the prompts as recorded. A trial counts in the fit
half or the report half when both voices are in it (a cross-half non-target counts in neither and
only in `EER all`). The threshold is fitted on the fit half only (the lowest score with FAR <=
FIT_FAR in every render) and printed next to DEFAULT_THRESHOLD, which was set from it; then the
telephone voiceprint's, with the wideband one at --threshold (the lowest at which it adds no false
accept in any render), next to TELEPHONE_THRESHOLD. EERs are the wideband voiceprint's; FAR
and FRR are the check's (either voiceprint at its threshold, as fala.core.voiceprints.compare
decides), next to the FRR of the wideband one alone, on the report half only. The benchmark's
telephone render (bench_robust.phone8k) is not the channel model the telephone voiceprint is made
with, so the telephone rows are a channel the check was not built from (but the fit half chose the
model's settings on it: the report half is what counts). --renders also takes other telephone
lines (LINE_NAMES: the voiceprint's own channel model, a gentler and a steeper band, phone8k
followed by GSM), to check that impostors stay out on a line just like the model's, and the
codecs phone apps send (CODEC_NAMES: Opus at 12 kbit/s, MP3 at 32 kbit/s).

Caveats, printed too: the speakers differ in language (and partly in channel: two packs are GSM
files), so most non-target pairs are easier than two people of one language on one phone line;
the same-language non-targets (fr: june x armelle; it: carlo x menardi, in the fit half) are
reported on their own. `allison_es` (asterisk-core-sounds-es-wav, es-MX) is the same person as
`allison`: her Spanish prompts against her English enrolment give a cross-language target rate.
With espeak-ng installed, `espeak_pt` adds a synthetic same-language split: pt-BR espeak-ng voice
variants as "different speakers" (formant synthesis, not people; reported on its own).

Expressive voices, reported on their own and never fitted on: the acted dialogue of the game Fish
Fillets NG (`fillets-ng-data-cs`, `-nl`: full-band OGG, hundreds of lines per character), the
small and the big fish of Czech and Dutch (cs_small, cs_big, nl_small, nl_big), so each language
has two people, and the lines are spoken in character (jokes, complaints, whispers), unlike the
prompts' even reading. Volunteers, reported on their own and never fitted on either: the words
of KTuberling (`ktuberling-data`: 13 languages, 70-210 words each; fr at 8 kHz, the others 22-44
kHz) and the letters and syllables of KLettres (`klettres-data`: 14 languages, pt-BR among them),
each language recorded by one person at home, a voice's recordings joined in a seeded order into
3.5 s utterances (join_words: single words are too short to embed): no reading voice, no
studio, no telephone, the nearest these packages come to users' own phones. Whether the two games'
recordings of one language are one person is not known: their pairs count as same-language
non-targets (FAR same).
Also printed: FAR/FRR of the clean trials at other thresholds (for a
deployment choosing its own `speaker_threshold`), and how often the enrolment agreement check
(fala.core.voiceprints.ENROLMENT_AGREEMENT) refuses one voice's own clips and catches a mix-up
(the last clip another voice's) on random enrolments of 3 and 5 clean trial prompts, and how
often it refuses one voice's two clean clips with a third through another render.

Also timed: the embedding of one 3-4 s prompt per request (p50, in a child process per BLAS
thread count), the extra cost on top of validation. Writes everything to .fala/bench/speaker.json.
--check exits 1 when a render of the report half has EER > 3 % or FAR > 1 % at the threshold.
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import io
import json
import os
import random
import shutil
import subprocess
import sys
import time
import wave
from pathlib import Path

import av
import numpy as np
import soxr

from fala.core.audio import (
    SAMPLE_RATE,
    decode_audio,
    filter_graph,
    telephone_channel,
    through_8k,
)
from fala.core.errors import InvalidAudio
from fala.core.speaker import (
    DEFAULT_THRESHOLD,
    TELEPHONE_THRESHOLD,
    SpeakerEncoder,
    SpeechTooShort,
)
from fala.core.voiceprints import ENROLMENT_AGREEMENT, agreements
from fala.core.wav import to_pcm16, wav_bytes
from tests.benchmarks.bench_accuracy import ROOT
from tests.benchmarks.bench_robust import (
    available_renders,
    clock_phrase,
    espeak_variants,
    join_trimmed,
    phone8k,
    render_audio,
    trim_silence,
)

OUTPUT = ROOT / ".fala" / "bench" / "speaker.json"
CACHE = ROOT / ".fala" / "cache" / "speakers"
ESPEAK_CACHE = ROOT / ".fala" / "cache" / "speaker_espeak"
SEED = 20240624
RENDER_NAMES = ("clean", "phone8k", "gsm", "noise10")
# Other telephone lines, on request (--renders): is the telephone voiceprint safe on a line just
# like its own model, and does it help on lines unlike it?
LINE_NAMES = ("line_model", "line_gentle", "line_steep", "phone8k_gsm")
# The codecs phones' apps send (bench_robust's renders), on request too.
CODEC_NAMES = ("opus12k", "mp3_32k")
OPTIONAL_NAMES = LINE_NAMES + CODEC_NAMES
ENROLMENT_PROMPTS = 3  # the fewest a user may enrol with (fala.core.voiceprints); --enrolment-clips
# Trials start after this many prompts whatever the enrolment size, so enrolments of 3 and 5
# clips are tried on the same prompts.
RESERVED_PROMPTS = 5
ENROLMENT_MODES = ("clean", "matched")  # clean prompts, or rendered like the trials
MAX_TRIALS = 100  # per voice
MIN_PROMPT_SECONDS, MAX_PROMPT_SECONDS = 2.0, 8.0
FIT_FAR = 0.005  # the threshold keeps the fit half's FAR at or below this (half the 1 % target)
CHECK_MAX_EER, CHECK_MAX_FAR = 0.03, 0.01
SWEEP_THRESHOLDS = (0.70, 0.75, 0.78, 0.80, 0.83, 0.85, 0.90)
AGREEMENT_DRAWS = 200  # random enrolments per voice and size
QUICK = {"max_trials": 20, "renders": "clean,phone8k"}
PROGRESS_EVERY = 50
TIMING_CLIPS, TIMING_REPEATS = 12, 3
ESPEAK_VARIANTS, ESPEAK_PHRASES = 8, 8


@dataclasses.dataclass(frozen=True)
class Voice:
    name: str
    package: str
    files: str  # a glob inside the unpacked package
    language: str
    half: str  # "fit", "report", one of OWN_POOLS (reported on its own), "extra" (in no pool)
    same_as: str | None = None


def prompt_pack(name: str, package: str, folder: str, language: str, half: str, **kw) -> Voice:
    """A telephony prompt pack's voice: every prompt under `folder` of the sounds directory."""
    files = "/".join(part for part in ("usr/share/asterisk/sounds", folder, "**/*") if part)
    return Voice(name, package, files, language, half, **kw)


def fish(language: str, role: str, size: str) -> Voice:
    """A fish of Fish Fillets NG's dialogue in one language: a line's file name says who speaks
    it ("<level>-m-…" the small fish, "<level>-v-…" the big one; the game's dialog scripts assign
    the 650 and 611 lines so, without exception)."""
    files = f"usr/share/games/fillets-ng/sound/*/{language[:2]}/*-{role}-*.ogg"
    return Voice(
        f"{language[:2]}_{size}", f"fillets-ng-data-{language[:2]}", files, language, "expressive"
    )


# Volunteers: the recorded words of two KDE games, one person per language (KT_LANGUAGES: the
# languages with all of KTuberling's 70-210 words, the others have 12-16; KL_LANGUAGES:
# KLettres' letters and syllables, the languages with at least 10 utterances of them).
KT_LANGUAGES = ("ca", "da", "de", "el", "en", "fr", "gl", "lt", "nn", "ru", "sl", "uk", "wa")
KL_LANGUAGES = ("de", "en_GB", "es", "fr", "he", "hu", "it", "lt", "ml", "nds", "nl", "pt_BR")
KL_LANGUAGES += ("ru", "uk")
VOLUNTEER_SOUNDS = {  # package: (voice name prefix, the folder of a language's recordings)
    "ktuberling-data": ("kt", "usr/share/ktuberling/sounds/{language}"),
    "klettres-data": ("kl", "usr/share/klettres/{language}"),
}
UTTERANCE_SECONDS = 3.5  # a volunteer's words joined until the utterance is this long
SOUND_SUFFIXES = (".wav", ".ogg", ".opus")


def volunteer(package: str, language: str) -> Voice:
    """One person's recorded words: joined into UTTERANCE_SECONDS utterances by join_words()
    (a single word is under the 1.2 s the encoder needs)."""
    prefix = VOLUNTEER_SOUNDS[package][0]
    name = f"{prefix}_{language}"
    language_tag = language.replace("_", "-")
    return Voice(name, package, f"utterances/{name}/*.wav", language_tag, "volunteers")


VOICES = (
    prompt_pack("allison", "asterisk-core-sounds-en-wav", "en_US_f_Allison", "en-US", "fit"),
    prompt_pack("ivrvoice_ru", "asterisk-core-sounds-ru-wav", "ru_RU_f_IvrvoiceRU", "ru-RU", "fit"),
    prompt_pack("carlo", "asterisk-core-sounds-it-wav", "it_IT_m_Carlo", "it-IT", "fit"),
    prompt_pack("menardi", "asterisk-prompt-it-menardi-wav", "it_IT_f_Menardi", "it-IT", "fit"),
    prompt_pack("june", "asterisk-core-sounds-fr-wav", "fr_CA_f_June", "fr-CA", "report"),
    prompt_pack("armelle", "asterisk-prompt-fr-armelle", "", "fr-FR", "report"),
    prompt_pack("july", "asterisk-prompt-es-co", "", "es-CO", "report"),
    prompt_pack(
        "allison_es",
        "asterisk-core-sounds-es-wav",
        "es_MX_f_Allison",
        "es-MX",
        "extra",
        same_as="allison",
    ),
    fish("cs-CZ", "m", "small"),
    fish("cs-CZ", "v", "big"),
    fish("nl-NL", "m", "small"),
    fish("nl-NL", "v", "big"),
    *(volunteer("ktuberling-data", language) for language in KT_LANGUAGES),
    *(volunteer("klettres-data", language) for language in KL_LANGUAGES),
)
TELEPHONY = ("fit", "report")
# Pools reported on their own, nothing fitted on them: what their voices are.
OWN_POOLS = {
    "expressive": "Fish Fillets NG's dialogue, acted, two voices per language",
    "volunteers": "the words of KTuberling (kt_) and the letters and syllables of KLettres "
    "(kl_), one person per language and game, each on their own microphone, joined into "
    f"{UTTERANCE_SECONDS:g} s utterances",
}
PROMPT_SUFFIXES = (".wav", ".gsm", ".ogg")


# --- the voices' prompts -----------------------------------------------------------------------


def fetch_pack(package: str) -> str | None:
    """Download and unpack a package once into the cache; a reason when that is impossible."""
    target = CACHE / package
    if (target / ".complete").is_file():
        return None
    target.mkdir(parents=True, exist_ok=True)
    try:
        subprocess.run(
            ["apt-get", "download", package],
            cwd=target,
            check=True,
            capture_output=True,
            text=True,
            timeout=600,
        )
        for deb in sorted(target.glob("*.deb")):
            subprocess.run(["dpkg", "-x", deb, target], check=True, capture_output=True, text=True)
            deb.unlink()
    except (OSError, subprocess.SubprocessError) as exc:
        stderr = (getattr(exc, "stderr", None) or "").strip()
        return (
            f"{package}: skipped, `apt-get download {package}` failed "
            f"({stderr.splitlines()[-1] if stderr else exc}); it needs a Debian/Ubuntu apt "
            "source and network access"
        )
    (target / ".complete").write_text("")
    return None


def join_words(package_root: Path, voice: Voice) -> None:
    """Write a volunteer's utterances once: their distinct, decodable recordings (a few of
    KLettres' are Ogg Speex, which the service does not decode) in a seeded order, silences
    trimmed, joined by 50-100 ms gaps (bench_robust.splice) until UTTERANCE_SECONDS long, as
    16 kHz 16-bit WAVs under utterances/<voice>/ of the unpacked package."""
    target = package_root / "utterances" / voice.name
    if (target / ".complete").is_file():
        return
    target.mkdir(parents=True, exist_ok=True)
    folder = VOLUNTEER_SOUNDS[voice.package][1].format(language=voice.language.replace("-", "_"))
    seen, words = set(), []
    for path in sorted((package_root / folder).rglob("*")):
        if path.suffix not in SOUND_SUFFIXES or path.is_symlink():
            continue
        data = path.read_bytes()
        digest = hashlib.sha256(data).digest()
        if digest in seen:
            continue
        seen.add(digest)
        try:
            words.append(trim_silence(decode_audio(data, max_seconds=60)))
        except InvalidAudio:
            continue
    random.Random(f"{SEED}|{voice.name}").shuffle(words)
    group: list[np.ndarray] = []
    count = 0
    for word in words:
        group.append(word)
        audio = join_trimmed(group, f"{voice.name}/{count}")
        if audio.size >= UTTERANCE_SECONDS * SAMPLE_RATE:
            (target / f"{count:03d}.wav").write_bytes(wav_bytes(to_pcm16(audio), rate=SAMPLE_RATE))
            group, count = [], count + 1
    (target / ".complete").write_text("")


def prompt_seconds(path: Path) -> float:
    if path.suffix == ".gsm":
        return path.stat().st_size // 33 * 0.02  # 33-byte frames of 20 ms
    if path.suffix == ".ogg":
        with av.open(str(path)) as container:
            return container.duration / av.time_base
    with wave.open(str(path)) as w:
        return w.getnframes() / w.getframerate()


def decode_prompt(path: Path) -> np.ndarray:
    """16 kHz float32: WAV through the service's decoder, raw GSM 06.10 through PyAV's."""
    if path.suffix != ".gsm":
        return decode_audio(path.read_bytes(), max_seconds=60)
    with av.open(io.BytesIO(path.read_bytes()), format="gsm") as container:
        chunks = [f.to_ndarray().reshape(-1) for f in container.decode(audio=0)]
    samples = np.concatenate(chunks).astype(np.float32) / 32768.0
    return soxr.resample(samples, 8000, SAMPLE_RATE, quality="HQ").astype(np.float32)


def voice_prompts(voice: Voice) -> list[Path]:
    """The voice's distinct 2-8 s prompts (symlinks and duplicate files once), sorted."""
    root = CACHE / voice.package
    seen, prompts = set(), []
    for path in sorted(p for p in root.glob(voice.files) if p.suffix in PROMPT_SUFFIXES):
        if path.is_symlink() or "silence" in path.parts:
            continue
        digest = hashlib.sha256(path.read_bytes()).digest()
        if digest in seen:
            continue
        seen.add(digest)
        if MIN_PROMPT_SECONDS <= prompt_seconds(path) <= MAX_PROMPT_SECONDS:
            prompts.append(path)
    return prompts


def line_renders(renders: dict) -> dict:
    """LINE_NAMES: the voiceprint's own channel model (fala.core.audio.telephone_channel); a
    gentler 300-3400 Hz band (one 2-pole filter per edge); a steep cut below 400 Hz (two 2-pole
    filters); phone8k followed by a GSM 06.10 round trip (where the gsm render exists)."""
    lines = {
        "line_model": lambda audio, rng: telephone_channel(audio),
        "line_gentle": lambda audio, rng: through_8k(
            filter_graph(audio, ("highpass", "f=300"), ("lowpass", "f=3400"))
        ),
        "line_steep": lambda audio, rng: through_8k(
            filter_graph(audio, ("highpass", "f=400"), ("highpass", "f=400"))
        ),
    }
    if "gsm" in renders:
        gsm = renders["gsm"]
        lines["phone8k_gsm"] = lambda audio, rng: gsm(np.clip(phone8k(audio), -1, 1), rng)
    return lines


def pick(
    voice: Voice, max_trials: int, enrolment_prompts: int = ENROLMENT_PROMPTS
) -> tuple[list[Path], list[Path]]:
    """(enrolment prompts, trial prompts), a seeded shuffle of the voice's prompts."""
    prompts = voice_prompts(voice)
    random.Random(f"{SEED}|{voice.name}").shuffle(prompts)
    first = max(RESERVED_PROMPTS, enrolment_prompts)
    return prompts[:enrolment_prompts], prompts[first : first + max_trials]


# --- scores --------------------------------------------------------------------------------------


def far_frr(targets: np.ndarray, nontargets: np.ndarray, threshold: float) -> tuple[float, float]:
    """Accept when score >= threshold."""
    far = float(np.mean(nontargets >= threshold)) if nontargets.size else float("nan")
    frr = float(np.mean(targets < threshold)) if targets.size else float("nan")
    return far, frr


def equal_error_rate(targets: np.ndarray, nontargets: np.ndarray) -> float:
    """The error rate where FAR and FRR cross (their mean at the closest threshold)."""
    if not targets.size or not nontargets.size:
        return float("nan")
    best = None
    for threshold in np.unique(np.concatenate([targets, nontargets])):
        far, frr = far_frr(targets, nontargets, threshold)
        if best is None or abs(far - frr) < abs(best[0] - best[1]):
            best = (far, frr)
    return (best[0] + best[1]) / 2


def decide(trials: list[dict], threshold: float, telephone_threshold: float) -> None:
    """Set each trial's "decision": its score under fala.core.voiceprints.compare's rule (either
    voiceprint reaches its threshold), shifted so that it is accepted when >= `threshold`."""
    for t in trials:
        t["decision"] = max(t["score"], t["telephone_score"] + threshold - telephone_threshold)


def fit_telephone_threshold(trials: list[dict], threshold: float) -> float:
    """The lowest telephone threshold at which the telephone voiceprint adds no false accept to
    those of the wideband one at `threshold`: it exists to win back genuine calls, not to let
    anyone else in (a FIT_FAR allowance, 0.847 here, let a French voice through as another
    French one in 2.5 % of the report half's same-language telephone trials)."""
    rest = [t["telephone_score"] for t in trials if not t["target"] and t["score"] < threshold]
    return float(np.nextafter(max(rest), np.inf)) if rest else float("nan")


def fit_threshold(nontargets: np.ndarray, max_far: float) -> float:
    """The lowest threshold (a score, or just above one) whose FAR is at most `max_far`."""
    ordered = np.sort(nontargets)[::-1]
    allowed = int(np.floor(max_far * ordered.size))  # false accepts allowed
    if allowed >= ordered.size:
        return float(ordered[-1])
    return float(np.nextafter(ordered[allowed], np.inf))


class Embedder:
    """Embeds with progress on stderr; a clip too short to embed gives None (and is counted)."""

    def __init__(self, total: int) -> None:
        self.encoder = SpeakerEncoder.from_package()
        self.total, self.done, self.too_short = total, 0, 0
        self.started = time.perf_counter()

    def __call__(self, audio: np.ndarray, label: str) -> np.ndarray | None:
        self.done += 1
        if self.done % PROGRESS_EVERY == 0 or self.done == self.total:
            elapsed = time.perf_counter() - self.started
            eta = elapsed / self.done * (self.total - self.done)
            print(
                f"[{self.done}/{self.total}] {label}  {elapsed:.0f} s, "
                f"ETA {eta // 60:.0f} min {eta % 60:02.0f} s",
                file=sys.stderr,
                flush=True,
            )
        try:
            return self.encoder.embed(audio)
        except SpeechTooShort:
            self.too_short += 1
            return None


Voiceprints = tuple[np.ndarray, np.ndarray]  # wideband, telephone (fala.core.voiceprints)


def enrol(embed: Embedder, clips: list[np.ndarray], label: str) -> Voiceprints:
    """The two voiceprints fala.core.voiceprints.enroll keeps: the clips' mean embedding as
    recorded and through fala.core.audio.telephone_channel."""

    def mean(audio: list[np.ndarray]) -> np.ndarray:
        vector = np.mean([v for a in audio if (v := embed(a, label)) is not None], axis=0)
        return vector / np.linalg.norm(vector)

    return mean(clips), mean([telephone_channel(a) for a in clips])


def enrol_rendered(
    embed: Embedder, paths: list[Path], voice: str, renders: dict, render: str
) -> Voiceprints:
    """Like enrol(), each prompt put through `render` first (seeded as a trial of it would be)."""
    clips = [render_audio(renders, render, decode_prompt(p), f"{voice}/{p.name}") for p in paths]
    return enrol(embed, clips, f"{voice} enrolment {render}")


def score_voices(
    voices: list[Voice],
    max_trials: int,
    render_names: list[str],
    renders: dict,
    enrolment: str = "clean",
    enrolment_prompts: int = ENROLMENT_PROMPTS,
) -> tuple[list[dict], dict[str, list[str]], int, dict[str, list[dict[str, np.ndarray]]]]:
    """Every trial: voice, render, enrolled voice, score, target. Also the prompts used, how many
    were too short, and each voice's trial embeddings, per prompt and render (for the enrolment
    agreement study).

    enrolment "clean": one enrolment per voice from its prompts as recorded, for every render;
    "matched": one per voice and render, its prompts rendered like that render's trials.
    """
    picked = {v.name: pick(v, max_trials, enrolment_prompts) for v in voices}
    enrolments_per_voice = len(render_names) if enrolment == "matched" else 1
    total = sum(
        2 * len(e) * enrolments_per_voice + len(t) * len(render_names) for e, t in picked.values()
    )
    embed = Embedder(total)
    enrolling = [v for v in voices if v.half != "extra"]
    if enrolment == "matched":
        by_render = {
            render: {
                v.name: enrol_rendered(embed, picked[v.name][0], v.name, renders, render)
                for v in enrolling
            }
            for render in render_names
        }
    else:
        once = {
            v.name: enrol(
                embed, [decode_prompt(p) for p in picked[v.name][0]], f"{v.name} enrolment"
            )
            for v in enrolling
        }
        by_render = {render: once for render in render_names}
    trials, vectors = [], {}
    for voice in voices:
        own = voice.same_as or voice.name
        for path in picked[voice.name][1]:
            base, key = decode_prompt(path), f"{voice.name}/{path.name}"
            rendered = {}  # this prompt's embedding per render
            vectors.setdefault(voice.name, []).append(rendered)
            for render in render_names:
                vector = embed(render_audio(renders, render, base, key), f"{voice.name} {render}")
                if vector is None:
                    continue
                rendered[render] = vector
                for name, (wideband, telephone) in by_render[render].items():
                    trials.append(
                        {
                            "voice": voice.name,
                            "file": path.name,
                            "render": render,
                            "enrolled": name,
                            "score": round(float(vector @ wideband), 5),
                            "telephone_score": round(float(vector @ telephone), 5),
                            "target": name == own,
                        }
                    )
    used = {
        name: [p.name for p in enrolment + tried] for name, (enrolment, tried) in picked.items()
    }
    return trials, used, embed.too_short, vectors


# --- tables --------------------------------------------------------------------------------------

HALF = {v.name: v.half for v in VOICES}
LANGUAGE = {v.name: v.language[:2] for v in VOICES}


def in_half(trial: dict, half: str) -> bool:
    return HALF[trial["voice"]] == half and HALF[trial["enrolled"]] == half


def in_telephony_pool(trial: dict) -> bool:
    """Both voices among the seven prompt readers (a fit x report non-target counts here)."""
    return HALF[trial["voice"]] in TELEPHONY and HALF[trial["enrolled"]] in TELEPHONY


def same_language_nontargets(trials: list[dict]) -> np.ndarray:
    """The decisions (see decide()) of non-target trials whose two voices share a language."""
    return np.array(
        [
            t["decision"]
            for t in trials
            if not t["target"] and LANGUAGE[t["voice"]] == LANGUAGE[t["enrolled"]]
        ]
    )


def rate_at(scores: np.ndarray, threshold: float) -> float | None:
    return float(np.mean(scores >= threshold)) if scores.size else None


def split_scores(trials: list[dict], key: str = "score") -> tuple[np.ndarray, np.ndarray]:
    """Targets' and non-targets' `key`: "score" (the wideband voiceprint), or "decision" (both
    voiceprints, see decide(); accepted at the wideband threshold)."""
    targets = np.array([t[key] for t in trials if t["target"]])
    nontargets = np.array([t[key] for t in trials if not t["target"]])
    return targets, nontargets


def table_rows(trials: list[dict], render_names: list[str], threshold: float) -> list[dict]:
    """Per render: EERs of the wideband voiceprint's score; FAR and FRR of the check's decision
    (both voiceprints, decide() first), and the FRR the wideband one alone would give."""
    rows = []
    for render in render_names:
        here = [t for t in trials if t["render"] == render]
        main = [t for t in here if in_telephony_pool(t)]
        report = [t for t in here if in_half(t, "report")]
        targets, nontargets = split_scores(report)
        far, frr = far_frr(*split_scores(report, "decision"), threshold)
        same = same_language_nontargets(main)
        same_report = same_language_nontargets(report)
        cross = np.array(
            [t["decision"] for t in here if HALF[t["voice"]] == "extra" and t["target"]]
        )
        rows.append(
            {
                "render": render,
                "eer_all": equal_error_rate(*split_scores(main)),
                "eer_report": equal_error_rate(targets, nontargets),
                # the check's, its telephone threshold kept as far above the wideband one
                "eer_report_check": equal_error_rate(*split_scores(report, "decision")),
                "far_report": far,
                "frr_report": frr,
                "frr_report_wideband": far_frr(targets, nontargets, threshold)[1],
                "targets_report": int(targets.size),
                "nontargets_report": int(nontargets.size),
                "far_same_language_report": rate_at(same_report, threshold),
                "nontargets_same_language_report": int(same_report.size),
                "far_same_language_all": rate_at(same, threshold),
                "nontargets_same_language_all": int(same.size),
                "tar_cross_language": rate_at(cross, threshold),
                "targets_cross_language": int(cross.size),
            }
            | {
                key: value
                for pool in OWN_POOLS
                for key, value in pool_cells(
                    [t for t in here if in_half(t, pool)], pool, threshold
                ).items()
            }
        )
    return rows


def pool_cells(trials: list[dict], pool: str, threshold: float) -> dict:
    """A pool reported on its own, in one render: EERs, the check's FAR and FRR, the wideband
    voiceprint's FRR, trial counts and the same-language FAR (keys suffixed with the pool)."""
    targets, nontargets = split_scores(trials)
    far, frr = far_frr(*split_scores(trials, "decision"), threshold)
    same = same_language_nontargets(trials)
    return {
        f"eer_{pool}": equal_error_rate(targets, nontargets),
        f"eer_{pool}_check": equal_error_rate(*split_scores(trials, "decision")),
        f"far_{pool}": far,
        f"frr_{pool}": frr,
        f"frr_{pool}_wideband": far_frr(targets, nontargets, threshold)[1],
        f"targets_{pool}": int(targets.size),
        f"nontargets_{pool}": int(nontargets.size),
        f"far_same_language_{pool}": rate_at(same, threshold),
        f"nontargets_same_language_{pool}": int(same.size),
    }


def pct(value: float | None) -> str:
    return "-" if value is None or value != value else f"{100 * value:.2f}%"


def print_table(rows: list[dict]) -> None:
    print(
        f"{'render':8} {'EER all':>8} {'EER rep':>8} {'EER chk':>8} {'FAR rep':>8} {'FRR rep':>8} "
        f"{'FRR wb':>8} {'tgt/non rep':>12} {'FAR fr-fr':>9} {'FAR same':>9} {'TAR es|en':>9}"
    )
    for r in rows:
        trials = f"{r['targets_report']}/{r['nontargets_report']}"
        print(
            f"{r['render']:8} {pct(r['eer_all']):>8} {pct(r['eer_report']):>8} "
            f"{pct(r['eer_report_check']):>8} "
            f"{pct(r['far_report']):>8} {pct(r['frr_report']):>8} "
            f"{pct(r['frr_report_wideband']):>8} {trials:>12} "
            f"{pct(r['far_same_language_report']):>9} {pct(r['far_same_language_all']):>9} "
            f"{pct(r['tar_cross_language']):>9}"
        )


def print_pool_table(rows: list[dict], pool: str) -> None:
    print(
        f"{'render':8} {'EER':>8} {'EER chk':>8} {'FAR':>8} {'FRR':>8} {'FRR wb':>8} "
        f"{'tgt/non':>10} {'FAR same':>9}"
    )
    for r in rows:
        trials = f"{r[f'targets_{pool}']}/{r[f'nontargets_{pool}']}"
        print(
            f"{r['render']:8} {pct(r[f'eer_{pool}']):>8} {pct(r[f'eer_{pool}_check']):>8} "
            f"{pct(r[f'far_{pool}']):>8} "
            f"{pct(r[f'frr_{pool}']):>8} {pct(r[f'frr_{pool}_wideband']):>8} {trials:>10} "
            f"{pct(r[f'far_same_language_{pool}']):>9}"
        )


def hardest_pairs(
    trials: list[dict], render: str, count: int = 4, half: str | None = None
) -> list[dict]:
    """The non-target pairs (trial voice -> enrolled voice) with the highest mean score: among
    the telephony voices, or within `half`."""
    pairs: dict[tuple[str, str], list[float]] = {}
    for t in trials:
        if (
            t["render"] == render
            and not t["target"]
            and (in_half(t, half) if half else in_telephony_pool(t))
        ):
            pairs.setdefault((t["voice"], t["enrolled"]), []).append(t["score"])
    ranked = sorted(pairs.items(), key=lambda item: -np.mean(item[1]))[:count]
    return [
        {"voice": v, "enrolled": e, "mean": float(np.mean(s)), "max": float(np.max(s))}
        for (v, e), s in ranked
    ]


def sweep_rows(trials: list[dict], render: str, telephone_threshold: float) -> list[dict]:
    """FAR and FRR of the telephony voices (all seven) and of each pool reported on its own at
    a range of thresholds, for deployments choosing their own `speaker_threshold` (and keeping
    the telephone one)."""
    pools = {
        "telephony": [t for t in trials if t["render"] == render and in_telephony_pool(t)],
    } | {
        pool: [t for t in trials if t["render"] == render and in_half(t, pool)]
        for pool in OWN_POOLS
    }
    rows = []
    for threshold in SWEEP_THRESHOLDS:
        row: dict = {"threshold": threshold}
        for pool, here in pools.items():
            swept = [{**t} for t in here]
            decide(swept, threshold, telephone_threshold)
            far, frr = (
                far_frr(*split_scores(swept, "decision"), threshold) if here else (None, None)
            )
            row[pool] = {"far": far, "frr": frr}
        rows.append(row)
    return rows


POOLS = {
    "telephony": [v.name for v in VOICES if v.half in TELEPHONY],
} | {pool: [v.name for v in VOICES if v.half == pool] for pool in OWN_POOLS}


def refused_at_enrolment(clips: list[np.ndarray]) -> bool:
    return min(agreements(np.stack(clips))) < ENROLMENT_AGREEMENT


def channel_rows(vectors: dict[str, list[dict[str, np.ndarray]]]) -> list[dict]:
    """How often the agreement check refuses one person's enrolment of two clean clips and one
    through another render (a clip recorded on the phone among microphone ones), per pool."""
    rng = random.Random(f"{SEED}|channel")
    rows = []
    for pool, names in POOLS.items():
        prompts = {n: [d for d in vectors.get(n, []) if "clean" in d] for n in names}
        prompts = {n: d for n, d in prompts.items() if len(d) >= 10}
        renders = sorted({r for d in prompts.values() for p in d for r in p} - {"clean"})
        for render in renders:
            refused = tried = 0
            for rendered in prompts.values():
                for _ in range(AGREEMENT_DRAWS):
                    first, second, odd = rng.sample(rendered, 3)
                    if render in odd:
                        tried += 1
                        refused += refused_at_enrolment(
                            [first["clean"], second["clean"], odd[render]]
                        )
            if tried:
                rows.append(
                    {
                        "pool": pool,
                        "render": render,
                        "enrolments": tried,
                        "refused": refused / tried,
                    }
                )
    return rows


def agreement_rows(clean_vectors: dict[str, list[np.ndarray]]) -> list[dict]:
    """How often ENROLMENT_AGREEMENT refuses an enrolment of one voice's own clips, and how often
    it refuses one whose last clip is someone else's (a mix-up it exists to catch: a voice of the
    same language, or any other voice of the pool), for enrolments of 3 and 5 clips drawn at
    random from each voice's clean trial prompts."""
    rng = random.Random(f"{SEED}|agreement")
    rows = []
    for pool, names in POOLS.items():
        names = [n for n in names if len(clean_vectors.get(n, [])) >= 10]
        if len(names) < 2:
            continue
        for size in (3, 5):
            own_refused, same_caught, same_tried, any_caught = 0, 0, 0, 0
            draws = AGREEMENT_DRAWS * len(names)
            for name in names:
                same = [n for n in names if n != name and LANGUAGE[n] == LANGUAGE[name]]
                others = [n for n in names if n != name]
                for _ in range(AGREEMENT_DRAWS):
                    clips = rng.sample(clean_vectors[name], size)
                    own_refused += refused_at_enrolment(clips)
                    mixed = rng.choice(clean_vectors[rng.choice(others)])
                    any_caught += refused_at_enrolment([*clips[:-1], mixed])
                    if same:
                        mixed = rng.choice(clean_vectors[rng.choice(same)])
                        same_tried += 1
                        same_caught += refused_at_enrolment([*clips[:-1], mixed])
            rows.append(
                {
                    "pool": pool,
                    "clips": size,
                    "enrolments": draws,
                    "own_refused": own_refused / draws,
                    "mixed_caught_any": any_caught / draws,
                    "mixed_caught_same_language": same_caught / same_tried if same_tried else None,
                }
            )
    return rows


def print_closest(pairs: list[dict]) -> None:
    listed = ", ".join(
        f"{p['voice']}->{p['enrolled']} mean {p['mean']:.3f} max {p['max']:.3f}" for p in pairs
    )
    print(f"closest non-target pairs (clean): {listed}")


def check_failures(rows: list[dict]) -> list[str]:
    failures = []
    for row in rows:
        if row["eer_report"] > CHECK_MAX_EER:
            failures.append(f"{row['render']}: EER {row['eer_report']:.4f} > {CHECK_MAX_EER}")
        if row["far_report"] > CHECK_MAX_FAR:
            failures.append(f"{row['render']}: FAR {row['far_report']:.4f} > {CHECK_MAX_FAR}")
    return failures


# --- synthetic same-language voices (espeak-ng pt-BR variants) -----------------------------------


def espeak_split(threshold: float, telephone_threshold: float) -> dict | None:
    """pt-BR espeak-ng variants as "speakers": EER (wideband), FAR and FRR of the check (both
    voiceprints) at the thresholds, clean trials only."""
    if shutil.which("espeak-ng") is None:
        return None
    rng = random.Random(f"{SEED}|espeak")
    variants = rng.sample(espeak_variants(), ESPEAK_VARIANTS)
    embed = Embedder(2 * ESPEAK_VARIANTS * ENROLMENT_PROMPTS)  # the enrolments, with progress
    encoder = embed.encoder
    enrolled, tried = {}, {}
    for variant in variants:
        clips, vectors = [], []
        for n in range(ESPEAK_PHRASES):
            action = rng.choice(["ENTRADA", "SAIDA", "INTERVALO", "RETORNO"])
            said, _ = clock_phrase(action, rng.randint(6, 22), rng.randrange(60), "pt-BR")
            tag = hashlib.sha256(f"pt-br+{variant}|{said}".encode()).hexdigest()[:10]
            path = ESPEAK_CACHE / f"pt-br_{variant}_{tag}.wav"
            if not path.is_file():
                ESPEAK_CACHE.mkdir(parents=True, exist_ok=True)
                command = ["espeak-ng", "-v", f"pt-br+{variant}", "-w", str(path), said]
                subprocess.run(command, check=True, capture_output=True)
            audio = decode_audio(path.read_bytes(), max_seconds=60)
            if n < ENROLMENT_PROMPTS:
                clips.append(audio)
            else:
                try:
                    vectors.append(encoder.embed(audio))
                except SpeechTooShort:
                    continue
        enrolled[variant] = enrol(embed, clips, variant)
        tried[variant] = vectors
    trials = [
        {
            "score": float(v @ wideband),
            "telephone_score": float(v @ telephone),
            "target": e == variant,
        }
        for variant, vectors in tried.items()
        for v in vectors
        for e, (wideband, telephone) in enrolled.items()
    ]
    decide(trials, threshold, telephone_threshold)
    targets, nontargets = split_scores(trials)
    far, frr = far_frr(*split_scores(trials, "decision"), threshold)
    return {
        "variants": variants,
        "eer": equal_error_rate(targets, nontargets),
        "far": far,
        "frr": frr,
        "targets": int(targets.size),
        "nontargets": int(nontargets.size),
        "nontarget_mean": float(nontargets.mean()),
        "target_mean": float(targets.mean()),
    }


# --- cost per request ----------------------------------------------------------------------------


def timing_child() -> dict:
    """Run in a child process (its BLAS thread count set by the parent's environment)."""
    started = time.perf_counter()
    encoder = SpeakerEncoder.from_package()
    load = time.perf_counter() - started
    allison = next(v for v in VOICES if v.name == "allison")
    paths = [p for p in voice_prompts(allison) if 3.0 <= prompt_seconds(p) <= 4.0]
    clips = [decode_prompt(p) for p in paths[:TIMING_CLIPS]]
    encoder.embed(clips[0])  # warm up
    times = []
    for _ in range(TIMING_REPEATS):
        for clip in clips:
            t0 = time.perf_counter()
            encoder.embed(clip)
            times.append(1000 * (time.perf_counter() - t0))
    return {
        "clips": len(clips),
        "calls": len(times),
        "p50_ms": float(np.percentile(times, 50)),
        "p90_ms": float(np.percentile(times, 90)),
        "load_s": round(load, 3),
    }


def time_embedding(threads: int) -> dict:
    env = {**os.environ, "OPENBLAS_NUM_THREADS": str(threads), "OMP_NUM_THREADS": str(threads)}
    command = [sys.executable, "-m", "tests.benchmarks.bench_speaker", "--timing-child"]
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, check=True)
    return {"threads": threads, **json.loads(done.stdout.strip().splitlines()[-1])}


# --- main ----------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--renders", help=f"comma-separated, of {','.join(RENDER_NAMES + OPTIONAL_NAMES)}"
    )
    parser.add_argument("--max-trials", type=int, help=f"prompts per voice (default {MAX_TRIALS})")
    parser.add_argument("--threshold", type=float, default=DEFAULT_THRESHOLD)
    parser.add_argument("--telephone-threshold", type=float, default=TELEPHONE_THRESHOLD)
    parser.add_argument(
        "--enrolment",
        choices=ENROLMENT_MODES,
        default="clean",
        help="clean: enrol with the prompts as recorded (default); matched: enrol each voice with "
        "its prompts rendered like the trials of each render (same phone/device)",
    )
    parser.add_argument(
        "--enrolment-clips",
        type=int,
        default=ENROLMENT_PROMPTS,
        choices=range(3, 11),
        metavar="N",
        help=f"prompts per enrolment, 3-10 (default {ENROLMENT_PROMPTS}, the fewest allowed)",
    )
    parser.add_argument("--quick", action="store_true", help=f"preset: {QUICK}")
    parser.add_argument("--no-timing", action="store_true")
    parser.add_argument("--no-espeak", action="store_true")
    parser.add_argument("--json", type=Path, default=OUTPUT)
    parser.add_argument("--check", action="store_true", help="exit 1 on EER > 3 %% or FAR > 1 %%")
    parser.add_argument("--timing-child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.timing_child:
        print(json.dumps(timing_child()))
        return 0
    preset = QUICK if args.quick else {"max_trials": MAX_TRIALS, "renders": None}
    max_trials = args.max_trials if args.max_trials is not None else preset["max_trials"]
    wanted = (args.renders or preset["renders"] or ",".join(RENDER_NAMES)).split(",")
    unknown = sorted(set(wanted) - set(RENDER_NAMES + OPTIONAL_NAMES))
    if unknown:
        parser.error(
            f"unknown render(s) {', '.join(unknown)}; choose from {RENDER_NAMES + OPTIONAL_NAMES}"
        )
    renders, notes = available_renders()
    renders |= line_renders(renders)
    render_names = [r for r in RENDER_NAMES + OPTIONAL_NAMES if r in wanted and r in renders]
    notes = [n for n in notes if n.split(":")[0] in wanted]

    started = time.perf_counter()
    voices = []
    for voice in VOICES:
        reason = fetch_pack(voice.package)
        if reason:
            if reason not in notes:
                notes.append(reason)
            continue
        if voice.half == "volunteers":
            join_words(CACHE / voice.package, voice)
        voices.append(voice)
    notes.append(
        "the voices differ in language (and two packs are GSM files): most non-target pairs are "
        "easier than two speakers of one language on one line; see the same-language columns"
    )
    trials, used, too_short, vectors = score_voices(
        voices, max_trials, render_names, renders, args.enrolment, args.enrolment_clips
    )
    if too_short:
        notes.append(f"{too_short} clips had under 1.2 s of speech and were not scored")
    fit = [t for t in trials if in_half(t, "fit")]
    fitted = max(
        (
            fit_threshold(split_scores([t for t in fit if t["render"] == r])[1], FIT_FAR)
            for r in render_names
        ),
        default=float("nan"),
    )
    fitted_telephone = max(
        (
            fit_telephone_threshold([t for t in fit if t["render"] == r], args.threshold)
            for r in render_names
        ),
        default=float("nan"),
    )
    decide(trials, args.threshold, args.telephone_threshold)
    rows = table_rows(trials, render_names, args.threshold)
    sweep = sweep_rows(trials, "clean", args.telephone_threshold) if "clean" in render_names else []
    clean_vectors = {n: [d["clean"] for d in v if "clean" in d] for n, v in vectors.items()}
    agreement = agreement_rows(clean_vectors)
    channels = channel_rows(vectors)
    espeak = None if args.no_espeak else espeak_split(args.threshold, args.telephone_threshold)
    timing = [] if args.no_timing else [time_embedding(n) for n in (1, 2)]

    for note in notes:
        print(f"note: {note}")
    print(
        f"threshold {args.threshold:.3f} (DEFAULT_THRESHOLD {DEFAULT_THRESHOLD:.3f}); fitted now "
        f"on the fit half ({', '.join(v.name for v in voices if v.half == 'fit')}; FAR <= "
        f"{FIT_FAR:.1%} in every render): {fitted:.3f}. Telephone threshold "
        f"{args.telephone_threshold:.3f} (TELEPHONE_THRESHOLD {TELEPHONE_THRESHOLD:.3f}); fitted "
        f"now (adding no false accept to the wideband one's at {args.threshold:.3f}): "
        f"{fitted_telephone:.3f}. Reported: "
        f"{', '.join(v.name for v in voices if v.half == 'report')}. Enrolment: "
        f"{args.enrolment_clips} prompts, {args.enrolment}"
        + (
            " (each render's trials against enrolments of that render)"
            if args.enrolment == "matched"
            else " (prompts as recorded)"
        )
    )
    print_table(rows)
    print(
        "EER: of the wideband voiceprint; EER chk, FAR, FRR: of the check (either voiceprint at "
        "its threshold; for EER chk, the two thresholds moved together); FRR wb: the wideband "
        "voiceprint alone. "
        "EER all: the 7 voices; rep: the report half; FAR fr-fr: "
        "june x armelle; FAR same: also carlo x menardi (it); TAR es|en: allison's Spanish "
        "prompts against her English enrolment"
    )
    if "clean" in render_names:
        print_closest(hardest_pairs(trials, "clean"))
    for pool, described in OWN_POOLS.items():
        names = [v.name for v in voices if v.half == pool]
        if names:
            print(
                f"{pool}, reported on their own ({', '.join(names)}: {described}; nothing "
                "fitted on them):"
            )
            print_pool_table(rows, pool)
            if "clean" in render_names:
                print_closest(hardest_pairs(trials, "clean", 2 if len(names) < 5 else 4, pool))
    if sweep:
        print("clean trials at other thresholds, FAR / FRR:")
        for row in sweep:
            cells = "  ".join(
                f"{pool} {pct(row[pool]['far'])} / {pct(row[pool]['frr'])}"
                for pool in row
                if pool != "threshold"
            )
            print(f"  {row['threshold']:.2f}  {cells}")
    for row in agreement:
        print(
            f"enrolment agreement >= {ENROLMENT_AGREEMENT} ({row['pool']}, {row['clips']} clean "
            f"clips, {row['enrolments']} random enrolments): refuses {pct(row['own_refused'])} "
            f"of one voice's own; catches a clip of another voice {pct(row['mixed_caught_any'])}"
            f", of one the same language {pct(row['mixed_caught_same_language'])}"
        )
    for row in channels:
        print(
            f"enrolment agreement ({row['pool']}, 2 clean clips and 1 {row['render']}, "
            f"{row['enrolments']} random enrolments): refuses {pct(row['refused'])}"
        )
    if espeak:
        print(
            f"espeak_pt (synthetic, {len(espeak['variants'])} pt-BR espeak-ng variants as "
            f"speakers, clean): EER {pct(espeak['eer'])}, FAR {pct(espeak['far'])}, "
            f"FRR {pct(espeak['frr'])} at {args.threshold:.3f} "
            f"({espeak['targets']}/{espeak['nontargets']} trials; mean score target "
            f"{espeak['target_mean']:.3f}, non-target {espeak['nontarget_mean']:.3f})"
        )
    for t in timing:
        print(
            f"embedding per request ({t['clips']} prompts of 3-4 s x {TIMING_REPEATS}, "
            f"{t['threads']} BLAS thread(s)): p50 {t['p50_ms']:.0f} ms, p90 {t['p90_ms']:.0f} ms; "
            f"model load {t['load_s']:.2f} s"
        )
    if timing:
        load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
        print(f"(load average during the run: {load}, {os.cpu_count()} CPUs)")
    elapsed = time.perf_counter() - started
    print(f"{len(trials)} trials in {elapsed:.1f} s")

    args.json.parent.mkdir(parents=True, exist_ok=True)
    report = {
        "seconds": round(elapsed, 1),
        "options": {
            "renders": render_names,
            "max_trials": max_trials,
            "threshold": args.threshold,
            "telephone_threshold": args.telephone_threshold,
            "enrolment_prompts": args.enrolment_clips,
            "enrolment": args.enrolment,
        },
        "notes": notes,
        "halves": {v.name: v.half for v in voices},
        "fitted_threshold": fitted,
        "fitted_telephone_threshold": fitted_telephone,
        "fit_far": FIT_FAR,
        "table": rows,
        "sweep_clean": sweep,
        "enrolment_agreement": agreement,
        "enrolment_channels": channels,
        "espeak_pt": espeak,
        "timing": timing,
        "prompts": used,
        "trials": trials,
    }
    args.json.write_text(json.dumps(report, indent=1, ensure_ascii=False) + "\n")
    shown = args.json.relative_to(ROOT) if args.json.is_relative_to(ROOT) else args.json
    print(f"wrote {shown}")
    if args.check:
        failures = check_failures(rows)
        for failure in failures:
            print(f"CHECK FAILED {failure}")
        return 1 if failures else 0
    return 0


if __name__ == "__main__":
    if "OPENBLAS_NUM_THREADS" not in os.environ:
        # One BLAS thread unless told otherwise: the LSTM's small matrix products mostly lose
        # time to thread hand-offs, all the more on a busy machine (see the timing lines).
        env = {**os.environ, "OPENBLAS_NUM_THREADS": "1"}
        command = [sys.executable, "-m", "tests.benchmarks.bench_speaker", *sys.argv[1:]]
        os.execve(sys.executable, command, env)
    sys.exit(main())
