"""The lip-sync API: upload a recording (multipart), get the usual render result back, sync or async + poll.

The body is read by hand rather than through FastAPI's form parameters so the size limit is checked from the
Content-Length header before a byte is parsed, and every problem gets our one-line error naming the field.
"""

import asyncio
import hashlib
import tempfile
from pathlib import Path

from fastapi import APIRouter, Request
from fastapi import Path as PathParam
from fastapi.responses import JSONResponse, Response
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException
from starlette.formparsers import MultiPartException

from avatar_service.align import MAX_RECORDING_BYTES
from avatar_service.align.recording import probe_recording
from avatar_service.api.errors import error_response, unfinished_job_response
from avatar_service.api.limits import UploadPath
from avatar_service.api.models import ErrorBody, RenderAccepted, RenderJobStatus, RenderPendingError
from avatar_service.api.routes import RENDER_ID_PATTERN, audio_url_for
from avatar_service.api.services import services
from avatar_service.errors import InvalidInput
from avatar_service.recordings.jobs import LipsyncJobs, LipsyncState
from avatar_service.recordings.pipeline import check_transcript, lipsync_id_for
from avatar_service.schemas import JobStatus, RenderResult

FIELDS = ("audio", "transcript")
# Multipart framing around the file: boundaries, part headers, the transcript.
FORM_OVERHEAD_BYTES = 64 * 1024 + 4 * 20_000
COPY_BLOCK = 1 << 20
# The app's body limit (api/limits.py) lets these two paths take a recording: its size plus the form around it,
# and minutes to send it (50 MB at 2 Mbit/s). The API slot is taken only once the body is in, as for renders.
UPLOAD_TIMEOUT_S = 300.0
UPLOADS = {
    path: UploadPath(MAX_RECORDING_BYTES + FORM_OVERHEAD_BYTES, UPLOAD_TIMEOUT_S, "audio")
    for path in ("/v1/avatar/lipsync", "/v1/avatar/lipsync_async")
}

MULTIPART_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["audio"],
                    "additionalProperties": False,
                    "properties": {
                        "audio": {
                            "type": "string",
                            "format": "binary",
                            "description": "WAV, MP3, OGG/Opus, FLAC, M4A/AAC or WebM; ≤ 10 min, ≤ 50 MB",
                        },
                        "transcript": {
                            "type": "string",
                            "description": "what is said (English); leave out to have it recognised",
                        },
                    },
                }
            }
        },
    }
}
INVALID = {422: {"model": ErrorBody, "description": "bad upload or transcript (the field is named)"}}

router = APIRouter()


def lipsync_jobs(request: Request) -> LipsyncJobs:
    return request.app.state.lipsync_jobs


@router.post(
    "/v1/avatar/lipsync",
    response_model=RenderResult,
    responses={
        **INVALID,
        500: {"model": RenderPendingError, "description": "the job failed for a server-side reason"},
        504: {"model": RenderPendingError, "description": "not done within SYNC_TIMEOUT_SECONDS; poll poll_url"},
    },
    openapi_extra=MULTIPART_BODY,
    summary="Lip-sync an uploaded recording and wait for the result",
)
async def lipsync(request: Request) -> Response:
    jobs = lipsync_jobs(request)
    state = await _submit(request, jobs)
    if state.status is not JobStatus.COMPLETED and state.status is not JobStatus.FAILED:
        state = await jobs.wait(state.render_id, services(request).settings.sync_timeout_seconds)
    if state.status is JobStatus.COMPLETED:
        return _result(request, state)
    return unfinished_job_response(
        "lip sync", state.render_id, state.status, state.failure,
        str(request.url_for("get_lipsync", render_id=state.render_id)), services(request).settings.sync_timeout_seconds,
    )


@router.post(
    "/v1/avatar/lipsync_async",
    status_code=202,
    response_model=RenderAccepted,
    responses=INVALID,
    openapi_extra=MULTIPART_BODY,
    summary="Queue a lip sync of an uploaded recording; poll poll_url for the result",
)
async def lipsync_async(request: Request) -> JSONResponse:
    state = await _submit(request, lipsync_jobs(request))
    poll_url = str(request.url_for("get_lipsync", render_id=state.render_id))
    accepted = RenderAccepted(render_id=state.render_id, status=state.status, poll_url=poll_url)
    return JSONResponse(accepted.model_dump(mode="json"), status_code=202)


@router.get(
    "/v1/avatar/lipsync/{render_id}",
    name="get_lipsync",
    response_model=RenderResult | RenderJobStatus,
    responses={404: {"model": ErrorBody, "description": "unknown (or expired) id"}, **INVALID},
    summary="A lip sync's result, or its status while processing / failed",
)
async def get_lipsync(
    request: Request,
    render_id: str = PathParam(pattern=RENDER_ID_PATTERN, description="32 lowercase hex digits (a content hash)"),
) -> Response:
    state = await lipsync_jobs(request).state(render_id)
    if state is None:
        return error_response(404, f"render_id: no lip sync {render_id} (never submitted, or expired)", "render_id")
    if state.status is JobStatus.COMPLETED:
        return _result(request, state)
    failure = state.failure
    status = RenderJobStatus(
        render_id=render_id, status=state.status,
        error=failure.message if failure else None, error_kind=failure.kind if failure else None,
    )
    return JSONResponse(status.model_dump(mode="json"))


def _result(request: Request, state: LipsyncState) -> Response:
    record = state.record
    audio_url = audio_url_for(request, services(request), record.audio_file)
    result = RenderResult.from_record(record, audio_url, state.cached)
    return Response(result.model_dump_json(), media_type="application/json")


async def _submit(request: Request, jobs: LipsyncJobs) -> LipsyncState:
    """Check the request, store the upload under DATA_DIR/uploads, and hand it to a job (or the cache)."""
    if not request.headers.get("content-type", "").startswith("multipart/form-data"):
        raise InvalidInput("body", "must be multipart/form-data with a file field 'audio' (and 'transcript')")
    try:
        form = await request.form(max_files=2, max_fields=len(FIELDS))
    except MultiPartException as error:
        raise InvalidInput("body", f"malformed multipart body ({error.message})") from None
    except HTTPException as error:  # Starlette turns its parser's limits (too many fields) into a bare 400
        raise InvalidInput("body", f"malformed multipart body ({error.detail}; fields: {', '.join(FIELDS)})") from None
    try:
        unknown = sorted(set(form.keys()) - set(FIELDS))
        if unknown:
            raise InvalidInput(unknown[0], f"unknown field (allowed fields: {', '.join(FIELDS)})")
        audio = form.get("audio")
        if not isinstance(audio, UploadFile):
            raise InvalidInput("audio", "missing: send the recording as the multipart file field 'audio'")
        transcript = check_transcript(await _text(form.get("transcript")))
        upload, digest = await asyncio.to_thread(_store, audio, jobs.uploads_dir)
    finally:
        await form.close()
    render_id = lipsync_id_for(digest, transcript)
    cached = jobs.cached(render_id)
    if cached is not None:
        upload.unlink(missing_ok=True)
        return cached
    try:
        await asyncio.to_thread(probe_recording, upload)  # unreadable, no audio, too long: answered now
    except InvalidInput:
        upload.unlink(missing_ok=True)
        raise
    return await jobs.submit(upload, transcript, render_id)


async def _text(value: UploadFile | str | None) -> str | None:
    """The transcript as a plain field, or as an uploaded text file."""
    if isinstance(value, UploadFile):
        try:
            return (await value.read()).decode("utf-8")
        except UnicodeDecodeError:
            raise InvalidInput("transcript", "is not UTF-8 text") from None
    return value


def _store(audio: UploadFile, uploads_dir: Path) -> tuple[Path, str]:
    """Copy the upload to a file of its own (the job outlives this request), hashing it on the way."""
    uploads_dir.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256()
    size = 0
    audio.file.seek(0)
    with tempfile.NamedTemporaryFile(dir=uploads_dir, suffix=".upload", delete=False) as out:
        upload = Path(out.name)
        while block := audio.file.read(COPY_BLOCK):
            size += len(block)
            if size > MAX_RECORDING_BYTES:
                break
            digest.update(block)
            out.write(block)
    if size > MAX_RECORDING_BYTES or size == 0:
        upload.unlink(missing_ok=True)
        problem = "is empty" if size == 0 else f"is over the limit of {MAX_RECORDING_BYTES / 1e6:.0f} MB"
        raise InvalidInput("audio", f"file {problem}")
    return upload, digest.hexdigest()
