"""Overload protection, as two pure ASGI middlewares (not BaseHTTPMiddleware: the cached hot path stays cheap).

``BodyLimit`` reads each request's whole body before the app runs, refusing bodies over MAX_BODY_BYTES (413,
RFC 9110 §15.5.14) and bodies not received within BODY_TIMEOUT_SECONDS (408). Only then does ``InFlightLimit``
count the request: past MAX_CONCURRENT_REQUESTS API requests in flight it answers 503 at once. So slots are
held only while the server works on a request; a client sending its body slowly holds none (it held one, and
ten such clients locked every other client out).

A waiting sync render holds its slot for up to SYNC_TIMEOUT_SECONDS; without a bound, a burst of them piles up
until clients time out. Rejecting early with Retry-After keeps the service answering.
"""

import asyncio
import time
from collections.abc import Mapping
from dataclasses import dataclass

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from avatar_service.api.errors import error_response

OVERLOAD_RETRY_AFTER_S = 1


@dataclass(frozen=True)
class UploadPath:
    """A path that takes a file upload: a larger body, more time to send it, and the form field to blame."""

    max_bytes: int
    timeout_s: float
    field: str


class BodyLimit:
    def __init__(
        self, app: ASGIApp, max_body_bytes: int, body_timeout_s: float, uploads: Mapping[str, UploadPath] | None = None
    ) -> None:
        self.app = app
        self.default = UploadPath(max_body_bytes, body_timeout_s, "body")
        self.uploads = dict(uploads or {})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.uploads.get(scope["path"], self.default)
        # The settings' names for the defaults; an upload path's limit is the endpoint's own (documented there).
        size_name = "MAX_BODY_BYTES" if limit is self.default else "the upload limit"
        time_name = "BODY_TIMEOUT_SECONDS" if limit is self.default else "the upload time limit"
        declared = _content_length(scope)
        if declared is not None and declared > limit.max_bytes:
            await self._refuse(
                scope, receive, send, 413,
                f"{limit.field}: {declared} bytes, over {size_name} ({limit.max_bytes} bytes)", limit.field,
            )
            return
        chunks: list[bytes] = []
        size = 0
        deadline = time.monotonic() + limit.timeout_s
        while True:
            try:
                message = await asyncio.wait_for(receive(), max(deadline - time.monotonic(), 0))
            except TimeoutError:
                await self._refuse(
                    scope, receive, send, 408,
                    f"{limit.field}: not received within {time_name} ({limit.timeout_s:g} s)", limit.field,
                )
                return
            if message["type"] == "http.disconnect":
                return  # the client left; nothing to answer
            body = message.get("body", b"")
            size += len(body)
            if size > limit.max_bytes:
                await self._refuse(
                    scope, receive, send, 413, f"{limit.field}: over {size_name} ({limit.max_bytes} bytes)", limit.field
                )
                return
            chunks.append(body)
            if not message.get("more_body", False):
                break
        await self.app(scope, _replay(b"".join(chunks), receive), send)

    @staticmethod
    async def _refuse(scope: Scope, receive: Receive, send: Send, status: int, detail: str, field: str) -> None:
        # Connection: close, since the unread rest of the body would otherwise be parsed as the next request.
        response = error_response(status, detail, field, headers={"Connection": "close"})
        await response(scope, receive, send)


class InFlightLimit:
    def __init__(self, app: ASGIApp, limit: int, path_prefix: str = "/v1/") -> None:
        self.app = app
        self.limit = limit
        self.path_prefix = path_prefix
        self.in_flight = 0  # only touched on the event loop, so no lock

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith(self.path_prefix):
            await self.app(scope, receive, send)
            return
        if self.in_flight >= self.limit:
            response = error_response(
                503,
                f"server busy: {self.in_flight} requests in flight "
                f"(MAX_CONCURRENT_REQUESTS={self.limit}); retry after {OVERLOAD_RETRY_AFTER_S} s",
                headers={"Retry-After": str(OVERLOAD_RETRY_AFTER_S)},
            )
            await response(scope, receive, send)
            return
        self.in_flight += 1
        try:
            await self.app(scope, receive, send)
        finally:
            self.in_flight -= 1


def _content_length(scope: Scope) -> int | None:
    for name, value in scope["headers"]:
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None  # the HTTP parser refuses these before the app runs
    return None


def _replay(body: bytes, receive: Receive) -> Receive:
    """A receive that hands the app the body already read, then defers to the server (for disconnects)."""
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay
