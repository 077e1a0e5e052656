"""Voice service fixtures: real faster-whisper, Piper and a local LLM (cyllama + SmolLM2), each
started once per session; real Redis on a free port; the app served by uvicorn on a free port."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time

import pytest
from voice_service.app import create_app
from voice_service.backends import Backends, FasterWhisperSTT, PiperTTS
from voice_service.backends.tts import packaged_piper_voices
from voice_service.cache import MemoryCache
from voice_service.local import free_port, local_llm_server
from voice_service.server import uvicorn_options
from voice_testkit import LiveServer, make_llm, make_settings


@pytest.fixture(scope="session")
def llm_url():
    with local_llm_server() as url:
        yield url


@pytest.fixture(scope="session")
def stt(whisper_model_path):
    return FasterWhisperSTT(whisper_model_path, device="cpu")


@pytest.fixture(scope="session")
def piper():
    voice = PiperTTS(packaged_piper_voices())
    voice.warm_up()
    return voice


@pytest.fixture(scope="session")
def serve():
    """serve(app, **uvicorn options) → a running LiveServer, stopped at the end of the session."""
    servers: list[LiveServer] = []

    def start(app, **options) -> LiveServer:
        server = LiveServer(app, **options).__enter__()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.__exit__(None, None, None)


@pytest.fixture(scope="session")
def live(serve, llm_url, stt, piper) -> LiveServer:
    """The service with every real backend (faster-whisper base, local SmolLM2, Piper)."""
    settings = make_settings(llm_url)
    backends = Backends(stt=stt, llm=make_llm(settings), tts=piper)
    return serve(create_app(settings, backends, cache=MemoryCache()), **uvicorn_options(settings))


@pytest.fixture(scope="session")
def redis_url():
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.skip("redis-server is not installed (apt-get install redis-server)")
    port = free_port()
    process = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 15
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            break
        except OSError:
            if time.monotonic() > deadline or process.poll() is not None:
                process.kill()
                raise RuntimeError("redis-server did not start") from None
            time.sleep(0.05)
    yield f"redis://127.0.0.1:{port}/0"
    process.terminate()
    process.wait(timeout=10)
