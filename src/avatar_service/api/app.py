"""``create_app``: the FastAPI application with its queue, error handlers, overload limit and static files."""

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi_offline import FastAPIOffline

from avatar_service import __version__
from avatar_service.api import lipsync, routes, static, stream
from avatar_service.api.access import AccessControl
from avatar_service.api.errors import install_error_handlers
from avatar_service.api.limits import BodyLimit, InFlightLimit
from avatar_service.api.origins import AllowedOrigins
from avatar_service.api.services import Services
from avatar_service.config import Settings
from avatar_service.errors import AvatarServiceError
from avatar_service.pipeline import Renderer
from avatar_service.queue.factory import create_queue
from avatar_service.recordings.jobs import LipsyncJobs
from avatar_service.render_pool import RenderPool
from avatar_service.workload import PhonemeBudget

_LOGGER = logging.getLogger(__name__)

DESCRIPTION = """Text in; Piper speech plus a millisecond timeline of mouth shapes and eye events out.

Every error answers `{"detail": "one readable line", "field": "the request field at fault, or null"}`."""


def create_app(settings: Settings | None = None, renderer: Renderer | None = None) -> FastAPI:
    """The whole service. ``renderer`` lets several apps (tests, benchmarks) share loaded voices."""
    settings = settings or Settings()
    renderer = renderer or Renderer(settings)
    # One pool for renders and streams, so neither starves the other. In Valkey mode workers render the
    # jobs and this process uses the pool for streams only (README: "Streaming").
    render_pool = RenderPool(settings.render_workers, on_waiting=renderer.tell_waiting)
    allowed_origins = AllowedOrigins.from_settings(settings)
    queue = create_queue(settings, renderer, render_pool)
    app_services = Services(
        settings, renderer, queue, static.find_web_dir(settings.web_dir),
        PhonemeBudget(settings.max_phonemes_per_request),
        render_pool, stream.StreamSlots(settings.max_streams), allowed_origins,
    )
    lipsync_jobs = LipsyncJobs(settings)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        if queue.kind == "embedded":
            # Load the default voice now, off the loop, so the first request doesn't pay for it.
            try:
                await asyncio.to_thread(renderer.warm_up)
            except AvatarServiceError as error:
                _LOGGER.error("default voice not loaded: %s", error)
        await queue.start()
        await lipsync_jobs.start()
        try:
            yield
        finally:
            await lipsync_jobs.close()
            await queue.close()
            render_pool.shutdown()

    # /docs and /redoc from assets shipped in fastapi-offline, not a CDN: the service works with no internet.
    # No validatorUrl: Swagger UI would otherwise fetch a badge from validator.swagger.io.
    app = FastAPIOffline(
        title="avatar-service", version=__version__, description=DESCRIPTION, lifespan=lifespan,
        swagger_ui_parameters={"validatorUrl": None},
    )
    app.state.services = app_services
    app.state.lipsync_jobs = lipsync_jobs
    install_error_handlers(app)
    app.include_router(routes.router)
    app.include_router(stream.router)
    app.include_router(lipsync.router)
    app.include_router(static.router)
    if app_services.web_dir is not None:
        # Last, so the API routes win; serves the player's modules and the packs at /avatars/<id>/...
        app.mount("/", static.WebFiles(directory=app_services.web_dir), name="web")
    app.add_middleware(InFlightLimit, limit=settings.max_concurrent_requests)
    # Outside InFlightLimit: refused callers never take a slot.
    app.add_middleware(AccessControl, settings=settings)
    # Outside InFlightLimit: a request counts as in flight only once its body has arrived.
    app.add_middleware(
        BodyLimit, max_body_bytes=settings.max_body_bytes, body_timeout_s=settings.body_timeout_seconds,
        uploads=lipsync.UPLOADS,
    )
    if allowed_origins.listed:
        app.add_middleware(
            CORSMiddleware, allow_origins=allowed_origins.listed, allow_methods=["GET", "POST"], allow_headers=["*"]
        )
    return app
