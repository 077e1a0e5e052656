"""`fala voice` leaves nothing running when it is stopped, however it is stopped: its local LLM
server (a child process) goes with it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from voice_service.local import free_port

FALA = Path(sys.executable).with_name("fala")


def children(pid: int) -> list[int]:
    path = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(c) for c in path.read_text().split()] if path.exists() else []


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"  # a zombie has exited; only its parent's wait is missing


def wait_for(condition, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.1)
    return False


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="reads children from /proc (Linux)")
@pytest.mark.parametrize(
    "stop", [signal.SIGTERM, signal.SIGHUP, signal.SIGKILL], ids=lambda s: s.name
)
def test_stopping_fala_voice_while_it_starts_stops_its_llm_server(stop):
    env = {**os.environ, "VOICE_API_TOKEN": "local-test-token"}
    service = subprocess.Popen(
        [str(FALA), "voice", "--port", str(free_port())],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        assert wait_for(lambda: children(service.pid), timeout=60), "no LLM server started"
        llm = children(service.pid)[0]
        service.send_signal(stop)
        service.wait(timeout=30)
        assert wait_for(lambda: not alive(llm), timeout=15), f"LLM server {llm} outlived {stop}"
    finally:
        service.kill()
        service.wait()
