"""``GET /v1/avatar/stream``: text in pieces over a WebSocket → speech and face timelines out as they are made.

The protocol is documented in docs/streaming.md. One connection is one stream. Two tasks share it: this
handler reads client messages (and answers bad ones with an ``error`` message, keeping the stream usable), and
a speaker task synthesizes the cut segments one after another on the shared render pool, sending each
``segment`` message immediately followed by its binary audio frame. Every send holds ``_send_lock``, so a
segment's message and its audio are never split by another message, and ``interrupt`` (which takes the lock
before stopping the speaker) never cuts a pair in half.
"""

import asyncio
import json
import logging
import uuid
from typing import Literal

from fastapi import APIRouter, WebSocket
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.websockets import WebSocketDisconnect

from avatar_service.api.origins import foreign_origin, own_origin
from avatar_service.errors import AvatarServiceError, InvalidInput, InvalidVoiceModel
from avatar_service.pipeline import Renderer
from avatar_service.render_pool import RenderPool
from avatar_service.schemas import MAX_SPEED, MIN_SPEED, describe_limit
from avatar_service.stream.playback import PlaybackClock
from avatar_service.stream.segmenter import Segmenter
from avatar_service.stream.segments import AudioFormat, StreamTimeline, speak_segment
from avatar_service.tts import VoiceFiles

_LOGGER = logging.getLogger(__name__)

MAX_STREAM_CHARS = 20_000
# RFC 6455 §7.4.2 leaves 4000-4999 to applications; 1013 ("try again later") is IANA-registered for overload.
CLOSE_TRY_AGAIN_LATER = 1013
CLOSE_NORMAL = 1000
CLOSE_POLICY_VIOLATION = 1008  # RFC 6455 §7.4.1

router = APIRouter()


class StreamSlots:
    """At most ``limit`` streams open at once (MAX_STREAMS); only touched on the event loop, so no lock."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.open = 0

    def acquire(self) -> bool:
        if self.open >= self.limit:
            return False
        self.open += 1
        return True

    def release(self) -> None:
        self.open -= 1


class _Start(BaseModel):
    model_config = ConfigDict(extra="forbid")
    type: Literal["start"]
    voice_id: str | None = Field(default=None, max_length=200)
    speed: float = Field(default=1.0, ge=MIN_SPEED, le=MAX_SPEED)
    format: AudioFormat = "pcm16"


class _Text(BaseModel):
    model_config = ConfigDict(extra="forbid")
    type: Literal["text"]
    text: str = Field(max_length=MAX_STREAM_CHARS)


class _Bare(BaseModel):
    model_config = ConfigDict(extra="forbid")
    type: Literal["flush", "end", "interrupt"]


_MESSAGES: dict[str, type[BaseModel]] = {
    "start": _Start, "text": _Text, "flush": _Bare, "end": _Bare, "interrupt": _Bare,
}
_END = object()  # the speaker's cue to send ``done``


@router.websocket("/v1/avatar/stream")
async def stream(websocket: WebSocket) -> None:
    app = websocket.app.state.services
    origin = foreign_origin(websocket, app.allowed_origins)
    if origin is not None:
        # Closing before accepting makes uvicorn answer the handshake with HTTP 403 (ASGI spec, WebSocket
        # "Close - send event"): a page on another site never gets a stream (api/origins.py).
        _LOGGER.warning(
            "refused a stream from a page on %r, not this service's origin %r: list it in CORS_ORIGINS to allow it",
            origin, own_origin(websocket),
        )
        await websocket.close(CLOSE_POLICY_VIOLATION)
        return
    await websocket.accept()
    if not app.stream_slots.acquire():
        # Closing before accepting would only give the client an HTTP 403; 1013 tells it to come back later.
        await websocket.close(
            CLOSE_TRY_AGAIN_LATER, f"too many streams open (MAX_STREAMS={app.stream_slots.limit}); try again later"
        )
        return
    try:
        await _Stream(websocket, app.renderer, app.render_pool, app.settings.stream_idle_timeout_seconds).serve()
    except WebSocketDisconnect:
        pass  # the client went away: its pending segments are dropped with the speaker task
    finally:
        app.stream_slots.release()


class _Stream:
    def __init__(self, websocket: WebSocket, renderer: Renderer, pool: RenderPool, idle_timeout_s: float) -> None:
        self._ws = websocket
        self._renderer = renderer
        self._pool = pool
        self._idle_timeout_s = idle_timeout_s
        self._owner = uuid.uuid4().hex  # this stream's queue in the render pool
        self._clock = PlaybackClock()  # when the client runs out of audio: the next segment's deadline
        self._send_lock = asyncio.Lock()
        self._segmenter = Segmenter()
        self._queue: asyncio.Queue = asyncio.Queue()
        self._unsent = 0  # segments queued or being synthesized: a stream with work to do is never idle
        self._chars = 0
        self._start: _Start | None = None
        self._voice: VoiceFiles | None = None
        self._timeline: StreamTimeline | None = None
        self._ended = False
        self._done = asyncio.Event()
        self._speaker: asyncio.Task | None = None

    async def serve(self) -> None:
        receiving: asyncio.Task | None = None
        done = asyncio.ensure_future(self._done.wait())
        try:
            while True:
                receiving = receiving or asyncio.ensure_future(self._ws.receive())
                finished, _ = await asyncio.wait(
                    {receiving, done}, timeout=self._idle_timeout_s, return_when=asyncio.FIRST_COMPLETED
                )
                if done in finished:
                    await self._ws.close(CLOSE_NORMAL, "stream done")
                    return
                if not finished:
                    if self._unsent:
                        continue
                    await self._error(None, f"no message for {self._idle_timeout_s:g} s (STREAM_IDLE_TIMEOUT_SECONDS)")
                    await self._ws.close(CLOSE_NORMAL, "idle timeout")
                    return
                message, receiving = receiving.result(), None
                if message["type"] == "websocket.disconnect":
                    return
                await self._handle(message)
        finally:
            for task in (receiving, done, self._speaker):
                if task is not None:
                    task.cancel()

    async def _handle(self, frame: dict) -> None:
        if frame.get("text") is None:
            await self._error("message", "binary frames are not accepted from clients; send JSON text frames")
            return
        try:
            message = _parse(frame["text"])
            await self._apply(message)
        except InvalidInput as error:
            await self._error(error.field, str(error))

    async def _apply(self, message: BaseModel) -> None:
        kind = message.type
        if kind == "start":
            await self._open(message)
            return
        if self._start is None:
            raise InvalidInput("type", f"send a start message before {kind!r}")
        if kind == "interrupt":
            await self._interrupt()
            return
        if self._ended:
            raise InvalidInput("type", f"the stream has ended; {kind!r} is not accepted after 'end'")
        if kind == "text":
            total = self._chars + len(message.text)
            if total > MAX_STREAM_CHARS:
                raise InvalidInput(
                    "text",
                    f"a stream takes at most {MAX_STREAM_CHARS} characters ({self._chars} so far, "
                    f"{len(message.text)} in this message); this message was not added",
                )
            self._chars = total
            self._enqueue(self._segmenter.push(message.text))
        elif kind == "flush":
            self._enqueue(self._segmenter.flush())
        elif kind == "end":
            self._enqueue(self._segmenter.flush())
            self._ended = True
            self._queue.put_nowait(_END)

    async def _open(self, start: _Start) -> None:
        if self._start is not None:
            raise InvalidInput("type", "the stream has already started; send 'start' once per connection")
        voice = self._renderer.catalog.get(start.voice_id)  # UnknownVoice names the installed ones
        try:
            loaded = await asyncio.to_thread(self._renderer.engine.load, voice)  # at once when already loaded
        except InvalidVoiceModel as error:
            await self._error("voice_id", str(error))
            return
        self._start, self._voice = start, voice
        self._timeline = StreamTimeline(loaded.config.sample_rate)
        self._speaker = asyncio.ensure_future(self._speak())
        await self._send(
            {"type": "ready", "sample_rate": loaded.config.sample_rate, "format": start.format, "voice_id": voice.voice_id}
        )

    def _enqueue(self, texts: list[str]) -> None:
        for text in texts:
            self._unsent += 1
            self._queue.put_nowait(text)

    async def _interrupt(self) -> None:
        # With the lock held the speaker is not mid-send, so cancelling it never splits a segment from its audio.
        async with self._send_lock:
            self._speaker.cancel()
            await asyncio.gather(self._speaker, return_exceptions=True)
            self._segmenter.clear()
            self._clock.stop()
            self._queue = asyncio.Queue()
            self._unsent = 0
            self._ended = False  # a pending `end` is dropped with the text: the stream takes new text
            self._speaker = asyncio.ensure_future(self._speak())
            await self._ws.send_text(json.dumps({"type": "interrupted", "offset_ms": self._timeline.offset_ms}))

    async def _speak(self) -> None:
        """Synthesize queued segments in order, each sent as soon as it is ready (ahead of playback), each due
        on the render pool when the audio sent before it runs out at the client."""
        start, timeline = self._start, self._timeline
        loop = asyncio.get_running_loop()
        while True:
            text = await self._queue.get()
            if text is _END:
                await self._send({"type": "done", "duration_ms": timeline.offset_ms})
                self._done.set()
                return
            try:
                segment = await self._pool.run(
                    self._owner, speak_segment,
                    self._renderer, self._voice, text, start.speed, timeline.next_seq, start.format,
                    deadline=self._clock.deadline(loop.time()),
                )
            except InvalidInput:
                self._unsent -= 1
                continue  # nothing speakable in it (only punctuation): nothing to send
            except Exception as error:  # one failed segment must not end the stream; tracebacks stay in the log
                self._unsent -= 1
                expected = isinstance(error, AvatarServiceError)
                _LOGGER.error("stream segment %r failed: %s", text[:40], error, exc_info=not expected)
                reason = str(error) if expected else f"internal error ({type(error).__name__}); see the server log"
                await self._error(None, f"could not synthesize {text[:40]!r}: {reason}")
                continue
            async with self._send_lock:
                await self._ws.send_text(json.dumps(timeline.place(segment)))
                await self._ws.send_bytes(segment.audio)
                self._clock.sent(loop.time(), len(segment.spoken.speech.samples) / timeline.sample_rate)
                self._unsent -= 1

    async def _error(self, field: str | None, detail: str) -> None:
        await self._send({"type": "error", "detail": detail, "field": field})

    async def _send(self, message: dict) -> None:
        async with self._send_lock:
            await self._ws.send_text(json.dumps(message))


def _parse(text: str) -> BaseModel:
    """A client message, or InvalidInput naming the field at fault and its limit."""
    try:
        data = json.loads(text)
    except ValueError as error:
        raise InvalidInput("message", f"not valid JSON ({error})") from None
    if not isinstance(data, dict):
        raise InvalidInput("message", "a message must be a JSON object with a 'type'")
    model = _MESSAGES.get(data.get("type"))
    if model is None:
        raise InvalidInput("type", f"unknown message type {data.get('type')!r}; expected one of {', '.join(_MESSAGES)}")
    try:
        return model.model_validate(data)
    except ValidationError as error:
        first = error.errors()[0]
        field = ".".join(str(part) for part in first["loc"]) or "message"
        if field == "text":  # the HTTP limit describe_limit knows does not apply to a stream's pieces
            raise InvalidInput(field, f"{first['msg']} (a stream takes at most {MAX_STREAM_CHARS} characters)") from None
        raise InvalidInput(field, describe_limit(field, first["msg"])) from None
