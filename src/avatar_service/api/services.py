"""What the routes share: settings, the renderer (voice lookup), the queue, where the web files live, the
per-request work cap, the render pool and stream slots the WebSocket streams use, and the origins allowed to
open them."""

from dataclasses import dataclass
from pathlib import Path

from fastapi import Request

from avatar_service.api.origins import AllowedOrigins
from avatar_service.api.stream import StreamSlots
from avatar_service.config import Settings
from avatar_service.pipeline import Renderer
from avatar_service.queue.base import RenderQueue
from avatar_service.render_pool import RenderPool
from avatar_service.workload import PhonemeBudget


@dataclass(frozen=True)
class Services:
    settings: Settings
    renderer: Renderer
    queue: RenderQueue
    web_dir: Path | None
    budget: PhonemeBudget
    # Render threads shared fairly by the embedded queue's renders and the WebSocket streams.
    render_pool: RenderPool
    stream_slots: StreamSlots
    allowed_origins: AllowedOrigins


def services(request: Request) -> Services:
    return request.app.state.services
