"""Response bodies besides RenderResult (schemas.py), declared for the OpenAPI docs at /docs."""

from typing import Literal

from pydantic import BaseModel

from avatar_service.errors import ErrorKind
from avatar_service.schemas import JobStatus


class ErrorBody(BaseModel):
    """Every error response: ``detail`` is one readable line; ``field`` names the offending request field."""

    detail: str
    field: str | None = None


class RenderPendingError(ErrorBody):
    """A sync render that outlived SYNC_TIMEOUT_SECONDS (504) or failed (500): where to find the job."""

    render_id: str
    status: JobStatus
    poll_url: str
    error: str | None = None
    error_kind: ErrorKind | None = None


class RenderAccepted(BaseModel):
    render_id: str
    status: JobStatus
    poll_url: str


class RenderJobStatus(BaseModel):
    """A render that is not completed: ``error`` says why when ``status`` is ``failed``."""

    render_id: str
    status: Literal[JobStatus.PENDING, JobStatus.PROCESSING, JobStatus.FAILED]
    error: str | None = None
    error_kind: ErrorKind | None = None


class Health(BaseModel):
    """``reason`` says why the status is ``degraded`` (queue store down, disk full)."""

    status: Literal["ok", "degraded"]
    reason: str | None = None
    queue: Literal["embedded", "valkey"]
    valkey_connected: bool
    pending_jobs: int | None


class Voice(BaseModel):
    voice_id: str
    default: bool


class Voices(BaseModel):
    default_voice: str | None
    voices: list[Voice]


class AvatarPack(BaseModel):
    id: str
    name: str
    manifest_url: str
