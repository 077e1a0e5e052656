"""When the local emulation synthesizes: one synth at a time per folder (`fala serve` and `fala
run` started together: the CDK CLI refuses a second synth into the same folder), and again when
another synth (`npx cdk synth`, `cdk deploy`, without the local context) wrote the folder."""

import threading
import time
from pathlib import Path
from types import SimpleNamespace

from fala.local import assembly


def test_concurrent_synths_into_one_folder_run_one_at_a_time(monkeypatch, tmp_path):
    running, overlaps, lock = [0], [], threading.Lock()

    def cdk(argv, **kwargs):  # the CDK CLI's place: note how many run at once
        with lock:
            running[0] += 1
            overlaps.append(running[0])
        time.sleep(0.2)
        (tmp_path / "cdk.out" / "manifest.json").write_text("{}")  # what a synth leaves
        with lock:
            running[0] -= 1
        return SimpleNamespace(returncode=0, stdout="", stderr="")

    monkeypatch.setattr(assembly.subprocess, "run", cdk)
    monkeypatch.setattr(assembly, "REPO_ROOT", tmp_path)
    (tmp_path / "node_modules" / ".bin").mkdir(parents=True)
    (tmp_path / "node_modules" / ".bin" / "cdk").touch()  # the CDK CLI is installed
    out = tmp_path / "cdk.out"
    out.mkdir()
    threads = [
        threading.Thread(target=assembly.synth, kwargs={"force": True, "out_dir": out})
        for _ in range(3)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert overlaps == [1, 1, 1]


def fake_cdk(calls: list[list[str]]):
    """The CDK CLI's place: writes a manifest into --output, as a synth does."""

    def cdk(argv, **kwargs):
        calls.append(argv)
        out = Path(argv[argv.index("--output") + 1])
        out.mkdir(parents=True, exist_ok=True)
        (out / "manifest.json").write_text("{}")
        return SimpleNamespace(returncode=0, stdout="", stderr="")

    return cdk


def test_an_assembly_written_by_another_synth_is_synthesized_again(monkeypatch, tmp_path):
    calls: list[list[str]] = []
    monkeypatch.setattr(assembly.subprocess, "run", fake_cdk(calls))
    monkeypatch.setattr(assembly, "REPO_ROOT", tmp_path)
    monkeypatch.setattr(assembly, "_input_files", lambda: iter(()))
    (tmp_path / "node_modules" / ".bin").mkdir(parents=True)
    (tmp_path / "node_modules" / ".bin" / "cdk").touch()
    out = tmp_path / "cdk.out"

    assembly.synth(out_dir=out)
    assembly.synth(out_dir=out)
    assert len(calls) == 1  # current: not synthesized twice
    assert "fala:voice_service=true" in calls[0]

    time.sleep(0.01)
    (out / "manifest.json").write_text("{}")  # `npx cdk synth` without the local context
    assembly.synth(out_dir=out)
    assert len(calls) == 2
