"""Speaker verification: a GE2E voice embedding (Resemblyzer's encoder) in plain numpy.

The weights are those of PyPI's `resemblyzer==0.1.4` (Apache-2.0; `resemblyzer/pretrained.pt`),
read from the installed package without importing it: Resemblyzer itself needs torch, librosa and
webrtcvad, none of which the Lambda image carries. `load_checkpoint` reads the torch checkpoint
with a restricted unpickler (tensors and their storages only); the network is a 3-layer LSTM (40
mel channels in, 256 hidden), a 256x256 linear layer, ReLU and L2 normalisation, run here over all
the partial windows of an utterance at once.

    encoder = SpeakerEncoder.from_package()
    enrolled = encoder.embed_many(enrolment_clips).mean(axis=0)  # or one clip
    score = encoder.similarity(enrolled, encoder.embed(trial))   # cosine, higher = same voice

Same as Resemblyzer (`preprocess_wav` + `VoiceEncoder.embed_utterance`, defaults): the 40-channel
mel *power* spectrogram (25 ms Hann window, 10 ms hop, centred with zero padding, Slaney mel, as
librosa 0.10+ computes it), 160-frame partial windows every 77 frames (rate 1.3 per second; a last
window is kept when at least 75 % of it has audio), the mean of the partial embeddings,
L2-normalised, and the volume normalisation (quieter clips are raised to -30 dBFS RMS, louder
ones are left as they are). Deviations: (1) Resemblyzer shortens long silences with webrtcvad
(mode 3, 30 ms windows); `trim_silences` keeps its structure (30 ms windows, the 8-window moving
average, the dilation by 3 windows on each side) but marks a window as voiced by its energy
(within `VOICE_DB` of the 95th-percentile window) instead of webrtcvad's model. Checked once
against Resemblyzer 0.1.4 on torch 2.13 (CPU) and librosa 0.11: the network and features alone
agree to cosine >= 0.9999999 on 15 clips; with each side's own silence trimming, median 0.9993,
lowest 0.958 (an espeak-ng clip), on 14 clips. (2) Resemblyzer embeds any clip, zero-padding a
short one; here a clip with under MIN_SPEECH_SECONDS (1.2 s, 75 % of one window) of speech left
after trimming raises SpeechTooShort.
Input is 16 kHz mono float32 (what `fala.core.audio.decode_audio` returns).
"""

from __future__ import annotations

import dataclasses
import importlib.util
import io
import pickle
import struct
import zipfile
from collections import OrderedDict
from collections.abc import Sequence
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

from fala.core.errors import InvalidAudio

__all__ = [
    "DEFAULT_THRESHOLD",
    "EMBEDDING_SIZE",
    "MIN_SPEECH_SECONDS",
    "SAMPLE_RATE",
    "TELEPHONE_THRESHOLD",
    "CheckpointError",
    "SpeakerEncoder",
    "SpeechTooShort",
    "load_checkpoint",
    "mel_filters",
    "mel_spectrogram",
    "partial_slices",
    "preprocess",
]

SAMPLE_RATE = 16_000
N_FFT = 400  # 25 ms
HOP = 160  # 10 ms
N_MELS = 40
PARTIAL_FRAMES = 160  # 1.6 s
PARTIALS_PER_SECOND = 1.3  # Resemblyzer's `rate`: a window every 77 frames
MIN_COVERAGE = 0.75
HIDDEN = 256
LAYERS = 3
EMBEDDING_SIZE = 256
TARGET_DBFS = -30.0
INT16_MAX = 2**15 - 1
# Silence trimming (Resemblyzer's hparams), with an energy threshold in place of webrtcvad.
VAD_WINDOW = 30 * SAMPLE_RATE // 1000
VAD_AVERAGE_WIDTH = 8
VAD_MAX_SILENCE = 6
VOICE_DB = 40.0
# A clip must fill 75 % of one partial window with speech: the shortest Resemblyzer embeds
# without padding most of the window with zeros (its last state then describes silence).
MIN_SPEECH_SECONDS = MIN_COVERAGE * PARTIAL_FRAMES * HOP / SAMPLE_RATE  # 1.2 s

# Cosine similarity (trial vs enrolment) at or above which a clip counts as the enrolled voice:
# 0.824 fitted by tests/benchmarks/bench_speaker.py on its fit half of voices (FAR <= 0.5 % in each
# of clean, phone8k, gsm and noise10), rounded up. Clean enrolment, mismatched trials: see there.
DEFAULT_THRESHOLD = 0.83
# The same for the telephone voiceprint (fala.core.voiceprints), OR-ed with the wideband one:
# 0.8714 fitted by bench_speaker.py on its fit half (the lowest at which it adds no false accept
# to the wideband voiceprint's at DEFAULT_THRESHOLD, in any render), rounded up.
TELEPHONE_THRESHOLD = 0.88

PACKAGE = "resemblyzer"
CHECKPOINT = "pretrained.pt"


class SpeechTooShort(InvalidAudio):
    """Too little speech in a clip to compute a voice embedding from it."""


class CheckpointError(ValueError):
    """A checkpoint that is not (only) tensors: refused rather than unpickled."""


# --- the checkpoint: torch's pickle format, read into numpy --------------------------------------

_STORAGE_DTYPES = {
    "FloatStorage": "<f4",
    "DoubleStorage": "<f8",
    "HalfStorage": "<f2",
    "LongStorage": "<i8",
    "IntStorage": "<i4",
    "ShortStorage": "<i2",
    "CharStorage": "i1",
    "ByteStorage": "u1",
    "BoolStorage": "?",
}
_LEGACY_MAGIC = 0x1950A86A20F9469CFC6C


@dataclasses.dataclass(frozen=True)
class _Storage:
    key: str
    dtype: np.dtype


@dataclasses.dataclass(frozen=True)
class _Tensor:
    storage: _Storage
    offset: int
    size: tuple[int, ...]
    stride: tuple[int, ...]


def _rebuild_tensor(storage: _Storage, offset: int, size: tuple, stride: tuple, *_: Any) -> _Tensor:
    return _Tensor(storage, int(offset), tuple(size), tuple(stride))


class _TensorUnpickler(pickle.Unpickler):
    """Unpickles a torch checkpoint's object tree with tensors as `_Tensor` placeholders.

    The only globals allowed are OrderedDict, torch's tensor rebuild function and its storage
    types: anything else (os.system, builtins.eval, ...) raises CheckpointError, unexecuted.
    """

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) == ("collections", "OrderedDict"):
            return OrderedDict
        if (module, name) == ("torch._utils", "_rebuild_tensor_v2"):
            return _rebuild_tensor
        if module == "torch" and name in _STORAGE_DTYPES:
            return np.dtype(_STORAGE_DTYPES[name])
        raise CheckpointError(f"refusing to load global {module}.{name} from a checkpoint")

    def persistent_load(self, pid: Any) -> _Storage:
        # ("storage", storage type, key, location, element count[, view metadata])
        if not (isinstance(pid, tuple) and pid[:1] == ("storage",) and len(pid) >= 5):
            raise CheckpointError(f"unexpected persistent id {pid!r:.80} in a checkpoint")
        if len(pid) > 5 and pid[5] is not None:
            raise CheckpointError("storage views (torch < 0.4 checkpoints) are not supported")
        dtype = pid[1]
        if not isinstance(dtype, np.dtype):
            raise CheckpointError(f"unexpected storage type {dtype!r:.80} in a checkpoint")
        return _Storage(str(pid[2]), dtype)


def _materialise(obj: Any, storages: dict[str, np.ndarray]) -> Any:
    if isinstance(obj, _Tensor):
        flat = storages[obj.storage.key]
        itemsize = flat.dtype.itemsize
        needed = obj.offset + sum((n - 1) * s for n, s in zip(obj.size, obj.stride, strict=True))
        if any(n == 0 for n in obj.size):
            return np.zeros(obj.size, flat.dtype)
        if obj.offset < 0 or needed >= flat.size or any(s < 0 for s in obj.stride):
            raise CheckpointError(f"a tensor reaches outside its storage {obj.storage.key}")
        view = np.lib.stride_tricks.as_strided(
            flat[obj.offset :], obj.size, tuple(s * itemsize for s in obj.stride), writeable=False
        )
        return np.array(view)
    if isinstance(obj, dict):
        return type(obj)((k, _materialise(v, storages)) for k, v in obj.items())
    if isinstance(obj, list | tuple):
        return type(obj)(_materialise(v, storages) for v in obj)
    return obj


def _load_legacy(f: BinaryIO) -> Any:
    """torch.save before 1.6: magic, protocol, sys info, the object, storage keys, storages."""
    if _TensorUnpickler(f).load() != _LEGACY_MAGIC:
        raise CheckpointError("not a torch checkpoint (bad magic number)")
    _TensorUnpickler(f).load()  # protocol version
    sys_info = _TensorUnpickler(f).load()
    if not isinstance(sys_info, dict) or not sys_info.get("little_endian", False):
        raise CheckpointError("only little-endian checkpoints are supported")
    types: dict[str, np.dtype] = {}

    class Collecting(_TensorUnpickler):
        def persistent_load(self, pid: Any) -> _Storage:
            storage = super().persistent_load(pid)
            types[storage.key] = storage.dtype
            return storage

    obj = Collecting(f).load()
    keys = _TensorUnpickler(f).load()
    storages = {}
    for key in keys:
        (count,) = struct.unpack("<q", f.read(8))
        dtype = types[str(key)]
        data = f.read(count * dtype.itemsize)
        if len(data) != count * dtype.itemsize:
            raise CheckpointError("the checkpoint ends inside a storage")
        storages[str(key)] = np.frombuffer(data, dtype)
    return _materialise(obj, storages)


def _load_zip(path: Path) -> Any:
    """torch.save since 1.6: a zip of <name>/data.pkl and <name>/data/<key> raw storages."""
    with zipfile.ZipFile(path) as archive:
        pkl = next(n for n in archive.namelist() if n.endswith("/data.pkl") or n == "data.pkl")
        prefix = pkl.removesuffix("data.pkl")
        found: list[_Storage] = []

        class Collecting(_TensorUnpickler):
            def persistent_load(self, pid: Any) -> _Storage:
                storage = super().persistent_load(pid)
                found.append(storage)
                return storage

        obj = Collecting(io.BytesIO(archive.read(pkl))).load()
        storages = {
            s.key: np.frombuffer(archive.read(f"{prefix}data/{s.key}"), s.dtype) for s in found
        }
    return _materialise(obj, storages)


def load_checkpoint(path: Path | str) -> Any:
    """A torch checkpoint's object tree with every tensor as a numpy array (a copy)."""
    path = Path(path)
    if zipfile.is_zipfile(path):
        return _load_zip(path)
    with path.open("rb") as f:
        return _load_legacy(f)


def package_checkpoint() -> Path:
    """`pretrained.pt` inside the installed resemblyzer package (found, never imported)."""
    spec = importlib.util.find_spec(PACKAGE)
    locations = spec.submodule_search_locations if spec else None
    path = Path(next(iter(locations))) / CHECKPOINT if locations else None
    if path is None or not path.is_file():
        raise FileNotFoundError(
            "The speaker model comes from the PyPI package resemblyzer==0.1.4, which is not "
            "installed: `pip install --no-deps resemblyzer==0.1.4` (--no-deps: its torch, "
            "librosa and webrtcvad are not needed)."
        )
    return path


# --- features ------------------------------------------------------------------------------------


def mel_filters(sr: int = SAMPLE_RATE, n_fft: int = N_FFT, n_mels: int = N_MELS) -> np.ndarray:
    """librosa.filters.mel(sr=sr, n_fft=n_fft, n_mels=n_mels): Slaney mel scale and area."""

    def hz_to_mel(hz: np.ndarray) -> np.ndarray:
        hz = np.asarray(hz, np.float64)
        linear = hz / (200.0 / 3)
        log = 15.0 + np.log(np.maximum(hz, 1e-10) / 1000.0) / (np.log(6.4) / 27.0)
        return np.where(hz >= 1000.0, log, linear)

    def mel_to_hz(mel: np.ndarray) -> np.ndarray:
        linear = mel * (200.0 / 3)
        log = 1000.0 * np.exp((np.log(6.4) / 27.0) * (mel - 15.0))
        return np.where(mel >= 15.0, log, linear)

    fft_hz = np.fft.rfftfreq(n_fft, 1.0 / sr)
    edges = mel_to_hz(np.linspace(0.0, hz_to_mel(np.array(sr / 2.0)), n_mels + 2))
    widths = np.diff(edges)
    ramps = edges[:, None] - fft_hz[None, :]
    lower = -ramps[:-2] / widths[:-1, None]
    upper = ramps[2:] / widths[1:, None]
    weights = np.maximum(0.0, np.minimum(lower, upper))
    weights *= (2.0 / (edges[2:] - edges[:-2]))[:, None]
    return weights.astype(np.float32)


_MEL = mel_filters()
_WINDOW = (0.5 - 0.5 * np.cos(2 * np.pi * np.arange(N_FFT) / N_FFT)).astype(np.float32)


def mel_spectrogram(audio: np.ndarray) -> np.ndarray:
    """(frames, 40) mel power spectrogram; frames = 1 + len(audio) // 160 (centred frames)."""
    padded = np.pad(np.asarray(audio, np.float32), N_FFT // 2)
    frames = np.lib.stride_tricks.sliding_window_view(padded, N_FFT)[::HOP]
    spectrum = np.fft.rfft(frames * _WINDOW, axis=1)
    power = (spectrum.real**2 + spectrum.imag**2).astype(np.float32)
    return power @ _MEL.T


def partial_slices(
    n_samples: int, rate: float = PARTIALS_PER_SECOND, min_coverage: float = MIN_COVERAGE
) -> list[slice]:
    """Mel-frame windows of Resemblyzer's `compute_partial_slices` (its mel slices)."""
    n_frames = int(np.ceil((n_samples + 1) / HOP))
    step = round(SAMPLE_RATE / rate / HOP)
    starts = range(0, max(1, n_frames - PARTIAL_FRAMES + step + 1), step)
    slices = [slice(i, i + PARTIAL_FRAMES) for i in starts]
    coverage = (n_samples - slices[-1].start * HOP) / (PARTIAL_FRAMES * HOP)
    if coverage < min_coverage and len(slices) > 1:
        slices.pop()
    return slices


def normalize_volume(audio: np.ndarray, target_dbfs: float = TARGET_DBFS) -> np.ndarray:
    """Raise a quiet clip to `target_dbfs` RMS (never lower a loud one), as Resemblyzer does."""
    rms = float(np.sqrt(np.mean(np.square(audio, dtype=np.float64)))) if audio.size else 0.0
    if rms == 0.0:
        return audio
    change = target_dbfs - 20 * np.log10(rms)
    return audio * np.float32(10 ** (change / 20)) if change > 0 else audio


def trim_silences(audio: np.ndarray) -> np.ndarray:
    """Drop silences longer than ~0.2 s: Resemblyzer's `trim_long_silences` with energy for VAD.

    Like Resemblyzer, the tail shorter than one 30 ms window is dropped too.
    """
    usable = audio[: audio.size - audio.size % VAD_WINDOW]
    if not usable.size:
        return usable
    energy = np.mean(np.square(usable.reshape(-1, VAD_WINDOW), dtype=np.float64), axis=1)
    loud = np.percentile(energy, 95)
    voiced = (energy > 0) & (energy >= loud * 10 ** (-VOICE_DB / 10))
    width = VAD_AVERAGE_WIDTH
    padded = np.concatenate([np.zeros((width - 1) // 2), voiced, np.zeros(width // 2)])
    averaged = np.convolve(padded, np.ones(width) / width, mode="valid")
    mask = np.round(averaged).astype(bool)
    # binary_dilation with a structure of VAD_MAX_SILENCE + 1 ones (centred, 7: +-3 windows)
    reach = VAD_MAX_SILENCE + 1
    left = reach // 2
    dilated = np.convolve(mask.astype(np.int32), np.ones(reach, np.int32))[
        reach - 1 - left : reach - 1 - left + mask.size
    ]
    return usable[np.repeat(dilated > 0, VAD_WINDOW)]


def preprocess(audio: np.ndarray) -> np.ndarray:
    """Resemblyzer's `preprocess_wav` for 16 kHz input: volume up to -30 dBFS, long silences out."""
    audio = np.asarray(audio, np.float32)
    return trim_silences(normalize_volume(audio)).astype(np.float32, copy=False)


# --- the network ---------------------------------------------------------------------------------


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 0.5 + 0.5 * np.tanh(0.5 * x)


class SpeakerEncoder:
    """Resemblyzer's VoiceEncoder, inference only, in numpy float32."""

    def __init__(self, state: dict[str, np.ndarray]) -> None:
        try:
            # PyTorch stacks the gates as input, forget, cell, output; reordered here to input,
            # forget, output, cell so that one sigmoid covers the first three.
            order = np.r_[0 : 2 * HIDDEN, 3 * HIDDEN : 4 * HIDDEN, 2 * HIDDEN : 3 * HIDDEN]
            self._layers = [
                (
                    np.ascontiguousarray(state[f"lstm.weight_ih_l{n}"][order].T, np.float32),
                    np.ascontiguousarray(state[f"lstm.weight_hh_l{n}"][order].T, np.float32),
                    (state[f"lstm.bias_ih_l{n}"] + state[f"lstm.bias_hh_l{n}"])[order].astype(
                        np.float32
                    ),
                )
                for n in range(LAYERS)
            ]
            self._linear_w = np.ascontiguousarray(state["linear.weight"].T, np.float32)
            self._linear_b = state["linear.bias"].astype(np.float32)
        except KeyError as exc:
            raise CheckpointError(f"the checkpoint has no {exc.args[0]}") from exc
        if self._layers[0][0].shape != (N_MELS, 4 * HIDDEN):
            raise CheckpointError(f"unexpected LSTM input size {self._layers[0][0].shape}")

    @classmethod
    def from_checkpoint(cls, path: Path | str) -> SpeakerEncoder:
        checkpoint = load_checkpoint(path)
        state = checkpoint.get("model_state", checkpoint) if isinstance(checkpoint, dict) else None
        if not isinstance(state, dict):
            raise CheckpointError("the checkpoint holds no state dict")
        return cls(state)

    @classmethod
    def from_package(cls) -> SpeakerEncoder:
        """The encoder with resemblyzer 0.1.4's weights (about 0.1 s to load)."""
        return cls.from_checkpoint(package_checkpoint())

    def embed_partials(self, mels: np.ndarray) -> np.ndarray:
        """(batch, frames, 40) mel windows -> (batch, 256) L2-normalised partial embeddings."""
        x = np.asarray(mels, np.float32)
        batch, frames, _ = x.shape
        for w_ih, w_hh, bias in self._layers:
            gates_in = (x.reshape(batch * frames, -1) @ w_ih + bias).reshape(batch, frames, -1)
            h = np.zeros((batch, HIDDEN), np.float32)
            c = np.zeros((batch, HIDDEN), np.float32)
            outputs = np.empty((batch, frames, HIDDEN), np.float32)
            for t in range(frames):
                gates = gates_in[:, t] + h @ w_hh
                ifo = _sigmoid(gates[:, : 3 * HIDDEN])
                c = ifo[:, HIDDEN : 2 * HIDDEN] * c + ifo[:, :HIDDEN] * np.tanh(
                    gates[:, 3 * HIDDEN :]
                )
                h = ifo[:, 2 * HIDDEN :] * np.tanh(c)
                outputs[:, t] = h
            x = outputs
        raw = np.maximum(h @ self._linear_w + self._linear_b, 0.0)
        norms = np.linalg.norm(raw, axis=1, keepdims=True)
        return raw / np.where(norms > 0, norms, 1.0)

    def windows(self, audio: np.ndarray, *, preprocessed: bool = False) -> np.ndarray:
        """(partials, 160, 40) mel windows of a clip, as Resemblyzer's `embed_utterance` cuts them.

        `preprocessed=True` skips the volume normalisation and silence trimming (for audio that
        went through `preprocess` already, or to compare with Resemblyzer's network alone).
        """
        wav = np.asarray(audio, np.float32) if preprocessed else preprocess(audio)
        seconds = wav.size / SAMPLE_RATE
        if seconds < MIN_SPEECH_SECONDS:
            raise SpeechTooShort(
                f"The audio has {seconds:.2f} s of speech once silences are trimmed; speaker "
                f"verification needs at least {MIN_SPEECH_SECONDS:.1f} s (a phrase of 2 s or "
                "more is safer)."
            )
        slices = partial_slices(wav.size)
        needed = slices[-1].stop * HOP
        if needed >= wav.size:
            wav = np.pad(wav, (0, needed - wav.size))
        mel = mel_spectrogram(wav)
        return np.stack([mel[s] for s in slices])

    def embed(self, audio: np.ndarray, *, preprocessed: bool = False) -> np.ndarray:
        """(256,) unit-norm embedding of a 16 kHz mono clip; SpeechTooShort under 1.2 s."""
        return self.embed_many([audio], preprocessed=preprocessed)[0]

    def embed_many(self, clips: Sequence[np.ndarray], *, preprocessed: bool = False) -> np.ndarray:
        """(n, 256): `embed` of each clip, all their partial windows through the LSTM at once."""
        windows = [self.windows(clip, preprocessed=preprocessed) for clip in clips]
        if not windows:
            return np.zeros((0, EMBEDDING_SIZE), np.float32)
        partials = self.embed_partials(np.concatenate(windows))
        bounds = np.cumsum([len(w) for w in windows])[:-1]
        means = np.stack([p.mean(axis=0) for p in np.split(partials, bounds)])
        return (means / np.linalg.norm(means, axis=1, keepdims=True)).astype(np.float32)

    @staticmethod
    def similarity(a: np.ndarray, b: np.ndarray) -> float:
        """Cosine similarity of two embeddings (or of two means of embeddings)."""
        a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
        return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))
