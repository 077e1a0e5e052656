"""One source of pinned versions: .ci/constraints.txt.

Every other file that names a version copies it from there. A bundle's build sees only its own
folder (functions/*/ is pip-installed into a zip, the images' Docker context is narrowed to their
folder), so the bundles keep pinned copies; these tests fail, naming the file and the package,
when a copy differs from the source or pins a package the source does not know.
"""

from __future__ import annotations

import os
import re
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

REPO = Path(__file__).resolve().parents[2]
SOURCE = ".ci/constraints.txt"
# Install lists of the development venv: names only, the versions come from the source (`-c`).
READS_SOURCE = {"requirements.txt", "containers/voice_service/requirements-cpu.txt"}
# Full resolutions of an environment other than the development venv (pip's output, indirect
# packages included): a package the source does not pin is that environment's own business.
# Each maps to the install lists it must cover.
LOCKS = {
    "containers/voice_service/constraints.txt": ["containers/voice_service/requirements.txt"],
    ".ci/requirements-checkov.txt": [],
}
# (file, package): why that file's version may differ from the source's.
FORCED = {
    (".ci/requirements-checkov.txt", "boto3"): "checkov 3.3.30 requires boto3==1.35.49 exactly",
}
# Every file that pins something today; the walk below must find at least these.
KNOWN = {
    "requirements.txt",
    ".ci/requirements-checkov.txt",
    "containers/voice_service/requirements.txt",
    "containers/voice_service/requirements-cpu.txt",
    "containers/voice_service/constraints.txt",
    "containers/whisper_validation/requirements.txt",
    "containers/whisper_validation/requirements-nodeps.txt",
    "functions/start_pipeline/requirements.txt",
    "functions/describe_upload/requirements.txt",
    "functions/publish_outcome/requirements.txt",
    "functions/converse/requirements.txt",
}
# Build outputs, virtualenvs and caches (.gitignore); other hidden folders than .ci hold no pins.
_SKIP_DIRS = {"node_modules", "cdk.out", "build", "__pycache__"}
_PROSE_PIN = re.compile(r"(?<![\w.-])([A-Za-z0-9][A-Za-z0-9._-]*)==(\d+(?:\.\w+)*)")


def requirement_files() -> list[str]:
    found = []
    for folder, dirs, files in os.walk(REPO):
        dirs[:] = sorted(
            d for d in dirs if d not in _SKIP_DIRS and (not d.startswith(".") or d == ".ci")
        )
        for name in files:
            if name.endswith(".txt") and name.startswith(("requirements", "constraints")):
                found.append((Path(folder) / name).relative_to(REPO).as_posix())
    return sorted(found)


def parse(text: str) -> tuple[list[tuple[int, Requirement]], list[str]]:
    """A requirements file's requirements (line number, requirement) and its `-c` targets."""
    requirements, constraints = [], []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = re.sub(r"(^|\s)#.*", "", raw).strip()
        if line.startswith(("-c ", "--constraint ")):
            constraints.append(line.split(maxsplit=1)[1])
        elif line and not line.startswith("-"):
            requirements.append((number, Requirement(line)))
    return requirements, constraints


def exact_pin(requirement: Requirement) -> str | None:
    (spec,) = requirement.specifier if len(requirement.specifier) == 1 else (None,)
    return spec.version if spec is not None and spec.operator == "==" else None


def source_pins() -> dict[str, str]:
    requirements, _ = parse((REPO / SOURCE).read_text())
    return {canonicalize_name(r.name): exact_pin(r) or "" for _, r in requirements}


def problems(path: str, text: str, source: dict[str, str]) -> list[str]:
    """What is wrong with one requirements file's versions, each naming the file and package."""
    found = []
    requirements, _ = parse(text)
    for number, requirement in requirements:
        name, pin = canonicalize_name(requirement.name), exact_pin(requirement)
        where = f"{path}:{number}: {requirement}"
        if pin is None and requirement.specifier:
            found.append(f"{where} is not an exact pin (name==version)")
        elif pin is None and path not in READS_SOURCE:
            found.append(f"{where} has no version: pin it as {SOURCE} does")
        elif name not in source:
            if path not in LOCKS:
                found.append(f"{where}: {SOURCE} does not know {name}; add its pin there")
        elif pin is not None and pin != source[name] and (path, name) not in FORCED:
            found.append(f"{where} differs from {SOURCE}, which pins {name}=={source[name]}")
    return found


def test_the_source_pins_each_package_once_exactly_without_extras() -> None:
    requirements, constraints = parse((REPO / SOURCE).read_text())
    names = [canonicalize_name(r.name) for _, r in requirements]
    assert not constraints
    assert len(requirements) > 50
    assert sorted({n for n in names if names.count(n) > 1}) == []
    for number, requirement in requirements:
        assert exact_pin(requirement), f"{SOURCE}:{number}: {requirement} is not name==version"
        assert not requirement.extras and not requirement.marker, f"{SOURCE}:{number}"


def test_the_walk_finds_every_requirements_file() -> None:
    files = requirement_files()
    assert KNOWN | {SOURCE} <= set(files)
    assert not [f for f in files if f.startswith((".venv", "node_modules", "cdk.out", ".fala"))]


@pytest.mark.parametrize("path", sorted(set(requirement_files()) - {SOURCE}))
def test_each_requirements_file_pins_the_versions_of_the_source(path: str) -> None:
    assert problems(path, (REPO / path).read_text(), source_pins()) == []


@pytest.mark.parametrize("path", sorted(READS_SOURCE))
def test_the_development_lists_read_their_versions_from_the_source(path: str) -> None:
    _, constraints = parse((REPO / path).read_text())
    targets = [(REPO / path).parent.joinpath(c).resolve() for c in constraints]
    assert (REPO / SOURCE).resolve() in targets, f"{path} has no `-c` to {SOURCE}"


@pytest.mark.parametrize("lock", sorted(LOCKS))
def test_each_lock_holds_every_package_of_the_lists_it_resolves(lock: str) -> None:
    pinned = {canonicalize_name(r.name) for _, r in parse((REPO / lock).read_text())[0]}
    for listed in LOCKS[lock]:
        names = {canonicalize_name(r.name) for _, r in parse((REPO / listed).read_text())[0]}
        assert sorted(names - pinned) == [], f"{lock} lacks packages of {listed}: regenerate it"


@pytest.mark.parametrize(("path", "name"), sorted(FORCED))
def test_each_forced_difference_is_still_a_difference(path: str, name: str) -> None:
    versions = {
        canonicalize_name(r.name): exact_pin(r) for _, r in parse((REPO / path).read_text())[0]
    }
    assert versions[name] != source_pins()[name], f"drop FORCED[{path!r}, {name!r}]"


def test_pyproject_pins_the_versions_of_the_source() -> None:
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    listed = list(project.get("dependencies", []))
    for extra in project.get("optional-dependencies", {}).values():
        listed += extra
    text = "\n".join(listed)
    assert problems("pyproject.toml", text, source_pins()) == []


@pytest.mark.parametrize("path", ["Makefile", "README.md"])
def test_versions_named_in_prose_are_the_sources(path: str) -> None:
    """`name==version` written in the Makefile or the README, for a package the source pins."""
    source = source_pins()
    wrong = [
        f"{path}: {name}=={version} differs from {SOURCE}, which pins {source[key]}"
        for name, version in _PROSE_PIN.findall((REPO / path).read_text())
        if (key := canonicalize_name(name)) in source and source[key] != version
    ]
    assert wrong == []


def test_a_copy_that_drifts_or_pins_an_unknown_package_is_named() -> None:
    source = {"pydantic": "2.14.3", "numpy": "2.5.5"}
    text = "# a bundle\npydantic==2.15.0\nnumpy==2.5.5  # agrees\nleftpad==1.0\nnumpy>=2\nsoxr\n"
    assert problems("functions/f/requirements.txt", text, source) == [
        "functions/f/requirements.txt:2: pydantic==2.15.0 differs from .ci/constraints.txt, "
        "which pins pydantic==2.14.3",
        "functions/f/requirements.txt:4: leftpad==1.0: .ci/constraints.txt does not know leftpad; "
        "add its pin there",
        "functions/f/requirements.txt:5: numpy>=2 is not an exact pin (name==version)",
        "functions/f/requirements.txt:6: soxr has no version: pin it as .ci/constraints.txt does",
    ]
    # A lock may pin indirect packages the source does not know, never a different version.
    lock = "containers/voice_service/constraints.txt"
    assert problems(lock, "leftpad==1.0\npydantic==2.15.0\n", source) == [
        f"{lock}:2: pydantic==2.15.0 differs from .ci/constraints.txt, which pins pydantic==2.14.3"
    ]
