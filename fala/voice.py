"""`fala voice`: the GPU voice service run locally on CPU (faster-whisper base, a local
SmolLM2 server through cyllama, Piper en_US joe). The service's code lives in the container
folder; it is put on the import path here, as the image does with its own copy."""

from __future__ import annotations

import sys
from pathlib import Path

SERVICE_ROOT = Path(__file__).resolve().parents[1] / "containers" / "voice_service"


def import_voice_service() -> None:
    """Make `voice_service` importable from a repository checkout."""
    if str(SERVICE_ROOT) not in sys.path:
        sys.path.insert(0, str(SERVICE_ROOT))


def voice(host: str = "127.0.0.1", port: int = 8765, token: str | None = None) -> None:
    """Serve the voice API on host:port until Ctrl-C. Without `token`, VOICE_API_TOKEN or a
    random token (printed) protects it."""
    import_voice_service()
    from voice_service.local import serve

    serve(host=host, port=port, token=token)
