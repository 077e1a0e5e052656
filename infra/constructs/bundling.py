"""Zip bundles for functions/<name>/ built without Docker (DESIGN §4).

A bundle is the function folder's files, the shared `fala/__init__.py` + `fala/core/**` (one home,
copied in rather than duplicated by hand) and the folder's requirements.txt installed as
manylinux x86_64 / CPython 3.12 wheels, whatever the machine running synth is.

The asset hash is computed from those inputs up front (AssetHashType.CUSTOM), so a repeat synth
finds `cdk.out/asset.<hash>` already there and skips bundling; any change to the function, its
requirements or fala/core changes the hash and rebuilds.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import jsii
from aws_cdk import AssetHashType, BundlingOptions, DockerImage, ILocalBundling
from aws_cdk import aws_lambda as lambda_

REPO_ROOT = Path(__file__).resolve().parents[2]
FUNCTIONS_DIR = REPO_ROOT / "functions"
SHARED_SOURCES = (REPO_ROOT / "fala" / "__init__.py", REPO_ROOT / "fala" / "core")

# The python3.12 Lambda runtime is Amazon Linux 2023 (glibc 2.34): manylinux_2_28 wheels run there
# too, and some dependencies (PyAV ≥ 15) ship only those.
PIP_TARGET_ARGS = (
    "--platform",
    "manylinux2014_x86_64",
    "--platform",
    "manylinux_2_28_x86_64",
    "--implementation",
    "cp",
    "--python-version",
    "3.12",
    "--only-binary=:all:",
    "--no-compile",
)
# Bump when the bundle layout changes, so old cdk.out bundles are not reused.
BUNDLE_FORMAT = "fala-zip-bundle/2"
# The python3.12 runtime ships the AWS SDK for Python; a second copy (pulled in by aws-xray-sdk)
# costs ~25 MB of the 250 MB unzipped limit, which the Nova Sonic bundle (PyAV, NumPy) needs.
PROVIDED_BY_RUNTIME = ("boto3", "botocore", "s3transfer")
_SKIP_DIRS = {"__pycache__", ".pytest_cache", ".mypy_cache", ".ruff_cache"}
_SKIP_SUFFIXES = {".pyc", ".pyo"}


def _source_files(path: Path) -> Iterator[Path]:
    if path.is_file():
        yield path
        return
    for child in sorted(path.iterdir()):
        if child.is_dir():
            if child.name not in _SKIP_DIRS:
                yield from _source_files(child)
        elif child.suffix not in _SKIP_SUFFIXES:
            yield child


def bundle_inputs(function_dir: Path) -> list[Path]:
    """Every file that ends up in (or decides) the bundle: the hash is taken over exactly these."""
    return [f for src in (function_dir, *SHARED_SOURCES) for f in _source_files(src)]


def bundle_hash(function_dir: Path) -> str:
    digest = hashlib.sha256()
    digest.update(BUNDLE_FORMAT.encode())
    digest.update(" ".join(PIP_TARGET_ARGS).encode())
    for file in bundle_inputs(function_dir):
        digest.update(b"\0" + file.relative_to(REPO_ROOT).as_posix().encode() + b"\0")
        digest.update(file.read_bytes())
    return digest.hexdigest()


def _copy_into(src: Path, dest: Path) -> None:
    ignore = shutil.ignore_patterns(*_SKIP_DIRS, *(f"*{s}" for s in _SKIP_SUFFIXES))
    if src.is_dir():
        shutil.copytree(src, dest, ignore=ignore, dirs_exist_ok=True)
    else:
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(src, dest)


@jsii.implements(ILocalBundling)
class ZipFunctionBundling:
    """Builds the bundle in-process; never falls back to Docker (it raises instead)."""

    def __init__(self, *, function_dir: Path) -> None:
        self.function_dir = function_dir

    # jsii passes the BundlingOptions as keyword arguments; the Python docs' signature is wrong.
    def try_bundle(self, output_dir: str, *args: object, **kwargs: object) -> bool:
        self.bundle(Path(output_dir))
        return True

    def bundle(self, output_dir: Path) -> None:
        requirements = self.function_dir / "requirements.txt"
        if requirements.is_file():
            # Dependencies first, so the project's own files win any name clash.
            command = [
                sys.executable,
                "-m",
                "pip",
                "install",
                "--quiet",
                "--disable-pip-version-check",
                "-r",
                str(requirements),
                *PIP_TARGET_ARGS,
                "--target",
                str(output_dir),
            ]
            result = subprocess.run(command, capture_output=True, text=True, check=False)  # noqa: S603
            if result.returncode != 0:
                raise RuntimeError(
                    f"Bundling {self.function_dir.name} failed: pip could not install "
                    f"{requirements.relative_to(REPO_ROOT)} as manylinux x86_64 cp312 wheels.\n"
                    f"{result.stdout}{result.stderr}"
                )
            for entry in output_dir.iterdir():
                if entry.name.split("-")[0] in PROVIDED_BY_RUNTIME:
                    shutil.rmtree(entry) if entry.is_dir() else entry.unlink()
        _copy_into(self.function_dir, output_dir)
        for shared in SHARED_SOURCES:
            _copy_into(shared, output_dir / shared.relative_to(REPO_ROOT))


def zip_function_code(name: str) -> lambda_.AssetCode:
    """Code for functions/<name>/, bundled locally; the asset hash tracks its real inputs."""
    function_dir = FUNCTIONS_DIR / name
    if not (function_dir / "handler.py").is_file():
        raise FileNotFoundError(f"{function_dir} has no handler.py")
    return lambda_.Code.from_asset(
        str(function_dir),
        asset_hash_type=AssetHashType.CUSTOM,
        asset_hash=bundle_hash(function_dir),
        bundling=BundlingOptions(
            # Only used if local bundling were skipped; ZipFunctionBundling always bundles.
            image=DockerImage.from_registry("public.ecr.aws/sam/build-python3.12"),
            local=ZipFunctionBundling(function_dir=function_dir),
        ),
    )
