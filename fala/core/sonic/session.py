"""A Nova Sonic session over Bedrock's bidirectional stream, with every await time-boxed.

`converse_pcm` runs one spoken turn from a recorded clip (the Lambda's job); `SonicSession` is the
lower-level piece `fala talk` drives live. The Bedrock SDK (aws-sdk-bedrock-runtime + awscrt) is
imported inside `bedrock_client`, the one seam between this module and AWS: tests point the real
SDK at a local fake endpoint (AWS_ENDPOINT_URL_BEDROCK_RUNTIME) or pass their own factory.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import logging
import os
import uuid
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, Literal

from fala.core.errors import (
    AudioTooLong,
    ConversationError,
    SonicNotConfigured,
    SonicStreamError,
    SonicTimeout,
    SonicUnavailable,
)
from fala.core.models import Usage
from fala.core.sonic import protocol
from fala.core.sonic.audio import (
    CHUNK_BYTES,
    CHUNK_SECONDS,
    END_OF_TURN_SILENCE_SECONDS,
    LEADING_SILENCE_SECONDS,
    SILENCE_CHUNK,
    chunks,
    pcm_seconds,
    silence,
)
from fala.core.sonic.errors import Phase, map_exception
from fala.core.sonic.protocol import OutputEvent, TokenTotals
from fala.core.sonic.settings import SONIC_OFF_VARIABLE, SonicSettings

logger = logging.getLogger(__name__)

Credentials = Literal["environment", "default-chain"]
ClientFactory = Callable[[SonicSettings], Awaitable[Any]]


async def bedrock_client(settings: SonicSettings, credentials: Credentials = "environment") -> Any:
    """The real Bedrock Runtime client on the CRT transport (the default aiohttp transport cannot
    stream both ways). `environment` credentials are a Lambda's; `default-chain` is the usual AWS
    chain (profiles, SSO, …) for `fala talk`. AWS_ENDPOINT_URL_BEDROCK_RUNTIME overrides the
    endpoint (that is how the tests reach the local fake)."""
    from aws_sdk_bedrock_runtime.client import AsyncBedrockRuntimeClient
    from aws_sdk_bedrock_runtime.config import AsyncBedrockRuntimeConfig
    from smithy_http.aio.crt import AWSCRTHTTPClient

    if os.environ.get(SONIC_OFF_VARIABLE) == "off":
        raise SonicNotConfigured(
            "Nova Sonic is off here: the local emulation never calls AWS "
            f"({SONIC_OFF_VARIABLE}=off); the voice service answers instead. Point "
            "AWS_ENDPOINT_URL_BEDROCK_RUNTIME at a Bedrock fake to converse with one."
        )
    if credentials == "environment" and not (
        os.environ.get("AWS_ACCESS_KEY_ID") and os.environ.get("AWS_SECRET_ACCESS_KEY")
    ):
        # The SDK would fail in a background task and leave invoke waiting forever.
        raise SonicUnavailable(
            "No AWS credentials in the environment (AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY): "
            "cannot sign the Nova Sonic request."
        )
    overrides: dict[str, Any] = {"region": settings.region, "transport": AWSCRTHTTPClient()}
    if credentials == "environment":
        from smithy_aws_core.identity.environment import EnvironmentCredentialsResolver

        overrides["aws_credentials_identity_resolver"] = EnvironmentCredentialsResolver()
    config = await AsyncBedrockRuntimeConfig.resolve(**overrides)
    return AsyncBedrockRuntimeClient(config=config)


def _input_chunk(payload: str) -> Any:
    from aws_sdk_bedrock_runtime.models import (
        BidirectionalInputPayloadPart,
        InvokeModelWithBidirectionalStreamInputChunk,
    )

    return InvokeModelWithBidirectionalStreamInputChunk(
        value=BidirectionalInputPayloadPart(bytes_=payload.encode("utf-8"))
    )


def _operation_input(model_id: str) -> Any:
    from aws_sdk_bedrock_runtime.models import InvokeModelWithBidirectionalStreamOperationInput

    return InvokeModelWithBidirectionalStreamOperationInput(model_id=model_id)


class SonicSession:
    """One bidirectional stream: open → send audio → receive events → finish → close.

    Every await is bounded by its own time box from the settings; a timeout raises SonicTimeout
    naming the step, any SDK/stream exception the typed error from `errors.map_exception`.
    """

    def __init__(
        self,
        settings: SonicSettings,
        *,
        voice: str,
        client_factory: ClientFactory | None = None,
    ) -> None:
        self.settings = settings
        self.voice = voice
        self._factory = client_factory or bedrock_client
        self.prompt_name = f"prompt-{uuid.uuid4()}"
        self.audio_content = f"audio-{uuid.uuid4()}"
        self._client: Any = None
        self._stream: Any = None
        self._output: Any = None
        self._input_closed = False
        self._audio_open = False
        self._last_write: asyncio.Future[Any] | None = None  # see `_in_order`
        # Set by the audio sender: while the user's audio is still going out the service cannot
        # have answered yet, so the receive time box counts from when it was all sent.
        self.sending_user_audio = False
        self.user_audio_sent = 0.0

    # -- time boxes ------------------------------------------------------------------------------

    async def _boxed[T](
        self, awaitable: Awaitable[T], seconds: float, step: str, phase: Phase
    ) -> T:
        try:
            return await bounded(awaitable, seconds)
        except TimeoutError:
            raise SonicTimeout(
                f"Nova Sonic did not answer in time: {step} took longer than {seconds:g} s."
            ) from None
        except ConversationError:
            raise
        except Exception as exc:
            raise map_exception(exc, phase=phase, model_id=self.settings.model_id) from exc

    # -- lifecycle --------------------------------------------------------------------------------

    async def open(self) -> None:
        """Invoke the stream and send everything up to the start of the user's audio."""
        s = self.settings
        self._client = await self._boxed(self._factory(s), s.invoke_timeout, "client", "invoke")
        self._stream = await self._boxed(
            self._client.invoke_model_with_bidirectional_stream(_operation_input(s.model_id)),
            s.invoke_timeout,
            "invoke",
            "invoke",
        )
        system = f"system-{uuid.uuid4()}"
        for event in (
            protocol.session_start(
                max_tokens=s.max_tokens, top_p=s.top_p, temperature=s.temperature
            ),
            protocol.prompt_start(self.prompt_name, voice=self.voice),
            protocol.system_content_start(self.prompt_name, system),
            protocol.text_input(self.prompt_name, system, s.system_prompt),
            protocol.content_end(self.prompt_name, system),
            protocol.audio_content_start(self.prompt_name, self.audio_content),
        ):
            await self.send_event(event)
        self._audio_open = True

    def _in_order(self, write: Callable[[], Awaitable[Any]]) -> asyncio.Future[Any]:
        """`write` to the input stream, started once every earlier write has ended. Writes must
        not overlap: the SDK signs each event with the previous event's signature, and a write
        whose caller was cancelled (the sender, when the reply ends) carries on (see `bounded`),
        so the contentEnd that follows could otherwise overtake its last audioInput."""
        previous = self._last_write

        async def after_previous() -> Any:
            if previous is not None:
                await asyncio.wait({previous})  # its outcome is its own caller's concern
            return await write()

        self._last_write = asyncio.ensure_future(after_previous())
        return self._last_write

    async def send_event(self, payload: str) -> None:
        chunk, stream = _input_chunk(payload), self._stream
        await self._boxed(
            self._in_order(lambda: stream.input_stream.send(chunk)),
            self.settings.send_timeout,
            "sending an input event",
            "stream",
        )

    async def send_audio(self, pcm: bytes) -> None:
        await self.send_event(protocol.audio_input(self.prompt_name, self.audio_content, pcm))

    async def receive(self) -> OutputEvent | None:
        """The next output event, or None when the service ended the stream.

        The wait is bounded by `receive_timeout`, counted from the later of the call and the
        moment the user's audio was all sent (`user_audio_sent`): the service answers only after
        the end of the user's turn, so a long clip sent at real-time pace is not a hang.
        """
        s = self.settings
        if self._output is None:
            _, self._output = await self._boxed(
                self._stream.await_output(), s.output_timeout, "await_output", "invoke"
            )
        while True:
            event = await self._receive_one()
            if event is None:
                return None
            value = getattr(event, "value", None)
            payload = getattr(value, "bytes_", None)
            if payload is None:
                logger.warning("Skipping an output event without bytes: %s", type(event).__name__)
                continue
            try:
                return OutputEvent.parse(payload)
            except (ValueError, UnicodeDecodeError) as exc:
                raise SonicStreamError(f"Nova Sonic sent an unreadable event: {exc}") from exc

    async def _receive_one(self) -> Any:
        loop = asyncio.get_running_loop()
        limit = self.settings.receive_timeout
        started = loop.time()
        task = asyncio.ensure_future(self._output.receive())
        try:
            while True:
                if self.sending_user_audio:
                    wait = limit
                else:
                    wait = max(started, self.user_audio_sent) + limit - loop.time()
                if wait > 0:
                    done, _ = await asyncio.wait({task}, timeout=wait)
                    if done:
                        break
                    continue
                task.add_done_callback(_consume)  # abandoned; see `bounded`
                raise SonicTimeout(
                    f"Nova Sonic did not answer in time: receive took longer than {limit:g} s."
                )
        except asyncio.CancelledError:
            task.add_done_callback(_consume)  # abandoned; see `bounded`
            raise
        try:
            return task.result()
        except ConversationError:
            raise
        except Exception as exc:
            raise map_exception(exc, phase="stream", model_id=self.settings.model_id) from exc

    async def finish_input(self) -> None:
        """End the audio content, the prompt and the session, then close the input stream."""
        if self._input_closed or self._stream is None:
            return
        self._input_closed = True
        if self._audio_open:
            self._audio_open = False
            await self.send_event(protocol.content_end(self.prompt_name, self.audio_content))
        await self.send_event(protocol.prompt_end(self.prompt_name))
        await self.send_event(protocol.session_end())
        stream = self._stream
        await self._boxed(
            self._in_order(stream.input_stream.close),
            self.settings.close_timeout,
            "closing the input",
            "stream",
        )

    async def close(self) -> None:
        """Close the stream and the client's connection; never raises, never hangs.

        Each step is bounded and abandoned (not awaited further) when it overruns: after a stall
        the SDK's input buffer cannot drain, and its close would wait for it forever. Closing the
        transport last aborts whatever is still pending on the connection.
        """
        stream, self._stream = self._stream, None
        client, self._client = self._client, None
        timeout = self.settings.close_timeout
        steps: list[Callable[[], Awaitable[Any]]] = []
        if stream is not None:
            steps.append(stream.input_stream.close)
            if self._output is not None:
                steps.append(self._output.close)
        transport = getattr(getattr(client, "_config", None), "transport", None)
        if transport is not None and hasattr(transport, "close"):
            steps.append(transport.close)
        for step in steps:
            with contextlib.suppress(Exception):
                await bounded(step(), timeout)


async def bounded[T](awaitable: Awaitable[T], seconds: float) -> T:
    """Await with a time box that cannot be defeated: the work runs in its own task, and on
    timeout that task is cancelled and abandoned, so code that swallows cancellation (an
    asyncio.Condition waiting for a lock, a CRT future) cannot hang the caller. TimeoutError on
    expiry."""
    task = asyncio.ensure_future(awaitable)
    try:
        done, _ = await asyncio.wait({task}, timeout=seconds)
    except asyncio.CancelledError:
        _abandon(task)  # as on timeout
        raise
    if not done:
        # Abandoned, not cancelled: cancelling a pending CRT read makes awscrt's callback fail
        # later (InvalidStateError); closing the transport completes it instead.
        _abandon(task)
        raise TimeoutError
    return task.result()


# Work given up on by a time box, by id() (a task being destroyed has lost its weak references).
# Some of it can never finish (a close that waits for a buffer only a dead stream would drain);
# the caller was already told, with a typed error.
_abandoned: set[int] = set()
# awscrt's task that writes the request body of an HTTP/2 stream. It is nobody's to await: when
# the service ends the stream first (a reply, an error, a closed connection), its final END_STREAM
# write fails with AWS_ERROR_HTTP_STREAM_HAS_COMPLETED, and the stream's own outcome reaches the
# session through the response, where it is reported.
_CRT_BODY_WRITER = "AIOHttp2ClientStream._set_request_body_generator"


def _abandon(task: asyncio.Future[Any]) -> None:
    _abandoned.add(id(task))
    task.add_done_callback(_consume)


def _consume(task: asyncio.Future[Any]) -> None:
    _abandoned.discard(id(task))
    if not task.cancelled():
        task.exception()


def _report_loop_exception(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
    """The loop's exception handler: abandoned work and awscrt's body writer are logged at debug
    level (their failure was reported, or is reported by the stream); all else as asyncio does."""
    task = context.get("task") or context.get("future")
    coroutine = getattr(task, "get_coro", lambda: None)()
    if id(task) in _abandoned or getattr(coroutine, "__qualname__", "") == _CRT_BODY_WRITER:
        _abandoned.discard(id(task))
        logger.debug(
            "Left behind: %s (%s)", context.get("message"), context.get("exception") or task
        )
        return
    loop.default_exception_handler(context)


def run_sync[T](coro: Awaitable[T], *, grace: float = 1.0) -> T:
    """asyncio.run without its unbounded shutdown: tasks left behind by an abandoned time box are
    cancelled and given `grace` seconds, then the loop closes regardless."""
    loop = asyncio.new_event_loop()
    loop.set_exception_handler(_report_loop_exception)
    try:
        return loop.run_until_complete(coro)
    finally:
        try:
            pending = [t for t in asyncio.all_tasks(loop) if not t.done()]
            for task in pending:
                task.cancel()
            if pending:
                loop.run_until_complete(asyncio.wait(pending, timeout=grace))
            loop.run_until_complete(asyncio.wait_for(loop.shutdown_asyncgens(), grace))
        except Exception:  # noqa: S110 - shutdown is best effort
            pass
        finally:
            loop.close()


# --- One turn from a recorded clip ---------------------------------------------------------------


@dataclass
class _Content:
    role: str
    type: str
    stage: str | None
    text: list[str] = field(default_factory=list)


@dataclass
class Turn:
    """What one conversation turn produced."""

    user_text: str
    assistant_text: str
    reply_pcm: bytes  # 24 kHz mono 16-bit
    usage: Usage
    speculative_text: str = ""
    events: int = 0


class TurnCollector:
    """Folds output events into a Turn: USER FINAL transcript, ASSISTANT FINAL text (SPECULATIVE
    ignored), ASSISTANT audio, the latest usage totals. `done` is set when the assistant's FINAL
    text content ends the turn (stopReason END_TURN) or the completion ends."""

    def __init__(self) -> None:
        self.contents: dict[str, _Content] = {}
        self.user: list[str] = []
        self.assistant: list[str] = []
        self.speculative: list[str] = []
        self.audio = bytearray()
        self.totals = TokenTotals()
        self.done = asyncio.Event()
        self.completed = False
        self.count = 0
        self.interrupted = False

    def feed(self, event: OutputEvent) -> None:
        self.count += 1
        body = event.body
        content_id = str(body.get("contentId", ""))
        match event.name:
            case "contentStart":
                self.contents[content_id] = _Content(
                    role=str(body.get("role", "")),
                    type=str(body.get("type", "")),
                    stage=protocol.generation_stage(body),
                )
            case "textOutput":
                text = str(body.get("content", ""))
                content = self.contents.get(content_id)
                role = str(body.get("role") or (content.role if content else ""))
                stage = content.stage if content else None
                if role == "ASSISTANT" and protocol.is_interruption(text):
                    self.interrupted = True
                elif role == "USER":
                    self.user.append(text)
                elif role == "ASSISTANT" and stage == "SPECULATIVE":
                    self.speculative.append(text)
                elif role == "ASSISTANT":
                    self.assistant.append(text)
            case "audioOutput":
                try:
                    self.audio += base64.b64decode(str(body.get("content", "")), validate=True)
                except (binascii.Error, ValueError) as exc:
                    raise SonicStreamError(f"Nova Sonic sent undecodable audio: {exc}") from exc
            case "contentEnd":
                content = self.contents.get(content_id)
                if (
                    content is not None
                    and content.role == "ASSISTANT"
                    and content.type == "TEXT"
                    and content.stage != "SPECULATIVE"
                    and body.get("stopReason") == "END_TURN"
                ):
                    self.done.set()
            case "usageEvent":
                self.totals = TokenTotals.from_usage_event(body)
            case "completionEnd":
                self.completed = True
                self.done.set()
            case _:
                pass

    def turn(self) -> Turn:
        t = self.totals
        return Turn(
            user_text=_join(self.user),
            assistant_text=_join(self.assistant),
            reply_pcm=bytes(self.audio),
            usage=Usage(
                input_speech_tokens=t.input_speech,
                input_text_tokens=t.input_text,
                output_speech_tokens=t.output_speech,
                output_text_tokens=t.output_text,
            ),
            speculative_text=_join(self.speculative),
            events=self.count,
        )


def _join(parts: list[str]) -> str:
    return " ".join(p.strip() for p in parts if p.strip())


def audio_plan(pcm: bytes) -> Iterator[bytes]:
    """The chunks sent before the open-ended trailing silence: ~0.5 s of silence, the clip, then
    enough silence for the service to detect the end of the turn (≥ 2 s)."""
    yield from chunks(silence(LEADING_SILENCE_SECONDS))
    yield from chunks(pcm)
    yield from chunks(silence(END_OF_TURN_SILENCE_SECONDS + 4 * CHUNK_SECONDS))


async def _send_clip(session: SonicSession, pcm: bytes, pace: float, stop: asyncio.Event) -> int:
    """Send the planned chunks at `pace` times real time, then silence (at least real-time paced, so
    an idle stream never floods the service) until `stop` is set. Returns chunks sent."""
    loop = asyncio.get_running_loop()
    start = loop.time()
    sent = 0
    session.sending_user_audio = True
    try:
        for chunk in audio_plan(pcm):
            if stop.is_set():
                return sent
            await session.send_audio(chunk)
            sent += 1
            await _pace(loop, start, sent * CHUNK_SECONDS * pace)
    finally:
        session.sending_user_audio = False
        session.user_audio_sent = loop.time()
    keepalive_start, keepalive = loop.time(), 0
    while not stop.is_set():
        await session.send_audio(SILENCE_CHUNK)
        sent += 1
        keepalive += 1
        with contextlib.suppress(TimeoutError):
            delay = keepalive_start + keepalive * CHUNK_SECONDS * max(pace, 1.0) - loop.time()
            async with asyncio.timeout(max(delay, 0.0)):
                await stop.wait()
    return sent


async def _pace(loop: asyncio.AbstractEventLoop, start: float, due: float) -> None:
    delay = start + due - loop.time()
    await asyncio.sleep(delay if delay > 0 else 0)


EventHook = Callable[[OutputEvent, TurnCollector], None]


async def _receive_turn(
    session: SonicSession, collector: TurnCollector, on_event: EventHook | None
) -> None:
    while not collector.done.is_set():
        event = await session.receive()
        if event is None:
            raise SonicStreamError(
                "The Nova Sonic stream ended before the assistant finished its reply "
                f"(after {collector.count} events)."
            )
        collector.feed(event)
        if on_event is not None:
            on_event(event, collector)


async def _drain(session: SonicSession, collector: TurnCollector) -> None:
    while (event := await session.receive()) is not None:
        collector.feed(event)


async def converse_pcm(
    pcm: bytes,
    settings: SonicSettings,
    *,
    voice: str,
    client_factory: ClientFactory | None = None,
    on_event: EventHook | None = None,
) -> Turn:
    """One spoken turn: 16 kHz mono 16-bit `pcm` in, the transcripts and the reply audio out.

    The whole exchange is bounded by `settings.budget_seconds`; a clip too long to fit is rejected
    before any stream is opened. `on_event` sees each output event as it arrives (after the
    collector has folded it in), e.g. to print transcripts live.
    """
    limit = settings.max_input_seconds()
    if len(pcm) < CHUNK_BYTES // 16:
        from fala.core.errors import InvalidAudio

        raise InvalidAudio("The audio is empty: there is nothing to answer.")
    if pcm_seconds(pcm) > limit:
        raise AudioTooLong(
            f"The audio is {pcm_seconds(pcm):.1f} s long; a conversation turn takes at most "
            f"{limit:g} s (budget {settings.budget_seconds:g} s). Send a shorter clip."
        )
    session = SonicSession(settings, voice=voice, client_factory=client_factory)
    try:
        async with asyncio.timeout(settings.budget_seconds):
            return await _converse(session, pcm, settings, on_event)
    except TimeoutError:
        raise SonicTimeout(
            f"The conversation did not finish within its {settings.budget_seconds:g} s budget."
        ) from None
    finally:
        await session.close()


async def _converse(
    session: SonicSession, pcm: bytes, settings: SonicSettings, on_event: EventHook | None
) -> Turn:
    await session.open()
    collector = TurnCollector()
    stop = asyncio.Event()
    sender = asyncio.create_task(_send_clip(session, pcm, settings.chunk_pace, stop))
    receiver = asyncio.create_task(_receive_turn(session, collector, on_event))
    try:
        await asyncio.wait({sender, receiver}, return_when=asyncio.FIRST_COMPLETED)
        if sender.done() and sender.exception() is not None and not receiver.done():
            # A failed write usually has its cause on the output side (the service's error).
            await asyncio.wait({receiver}, timeout=1.0)
        if receiver.done():
            receiver.result()  # raises the receiver's typed error
        else:
            sender.result()
            raise SonicStreamError("The audio sender stopped before the reply ended.")
    finally:
        stop.set()
        for task in (sender, receiver):
            if not task.done():
                task.cancel()
        await asyncio.gather(sender, receiver, return_exceptions=True)
    # The assistant's final content has ended: close the turn and read the last events
    # (usage totals, completionEnd) for as long as the close time box allows.
    # The reply is complete already: a service slow to end the stream costs at most the close
    # time box, never the turn.
    with contextlib.suppress(ConversationError, TimeoutError):
        await session.finish_input()
        await bounded(_drain(session, collector), settings.close_timeout)
    if not collector.assistant and not collector.audio:
        raise SonicStreamError("Nova Sonic ended the turn without a reply.")
    return collector.turn()
