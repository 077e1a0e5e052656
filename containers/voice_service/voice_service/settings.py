"""Service settings, read from the environment (one place, validated at start-up)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from fala.core.prompts import DEFAULT_SYSTEM_PROMPT


class VoiceSettings(BaseSettings):
    """Every knob of the service; each field reads the upper-case env var of the same name."""

    model_config = SettingsConfigDict(frozen=True, extra="ignore", populate_by_name=True)

    # Auth: the token itself (ECS injects it from Secrets Manager as a container secret; set it
    # by hand locally) or the secret's ARN, read once at start-up with boto3.
    voice_api_token: str | None = Field(default=None, repr=False)
    voice_api_token_secret_arn: str | None = None

    # Devices and engines. "auto" uses CUDA when ctranslate2 sees a GPU.
    device: Literal["auto", "cpu", "cuda"] = "auto"
    whisper_model_dir: str | None = None  # CTranslate2 Whisper folder (image: /opt/models/whisper)
    whisper_compute_type: str | None = None  # default: float16 on GPU, int8 on CPU
    tts_backend: Literal["auto", "xtts", "piper"] = "auto"  # auto: XTTS on GPU, else Piper
    xtts_model_dir: str | None = None  # XTTS-v2 checkpoint folder (image: /opt/models/xtts)
    # Piper voices as "lang=path.onnx,lang=path.onnx"; default: the packaged en_US joe voice.
    piper_voices: str | None = None
    # onnxruntime intra-op threads per Piper synthesis (0: one per core, a pool that does not
    # spin-wait; 1: no pool, steadiest when the cores are always busy). Same audio either way.
    piper_threads: int = Field(default=0, ge=0, le=64)

    # LLM: any OpenAI-compatible chat endpoint (Ollama sidecar /v1, cyllama server locally).
    llm_base_url: str = "http://localhost:11434/v1"
    llm_model: str = "llama3.2:3b"
    llm_api_key: str | None = Field(default=None, repr=False)
    llm_timeout_seconds: float = Field(default=30.0, gt=0, le=600)
    llm_connect_timeout_seconds: float = Field(default=3.0, gt=0, le=60)
    llm_max_tokens: int = Field(default=120, gt=0, le=4096)
    llm_system_prompt: str = DEFAULT_SYSTEM_PROMPT

    # Limits and defaults.
    default_language: str = "pt-BR"
    # What Whisper may detect when a request asks for "auto" (or, on /v1, names no language):
    # Whisper codes, comma-separated, the first taken when Whisper is unsure (probability < 0.5).
    # Unrestricted, it takes Brazilian Portuguese for Spanish, and espeak-ng's for English.
    stt_languages: str = "pt,en"
    max_audio_seconds: float = Field(default=30.0, gt=0, le=600)
    max_text_chars: int = Field(default=2000, gt=0, le=20_000)
    max_batch_items: int = Field(default=16, gt=0, le=256)
    # Any request body (chunked uploads too) and any WebSocket message; bigger ones get 413 /
    # close 1009.
    max_upload_bytes: int = Field(default=20 * 1024 * 1024, gt=0)
    # Slow clients: a request's head must arrive whole within this time, and its body must not
    # pause for longer; else 408 and the connection is closed.
    client_timeout_seconds: float = Field(default=30.0, gt=0, le=600)

    # Cache: Redis when REDIS_URL is set, else a bounded in-process LRU.
    redis_url: str | None = Field(default=None, repr=False)
    cache_max_items: int = Field(default=256, ge=0)
    cache_max_bytes: int = Field(default=64 * 1024 * 1024, ge=0)
    cache_ttl_seconds: int = Field(default=24 * 3600, gt=0)

    # Job worker (runs inside the API process when JOB_QUEUE_URL is set).
    job_queue_url: str | None = None
    heartbeat_seconds: float = Field(default=20.0, gt=0)
    # The job queue's visibility timeout, renewed with each beat (unset: left as the queue has it).
    job_visibility_seconds: int | None = Field(default=None, gt=0, le=43_200)
    aws_region: str | None = None

    @classmethod
    def from_env(cls, **overrides: object) -> VoiceSettings:
        return cls(**overrides)  # type: ignore[arg-type]
