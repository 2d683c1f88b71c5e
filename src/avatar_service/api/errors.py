"""One error body for everything: ``{"detail": "...", "field": "..."}``, never a traceback.

FastAPI's own 422 body is a list of pydantic errors; clients of this API get one line naming the field and its
limit instead (the same wording the CLI prints).
"""

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from avatar_service.errors import AvatarServiceError, ErrorKind, JobFailure, Overloaded
from avatar_service.schemas import JobStatus, RenderRequest, describe_limit

_LOGGER = logging.getLogger(__name__)

# Seconds a client should wait before retrying when the queue's store is down.
QUEUE_RETRY_AFTER_S = 5

# The one place error kinds become status codes: the client's fault is 4xx, the server's 5xx, "come back
# later" 503 with Retry-After (RFC 9110 §15.6.4 and §10.2.3).
STATUS_BY_KIND = {
    ErrorKind.INVALID_INPUT: 422,
    ErrorKind.VOICE_MODEL: 500,
    ErrorKind.RENDER_FAILED: 500,
    ErrorKind.INTERNAL: 500,
    ErrorKind.OVERLOADED: 503,
    ErrorKind.UNAVAILABLE: 503,
}

PATH_LIMITS = {
    "render_id": "render ids are 32 lowercase hexadecimal characters",
    "file_name": "audio files are named <32 lowercase hex digits>.ogg or .wav",
}


def error_response(status_code: int, detail: str, field: str | None = None, headers=None, **extra) -> JSONResponse:
    return JSONResponse({"detail": detail, "field": field, **extra}, status_code=status_code, headers=headers)


def unfinished_job_response(
    what: str, render_id: str, status: JobStatus, failure: JobFailure | None, poll_url: str, timeout_s: float
) -> JSONResponse:
    """A sync request whose job did not complete: its failure, with the status its kind maps to, or 504 with
    where to poll (the job keeps running). ``what`` names the job in the message ("render", "lip sync")."""
    if status is JobStatus.FAILED and failure is not None:
        return error_response(
            status_for(failure.kind),
            f"{what} failed: {failure.message}",
            failure.field,
            render_id=render_id,
            status=status,
            poll_url=poll_url,
            error=failure.message,
            error_kind=failure.kind,
        )
    return error_response(
        504,
        f"{what} not finished within SYNC_TIMEOUT_SECONDS ({timeout_s:g} s); it keeps running: poll poll_url for the result",
        render_id=render_id,
        status=status,
        poll_url=poll_url,
    )


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(RequestValidationError, _invalid_request)
    app.add_exception_handler(AvatarServiceError, _service_error)
    app.add_exception_handler(HTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected)


def describe_validation_error(error: RequestValidationError) -> tuple[str, str]:
    """(field, message) for the first problem in a request, with the field's documented limit."""
    first = error.errors()[0]
    location = [str(part) for part in first["loc"][1:]]  # drop "body" / "path" / "query"
    if first["type"] == "json_invalid":
        reason = first.get("ctx", {}).get("error", "invalid JSON")
        return "body", f"body: malformed JSON ({reason})"
    if not location:
        fields = ", ".join(RenderRequest.model_fields)
        return "body", f"body: must be a JSON object with the fields {fields}"
    field = ".".join(location)
    message = first["msg"].removeprefix("Value error, ")
    if first["type"] == "extra_forbidden":
        message += f" (allowed fields: {', '.join(RenderRequest.model_fields)})"
    elif field in PATH_LIMITS:
        message = f"{message} ({PATH_LIMITS[field]})"
    else:
        message = describe_limit(field, message)
    return field, f"{field}: {message}"


async def _invalid_request(_request: Request, error: RequestValidationError) -> JSONResponse:
    field, detail = describe_validation_error(error)
    return error_response(422, detail, field)


def status_for(kind: ErrorKind) -> int:
    return STATUS_BY_KIND[kind]


def retry_after_headers(error: AvatarServiceError) -> dict[str, str] | None:
    if isinstance(error, Overloaded):
        return {"Retry-After": str(error.retry_after_s)}
    if error.kind is ErrorKind.UNAVAILABLE:
        return {"Retry-After": str(QUEUE_RETRY_AFTER_S)}
    return None


async def _service_error(_request: Request, error: AvatarServiceError) -> JSONResponse:
    detail = str(error)
    if error.kind is ErrorKind.UNAVAILABLE:
        detail = f"render queue unavailable: {detail}"
    return error_response(status_for(error.kind), detail, error.field, headers=retry_after_headers(error))


async def _http_error(_request: Request, error: HTTPException) -> JSONResponse:
    return error_response(error.status_code, str(error.detail), headers=error.headers)


async def _unexpected(_request: Request, error: Exception) -> JSONResponse:
    # Starlette logs the traceback after this response is sent; the client only learns that it happened.
    return error_response(500, "internal server error (details are in the server log)")
