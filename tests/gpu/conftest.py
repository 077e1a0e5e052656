"""The GPU verification suite: the voice service's CUDA paths with their real models.

Nothing here can run without an NVIDIA GPU, so every test skips, with the reason, unless:

- CUDA works (`torch.cuda.is_available()`; torch is only in the GPU image, not the dev venv);
- for XTTS-v2, `XTTS_MODEL_DIR` holds a checkpoint (`config.json`): the image sets
  /opt/models/xtts and fills it when built with `--build-arg ACCEPT_COQUI_LICENSE=yes`;
- for the /ws turn, `LLM_BASE_URL` names an OpenAI-compatible endpoint (e.g. Ollama's /v1).

The settings come from the environment as in the container (`WHISPER_MODEL_DIR`, `PIPER_VOICES`,
`LLM_MODEL`, …); outside the image Whisper falls back to the dev checkout's base model. How to run
it on a GPU host: README, "Verifying on a GPU" (`make verify-gpu`).
"""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path

import pytest

# voice_testkit lives beside the CPU voice tests (a folder without __init__.py, on purpose).
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "voice_service"))

from voice_testkit import TOKEN, LiveServer  # also puts `voice_service` on the path


def cuda_missing() -> str | None:
    """Why CUDA cannot be used here, or None when it can."""
    if importlib.util.find_spec("torch") is None:
        return (
            "torch is not installed: run inside the GPU voice image "
            "(containers/voice_service/requirements.txt)"
        )
    import torch

    if not torch.cuda.is_available():
        return (
            "CUDA is not available (torch.cuda.is_available() is False): run on a GPU host, "
            "in the voice image with `docker run --gpus all`"
        )
    return None


def xtts_missing() -> str | None:
    model_dir = os.environ.get("XTTS_MODEL_DIR")
    if not model_dir:
        return "XTTS_MODEL_DIR is not set (the voice image sets /opt/models/xtts)"
    if not (Path(model_dir) / "config.json").is_file():
        return (
            f"no XTTS-v2 checkpoint in XTTS_MODEL_DIR={model_dir} "
            "(build the image with --build-arg ACCEPT_COQUI_LICENSE=yes)"
        )
    return None


@pytest.fixture(scope="session")
def cuda() -> None:
    reason = cuda_missing()
    if reason:
        pytest.skip(reason)


@pytest.fixture(scope="session")
def xtts_model_dir(cuda) -> str:
    reason = xtts_missing()
    if reason:
        pytest.skip(reason)
    return os.environ["XTTS_MODEL_DIR"]


@pytest.fixture(scope="session")
def llm_base_url(cuda) -> str:
    url = os.environ.get("LLM_BASE_URL")
    if not url:
        pytest.skip(
            "LLM_BASE_URL is not set: give an OpenAI-compatible endpoint for the /ws turn "
            "(e.g. http://localhost:11434/v1 with `ollama serve`; LLM_MODEL names the model)"
        )
    return url


@pytest.fixture(scope="session")
def gpu_whisper_dir(cuda, request) -> str:
    """The image's Whisper (WHISPER_MODEL_DIR, large-v3-turbo), else the dev checkout's base."""
    return os.environ.get("WHISPER_MODEL_DIR") or request.getfixturevalue("whisper_model_path")


@pytest.fixture(scope="session")
def gpu_settings(gpu_whisper_dir, xtts_model_dir):
    """The container's settings (read from its environment) with the image's defaults for the
    devices: DEVICE=auto, TTS_BACKEND=auto, so the service picks CUDA and XTTS by itself."""
    from voice_service.settings import VoiceSettings

    return VoiceSettings(
        voice_api_token=TOKEN,
        device="auto",
        tts_backend="auto",
        whisper_model_dir=gpu_whisper_dir,
        xtts_model_dir=xtts_model_dir,
        redis_url=None,
        job_queue_url=None,
    )


@pytest.fixture(scope="session")
def gpu_stt(gpu_whisper_dir):
    """faster-whisper as the service builds it with DEVICE=auto (float16 when CUDA is seen)."""
    from voice_service.backends import FasterWhisperSTT

    return FasterWhisperSTT(gpu_whisper_dir, device="auto")


@pytest.fixture(scope="session")
def gpu_server(gpu_settings, gpu_stt):
    """The service on uvicorn with the real GPU backends, TTS built by the service's own
    `build_tts` (XTTS-v2 with Piper as its fallback), an in-process cache."""
    from voice_service.app import create_app
    from voice_service.backends import Backends
    from voice_service.cache import MemoryCache
    from voice_service.metrics import Metrics
    from voice_service.server import uvicorn_options
    from voice_service.service import build_llm, build_tts

    settings = gpu_settings
    metrics = Metrics()
    tts = build_tts(settings, metrics)
    # One synthesis before serving: a failing XTTS falls back to Piper here and is counted, which
    # test_service_serves_xtts_on_cuda checks.
    list(tts.synthesize("Olá.", language="pt"))
    app = create_app(
        settings,
        Backends(stt=gpu_stt, llm=build_llm(settings), tts=tts),
        cache=MemoryCache(),
        metrics=metrics,
    )
    with LiveServer(app, **uvicorn_options(settings)) as server:
        yield server
