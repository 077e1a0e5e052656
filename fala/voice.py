"""`fala voice`: the GPU voice service run locally on CPU (faster-whisper base, a local
SmolLM2 server through cyllama, Piper en_US joe). The service's package lives in its container
folder and is installed beside fala in the dev venv (pyproject.toml)."""

from __future__ import annotations


def voice(host: str = "127.0.0.1", port: int = 8765, token: str | None = None) -> None:
    """Serve the voice API on host:port until Ctrl-C. Without `token`, VOICE_API_TOKEN or a
    random token (printed) protects it."""
    from voice_service.local import serve

    serve(host=host, port=port, token=token)
