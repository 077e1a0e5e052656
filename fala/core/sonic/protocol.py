"""The Nova Sonic event protocol: input event builders and output event parsing.

Every input event is one JSON object `{"event": {<name>: {...}}}` built with `json.dumps` (never
string formatting: a prompt or transcript may contain quotes). The order a session must follow:

    sessionStart → promptStart → contentStart(TEXT, SYSTEM) → textInput → contentEnd
    → contentStart(AUDIO, USER, interactive) → audioInput … → contentEnd → promptEnd → sessionEnd

Output events: completionStart, contentStart/textOutput/audioOutput/contentEnd (USER transcript,
ASSISTANT text in SPECULATIVE then FINAL generation stages, ASSISTANT audio), usageEvent
(interleaved), completionEnd.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field
from typing import Any

INPUT_SAMPLE_RATE = 16_000
OUTPUT_SAMPLE_RATE = 24_000
SAMPLE_SIZE_BITS = 16
CHANNELS = 1

# Nova 2 Sonic voice ids (lowercase, as the API wants them), by locale.
VOICES: dict[str, tuple[str, ...]] = {
    "en-US": ("matthew", "tiffany"),
    "en-GB": ("amy",),
    "en-AU": ("olivia",),
    "en-IN": ("kiara", "arjun"),
    "hi-IN": ("kiara", "arjun"),
    "fr-FR": ("ambre", "florian"),
    "it-IT": ("beatrice", "lorenzo"),
    "de-DE": ("tina", "lennart"),
    "es-US": ("lupe", "carlos"),
    "pt-BR": ("carolina", "leo"),
}
ALLOWED_VOICES = frozenset(v for voices in VOICES.values() for v in voices) | {"greta"}


def _event(name: str, body: dict[str, Any]) -> str:
    return json.dumps({"event": {name: body}}, ensure_ascii=False, separators=(",", ":"))


def session_start(*, max_tokens: int, top_p: float, temperature: float) -> str:
    return _event(
        "sessionStart",
        {
            "inferenceConfiguration": {
                "maxTokens": int(max_tokens),
                "topP": float(top_p),
                "temperature": float(temperature),
            }
        },
    )


def prompt_start(prompt_name: str, *, voice: str) -> str:
    return _event(
        "promptStart",
        {
            "promptName": prompt_name,
            "textOutputConfiguration": {"mediaType": "text/plain"},
            "audioOutputConfiguration": {
                "mediaType": "audio/lpcm",
                "sampleRateHertz": OUTPUT_SAMPLE_RATE,
                "sampleSizeBits": SAMPLE_SIZE_BITS,
                "channelCount": CHANNELS,
                "voiceId": voice,
                "encoding": "base64",
                "audioType": "SPEECH",
            },
        },
    )


def system_content_start(prompt_name: str, content_name: str) -> str:
    return _event(
        "contentStart",
        {
            "promptName": prompt_name,
            "contentName": content_name,
            "type": "TEXT",
            "interactive": False,
            "role": "SYSTEM",
            "textInputConfiguration": {"mediaType": "text/plain"},
        },
    )


def text_input(prompt_name: str, content_name: str, text: str) -> str:
    return _event(
        "textInput", {"promptName": prompt_name, "contentName": content_name, "content": text}
    )


def audio_content_start(prompt_name: str, content_name: str) -> str:
    return _event(
        "contentStart",
        {
            "promptName": prompt_name,
            "contentName": content_name,
            "type": "AUDIO",
            "interactive": True,
            "role": "USER",
            "audioInputConfiguration": {
                "mediaType": "audio/lpcm",
                "sampleRateHertz": INPUT_SAMPLE_RATE,
                "sampleSizeBits": SAMPLE_SIZE_BITS,
                "channelCount": CHANNELS,
                "audioType": "SPEECH",
                "encoding": "base64",
            },
        },
    )


def audio_input(prompt_name: str, content_name: str, pcm: bytes) -> str:
    return _event(
        "audioInput",
        {
            "promptName": prompt_name,
            "contentName": content_name,
            "content": base64.b64encode(pcm).decode("ascii"),
        },
    )


def content_end(prompt_name: str, content_name: str) -> str:
    return _event("contentEnd", {"promptName": prompt_name, "contentName": content_name})


def prompt_end(prompt_name: str) -> str:
    return _event("promptEnd", {"promptName": prompt_name})


def session_end() -> str:
    return _event("sessionEnd", {})


# --- Output --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class OutputEvent:
    """One decoded output event: its name and body."""

    name: str
    body: dict[str, Any]

    @classmethod
    def parse(cls, payload: bytes) -> OutputEvent:
        """Decode the bytes of one output chunk; a malformed chunk raises ValueError."""
        doc = json.loads(payload)
        if not isinstance(doc, dict) or not isinstance(doc.get("event"), dict):
            raise ValueError(f"not a Nova Sonic event: {payload[:120]!r}")
        ((name, body),) = doc["event"].items()
        if not isinstance(body, dict):
            raise ValueError(f"event {name!r} has a non-object body")
        return cls(name=name, body=body)


def generation_stage(body: dict[str, Any]) -> str | None:
    """SPECULATIVE or FINAL, from a contentStart's additionalModelFields (a JSON string)."""
    extra = body.get("additionalModelFields")
    if isinstance(extra, str) and extra:
        try:
            parsed = json.loads(extra)
        except ValueError:
            return None
        stage = parsed.get("generationStage") if isinstance(parsed, dict) else None
        return stage if isinstance(stage, str) else None
    return None


def is_interruption(text: str) -> bool:
    """Nova Sonic signals barge-in with an ASSISTANT textOutput of `{ "interrupted" : true }`."""
    try:
        doc = json.loads(text)
    except ValueError:
        return False
    return isinstance(doc, dict) and doc.get("interrupted") is True


@dataclass
class TokenTotals:
    input_speech: int = 0
    input_text: int = 0
    output_speech: int = 0
    output_text: int = 0

    @classmethod
    def from_usage_event(cls, body: dict[str, Any]) -> TokenTotals:
        total = (body.get("details") or {}).get("total") or {}
        inp, out = total.get("input") or {}, total.get("output") or {}
        return cls(
            input_speech=int(inp.get("speechTokens") or 0),
            input_text=int(inp.get("textTokens") or 0),
            output_speech=int(out.get("speechTokens") or 0),
            output_text=int(out.get("textTokens") or 0),
        )


@dataclass
class ContentInfo:
    role: str
    type: str
    stage: str | None
    text: list[str] = field(default_factory=list)
