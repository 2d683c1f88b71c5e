"""``create_app``: the FastAPI application with its queue, error handlers, overload limit and static files."""

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware

from avatar_service import __version__
from avatar_service.api import routes, static
from avatar_service.api.access import AccessControl
from avatar_service.api.errors import install_error_handlers
from avatar_service.api.limits import BodyLimit, InFlightLimit
from avatar_service.api.services import Services
from avatar_service.config import Settings
from avatar_service.errors import AvatarServiceError
from avatar_service.pipeline import Renderer
from avatar_service.queue.factory import create_queue
from avatar_service.workload import PhonemeBudget

_LOGGER = logging.getLogger(__name__)

DESCRIPTION = """Text in; Piper speech plus a millisecond timeline of mouth shapes and eye events out.

Every error answers `{"detail": "one readable line", "field": "the request field at fault, or null"}`."""


def create_app(settings: Settings | None = None, renderer: Renderer | None = None) -> FastAPI:
    """The whole service. ``renderer`` lets several apps (tests, benchmarks) share loaded voices."""
    settings = settings or Settings()
    renderer = renderer or Renderer(settings)
    queue = create_queue(settings, renderer)
    app_services = Services(
        settings, renderer, queue, static.find_web_dir(settings.web_dir),
        PhonemeBudget(settings.max_phonemes_per_request),
    )

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        if queue.kind == "embedded":
            # Load the default voice now, off the loop, so the first request doesn't pay for it.
            try:
                await asyncio.to_thread(renderer.warm_up)
            except AvatarServiceError as error:
                _LOGGER.error("default voice not loaded: %s", error)
        await queue.start()
        try:
            yield
        finally:
            await queue.close()

    app = FastAPI(title="avatar-service", version=__version__, description=DESCRIPTION, lifespan=lifespan)
    app.state.services = app_services
    install_error_handlers(app)
    app.include_router(routes.router)
    app.include_router(static.router)
    if app_services.web_dir is not None:
        # Last, so the API routes win; serves the player's modules and the packs at /avatars/<id>/...
        app.mount("/", static.WebFiles(directory=app_services.web_dir), name="web")
    app.add_middleware(InFlightLimit, limit=settings.max_concurrent_requests)
    # Outside InFlightLimit: refused callers never take a slot.
    app.add_middleware(AccessControl, settings=settings)
    # Outside InFlightLimit: a request counts as in flight only once its body has arrived.
    app.add_middleware(
        BodyLimit, max_body_bytes=settings.max_body_bytes, body_timeout_s=settings.body_timeout_seconds
    )
    origins = [origin.strip() for origin in settings.cors_origins.split(",") if origin.strip()]
    if origins:
        app.add_middleware(CORSMiddleware, allow_origins=origins, allow_methods=["GET", "POST"], allow_headers=["*"])
    return app
