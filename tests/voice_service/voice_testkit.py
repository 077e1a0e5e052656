"""Helpers shared by the voice service tests (imported as a top-level module: this folder has no
__init__.py, so that it is not itself imported as a package named `voice_service`)."""

from __future__ import annotations

import threading
import time
from pathlib import Path

from voice_service.backends import OpenAIChatLLM
from voice_service.local import LOCAL_LLM_MODEL, LOCAL_SYSTEM_PROMPT, free_port
from voice_service.metrics import Metrics
from voice_service.settings import VoiceSettings

AUDIO = Path(__file__).resolve().parents[1] / "fixtures" / "audio"
TOKEN = "test-token-0123456789"
AUTH = {"authorization": f"Bearer {TOKEN}"}


def refusal(body: dict, path: str) -> tuple[str, str]:
    """(code, message) of a refusal, asserting the shape its route answers with: OpenAI's
    `{"error": {"message", "type", "param", "code"}}` on /v1/*, else `{"error", "message"}`."""
    if path.startswith("/v1/"):
        assert set(body) == {"error"} and set(body["error"]) == {"message", "type", "param", "code"}
        return body["error"]["code"], body["error"]["message"]
    assert set(body) == {"error", "message"}, body
    return body["error"], body["message"]


def fixture_audio(name: str) -> bytes:
    return (AUDIO / name).read_bytes()


def make_settings(llm_url: str, **overrides) -> VoiceSettings:
    values = {
        "voice_api_token": TOKEN,
        "device": "cpu",
        "tts_backend": "piper",
        "llm_base_url": llm_url,
        "llm_model": LOCAL_LLM_MODEL,
        "llm_system_prompt": LOCAL_SYSTEM_PROMPT,
        "llm_max_tokens": 40,
        "llm_timeout_seconds": 20,
        "default_language": "en",
    }
    values.update(overrides)
    return VoiceSettings(**values)


def make_llm(settings: VoiceSettings) -> OpenAIChatLLM:
    return OpenAIChatLLM(
        settings.llm_base_url,
        settings.llm_model,
        timeout=settings.llm_timeout_seconds,
        connect_timeout=settings.llm_connect_timeout_seconds,
        max_tokens=settings.llm_max_tokens,
    )


class LiveServer:
    """A FastAPI app on uvicorn in a thread, on a free port; `options` go to uvicorn.Config
    (the service's own: voice_service.server.uvicorn_options(settings))."""

    def __init__(self, app, **options) -> None:
        import uvicorn

        self.app = app
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.ws_url = f"ws://127.0.0.1:{self.port}"
        config = uvicorn.Config(
            app, host="127.0.0.1", port=self.port, log_level="warning", **options
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    @property
    def metrics(self) -> Metrics:
        return self.app.state.metrics

    def __enter__(self) -> LiveServer:
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.05)
        return self

    def __exit__(self, *exc) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


def metric(server: LiveServer, family: str, **labels: str) -> float:
    """The current value of one sample of the server's registry (0 when absent)."""
    value = server.metrics.registry.get_sample_value(family, labels)
    return value or 0.0
