"""What the routes share: settings, the renderer (voice lookup), the queue, where the web files live and the
per-request work cap."""

from dataclasses import dataclass
from pathlib import Path

from fastapi import Request

from avatar_service.config import Settings
from avatar_service.pipeline import Renderer
from avatar_service.queue.base import RenderQueue
from avatar_service.workload import PhonemeBudget


@dataclass(frozen=True)
class Services:
    settings: Settings
    renderer: Renderer
    queue: RenderQueue
    web_dir: Path | None
    budget: PhonemeBudget


def services(request: Request) -> Services:
    return request.app.state.services
