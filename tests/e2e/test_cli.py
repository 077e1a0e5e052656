"""The `fala` command as a user runs it (a separate process, local emulation)."""

import json
import subprocess
import sys
import wave
from pathlib import Path

import pytest

from .conftest import AUDIO

pytestmark = pytest.mark.e2e
FALA = Path(sys.executable).with_name("fala")


def fala(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(FALA), *args], capture_output=True, text=True, timeout=600, check=False
    )


def test_run_json_prints_the_result_document_then_trace_shows_the_run(stack):
    done = fala("run", str(AUDIO / "entrada_13_40_pt.wav"), "--expect", "ENTRADA 13 40", "--json")

    assert done.returncode == 0, done.stderr
    document = json.loads(done.stdout)
    assert document["status"] == "SUCCEEDED"
    assert document["validation"]["validated"] is True

    traced = fala("trace")
    assert traced.returncode == 0, traced.stderr
    for state in ("Describe upload", "Validate speech", "Publish outcome"):
        assert state in traced.stdout


def test_run_exits_1_when_the_audio_does_not_say_the_phrase(stack):
    done = fala("run", str(AUDIO / "entrada_13_40_pt.wav"), "--expect", "SAIDA 9 45", "--json")

    assert done.returncode == 1, done.stderr
    document = json.loads(done.stdout)
    assert document["status"] == "SUCCEEDED"
    assert document["validation"]["validated"] is False


def test_run_exits_2_and_explains_a_rejected_upload(stack, tmp_path):
    notes = tmp_path / "notes.wav"
    notes.write_text("not audio at all")

    done = fala("run", str(notes), "--expect", "ENTRADA 13 40")

    assert done.returncode == 2
    assert "upload_rejected" in done.stdout


def test_run_exits_2_on_a_usage_error_before_running_anything(tmp_path):
    done = fala("run", str(tmp_path / "missing.wav"), "--expect", "ENTRADA 13 40")

    assert done.returncode == 2
    assert "does not exist" in done.stderr


def test_converse_shows_the_conversation_and_saves_the_reply_audio(stack, tmp_path):
    reply = tmp_path / "reply.wav"
    done = fala(
        "run", str(AUDIO / "entrada_13_40_pt.wav"), "--mode", "converse", "--out", str(reply)
    )

    assert done.returncode == 0, done.stderr
    panel = " ".join(done.stdout.split())  # rich wraps the panel's lines
    assert "ANSWERED" in panel and "You said: 'Entrada, treze e quarenta.'" in panel
    assert "Answered by gpu-service" in panel and "Cost:" in panel
    # the local voice is Piper's English one: said plainly, not hidden
    assert "speaks en only" in panel
    with wave.open(str(reply)) as audio:
        assert audio.getnframes() > audio.getframerate() // 4
