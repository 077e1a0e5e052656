"""Nova Sonic building blocks without a stream: event builders, settings and voices, audio
framing, usage → cost, error mapping, and how output events fold into a turn."""

import asyncio
import base64
import json

import numpy as np
import pytest

from fala.core.errors import (
    InvalidRequest,
    SonicModelNotFound,
    SonicStreamError,
    SonicThrottled,
    SonicUnavailable,
    UnsupportedLanguage,
)
from fala.core.models import Usage
from fala.core.sonic import protocol
from fala.core.sonic.audio import CHUNK_BYTES, chunks, rms, silence, to_pcm16, wav_bytes
from fala.core.sonic.errors import map_exception
from fala.core.sonic.pricing import Prices, cost_usd
from fala.core.sonic.protocol import OutputEvent
from fala.core.sonic.session import TurnCollector, audio_plan, bounded, run_sync
from fala.core.sonic.settings import SonicSettings, resolve_voice


def test_events_are_json_even_with_quotes_and_newlines_in_text():
    prompt = 'Say "olá"\nand {braces} \\ backslashes'
    doc = json.loads(protocol.text_input("p", "c", prompt))
    assert doc == {
        "event": {"textInput": {"promptName": "p", "contentName": "c", "content": prompt}}
    }
    start = json.loads(protocol.prompt_start("p", voice="carolina"))["event"]["promptStart"]
    assert start["audioOutputConfiguration"] == {
        "mediaType": "audio/lpcm",
        "sampleRateHertz": 24000,
        "sampleSizeBits": 16,
        "channelCount": 1,
        "voiceId": "carolina",
        "encoding": "base64",
        "audioType": "SPEECH",
    }
    audio = json.loads(protocol.audio_input("p", "a", b"\x01\x00"))["event"]["audioInput"]
    assert base64.b64decode(audio["content"]) == b"\x01\x00"
    session = json.loads(protocol.session_start(max_tokens=1024, top_p=0.9, temperature=0.7))
    assert session["event"]["sessionStart"]["inferenceConfiguration"]["maxTokens"] == 1024


@pytest.mark.parametrize(
    ("language", "voice", "expected"),
    [
        ("pt-BR", None, "carolina"),
        ("pt", None, "carolina"),
        ("pt-BR", "leo", "leo"),
        ("pt-BR", "LEO", "leo"),
        ("en", None, "matthew"),
        ("en-US", "tiffany", "tiffany"),
        ("en-GB", None, "amy"),
        ("pt-BR", "matthew", "matthew"),  # a given voice wins
    ],
)
def test_voices_follow_the_language_unless_given(language, voice, expected):
    assert resolve_voice(language, voice) == expected


def test_unknown_voices_and_languages_are_rejected_with_the_choices():
    with pytest.raises(InvalidRequest, match="carolina"):
        resolve_voice("pt-BR", "hal9000")
    with pytest.raises(UnsupportedLanguage, match="pt-BR"):
        resolve_voice("tlh", None)


def test_settings_come_from_the_environment():
    settings = SonicSettings.from_env(
        {
            "SONIC_MODEL_ID": "amazon.nova-2-sonic-v1:0",
            "SONIC_REGION": "eu-north-1",
            "SYSTEM_PROMPT": "Be brief.",
            "SONIC_MAX_TOKENS": "512",
            "SONIC_TOP_P": "0.5",
            "SONIC_TEMPERATURE": "0.2",
            "SONIC_BUDGET_SECONDS": "100",
            "CHUNK_PACE": "0",
            "DEFAULT_LANGUAGE": "en",
        }
    )
    assert (settings.region, settings.max_tokens, settings.chunk_pace) == ("eu-north-1", 512, 0)
    assert settings.default_language == "en"
    assert SonicSettings.from_env({"AWS_REGION": "ap-northeast-1"}).region == "ap-northeast-1"
    assert SonicSettings.from_env({}).model_id == "amazon.nova-2-sonic-v1:0"


def test_the_budget_stays_under_the_session_limit_and_bounds_the_input():
    with pytest.raises(ValueError, match="budget_seconds"):
        SonicSettings(budget_seconds=600)
    with pytest.raises(ValueError, match="no time for any input"):
        SonicSettings(budget_seconds=20, reply_reserve_seconds=30)
    real_time = SonicSettings(budget_seconds=240, reply_reserve_seconds=30, chunk_pace=1.0)
    assert real_time.max_input_seconds() == pytest.approx(207.5)  # 210 s minus 0.5 + 2 s framing
    fast = SonicSettings(budget_seconds=240, reply_reserve_seconds=30, chunk_pace=0)
    assert fast.max_input_seconds() == pytest.approx(210)


def test_audio_framing():
    pcm = to_pcm16(np.full(1000, 0.5, np.float32))
    pieces = list(chunks(pcm))
    assert [len(p) for p in pieces] == [CHUNK_BYTES] * 2  # 1000 samples → 2 chunks of 512
    assert pieces[-1].endswith(bytes(2 * 24))  # padded with silence
    plan = list(audio_plan(pcm))
    assert all(len(p) == CHUNK_BYTES for p in plan)
    assert rms(b"".join(plan[:15])) == 0.0  # 0.5 s of leading silence
    assert sum(rms(p) == 0 for p in plan[-66:]) == 66  # ≥ 2 s of end-of-turn silence
    assert rms(silence(1.0)) == 0.0 and len(silence(1.0)) == 32000
    assert wav_bytes(b"\x00\x00" * 24000)[:4] == b"RIFF"
    assert to_pcm16(np.array([2.0, -2.0, np.nan], np.float32)) == (
        np.array([32767, -32767, 0], "<i2").tobytes()
    )


def test_cost_from_usage_at_list_prices():
    usage = Usage(
        input_speech_tokens=1000,
        input_text_tokens=1000,
        output_speech_tokens=1000,
        output_text_tokens=1000,
    )
    assert cost_usd(usage) == pytest.approx(0.003 + 0.00033 + 0.012 + 0.00275)
    assert cost_usd(usage, Prices(1, 1, 1, 1)) == pytest.approx(4.0)
    assert cost_usd(Usage()) == 0.0


class ThrottlingException(Exception):
    message = "Too many requests"


class ValidationException(Exception):
    pass


class ModelStreamErrorException(Exception):
    pass


class ServiceUnavailableException(Exception):
    pass


class ResourceNotFoundException(Exception):
    pass


@pytest.mark.parametrize(
    ("exc", "phase", "error"),
    [
        (ThrottlingException(), "invoke", SonicThrottled),
        (ThrottlingException(), "stream", SonicThrottled),
        (ServiceUnavailableException("down"), "invoke", SonicUnavailable),
        (ModelStreamErrorException("boom"), "stream", SonicStreamError),
        (ResourceNotFoundException("no such model"), "invoke", SonicModelNotFound),
        (
            ValidationException("The provided model identifier is invalid."),
            "invoke",
            SonicModelNotFound,
        ),
        (ValidationException("Timed out waiting for input events"), "stream", SonicStreamError),
        (OSError("Failed to read from stream."), "stream", SonicStreamError),
        (ConnectionRefusedError("refused"), "invoke", SonicUnavailable),
    ],
)
def test_sdk_exceptions_map_to_typed_errors(exc, phase, error):
    mapped = map_exception(exc, phase=phase, model_id="amazon.nova-2-sonic-v1:0")
    assert type(mapped) is error
    assert mapped.message


INTERRUPTED = '{ "interrupted" : true }'


def _start(content_id: str, role: str, kind: str, stage: str) -> tuple[str, dict]:
    return (
        "contentStart",
        {"contentId": content_id, "role": role, "type": kind, "additionalModelFields": stage},
    )


def _events(*items):
    return [OutputEvent(name, body) for name, body in items]


def test_the_collector_keeps_final_text_drops_speculative_and_ends_on_the_final_content():
    collector = TurnCollector()
    spec = json.dumps({"generationStage": "SPECULATIVE"})
    final = json.dumps({"generationStage": "FINAL"})
    audio = base64.b64encode(b"\x01\x00" * 10).decode()
    usage = {"details": {"total": {"input": {"speechTokens": 5, "textTokens": 2},
                                   "output": {"speechTokens": 7, "textTokens": 3}}}}  # fmt: skip
    for event in _events(
        ("completionStart", {}),
        _start("u", "USER", "TEXT", final),
        ("textOutput", {"contentId": "u", "role": "USER", "content": "oi"}),
        ("contentEnd", {"contentId": "u", "type": "TEXT", "stopReason": "END_TURN"}),
        _start("s", "ASSISTANT", "TEXT", spec),
        ("textOutput", {"contentId": "s", "role": "ASSISTANT", "content": "rascunho"}),
        ("contentEnd", {"contentId": "s", "type": "TEXT", "stopReason": "END_TURN"}),
        ("contentStart", {"contentId": "a", "role": "ASSISTANT", "type": "AUDIO"}),
        ("audioOutput", {"contentId": "a", "content": audio}),
        ("usageEvent", usage),
        ("contentEnd", {"contentId": "a", "type": "AUDIO", "stopReason": "END_TURN"}),
        _start("f", "ASSISTANT", "TEXT", final),
        ("textOutput", {"contentId": "f", "role": "ASSISTANT", "content": INTERRUPTED}),
        ("textOutput", {"contentId": "f", "role": "ASSISTANT", "content": "Olá!"}),
    ):  # fmt: skip
        collector.feed(event)
        assert not collector.done.is_set()  # the speculative and audio END_TURNs do not end it
    collector.feed(OutputEvent("contentEnd", {"contentId": "f", "stopReason": "END_TURN"}))
    assert collector.done.is_set()
    turn = collector.turn()
    assert (turn.user_text, turn.assistant_text, turn.speculative_text) == (
        "oi",
        "Olá!",
        "rascunho",
    )
    assert turn.reply_pcm == b"\x01\x00" * 10
    assert turn.usage == Usage(
        input_speech_tokens=5, input_text_tokens=2, output_speech_tokens=7, output_text_tokens=3
    )
    assert collector.interrupted


def test_bounded_abandons_work_that_ignores_cancellation():
    async def stubborn():
        while True:
            try:
                await asyncio.sleep(10)
            except asyncio.CancelledError:
                continue  # like an asyncio.Condition re-acquiring its lock

    async def main():
        with pytest.raises(TimeoutError):
            await bounded(stubborn(), 0.05)
        return "returned"

    assert run_sync(main(), grace=0.05) == "returned"


SHUTDOWN_SCRIPT = """
import asyncio, gc, sys
from fala.core.sonic.session import bounded, run_sync

class AIOHttp2ClientStream:  # stands in for awscrt's stream: the writer's qualified name
    async def _set_request_body_generator(self):
        raise RuntimeError("2080 (AWS_ERROR_HTTP_STREAM_HAS_COMPLETED)")

async def stubborn():
    while True:
        try:
            await asyncio.sleep(10)
        except asyncio.CancelledError:
            continue

async def unrelated():
    raise ValueError("a bug of ours")

async def main():
    asyncio.get_running_loop().create_task(AIOHttp2ClientStream()._set_request_body_generator())
    if sys.argv[1] == "with-a-bug":
        asyncio.get_running_loop().create_task(unrelated())
    try:
        await bounded(stubborn(), 0.05)
    except TimeoutError:
        pass
    await asyncio.sleep(0.05)

run_sync(main(), grace=0.05)
gc.collect()
"""


@pytest.mark.parametrize("case", ["clean", "with-a-bug"])
def test_a_session_loop_shuts_down_without_noise_but_still_reports_our_own_errors(case):
    # GIVEN a loop that leaves behind abandoned work and awscrt's failed body writer
    # (and, in the second case, a task of ours that failed unobserved)
    import subprocess
    import sys

    done = subprocess.run(
        [sys.executable, "-c", SHUTDOWN_SCRIPT, case], capture_output=True, text=True, check=True
    )

    # THEN only our own unobserved failure is printed at shutdown
    if case == "clean":
        assert done.stderr == ""
    else:
        assert "Task exception was never retrieved" in done.stderr
        assert "a bug of ours" in done.stderr
        assert "2080" not in done.stderr and "destroyed but it is pending" not in done.stderr
