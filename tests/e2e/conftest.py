"""End-to-end fixtures: the app synthesized once per session, a fresh emulated AWS per test."""

from pathlib import Path

import pytest

from fala.local.assembly import REPO_ROOT, load_stack, synth
from fala.local.emulator import LocalPipeline
from fala.model_store import whisper_model_dir

AUDIO = Path(__file__).resolve().parents[1] / "fixtures" / "audio"


@pytest.fixture
def pipeline(stack, tmp_path):
    overrides = {"WHISPER_MODEL_DIR": str(whisper_model_dir())}
    with LocalPipeline(stack, work_dir=tmp_path, env_overrides=overrides) as emulated:
        yield emulated


@pytest.fixture(scope="session")
def short_heartbeat_stack():
    """The app synthesized with the shortest GPU-step heartbeat its settings allow (10 s: the
    worker beats every 3 s and the job queue hides a job for 6 s), so a stopped or killed worker
    shows in seconds. Kept in its own folder and re-synthesized only when an input changes."""
    out = REPO_ROOT / ".fala" / "synth" / "heartbeat-10s"
    return load_stack(synth(out_dir=out, context={"fala:voice_job_heartbeat_seconds": "10"}))


def states_entered(history: list[dict]) -> list[str]:
    return [
        e["stateEnteredEventDetails"]["name"] for e in history if e["type"].endswith("StateEntered")
    ]
