"""The small interface the API talks to; each queue implementation owns its result cache too."""

from abc import ABC, abstractmethod
from dataclasses import dataclass

from avatar_service.errors import AvatarServiceError, ErrorKind, JobFailure, Overloaded
from avatar_service.schemas import JobStatus, RenderRecord, RenderRequest


@dataclass(frozen=True)
class JobState:
    """Where a render stands. ``record`` is set once completed, ``failure`` once failed; ``cached`` when it came
    from the cache."""

    render_id: str
    status: JobStatus
    record: RenderRecord | None = None
    failure: JobFailure | None = None
    cached: bool = False

    @property
    def error(self) -> str | None:
        """The failure's readable line (what pollers see as ``error``)."""
        return self.failure.message if self.failure is not None else None


class QueueUnavailable(AvatarServiceError):
    """The queue's backing store cannot be reached (the API answers 503)."""

    kind = ErrorKind.UNAVAILABLE


# Seconds a client should wait when the queue is full: about one render's time.
QUEUE_FULL_RETRY_AFTER_S = 5


def queue_full(pending: int, limit: int) -> Overloaded:
    return Overloaded(
        f"render queue full: {pending} jobs pending (MAX_PENDING_JOBS={limit}); "
        f"retry after {QUEUE_FULL_RETRY_AFTER_S} s",
        QUEUE_FULL_RETRY_AFTER_S,
    )


class RenderQueue(ABC):
    kind: str

    @abstractmethod
    async def start(self) -> None: ...

    @abstractmethod
    async def close(self) -> None: ...

    @abstractmethod
    async def submit(self, request: RenderRequest, render_id: str, voice_id: str) -> JobState:
        """Return the cached result, the job already under way for ``render_id``, or a new pending job;
        raises Overloaded when a new job would exceed MAX_PENDING_JOBS."""

    @abstractmethod
    async def state(self, render_id: str) -> JobState | None:
        """The job's or cached result's state; None when the id is unknown."""

    @abstractmethod
    async def wait(self, render_id: str, timeout: float) -> JobState:
        """Wait until the job completes or fails, at most ``timeout`` seconds; then its current state."""

    @abstractmethod
    async def pending_jobs(self) -> int:
        """Jobs queued or running."""

    @abstractmethod
    async def connected(self) -> bool:
        """Whether the backing store answers (always True for the embedded queue)."""
