"""The render API: sync and async renders, polling, health and voices."""

import asyncio

from fastapi import APIRouter, Path, Request
from fastapi.responses import JSONResponse, Response

from avatar_service.api.errors import error_response, unfinished_job_response
from avatar_service.api.models import ErrorBody, Health, RenderAccepted, RenderJobStatus, RenderPendingError, Voices
from avatar_service.api.services import Services, services
from avatar_service.cache import storage_problem
from avatar_service.errors import UnknownVoice
from avatar_service.queue.base import JobState, QueueUnavailable
from avatar_service.schemas import JobStatus, RenderRequest, RenderResult

# render_id_for() is the first 32 hex digits of a SHA-256; anything else is refused before any lookup.
RENDER_ID_PATTERN = r"^[0-9a-f]{32}$"
RENDER_ID_PATH = Path(pattern=RENDER_ID_PATTERN, description="32 lowercase hex digits (a content hash)")

INVALID = {
    400: {"model": ErrorBody, "description": "the body cannot be parsed at all, or Host is not in TRUSTED_HOSTS"},
    422: {"model": ErrorBody, "description": "a field is outside its limits, or the JSON is malformed"},
}
BUSY = {503: {"model": ErrorBody, "description": "too many requests in flight, or the queue is down (Retry-After)"}}

router = APIRouter()


@router.post(
    "/v1/avatar/render",
    response_model=RenderResult,
    responses={
        **INVALID,
        **BUSY,
        500: {"model": RenderPendingError, "description": "the render failed (status: failed, error)"},
        504: {"model": RenderPendingError, "description": "not done within SYNC_TIMEOUT_SECONDS; poll poll_url"},
    },
    summary="Render text and wait for the result",
)
async def render(body: RenderRequest, request: Request) -> Response:
    app = services(request)
    state = await _submit(app, body)
    if state.status in (JobStatus.PENDING, JobStatus.PROCESSING):
        state = await app.queue.wait(state.render_id, app.settings.sync_timeout_seconds)
    if state.status is JobStatus.COMPLETED:
        return _result_response(request, app, state)
    return unfinished_job_response(
        "render", state.render_id, state.status, state.failure, _poll_url(request, state.render_id),
        app.settings.sync_timeout_seconds,
    )


@router.post(
    "/v1/avatar/render_async",
    status_code=202,
    response_model=RenderAccepted,
    responses={**INVALID, **BUSY},
    summary="Queue a render; poll poll_url for the result",
)
async def render_async(body: RenderRequest, request: Request) -> JSONResponse:
    state = await _submit(services(request), body)
    accepted = RenderAccepted(
        render_id=state.render_id, status=state.status, poll_url=_poll_url(request, state.render_id)
    )
    return JSONResponse(accepted.model_dump(mode="json"), status_code=202)


@router.get(
    "/v1/avatar/render/{render_id}",
    name="get_render",
    response_model=RenderResult | RenderJobStatus,
    responses={404: {"model": ErrorBody, "description": "unknown (or expired) render id"}, **INVALID, **BUSY},
    summary="A render's result, or its status while pending / processing / failed",
)
async def get_render(request: Request, render_id: str = RENDER_ID_PATH) -> Response:
    app = services(request)
    state = await app.queue.state(render_id)
    if state is None:
        return error_response(404, f"render_id: unknown render {render_id} (never submitted, or expired)", "render_id")
    if state.status is JobStatus.COMPLETED:
        return _result_response(request, app, state)
    failure = state.failure
    pending = RenderJobStatus(
        render_id=render_id,
        status=state.status,
        error=failure.message if failure else None,
        error_kind=failure.kind if failure else None,
    )
    return JSONResponse(pending.model_dump(mode="json"))


@router.get("/health", response_model=Health, summary="Liveness, queue and disk state (always 200)")
async def health(request: Request) -> Health:
    app = services(request)
    queue = app.queue
    try:
        connected = await queue.connected()
        pending = await queue.pending_jobs() if connected else None
    except QueueUnavailable:
        connected, pending = False, None
    reasons = [] if connected else ["render queue unreachable"]
    disk = await asyncio.to_thread(storage_problem, app.settings.data_dir, app.settings.min_free_disk_mb * 1e6)
    if disk is not None:
        reasons.append(disk)
    return Health(
        status="degraded" if reasons else "ok",
        reason="; ".join(reasons) or None,
        queue=queue.kind,
        valkey_connected=queue.kind == "valkey" and connected,
        pending_jobs=pending,
    )


@router.get("/v1/voices", response_model=Voices, summary="Installed Piper voices")
async def voices(request: Request) -> Voices:
    renderer = services(request).renderer
    try:
        default = renderer.default_voice_id()
    except UnknownVoice:  # DEFAULT_VOICE names a voice that is not installed
        default = None
    return Voices(
        default_voice=default,
        voices=[{"voice_id": voice_id, "default": voice_id == default} for voice_id in renderer.voice_ids()],
    )


async def _submit(app: Services, body: RenderRequest) -> JobState:
    voice_id, render_id = app.renderer.resolve(body)  # UnknownVoice → 422 listing the installed voices
    known = await app.queue.state(render_id)
    if known is None or known.status is JobStatus.FAILED:
        # New work: count its phonemes before anything is queued (a cached or running render passed already).
        await asyncio.to_thread(app.budget.check, app.renderer.catalog.get(voice_id), body.text)
    return await app.queue.submit(body, render_id, voice_id)


def _result_response(request: Request, app: Services, state: JobState) -> Response:
    record = state.record
    result = RenderResult.from_record(record, audio_url_for(request, app, record.audio_file), state.cached)
    return Response(result.model_dump_json(), media_type="application/json")


def audio_url_for(request: Request, app: Services, audio_file: str) -> str:
    """Built per response, never stored: AUDIO_BASE_URL when set, else this request's own base URL."""
    base = app.settings.audio_base_url
    if base:
        return f"{base.rstrip('/')}/{audio_file}"
    return f"{request.base_url}audio/{audio_file}"


def _poll_url(request: Request, render_id: str) -> str:
    return str(request.url_for("get_render", render_id=render_id))
