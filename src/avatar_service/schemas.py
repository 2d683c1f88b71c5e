"""The data that crosses stage boundaries: requests, timelines and render records (plain, JSON-ready)."""

import hashlib
import json
import re
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from avatar_service import PIPELINE_VERSION
from avatar_service.errors import InvalidInput

MAX_TEXT_CHARS = 5000
MIN_SPEED = 0.5
MAX_SPEED = 2.0
# Unicode's control characters (category Cc: U+0000-001F, U+007F-009F) except tab, LF and CR, which read as
# pauses, and lone surrogates (category Cs: U+D800-DFFF) cannot be spoken; espeak-ng refuses NUL outright.
UNSPEAKABLE_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")

Viseme = Literal["REST", "AA", "EE", "OH", "OO", "FF", "TH"]
VISEMES: tuple[str, ...] = ("REST", "AA", "EE", "OH", "OO", "FF", "TH")

# How the mouth cues were timed: the voice model's own phoneme durations (renders), or for an uploaded
# recording a forced alignment to its transcript or recognition without one (docs/lipsync.md).
TimingMethod = Literal["voice-model", "forced-alignment", "recognition"]

GazeDirection = Literal[
    "center", "left", "right", "up", "down", "up-left", "up-right", "down-left", "down-right"
]


class RenderRequest(BaseModel):
    """What a user asks for. ``voice_id=None`` means the configured default voice."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    # The pattern documents the control-character rule in the OpenAPI schema; _text_has_content enforces it.
    text: str = Field(
        min_length=1,
        max_length=MAX_TEXT_CHARS,
        json_schema_extra={"pattern": "^[^\\u0000-\\u0008\\u000B\\u000C\\u000E-\\u001F\\u007F-\\u009F]*$"},
    )
    voice_id: str | None = Field(default=None, max_length=200)
    speed: float = Field(default=1.0, ge=MIN_SPEED, le=MAX_SPEED)

    @field_validator("text")
    @classmethod
    def _text_has_content(cls, text: str) -> str:
        if not text.strip():
            raise ValueError(f"text must contain 1-{MAX_TEXT_CHARS} non-blank characters")
        control = UNSPEAKABLE_CONTROL.search(text)
        if control is not None:
            raise ValueError(
                f"contains the control character U+{ord(control.group()):04X} at position {control.start()}; "
                "only tab, line feed and carriage return are allowed"
            )
        return text


def parse_request(**fields: object) -> RenderRequest:
    """Build a RenderRequest for library and CLI callers, turning validation errors into InvalidInput."""
    try:
        return RenderRequest(**fields)  # type: ignore[arg-type]
    except ValidationError as error:
        first = error.errors()[0]
        field = ".".join(str(part) for part in first["loc"]) or "request"
        raise InvalidInput(field, describe_limit(field, first["msg"])) from None


def describe_limit(field: str, message: str) -> str:
    """Pydantic's message plus the field's documented limit, so every error names both."""
    limits = {
        "text": f"must be 1-{MAX_TEXT_CHARS} characters, not blank, no control characters but tab/LF/CR",
        "speed": f"must be between {MIN_SPEED} and {MAX_SPEED}",
    }
    limit = limits.get(field)
    return f"{message} ({limit})" if limit else message


def render_id_for(text: str, voice_id: str, speed: float) -> str:
    """Content hash naming a render: same voice, speed, text and pipeline version → same id."""
    payload = json.dumps(
        {"v": PIPELINE_VERSION, "voice": voice_id, "speed": round(speed, 4), "text": text},
        ensure_ascii=False,
        sort_keys=True,
    )
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()[:32]


class MouthCue(BaseModel):
    """From ``t_ms`` on the mouth shows ``viseme`` at ``weight`` (0 closed/neutral … 1 fully formed)."""

    model_config = ConfigDict(frozen=True)

    t_ms: int
    viseme: Viseme
    weight: float


class EyeEvent(BaseModel):
    """A blink or a gaze shift starting at ``t_ms``.

    ``amplitude`` is how far the lid closes for a blink (1 = fully) or how far the gaze moves for a
    saccade (1 = the pack's largest shift); ``direction`` is set for saccades only.
    """

    model_config = ConfigDict(frozen=True)

    t_ms: int
    event_type: Literal["blink", "saccade"]
    duration_ms: int
    direction: GazeDirection | None = None
    amplitude: float = 1.0


class RenderRecord(BaseModel):
    """A finished render as it is cached: the audio is a file name inside the audio directory, not a URL,
    so the public base URL can change without invalidating anything."""

    render_id: str
    voice_id: str
    speed: float
    duration_ms: int
    audio_file: str
    mouth_cues: list[MouthCue]
    eye_events: list[EyeEvent]
    processing_time_ms: int
    created_at: float
    timing: TimingMethod = "voice-model"
    # The audio file as this run wrote it (set by the queue when it stores the record; see cache.py): a
    # record whose file is missing, truncated or from another run is a cache miss, never a dead audio_url.
    audio_size: int | None = None
    audio_sha256: str | None = None


class JobStatus(StrEnum):
    PENDING = "pending"
    PROCESSING = "processing"
    COMPLETED = "completed"
    FAILED = "failed"


class RenderResult(BaseModel):
    """The API's (and the CLI's) response for a completed render."""

    render_id: str
    status: Literal[JobStatus.COMPLETED] = JobStatus.COMPLETED
    audio_url: str
    duration_ms: int
    mouth_cues: list[MouthCue]
    eye_events: list[EyeEvent]
    cached: bool
    processing_time_ms: int
    timing: TimingMethod = "voice-model"

    @classmethod
    def from_record(cls, record: RenderRecord, audio_url: str, cached: bool) -> "RenderResult":
        return cls(
            render_id=record.render_id,
            audio_url=audio_url,
            duration_ms=record.duration_ms,
            mouth_cues=record.mouth_cues,
            eye_events=record.eye_events,
            cached=cached,
            processing_time_ms=record.processing_time_ms,
            timing=record.timing,
        )
