"""End-to-end fixtures: the app synthesized once per session, a fresh emulated AWS per test."""

from pathlib import Path

import pytest

from fala.local.emulator import LocalPipeline
from fala.model_store import whisper_model_dir

AUDIO = Path(__file__).resolve().parents[1] / "fixtures" / "audio"


@pytest.fixture
def pipeline(stack, tmp_path):
    overrides = {"WHISPER_MODEL_DIR": str(whisper_model_dir())}
    with LocalPipeline(stack, work_dir=tmp_path, env_overrides=overrides) as emulated:
        yield emulated


def states_entered(history: list[dict]) -> list[str]:
    return [
        e["stateEnteredEventDetails"]["name"] for e in history if e["type"].endswith("StateEntered")
    ]
