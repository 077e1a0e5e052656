"""The Nova Sonic session through the real Bedrock SDK (CRT transport, SigV4 event signing) against
the strict local fake of the bidirectional stream (tests/fakes/nova_sonic.py)."""

import asyncio
import io
import wave
from pathlib import Path

import av
import numpy as np
import pytest

from fala.core.audio import decode_audio
from fala.core.errors import (
    AudioTooLong,
    InvalidAudio,
    SonicModelNotFound,
    SonicStreamError,
    SonicThrottled,
    SonicTimeout,
    SonicUnavailable,
)
from fala.core.sonic import protocol
from fala.core.sonic import session as session_module
from fala.core.sonic.audio import (
    CHUNK_BYTES,
    LEADING_SILENCE_SECONDS,
    decode_to_pcm16,
    rms,
    to_pcm16,
)
from fala.core.sonic.conversation import converse_audio
from fala.core.sonic.session import SonicSession, _input_chunk, converse_pcm, run_sync
from fala.core.sonic.settings import SonicSettings
from tests.fakes.nova_sonic import SONIC_1, running_fake

AUDIO = Path(__file__).resolve().parents[1] / "fixtures" / "audio"
CLIP = (AUDIO / "entrada_13_40_pt.wav").read_bytes()

# Small time boxes, roomy enough for a loaded 2-core machine on the happy path. A test that needs
# a box to fire shrinks that one box only (BOX_THAT_FIRES): any other box that fired early on a
# loaded machine would turn the failure under test into a timeout.
FAST = SonicSettings(
    chunk_pace=0,
    budget_seconds=20,
    invoke_timeout=3,
    output_timeout=3,
    receive_timeout=3,
    send_timeout=3,
    close_timeout=0.5,
    reply_reserve_seconds=5,
)
BOX_THAT_FIRES = {
    "hang": {"output_timeout": 1},  # accepted, never answered
    "silent": {"receive_timeout": 1},  # 200, then no event
    # a stalled reader blocks the sender (SDK buffer full) long before any reply is due
    "stall": {"send_timeout": 1, "receive_timeout": 5},
}


def clip_pcm() -> bytes:
    return decode_to_pcm16(CLIP, max_seconds=30)


def talk(pcm: bytes, settings: SonicSettings = FAST, voice: str = "carolina"):
    return run_sync(converse_pcm(pcm, settings, voice=voice))


def test_a_turn_collects_the_user_transcript_final_text_audio_and_usage(monkeypatch):
    with running_fake(monkeypatch) as fake:
        turn = talk(clip_pcm())
    assert fake.violations == []
    assert turn.user_text == "Entrada, treze e quarenta."
    # FINAL text only: the SPECULATIVE draft is kept apart, never in the answer.
    assert turn.assistant_text == "Entendido: entrada às 13h40."
    assert "treze e quarenta" in turn.speculative_text
    assert turn.reply_pcm and len(turn.reply_pcm) == 2 * int(24000 * 1.2)
    assert turn.usage.input_speech_tokens == 120
    assert turn.usage.output_speech_tokens == 90
    assert turn.usage.output_text_tokens == 12
    record = fake.record
    assert record.model_id == "amazon.nova-2-sonic-v1:0"
    assert record.events[:6] == [
        "sessionStart",
        "promptStart",
        "contentStart",
        "textInput",
        "contentEnd",
        "contentStart",
    ]
    assert record.events[-3:] == ["contentEnd", "promptEnd", "sessionEnd"]
    assert record.input_closed
    voice = record.first("promptStart")["audioOutputConfiguration"]["voiceId"]
    assert voice == "carolina"


def test_the_reply_wav_is_24khz_mono_16bit(monkeypatch):
    with running_fake(monkeypatch):
        reply = converse_audio(CLIP, FAST, language="pt-BR")
    with wave.open(io.BytesIO(reply.wav)) as w:
        assert (w.getframerate(), w.getnchannels(), w.getsampwidth()) == (24000, 1, 2)
        assert w.getnframes() == int(24000 * 1.2)
    assert reply.voice == "carolina"
    assert reply.cost_usd > 0


def _convert(data: bytes, fmt: str, codec: str, rate: int, layout: str) -> bytes:
    """Re-encode a fixture with PyAV (another rate, stereo, another container)."""
    samples = decode_audio(data, max_seconds=30)
    stereo = np.stack([samples, samples * 0.5]).astype(np.float32)
    out = io.BytesIO()
    with av.open(out, "w", format=fmt) as container:
        stream = container.add_stream(codec, rate=rate, layout=layout)
        frame = av.AudioFrame.from_ndarray(
            stereo if layout == "stereo" else stereo[:1], format="fltp", layout=layout
        )
        frame.sample_rate = 16000
        resampler = av.AudioResampler(format=stream.format.name, layout=layout, rate=rate)
        for resampled in resampler.resample(frame) + resampler.resample(None):
            for packet in stream.encode(resampled):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    return out.getvalue()


@pytest.mark.parametrize(
    "source",
    [
        "entrada_13_40_pt.mp3",
        "entrada_13_40_pt.ogg",
        "entrada_13_40_pt.flac",
        "entrada_13_40_pt_stereo_48k.wav",
        "entrada_13_40_pt_8k_u8.wav",
        "flac 44.1 kHz stereo",
        "wav 22.05 kHz stereo",
    ],
)
def test_any_format_rate_or_layout_reaches_the_stream_as_16khz_mono_pcm(monkeypatch, source):
    if source == "flac 44.1 kHz stereo":
        data = _convert(CLIP, "flac", "flac", 44100, "stereo")
    elif source == "wav 22.05 kHz stereo":
        data = _convert(CLIP, "wav", "pcm_s16le", 22050, "stereo")
    else:
        data = (AUDIO / source).read_bytes()
    with running_fake(monkeypatch) as fake:
        reply = converse_audio(data, FAST, language="pt-BR")
    assert fake.violations == []
    assert reply.turn.assistant_text
    config = fake.record.first("contentStart")  # the system content comes first
    audio_start = next(b for b in fake.record.bodies if b.get("type") == "AUDIO")
    assert config["role"] == "SYSTEM"
    assert audio_start["audioInputConfiguration"]["sampleRateHertz"] == 16000
    assert audio_start["audioInputConfiguration"]["channelCount"] == 1
    # The stream carried exactly the decoded clip, after the leading silence.
    pcm = decode_to_pcm16(data, max_seconds=30)
    assert _leading_bytes() == 16 * CHUNK_BYTES
    assert bytes(fake.record.audio[_leading_bytes() : _leading_bytes() + len(pcm)]) == pcm


def _leading_bytes() -> int:
    # 0.5 s of silence, rounded up to whole 32 ms chunks.
    return -(-int(16000 * LEADING_SILENCE_SECONDS) * 2 // CHUNK_BYTES) * CHUNK_BYTES


def test_audio_goes_in_32ms_chunks_with_leading_silence_and_silence_until_the_reply_ends(
    monkeypatch,
):
    pcm = clip_pcm()
    # The reply trickles out (60 ms between events, ~2 s in all) and the fake gives up on a
    # client that stops sending for 0.75 s: only silence kept flowing through the reply passes.
    with running_fake(monkeypatch, reply_pace=0.06, input_idle_timeout=0.75) as fake:
        turn = talk(pcm)
    assert fake.violations == []
    assert turn.assistant_text
    record = fake.record
    assert set(record.audio_chunk_bytes) == {CHUNK_BYTES}  # 512 samples = 32 ms
    audio = bytes(record.audio)
    start = _leading_bytes()
    assert start / 32000 >= LEADING_SILENCE_SECONDS
    assert rms(audio[:start]) == 0.0  # ~0.5 s of leading silence
    assert audio[start : start + len(pcm)] == pcm  # then the clip
    speech = np.flatnonzero(np.abs(np.frombuffer(pcm, dtype="<i2")) > 600)
    speech_end = (start / 2 + speech[-1]) / 16000
    assert record.turn_detected_at_seconds is not None
    assert record.turn_detected_at_seconds >= speech_end + 2.0  # ≥ 2 s of silence, then a reply
    assert len(audio) / 32000 > record.turn_detected_at_seconds + 0.3  # silence kept flowing
    assert rms(audio[start + len(pcm) :]) == 0.0


def test_audio_is_paced_at_the_configured_fraction_of_real_time(monkeypatch):
    # The schedule, not the wall clock: chunk k of the plan is due k * 32 ms * pace after the start.
    pcm = to_pcm16(0.3 * np.sin(np.linspace(0, 2000, 16000)).astype(np.float32))  # 1 s
    paced = FAST.model_copy(update={"chunk_pace": 0.5})
    due: list[float] = []
    real_pace = session_module._pace

    async def recording_pace(loop, start, when):
        due.append(when)
        await real_pace(loop, loop.time(), 0.0)  # no waiting in a unit test

    monkeypatch.setattr(session_module, "_pace", recording_pace)
    with running_fake(monkeypatch) as fake:
        talk(pcm, paced)
    planned = 0.5 + 1.0 + 2.0  # leading silence, clip, end-of-turn silence (seconds of audio)
    assert len(fake.record.audio_chunk_bytes) >= len(due) >= int(planned / 0.032)
    assert due == pytest.approx([k * 0.032 * 0.5 for k in range(1, len(due) + 1)])


def test_the_fake_replies_only_after_two_seconds_of_silence(monkeypatch):
    """Speech, 1.5 s of silence (1 s ends the clip, 0.5 s more), then noise: no end of turn, so
    the stream ends, once the input is closed, without a reply. Speech then 2 s of silence: a
    reply (which is why the session always appends ≥ 2 s). The fake reads the input in order, so
    every event it answers with is out before the end of the stream."""
    rng = np.random.default_rng(1)
    noise = to_pcm16((0.05 * rng.standard_normal(16000 * 3)).astype(np.float32))
    speech = clip_pcm()

    async def answers(*parts: bytes) -> list[str]:
        session = SonicSession(FAST, voice="carolina")
        try:
            await session.open()
            for part in parts:
                for start in range(0, len(part), CHUNK_BYTES):
                    await session.send_audio(part[start : start + CHUNK_BYTES])
            await session.finish_input()
            names = []
            while (event := await session.receive()) is not None:
                names.append(event.name)
            return names
        finally:
            await session.close()

    with running_fake(monkeypatch, input_idle_timeout=30) as fake:
        unanswered = run_sync(answers(speech, bytes(16000), noise))
        assert not {"completionStart", "textOutput", "audioOutput"} & set(unanswered)
        assert fake.record.replies == 0
        reply = run_sync(answers(speech, bytes(16000 * 4)))
        assert reply[0] == "completionStart" and "audioOutput" in reply
        assert fake.record.replies == 1
    assert fake.violations == []


@pytest.mark.parametrize(
    ("failure", "error", "message"),  # the service's own message comes through
    [
        ("throttle", SonicThrottled, "Too many requests"),
        ("unavailable", SonicUnavailable, "unavailable"),
        ("hang", SonicTimeout, "await_output took longer than 1 s"),
        ("silent", SonicTimeout, "receive took longer than 1 s"),
        ("input_timeout", SonicStreamError, "Timed out waiting for input events"),
        ("stream_error", SonicStreamError, "model stream encountered an error"),
        ("end_mid_reply", SonicStreamError, "ended before the assistant finished"),
        ("model_not_found", SonicModelNotFound, "not found"),
        ("end_of_life", SonicModelNotFound, "end of its life"),
        ("stall", SonicTimeout, "sending an input event took longer than 1 s"),
    ],
)
def test_each_failure_is_a_typed_error_within_its_time_box(monkeypatch, failure, error, message):
    settings = FAST.model_copy(update=BOX_THAT_FIRES.get(failure, {}))
    with running_fake(monkeypatch, failure=failure) as fake, pytest.raises(error, match=message):
        talk(clip_pcm(), settings)
    assert fake.violations == []


def test_the_retired_sonic_v1_model_is_reported_as_not_found(monkeypatch):
    v1 = FAST.model_copy(update={"model_id": SONIC_1})
    with running_fake(monkeypatch), pytest.raises(SonicModelNotFound, match="end of its life"):
        talk(clip_pcm(), v1)


def test_the_overall_budget_bounds_the_whole_turn(monkeypatch):
    # Each event arrives within the receive box, but the reply as a whole overruns the budget.
    slow = FAST.model_copy(update={"budget_seconds": 6.0, "reply_reserve_seconds": 1.0})
    with (
        running_fake(monkeypatch, reply_pace=0.5, input_idle_timeout=30) as fake,
        pytest.raises(SonicTimeout, match="6 s budget"),
    ):
        talk(clip_pcm(), slow)
    assert fake.record.replies == 1


def test_input_longer_than_the_budget_is_rejected_before_any_request(monkeypatch):
    settings = SonicSettings(budget_seconds=20, reply_reserve_seconds=10, chunk_pace=1.0)
    assert settings.max_input_seconds() == pytest.approx(7.5)
    long_clip = bytes(2 * 16000 * 9)
    with running_fake(monkeypatch) as fake:
        with pytest.raises(AudioTooLong, match=r"at most 7\.5 s"):
            talk(long_clip, settings)
        with pytest.raises(AudioTooLong, match=r"limit is 1\.5 s"):
            converse_audio(CLIP + b"", settings.model_copy(update={"budget_seconds": 14}))
    assert fake.records == []


def test_empty_audio_is_rejected(monkeypatch):
    with running_fake(monkeypatch) as fake:
        with pytest.raises(InvalidAudio):
            talk(b"")
        with pytest.raises(InvalidAudio):
            converse_audio((AUDIO / "not_audio.txt").read_bytes(), FAST)
    assert fake.records == []


# --- the fake is strict: protocol mistakes end the stream with a ValidationException ----------


@pytest.mark.parametrize(
    ("voice", "extra", "rule"),
    [
        ("Carolina", [], "voiceId 'Carolina' is not a Nova 2 Sonic voice"),
        ("carolina", ["wrong-prompt"], "does not match the prompt"),
        ("carolina", ["prompt-end"], "promptEnd while a content is open"),
        ("carolina", ['{"event": {"audioInput": 1}}'], "audioInput body must be an object"),
        ("carolina", ["odd-audio"], "whole 16-bit samples"),
        ("carolina", ["wrong-content"], "does not match the open content"),
    ],
)
def test_the_fake_rejects_protocol_mistakes(monkeypatch, voice, extra, rule):
    async def scenario():
        session = SonicSession(FAST, voice=voice)
        name, content = session.prompt_name, session.audio_content
        payloads = {
            "wrong-prompt": protocol.prompt_end("prompt-x"),
            "prompt-end": protocol.prompt_end(name),
            "odd-audio": protocol.audio_input(name, content, b"\x00"),
            "wrong-content": protocol.audio_input(name, "other", bytes(64)),
        }
        try:
            await session.open()
            for item in extra:
                await session._stream.input_stream.send(_input_chunk(payloads.get(item, item)))
            while await session.receive() is not None:
                pass
        finally:
            await session.close()

    with running_fake(monkeypatch) as fake, pytest.raises(SonicStreamError, match="error"):
        run_sync(scenario())
    assert any(rule in v for v in fake.violations), fake.violations


def test_missing_credentials_fail_fast_instead_of_hanging_in_invoke(monkeypatch):
    with running_fake(monkeypatch) as fake:
        monkeypatch.delenv("AWS_ACCESS_KEY_ID")
        with pytest.raises(SonicUnavailable, match="No AWS credentials"):
            talk(clip_pcm())
    assert fake.records == []


def test_an_unreachable_endpoint_is_unavailable(monkeypatch):
    with running_fake(monkeypatch):
        monkeypatch.setenv("AWS_ENDPOINT_URL_BEDROCK_RUNTIME", "https://127.0.0.1:9")
        with pytest.raises(SonicUnavailable, match="connection refused"):
            talk(clip_pcm())


def test_a_service_slow_to_end_the_stream_costs_the_close_box_not_the_turn(monkeypatch):
    with running_fake(monkeypatch, linger=True) as fake:
        turn = talk(clip_pcm(), FAST.model_copy(update={"close_timeout": 0.3}))
    assert turn.assistant_text == "Entendido: entrada às 13h40."
    assert fake.record.input_closed


def test_an_abandoned_audio_send_is_not_overtaken_by_the_end_of_the_content(monkeypatch):
    """The turn can end while a chunk of audio is still being signed and written: the sender is
    cancelled and that write carries on (see session.bounded). The events that close the
    content must go out after it — the SDK chains each event's signature to the previous one,
    and an audioInput after its contentEnd is a protocol error."""

    async def scenario():
        session = SonicSession(FAST, voice="carolina")
        try:
            await session.open()
            send = session._stream.input_stream.send
            signing, signed = asyncio.Event(), asyncio.Event()

            async def slow_audio(chunk):  # the audio event is held in signing until released
                if b'"audioInput"' in chunk.value.bytes_:
                    signing.set()
                    await signed.wait()
                await send(chunk)

            session._stream.input_stream.send = slow_audio
            sender = asyncio.ensure_future(session.send_audio(bytes(CHUNK_BYTES)))
            await signing.wait()
            sender.cancel()
            finisher = asyncio.ensure_future(session.finish_input())
            for _ in range(50):  # event-loop turns in which an unordered contentEnd goes out
                await asyncio.sleep(0)
            signed.set()
            await finisher
            while await session.receive() is not None:
                pass
        finally:
            await session.close()

    with running_fake(monkeypatch) as fake:
        run_sync(scenario())
    assert fake.violations == []
    assert fake.record.events[-4:] == ["audioInput", "contentEnd", "promptEnd", "sessionEnd"]
