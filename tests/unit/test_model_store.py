"""Whisper base assembled from its two PyPI halves into the cache, once."""

import importlib.util

import pytest

from fala import model_store


def test_assembles_verifies_and_then_reuses(tmp_path, monkeypatch):
    monkeypatch.delenv("WHISPER_MODEL_DIR", raising=False)
    monkeypatch.setenv("FALA_CACHE_DIR", str(tmp_path))

    folder = model_store.whisper_model_dir()

    assert folder == tmp_path / "models" / "whisper-base"
    assert {p.name for p in folder.iterdir()} == {
        "model.bin",
        "config.json",
        "tokenizer.json",
        "vocabulary.txt",
        model_store.MARKER,
    }
    assert [p.name for p in folder.parent.iterdir()] == ["whisper-base"]  # no staging left
    # The second call trusts the marker and touches nothing.
    mtime = (folder / "model.bin").stat().st_mtime_ns
    assert model_store.whisper_model_dir() == folder
    assert (folder / "model.bin").stat().st_mtime_ns == mtime


def test_an_explicit_model_dir_wins(tmp_path, monkeypatch):
    (tmp_path / "model.bin").write_bytes(b"x")
    (tmp_path / "config.json").write_text("{}")
    monkeypatch.setenv("WHISPER_MODEL_DIR", str(tmp_path))
    assert model_store.whisper_model_dir() == tmp_path


def test_missing_packages_are_named(tmp_path, monkeypatch):
    monkeypatch.delenv("WHISPER_MODEL_DIR", raising=False)
    monkeypatch.setenv("FALA_CACHE_DIR", str(tmp_path))
    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util,
        "find_spec",
        lambda name: None if name == model_store.PART2_PACKAGE else real(name),
    )
    with pytest.raises(model_store.ModelUnavailable, match=model_store.PART2_PACKAGE):
        model_store.whisper_model_dir()
