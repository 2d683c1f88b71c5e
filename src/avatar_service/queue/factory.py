"""Which queue the API uses: QUEUE=valkey (or VALKEY_HOST set with QUEUE=auto) → Valkey, else embedded."""

from avatar_service.config import Settings
from avatar_service.pipeline import Renderer
from avatar_service.queue.base import RenderQueue
from avatar_service.render_pool import RenderPool


def create_queue(settings: Settings, renderer: Renderer, pool: RenderPool | None = None) -> RenderQueue:
    if settings.queue_kind == "valkey":
        # Imported here so the default install never loads arq or redis.
        from avatar_service.queue.valkey import ValkeyQueue

        return ValkeyQueue(settings)
    from avatar_service.queue.embedded import EmbeddedQueue

    return EmbeddedQueue(settings, renderer, pool)
