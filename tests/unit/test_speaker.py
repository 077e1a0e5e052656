"""fala.core.speaker: the torch-free checkpoint loader, the features and the GE2E embedding."""

import importlib.util
import io
import os
import pickle
import re
import sys
import types
import zipfile
from pathlib import Path

import numpy as np
import pytest

from fala.core.audio import decode_audio
from fala.core.speaker import (
    EMBEDDING_SIZE,
    HIDDEN,
    MIN_SPEECH_SECONDS,
    SAMPLE_RATE,
    CheckpointError,
    SpeakerEncoder,
    SpeechTooShort,
    load_checkpoint,
    mel_filters,
    mel_spectrogram,
    partial_slices,
)

AUDIO = Path(__file__).resolve().parents[1] / "fixtures" / "audio"
LEGACY_MAGIC = 0x1950A86A20F9469CFC6C
HAS_MODEL = importlib.util.find_spec("resemblyzer") is not None
needs_model = pytest.mark.skipif(
    not HAS_MODEL, reason="resemblyzer==0.1.4 is not installed (pip install --no-deps)"
)


def clip(name: str) -> np.ndarray:
    return decode_audio((AUDIO / name).read_bytes(), max_seconds=60)


@pytest.fixture(scope="module")
def encoder() -> SpeakerEncoder:
    if not HAS_MODEL:
        pytest.skip("resemblyzer==0.1.4 is not installed (pip install --no-deps)")
    return SpeakerEncoder.from_package()


# --- the checkpoint loader -----------------------------------------------------------------------


class Evil:
    def __reduce__(self):
        return (os.system, ("echo owned",))


def legacy_file(tmp_path: Path, payload: bytes, keys: list[str], storages: list[bytes]) -> Path:
    """torch.save's pre-1.6 layout: magic, protocol, sys info, object, keys, sized storages."""
    out = io.BytesIO()
    for header in (LEGACY_MAGIC, 1001, {"protocol_version": 1001, "little_endian": True}):
        pickle.dump(header, out, protocol=2)
    out.write(payload)
    pickle.dump(keys, out, protocol=2)
    for data in storages:
        out.write(np.int64(len(data) // 4).tobytes() + data)
    path = tmp_path / "checkpoint.pt"
    path.write_bytes(out.getvalue())
    return path


def test_the_loader_refuses_any_other_global_and_runs_nothing(tmp_path, capfd):
    path = legacy_file(tmp_path, pickle.dumps({"model_state": Evil()}, protocol=2), [], [])
    with pytest.raises(CheckpointError, match=r"refusing to load global (posix|os|nt)\.system"):
        load_checkpoint(path)
    archive = tmp_path / "new.pt"
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("archive/data.pkl", pickle.dumps([Evil()], protocol=2))
    with pytest.raises(CheckpointError, match="refusing"):
        load_checkpoint(archive)
    assert "owned" not in capfd.readouterr().out


def test_the_loader_rebuilds_tensors_with_offset_and_stride(tmp_path, monkeypatch):
    # Pickle with stand-ins for torch's storage type and rebuild function, as torch.save does.
    torch_module, utils = types.ModuleType("torch"), types.ModuleType("torch._utils")

    class FloatStorage:
        pass

    def _rebuild_tensor_v2(*args):
        raise AssertionError("never called while pickling")

    FloatStorage.__module__, _rebuild_tensor_v2.__module__ = "torch", "torch._utils"
    FloatStorage.__qualname__ = "FloatStorage"
    _rebuild_tensor_v2.__qualname__ = "_rebuild_tensor_v2"
    torch_module.FloatStorage, utils._rebuild_tensor_v2 = FloatStorage, _rebuild_tensor_v2
    monkeypatch.setitem(sys.modules, "torch", torch_module)
    monkeypatch.setitem(sys.modules, "torch._utils", utils)

    class Tensor:
        def __init__(self, offset, size, stride):
            self.args = ("STORAGE", offset, size, stride, False, {})

        def __reduce__(self):
            return (_rebuild_tensor_v2, self.args)

    class Pickler(pickle.Pickler):
        def persistent_id(self, obj):
            if obj == "STORAGE":
                return ("storage", FloatStorage, "7", "cpu", 8, None)
            return None

    out = io.BytesIO()
    # a 2x3 block at offset 1 of a row-major 2x4 (stride 4, 1), and its transpose
    Pickler(out, protocol=2).dump({"a": Tensor(1, (2, 3), (4, 1)), "t": Tensor(1, (3, 2), (1, 4))})
    data = np.arange(8, dtype="<f4").tobytes()
    state = load_checkpoint(legacy_file(tmp_path, out.getvalue(), ["7"], [data]))
    expected = np.array([[1, 2, 3], [5, 6, 7]], np.float32)
    np.testing.assert_array_equal(state["a"], expected)
    np.testing.assert_array_equal(state["t"], expected.T)
    assert state["a"].dtype == np.float32


@needs_model
def test_the_packaged_checkpoint_has_the_ge2e_shapes():
    encoder = SpeakerEncoder.from_package()
    assert [w_ih.shape for w_ih, _, _ in encoder._layers] == [(40, 1024), (256, 1024), (256, 1024)]
    assert encoder._linear_w.shape == (256, 256)


# --- features and network ------------------------------------------------------------------------


def test_mel_filters_are_librosas_slaney_filters_as_faster_whisper_computes_them():
    faster_whisper = pytest.importorskip("faster_whisper.feature_extractor")
    reference = faster_whisper.FeatureExtractor.get_mel_filters(SAMPLE_RATE, 400, 40)
    np.testing.assert_allclose(mel_filters(), reference, rtol=1e-5, atol=1e-9)


def test_mel_spectrogram_frames_and_partial_windows_follow_resemblyzer():
    assert mel_spectrogram(np.zeros(64000, np.float32)).shape == (401, 40)
    # 4 s: windows every 77 frames; the fifth would be only 57 % covered by audio
    assert [s.start for s in partial_slices(64000)] == [0, 77, 154, 231]
    assert [(s.start, s.stop) for s in partial_slices(1000)] == [(0, 160)]


def reference_lstm(x, weights):
    """PyTorch's LSTM equations, one sample and one step at a time (gates i, f, g, o)."""
    for w_ih, w_hh, b_ih, b_hh in weights:
        out = []
        for sample in x:
            h, c, hs = np.zeros(HIDDEN), np.zeros(HIDDEN), []
            for frame in sample:
                z = w_ih @ frame + b_ih + w_hh @ h + b_hh
                i, f, g, o = np.split(z, 4)
                sig = lambda v: 1 / (1 + np.exp(-v))  # noqa: E731
                c = sig(f) * c + sig(i) * np.tanh(g)
                h = sig(o) * np.tanh(c)
                hs.append(h)
            out.append(hs)
        x = np.array(out)
    return x[:, -1]


def test_the_vectorised_lstm_matches_the_textbook_equations():
    rng = np.random.default_rng(0)
    state, weights = {}, []
    for n, inputs in enumerate((40, HIDDEN, HIDDEN)):
        layer = [rng.normal(0, 0.1, shape) for shape in ((1024, inputs), (1024, HIDDEN))]
        layer += [rng.normal(0, 0.1, 1024), rng.normal(0, 0.1, 1024)]
        weights.append(layer)
        for key, value in zip(("weight_ih", "weight_hh", "bias_ih", "bias_hh"), layer, strict=True):
            state[f"lstm.{key}_l{n}"] = value.astype(np.float32)
    state["linear.weight"] = rng.normal(0, 0.1, (256, 256)).astype(np.float32)
    state["linear.bias"] = rng.normal(0, 0.1, 256).astype(np.float32)
    mels = rng.random((2, 6, 40)).astype(np.float32)
    hidden = reference_lstm(mels.astype(np.float64), weights)
    raw = np.maximum(hidden @ state["linear.weight"].T + state["linear.bias"], 0)
    expected = raw / np.linalg.norm(raw, axis=1, keepdims=True)
    np.testing.assert_allclose(SpeakerEncoder(state).embed_partials(mels), expected, atol=1e-5)


# --- embeddings ----------------------------------------------------------------------------------


@needs_model
def test_embeddings_are_unit_norm_deterministic_and_batched_the_same(encoder):
    a, b = clip("entrada_13_40_pt.wav"), clip("checkin_9_45_en_piper.wav")
    one = encoder.embed(a)
    assert one.shape == (EMBEDDING_SIZE,) and one.dtype == np.float32
    assert abs(np.linalg.norm(one) - 1) < 1e-5
    np.testing.assert_array_equal(encoder.embed(a), one)
    both = encoder.embed_many([a, b])
    np.testing.assert_allclose(both, [one, encoder.embed(b)], atol=1e-5)
    assert encoder.similarity(one, one) == pytest.approx(1.0, abs=1e-6)


@needs_model
def test_the_same_recording_quieter_and_padded_with_silence_keeps_its_voice(encoder):
    a = clip("entrada_13_40_pt.wav")
    padded = np.concatenate([np.zeros(8000, np.float32), 0.3 * a, np.zeros(12000, np.float32)])
    assert encoder.similarity(encoder.embed(a), encoder.embed(padded)) > 0.95


@needs_model
def test_another_voice_scores_lower_than_the_same_voice_saying_something_else(encoder):
    espeak_pt, espeak_pt_other = clip("entrada_13_40_pt.wav"), clip("saida_13_40_pt.wav")
    piper = clip("checkin_9_45_en_piper.wav")  # a neural voice of a recorded speaker
    same = encoder.similarity(encoder.embed(espeak_pt), encoder.embed(espeak_pt_other))
    other = encoder.similarity(encoder.embed(espeak_pt), encoder.embed(piper))
    assert same > 0.9 and other < 0.7


@needs_model
def test_too_little_speech_is_a_clear_invalid_audio_error(encoder):
    a = clip("entrada_13_40_pt.wav")
    with pytest.raises(SpeechTooShort, match=rf"needs at least {MIN_SPEECH_SECONDS:.1f} s") as e:
        encoder.embed(a[SAMPLE_RATE : SAMPLE_RATE * 18 // 10])  # 0.8 s in the middle of a word
    assert e.value.code == "invalid_audio"
    assert re.search(r"has 0\.[0-7]\d s of speech once silences are trimmed", e.value.message)
    with pytest.raises(SpeechTooShort):
        encoder.embed(clip("silence.wav"))
    with pytest.raises(SpeechTooShort):
        encoder.embed(np.zeros(0, np.float32))


def test_the_benchmarks_error_rates_and_threshold_fit():
    from tests.benchmarks.bench_speaker import equal_error_rate, far_frr, fit_threshold

    targets, nontargets = np.array([0.9, 0.8, 0.7, 0.6]), np.array([0.1, 0.2, 0.65, 0.3])
    assert far_frr(targets, nontargets, 0.65) == (0.25, 0.25)
    assert equal_error_rate(targets, nontargets) == 0.25
    assert equal_error_rate(targets, nontargets - 0.5) == 0.0
    many = np.linspace(0, 1, 1000)
    threshold = fit_threshold(many, 0.01)
    assert (
        far_frr(targets, many, threshold)[0] <= 0.01 < far_frr(targets, many, threshold - 2e-3)[0]
    )
