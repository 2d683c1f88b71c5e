"""The scale-out queue: render jobs in Valkey (via arq), run by `avatar-service worker` processes anywhere.

One render id is one arq job id, so identical requests to any number of API instances share one job (arq's
``_job_id`` refuses a second enqueue while the job is queued or running). Finished renders are stored by the
worker as ``avatar:record:<render_id>`` with the cache TTL; a failure is only arq's short-lived result, and a
resubmit clears it, so one bad moment never blocks a content hash for long (arq documentation, "Job uniqueness";
docs/sources.md "Job queue").
"""

import logging
import time

from arq.constants import result_key_prefix
from arq.jobs import Job
from arq.jobs import JobStatus as ArqJobStatus

from avatar_service.cache import audio_problem
from avatar_service.config import Settings
from avatar_service.errors import ErrorKind, JobFailure
from avatar_service.queue import connections
from avatar_service.queue.base import JobState, RenderQueue, queue_full
from avatar_service.queue.connections import (
    DONE_CHANNEL_PREFIX,
    QUEUE_NAME,
    RECORD_KEY_PREFIX,
    RENDER_FUNCTION,
)
from avatar_service.schemas import JobStatus, RenderRecord, RenderRequest

_LOGGER = logging.getLogger(__name__)

# Fallback re-check while waiting, in case a "done" message is missed (e.g. across a reconnect) or the job
# ended in a way arq reports without running our hooks (expired, too many tries).
WAIT_RECHECK_S = 1.0
LOST_JOB = JobFailure(
    ErrorKind.RENDER_FAILED,
    "the job is no longer in Valkey (was Valkey restarted without persistence?); submit the request again",
)
# What arq's public job status means for a render that has no record yet.
_PENDING_STATUSES = {
    ArqJobStatus.queued: JobStatus.PENDING,
    ArqJobStatus.deferred: JobStatus.PENDING,
    ArqJobStatus.in_progress: JobStatus.PROCESSING,
}


class ValkeyQueue(RenderQueue):
    kind = "valkey"

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._redis = connections.connect(settings)

    async def start(self) -> None:
        # The API must come up (and report "degraded") even while Valkey is down, so no hard failure here.
        if not await self.connected():
            _LOGGER.warning(
                "Valkey at %s is not reachable yet; renders get 503 until it is",
                connections.describe_address(self._settings),
            )

    async def close(self) -> None:
        await self._redis.aclose(close_connection_pool=True)

    async def submit(self, request: RenderRequest, render_id: str, voice_id: str) -> JobState:
        state = await self.state(render_id)
        if state is not None and state.status is JobStatus.COMPLETED:
            return JobState(render_id, JobStatus.COMPLETED, record=state.record, cached=True)
        if state is not None and state.status in (JobStatus.PENDING, JobStatus.PROCESSING):
            return state
        async with connections.unavailable_on_outage(self._settings):
            pending = await self._redis.zcard(QUEUE_NAME)
            if pending >= self._settings.max_pending_jobs:
                raise queue_full(pending, self._settings.max_pending_jobs)
            # A failure (or a result whose record Valkey evicted) would make arq refuse the job id: clear it,
            # so a resubmit retries at once instead of serving the failure until it expires.
            await self._redis.delete(result_key_prefix + render_id)
            # Workers may be configured with another default voice: send the voice this API resolved.
            job_request = request.model_copy(update={"voice_id": voice_id}).model_dump(mode="json")
            job = await self._redis.enqueue_job(
                RENDER_FUNCTION, job_request, render_id, _job_id=render_id
            )
        if job is None:  # another API instance (or a just-finished job) got there first
            return await self.state(render_id) or JobState(render_id, JobStatus.PENDING)
        return JobState(render_id, JobStatus.PENDING)

    async def state(self, render_id: str) -> JobState | None:
        async with connections.unavailable_on_outage(self._settings):
            record_json = await self._redis.get(RECORD_KEY_PREFIX + render_id)
            if record_json is not None:
                record = self._sound_record(render_id, record_json)
                if record is not None:
                    return JobState(render_id, JobStatus.COMPLETED, record=record)
                await self._redis.delete(RECORD_KEY_PREFIX + render_id)  # a miss: resubmitting renders again
            # arq's public Job API, not its key layout: status first, then the failure it kept.
            job = Job(render_id, self._redis, _queue_name=QUEUE_NAME, _deserializer=connections.loads)
            status = await job.status()
            if status is ArqJobStatus.complete:
                outcome = await job.result_info()
                if outcome is not None and not outcome.success:
                    return JobState(render_id, JobStatus.FAILED, failure=JobFailure.from_dict(outcome.result))
                return None  # a success whose record expired or was evicted: resubmitting renders it again
        return JobState(render_id, _PENDING_STATUSES[status]) if status in _PENDING_STATUSES else None

    def _sound_record(self, render_id: str, record_json: bytes) -> RenderRecord | None:
        """The stored record if it parses and its audio file is there at its recorded size (one stat)."""
        try:
            record = RenderRecord.model_validate_json(record_json)
        except ValueError as error:
            _LOGGER.warning("dropping unreadable record %s: %s", render_id, error)
            return None
        problem = audio_problem(record, self._settings.audio_dir, check_hash=False)
        if problem is not None:
            _LOGGER.warning("dropping record %s: %s", render_id, problem)
            return None
        return record

    async def wait(self, render_id: str, timeout: float) -> JobState:
        deadline = time.monotonic() + timeout
        async with connections.unavailable_on_outage(self._settings):
            async with self._redis.pubsub() as pubsub:
                # Subscribe before the first look, so a job ending in between still wakes us.
                await pubsub.subscribe(DONE_CHANNEL_PREFIX + render_id)
                while True:
                    state = await self.state(render_id)
                    if state is None:
                        return JobState(render_id, JobStatus.FAILED, failure=LOST_JOB)
                    if state.status in (JobStatus.COMPLETED, JobStatus.FAILED):
                        return state
                    remaining = deadline - time.monotonic()
                    if remaining <= 0:
                        return state
                    # Returns on a message, or empty-handed after the timeout: either way, look again.
                    await pubsub.get_message(
                        ignore_subscribe_messages=True, timeout=min(remaining, WAIT_RECHECK_S)
                    )

    async def pending_jobs(self) -> int:
        # arq keeps a job in its queue set until the job finishes, so this counts queued and running jobs.
        async with connections.unavailable_on_outage(self._settings):
            return await self._redis.zcard(QUEUE_NAME)

    async def connected(self) -> bool:
        try:
            return bool(await self._redis.ping())
        except connections.OUTAGE_ERRORS:
            return False

