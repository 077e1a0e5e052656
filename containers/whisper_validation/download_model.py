"""Download the Whisper model into the image at build time (run by the Dockerfile).

WHISPER_MODEL names a faster-whisper model ("base", "small", ... or a Hugging Face repo id);
WHISPER_MODEL_DIR is where the functions load it from at run time.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from faster_whisper import download_model


def main() -> int:
    name = os.environ.get("WHISPER_MODEL", "base")
    output_dir = Path(os.environ.get("WHISPER_MODEL_DIR", "/opt/models/whisper"))
    output_dir.mkdir(parents=True, exist_ok=True)
    path = download_model(name, output_dir=str(output_dir))
    files = sorted(p.name for p in Path(path).iterdir())
    if "model.bin" not in files:
        print(f"Whisper model {name!r} in {path} has no model.bin (got {files})", file=sys.stderr)
        return 1
    print(f"Whisper model {name!r} ready in {path}: {', '.join(files)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
