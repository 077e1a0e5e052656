"""README's commands run as written: each ```bash block marked `<!-- checked: run -->` runs in
the repository root and must exit 0; `<!-- checked: with fala serve -->` blocks run while
`.venv/bin/fala serve --port 9000` (README's own command) serves."""

from __future__ import annotations

import re
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e

REPO = Path(__file__).resolve().parents[2]
BLOCK = re.compile(r"<!-- checked: ([a-z ]+) -->\n```bash\n(.*?)```", re.DOTALL)
SERVE = [".venv/bin/fala", "serve", "--port", "9000"]


def checked_blocks() -> list[tuple[str, str]]:
    return BLOCK.findall((REPO / "README.md").read_text(encoding="utf-8"))


def untracked() -> set[str]:
    listed = subprocess.run(
        ["git", "ls-files", "--others", "--exclude-standard"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    )
    return set(listed.stdout.splitlines())


def run_block(script: str) -> subprocess.CompletedProcess:
    """The block in the repository root, as a reader pastes it; files it writes there (ola.wav)
    are removed afterwards."""
    before = untracked()
    try:
        return subprocess.run(
            ["bash", "-euo", "pipefail", "-c", script],
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
    finally:
        for name in untracked() - before:
            (REPO / name).unlink(missing_ok=True)


def test_readme_marks_its_runnable_blocks():
    modes = [mode for mode, _ in checked_blocks()]
    assert modes.count("run") >= 1 and modes.count("with fala serve") >= 1
    assert set(modes) <= {"run", "with fala serve"}, modes


@pytest.mark.parametrize(
    "script", [s for m, s in checked_blocks() if m == "run"], ids=lambda s: s.splitlines()[0][:40]
)
def test_a_checked_block_runs(stack, script):
    done = run_block(script)
    assert done.returncode == 0, (
        f"{script}\n--- stdout\n{done.stdout[-3000:]}\n--- stderr\n{done.stderr[-3000:]}"
    )


@pytest.fixture(scope="module")
def fala_serve(stack):
    server = subprocess.Popen(SERVE, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 300
    while True:
        try:
            urllib.request.urlopen("http://localhost:9000/", timeout=5)
        except urllib.error.HTTPError:
            break  # answering (405 for GET from a non-browser): serving
        except OSError:
            if server.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"fala serve did not start: {server.stderr.read()!r}") from None
            time.sleep(0.5)
    yield
    server.terminate()
    server.wait(timeout=30)


@pytest.mark.parametrize(
    "script",
    [s for m, s in checked_blocks() if m == "with fala serve"],
    ids=lambda s: s.splitlines()[0][:40],
)
def test_a_checked_block_runs_against_fala_serve(fala_serve, script):
    done = run_block(script)
    assert done.returncode == 0, done.stderr
    # what the block's comments say it prints: each verdict, error code and status
    promised = PROMISE.findall(script)
    assert promised, "a served block shows what it answers"
    for words in promised:
        assert words in done.stdout, (words, done.stdout[-2000:])


# In a block's `# {…}` comments: "validated": true|false, "error": "<code>", HTTP <status>.
PROMISE = re.compile(r'"validated": (?:true|false)|"error": "\w+"|HTTP \d{3}')
