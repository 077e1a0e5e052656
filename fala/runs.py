"""Where local runs are kept, so `fala trace` can show them after the emulation has exited."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from fala.local.assembly import REPO_ROOT

RUNS_DIR = REPO_ROOT / ".fala" / "runs"


def save(run: dict[str, Any]) -> Path:
    RUNS_DIR.mkdir(parents=True, exist_ok=True)
    path = RUNS_DIR / f"{run['execution_name']}.json"
    path.write_text(json.dumps(run, indent=2, default=str))
    return path


def load(name: str | None) -> dict[str, Any]:
    if name:
        name = name.rsplit(":", 1)[-1]  # accept an execution ARN too
        path = RUNS_DIR / f"{name}.json"
        if not path.exists():
            raise FileNotFoundError(f"No local run named {name!r} in {RUNS_DIR}")
        return json.loads(path.read_text())
    runs = (
        sorted(RUNS_DIR.glob("*.json"), key=lambda p: p.stat().st_mtime)
        if RUNS_DIR.exists()
        else []
    )
    if not runs:
        raise FileNotFoundError("No local runs yet: `fala run FILE --expect TEXT` makes one.")
    return json.loads(runs[-1].read_text())


def all_runs() -> list[dict[str, Any]]:
    """Every saved local run, oldest first."""
    if not RUNS_DIR.exists():
        return []
    paths = sorted(RUNS_DIR.glob("*.json"), key=lambda p: p.stat().st_mtime)
    return [json.loads(p.read_text()) for p in paths]
