"""`fala talk`: a spoken conversation with Amazon Nova Sonic from a terminal.

Live mode captures the microphone (16 kHz mono 16-bit, 32 ms blocks) and plays the reply
(24 kHz) through `sounddevice`, an optional extra. Barge-in: playback stops as soon as Nova Sonic
reports the user speaking (a USER content starting, or the `{"interrupted": true}` signal). Enter
ends the session. `--file` sends a recording instead of the microphone and writes the reply WAV;
it needs no audio device (that mode is what the tests drive, against the local fake).

Credentials come from the default AWS chain (profile, SSO, environment, ...); the region must be
one where Nova 2 Sonic is offered.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import sys
import threading
from functools import partial
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape

from fala.core.errors import FalaError
from fala.core.sonic import protocol
from fala.core.sonic.audio import CHUNK_SAMPLES, decode_to_pcm16, wav_bytes
from fala.core.sonic.protocol import OutputEvent
from fala.core.sonic.session import (
    SonicSession,
    TurnCollector,
    bedrock_client,
    converse_pcm,
    run_sync,
)
from fala.core.sonic.settings import SESSION_LIMIT_SECONDS, SonicSettings, resolve_voice

INSTALL_HINT = (
    "Live audio needs the optional `sounddevice` package (and the PortAudio library): "
    "pip install 'fala[audio]'  (or: pip install sounddevice==0.5.6; on Debian/Ubuntu also "
    "apt-get install libportaudio2). Or talk from a file: fala talk --file clip.wav"
)


class TranscriptPrinter:
    """Prints transcripts as they arrive: the user's (FINAL) and the assistant's FINAL text."""

    def __init__(self, console: Console) -> None:
        self.console = console
        self.contents: dict[str, tuple[str, str | None]] = {}

    def __call__(self, event: OutputEvent, collector: TurnCollector | None = None) -> None:
        body = event.body
        content_id = str(body.get("contentId", ""))
        if event.name == "contentStart":
            self.contents[content_id] = (
                str(body.get("role", "")),
                protocol.generation_stage(body),
            )
        elif event.name == "textOutput":
            role, stage = self.contents.get(content_id, (str(body.get("role", "")), None))
            text = str(body.get("content", "")).strip()
            if not text or protocol.is_interruption(text):
                return
            if role == "USER":
                self.console.print(f"[bold cyan]you[/]   {escape(text)}", highlight=False)
            elif role == "ASSISTANT" and stage != "SPECULATIVE":
                self.console.print(f"[bold magenta]sonic[/] {escape(text)}", highlight=False)


def talk_settings(
    *,
    region: str,
    model: str,
    language: str,
    system_prompt: str | None,
    pace: float,
    live: bool,
) -> SonicSettings:
    values: dict[str, Any] = {
        "region": region,
        "model_id": model,
        "default_language": language,
        "chunk_pace": pace,
    }
    if system_prompt:
        values["system_prompt"] = system_prompt
    if live:
        # A person may stay silent for a while: only the session limit bounds a live talk.
        values.update(
            budget_seconds=SESSION_LIMIT_SECONDS - 10,
            receive_timeout=SESSION_LIMIT_SECONDS,
            reply_reserve_seconds=0,
        )
    return SonicSettings(**values)


def talk_file(
    file: Path,
    out: Path,
    *,
    settings: SonicSettings,
    voice: str | None,
    console: Console,
) -> Path:
    """One turn from a recording: transcripts printed as they arrive, the reply WAV written."""
    chosen = resolve_voice(settings.default_language, voice)
    pcm = decode_to_pcm16(file.read_bytes(), max_seconds=settings.max_input_seconds())
    printer = TranscriptPrinter(console)
    factory = partial(bedrock_client, credentials="default-chain")
    turn = run_sync(
        converse_pcm(pcm, settings, voice=chosen, client_factory=factory, on_event=printer)
    )
    out.write_bytes(wav_bytes(turn.reply_pcm))
    return out


# --- live ----------------------------------------------------------------------------------------


def load_sounddevice() -> Any:
    """The sounddevice module, or None when it (or PortAudio) is missing."""
    try:
        import sounddevice  # type: ignore[import-not-found]
    except (ImportError, OSError):
        return None
    return sounddevice


class Player:
    """Reply audio queued for the speaker; `clear()` is the barge-in."""

    def __init__(self) -> None:
        self._buffer = bytearray()
        self._lock = threading.Lock()

    def add(self, pcm: bytes) -> None:
        with self._lock:
            self._buffer += pcm

    def clear(self) -> None:
        with self._lock:
            self._buffer.clear()

    def pull(self, size: int) -> bytes:
        with self._lock:
            piece = bytes(self._buffer[:size])
            del self._buffer[:size]
        return piece + bytes(size - len(piece))

    def callback(self, outdata: Any, frames: int, time: Any, status: Any) -> None:
        outdata[:] = self.pull(frames * 2)


def _interrupted(event: OutputEvent) -> bool:
    """Nova Sonic's barge-in signals: the interrupted marker text, or content ended INTERRUPTED."""
    body = event.body
    if event.name == "textOutput":
        return protocol.is_interruption(str(body.get("content", "")))
    return event.name == "contentEnd" and body.get("stopReason") == "INTERRUPTED"


async def talk_live(
    sd: Any, *, settings: SonicSettings, voice: str, console: Console
) -> None:  # pragma: no cover - needs a microphone, a speaker and an AWS account
    loop = asyncio.get_running_loop()
    factory = partial(bedrock_client, credentials="default-chain")
    session = SonicSession(settings, voice=voice, client_factory=factory)
    printer = TranscriptPrinter(console)
    player = Player()
    mic: asyncio.Queue[bytes] = asyncio.Queue(maxsize=64)
    stop = asyncio.Event()

    def queue_block(data: bytes) -> None:
        if not mic.full():  # a stalled sender drops microphone blocks rather than growing
            mic.put_nowait(data)

    def on_mic(indata: Any, frames: int, time: Any, status: Any) -> None:
        loop.call_soon_threadsafe(queue_block, bytes(indata))

    async def send() -> None:
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(0.2):
                    await session.send_audio(await mic.get())

    async def receive() -> None:
        contents: dict[str, str] = {}
        while (event := await session.receive()) is not None:
            printer(event)
            body = event.body
            if event.name == "contentStart":
                contents[str(body.get("contentId", ""))] = str(body.get("role", ""))
                if body.get("role") == "USER":
                    player.clear()  # barge-in: the user is speaking
            elif _interrupted(event):
                player.clear()
            elif event.name == "audioOutput":
                with contextlib.suppress(binascii.Error, ValueError):
                    player.add(base64.b64decode(str(body.get("content", ""))))
        stop.set()

    async def wait_for_enter() -> None:
        await loop.run_in_executor(None, sys.stdin.readline)
        stop.set()

    await session.open()
    console.print(f"Talking to {settings.model_id} as [bold]{voice}[/] — speak; Enter stops.")
    tasks: list[asyncio.Task[None]] = []
    try:
        with (
            sd.RawInputStream(
                samplerate=16000,
                channels=1,
                dtype="int16",
                blocksize=CHUNK_SAMPLES,
                callback=on_mic,
            ),
            sd.RawOutputStream(
                samplerate=24000, channels=1, dtype="int16", callback=player.callback
            ),
        ):
            tasks = [
                asyncio.create_task(send()),
                asyncio.create_task(receive()),
                asyncio.create_task(wait_for_enter()),
            ]
            async with asyncio.timeout(settings.budget_seconds):
                done, _ = await asyncio.wait(
                    [*tasks[:2], asyncio.create_task(stop.wait())],
                    return_when=asyncio.FIRST_COMPLETED,
                )
            for task in done:
                if task in tasks[:2] and task.exception() is not None:
                    raise task.exception()  # type: ignore[misc]
    except TimeoutError:
        console.print("The session reached Nova Sonic's 8-minute limit.")
    finally:
        stop.set()
        for task in tasks:
            task.cancel()
        with contextlib.suppress(FalaError):
            await session.finish_input()
        await session.close()


def main(
    *,
    region: str,
    model: str,
    voice: str | None,
    language: str,
    system_prompt: str | None,
    file: Path | None,
    out: Path,
    pace: float,
    console: Console,
    err: Console,
) -> int:
    """Exit status: 0 done, 1 a conversation error, 2 a usage problem (missing audio extra)."""
    try:
        settings = talk_settings(
            region=region,
            model=model,
            language=language,
            system_prompt=system_prompt,
            pace=pace,
            live=file is None,
        )
        if file is not None:
            written = talk_file(file, out, settings=settings, voice=voice, console=console)
            err.print(f"Reply audio written to {written}")
            return 0
        sd = load_sounddevice()
        if sd is None:
            err.print(f"[red]error:[/red] {escape(INSTALL_HINT)}", soft_wrap=True)
            return 2
        chosen = resolve_voice(language, voice)
        run_sync(talk_live(sd, settings=settings, voice=chosen, console=console))
        return 0
    except FalaError as exc:
        err.print(f"[red]error:[/red] {type(exc).__name__}: {escape(exc.message)}", soft_wrap=True)
        return 1
    except ValueError as exc:  # settings out of range (pydantic)
        err.print(f"[red]error:[/red] {escape(str(exc))}", soft_wrap=True)
        return 2
    except KeyboardInterrupt:
        return 130
