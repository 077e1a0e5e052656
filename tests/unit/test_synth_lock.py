"""`fala serve` and `fala run` started together synthesize one after the other: the CDK CLI
refuses a second synth into the same folder ("Another CLI is currently synthing")."""

import threading
import time
from types import SimpleNamespace

from fala.local import assembly


def test_concurrent_synths_into_one_folder_run_one_at_a_time(monkeypatch, tmp_path):
    running, overlaps, lock = [0], [], threading.Lock()

    def cdk(argv, **kwargs):  # the CDK CLI's place: note how many run at once
        with lock:
            running[0] += 1
            overlaps.append(running[0])
        time.sleep(0.2)
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
