"""`fala voice` leaves nothing running when it is stopped, however it is stopped: its local LLM
server (a child process) goes with it, also when the stop lands while the server is being
started."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from voice_service.local import StopOnSignal, free_port

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
def test_stopping_fala_voice_while_it_starts_stops_its_llm_server(stop, tmp_path):
    env = {**os.environ, "VOICE_API_TOKEN": "local-test-token", "PYTHONFAULTHANDLER": "1"}
    stderr = tmp_path / "stderr.log"
    with stderr.open("wb") as sink:
        service = subprocess.Popen(
            [str(FALA), "voice", "--port", str(free_port())],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=sink,
        )
    try:
        assert wait_for(lambda: children(service.pid), timeout=60), "no LLM server started"
        llm = children(service.pid)[0]
        service.send_signal(stop)
        try:
            service.wait(timeout=30)
        except subprocess.TimeoutExpired:
            service.send_signal(signal.SIGABRT)  # faulthandler prints where each thread is
            service.wait(timeout=10)
            pytest.fail(f"fala voice outlived {stop} by 30 s:\n{stderr.read_text()[-4000:]}")
        assert wait_for(lambda: not alive(llm), timeout=15), f"LLM server {llm} outlived {stop}"
    finally:
        service.kill()
        service.wait()


def test_a_stop_while_the_llm_server_is_being_started_waits_until_it_can_be_stopped():
    """Delivered between fork and the registration of the server's stop, a stop would leave the
    server running: it waits, and exits right after, through the caller's `finally`."""
    stop = StopOnSignal()
    previous = {s: signal.getsignal(s) for s in (signal.SIGTERM, signal.SIGHUP)}
    registered = False
    try:
        stop.install()
        with pytest.raises(SystemExit) as exited, stop.deferred():
            os.kill(os.getpid(), signal.SIGHUP)
            time.sleep(0.05)  # handlers run here, in the main thread
            registered = True  # what local_llm_server registers: the server's stop
        assert registered
        assert exited.value.code == 128 + signal.SIGTERM  # a hangup is a termination
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def test_a_stop_outside_the_start_exits_at_once():
    stop = StopOnSignal()
    previous = {s: signal.getsignal(s) for s in (signal.SIGTERM, signal.SIGHUP)}
    try:
        stop.install()
        with pytest.raises(SystemExit) as exited:
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(1)
        assert exited.value.code == 128 + signal.SIGTERM
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
