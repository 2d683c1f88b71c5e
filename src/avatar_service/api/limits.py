"""Overload protection: past MAX_CONCURRENT_REQUESTS API requests in flight, answer 503 at once.

A waiting sync render holds its connection for up to SYNC_TIMEOUT_SECONDS; without a bound, a burst of them
piles up until clients time out. Rejecting early with Retry-After keeps the service answering. A pure ASGI
middleware (not BaseHTTPMiddleware) so the cached hot path pays one integer comparison.
"""

from starlette.types import ASGIApp, Receive, Scope, Send

from avatar_service.api.errors import error_response

OVERLOAD_RETRY_AFTER_S = 1


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
