"""The local zip bundler: inputs, hash and the bundle it builds (no Docker)."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest

from infra.constructs import bundling
from infra.constructs.bundling import (
    PROVIDED_BY_RUNTIME,
    ZipFunctionBundling,
    bundle_hash,
    bundle_inputs,
)

FUNCTIONS = ["start_pipeline", "describe_upload", "publish_outcome", "converse"]


@pytest.mark.parametrize("name", FUNCTIONS)
def test_each_function_has_a_handler_and_pinned_requirements(name: str) -> None:
    folder = bundling.FUNCTIONS_DIR / name
    assert (folder / "handler.py").is_file()
    for line in (folder / "requirements.txt").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            assert "==" in line, line


def test_inputs_are_the_function_and_fala_core_without_caches() -> None:
    names = {
        p.relative_to(bundling.REPO_ROOT).as_posix()
        for p in bundle_inputs(bundling.FUNCTIONS_DIR / "start_pipeline")
    }
    assert {"functions/start_pipeline/handler.py", "fala/__init__.py"} <= names
    assert "fala/core/models.py" in names
    assert not [n for n in names if "__pycache__" in n or n.endswith(".pyc")]


def _fake_repo(root: Path) -> Path:
    (root / "functions" / "f").mkdir(parents=True)
    (root / "functions" / "f" / "handler.py").write_text("def handler(e, c): ...\n")
    (root / "fala" / "core").mkdir(parents=True)
    (root / "fala" / "__init__.py").write_text("")
    (root / "fala" / "core" / "models.py").write_text("A = 1\n")
    return root / "functions" / "f"


def test_hash_changes_with_fala_core_but_not_with_caches(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    function_dir = _fake_repo(tmp_path)
    monkeypatch.setattr(bundling, "REPO_ROOT", tmp_path)
    monkeypatch.setattr(
        bundling, "SHARED_SOURCES", (tmp_path / "fala" / "__init__.py", tmp_path / "fala" / "core")
    )
    before = bundle_hash(function_dir)
    (tmp_path / "fala" / "core" / "__pycache__").mkdir()
    (tmp_path / "fala" / "core" / "__pycache__" / "models.cpython-312.pyc").write_bytes(b"x")
    assert bundle_hash(function_dir) == before
    (tmp_path / "fala" / "core" / "models.py").write_text("A = 2\n")
    assert bundle_hash(function_dir) != before
    (function_dir / "requirements.txt").write_text("pydantic==2.14.3\n")
    assert bundle_hash(function_dir) != before


def test_bundle_holds_handler_shared_code_and_linux_wheels(tmp_path: Path) -> None:
    """Runs pip for real (PyPI or pip's cache), as `cdk synth` does."""
    out = tmp_path / "bundle"
    out.mkdir()
    bundler = ZipFunctionBundling(function_dir=bundling.FUNCTIONS_DIR / "start_pipeline")
    assert bundler.try_bundle(str(out), image=None) is True
    assert (out / "handler.py").is_file()
    assert (out / "fala" / "__init__.py").is_file()
    assert (out / "fala" / "core" / "models.py").is_file()
    assert not list(out.rglob("__pycache__"))
    (native,) = out.glob("pydantic_core/_pydantic_core*.so")
    assert "cpython-312-x86_64-linux-gnu" in native.name
    assert list(out.glob("aws_lambda_powertools"))
    assert not zipfile.is_zipfile(native)


def test_the_largest_bundle_fits_lambda_without_the_runtime_sdk(tmp_path: Path) -> None:
    # GIVEN the Nova Sonic function (PyAV, NumPy, the Bedrock SDK with awscrt) bundled for real
    ZipFunctionBundling(function_dir=bundling.FUNCTIONS_DIR / "converse").bundle(tmp_path)

    # THEN it leaves out the SDK the runtime provides and fits the 250 MB unzipped limit
    names = {entry.name.split("-")[0] for entry in tmp_path.iterdir()}
    assert not names & set(PROVIDED_BY_RUNTIME)
    assert {"av", "numpy", "aws_sdk_bedrock_runtime", "awscrt", "fala", "handler.py"} <= names
    size = sum(f.stat().st_size for f in tmp_path.rglob("*") if f.is_file())
    assert size < 250 * 1000 * 1000, f"{size / 1e6:.1f} MB unzipped"
