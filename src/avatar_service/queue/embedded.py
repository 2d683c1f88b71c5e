"""The default queue: render jobs run in a thread pool inside the API process, results cached on disk.

No servers needed. Piper is CPU-bound but releases the GIL in onnxruntime, so RENDER_WORKERS threads render
in parallel while the event loop keeps answering. One render id is one job: identical requests arriving while
it runs wait on the same job instead of synthesizing again. Accepted jobs are journaled under DATA_DIR
(journal.py) and resumed after a restart, so a crash loses none.
"""

import asyncio
import logging
import time
from dataclasses import dataclass, field

from avatar_service.cache import ResultCache, with_audio_digest
from avatar_service.config import Settings
from avatar_service.errors import AvatarServiceError, ErrorKind, JobFailure, RenderFailed
from avatar_service.pipeline import Renderer
from avatar_service.queue.base import JobState, RenderQueue, queue_full
from avatar_service.queue.journal import JobJournal
from avatar_service.render_pool import RenderPool
from avatar_service.schemas import JobStatus, RenderRecord, RenderRequest

_LOGGER = logging.getLogger(__name__)

# A failed job stays pollable this long; resubmitting the same request retries at once.
FAILED_JOB_TTL_S = 600.0
# Expired cache entries are also dropped lazily on lookup; this sweep removes the ones nobody asks for.
MAX_PURGE_INTERVAL_S = 3600.0


@dataclass
class _Job:
    render_id: str
    status: JobStatus = JobStatus.PENDING
    done: asyncio.Event = field(default_factory=asyncio.Event)
    record: RenderRecord | None = None
    failure: JobFailure | None = None
    finished_at: float = 0.0

    def state(self) -> JobState:
        return JobState(self.render_id, self.status, record=self.record, failure=self.failure)


class EmbeddedQueue(RenderQueue):
    kind = "embedded"

    def __init__(self, settings: Settings, renderer: Renderer, pool: RenderPool | None = None) -> None:
        self._settings = settings
        self._renderer = renderer
        self.cache = ResultCache(settings.data_dir / "results", settings.audio_dir, settings.cache_ttl_seconds)
        self.journal = JobJournal(settings.data_dir / "journal")
        # The app passes the pool its streams share, so renders and stream segments take turns fairly.
        self._owns_pool = pool is None
        self._pool = pool or RenderPool(settings.render_workers, on_waiting=renderer.tell_waiting)
        self._jobs: dict[str, _Job] = {}
        self._tasks: set[asyncio.Task] = set()
        # Render jobs created since start-up (one synthesis each): de-duplication shows here, and tests count it.
        self.jobs_created = 0

    async def start(self) -> None:
        await asyncio.to_thread(self.cache.load)
        await self._resume_journaled_jobs()
        interval = min(float(self._settings.cache_ttl_seconds), MAX_PURGE_INTERVAL_S)
        self._spawn(self._purge_periodically(max(interval, 1.0)))

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        # Queued renders are dropped; one already inside Piper cannot be interrupted and finishes on its own.
        if self._owns_pool:
            self._pool.shutdown()

    async def submit(self, request: RenderRequest, render_id: str, voice_id: str) -> JobState:
        job = self._jobs.get(render_id)
        if job is not None and job.status in (JobStatus.PENDING, JobStatus.PROCESSING):
            return job.state()
        record = self.cache.get(render_id)
        if record is not None:
            return JobState(render_id, JobStatus.COMPLETED, record=record, cached=True)
        self._forget_old_failures()
        pending = await self.pending_jobs()
        if pending >= self._settings.max_pending_jobs:
            raise queue_full(pending, self._settings.max_pending_jobs)
        # The voice this API resolved, so a default-voice change can't make the record's id differ from the job's.
        job_request = request.model_copy(update={"voice_id": voice_id})
        # Registered before the journal write, so identical requests arriving meanwhile join this job.
        job = self._new_job(render_id)
        # The render starts at once and the journal write (an fsync, and a thread hop each way: ~1 ms) overlaps
        # it; nobody hears of the job before it is journaled, since submit returns only then.
        run = self._spawn(self._run(job, job_request))
        try:
            await asyncio.to_thread(self.journal.add, render_id, job_request)
        except OSError as error:  # not durable, so not accepted
            run.cancel()  # dropped if still queued; a render already inside Piper finishes unheard
            failure = RenderFailed(f"could not journal the job in DATA_DIR ({error.strerror or error})")
            # A job of its own: the cancelled one's render thread may still mark that one as processing.
            failed = self._jobs[render_id] = _Job(render_id)
            failed.failure, failed.status = JobFailure.from_exception(failure), JobStatus.FAILED
            failed.finished_at = time.monotonic()
            failed.done.set()
            raise failure from error
        return job.state()

    def _new_job(self, render_id: str) -> _Job:
        job = _Job(render_id)
        self._jobs[render_id] = job  # replaces a failed job: resubmitting retries
        self.jobs_created += 1
        return job

    async def _resume_journaled_jobs(self) -> None:
        entries = await asyncio.to_thread(self.journal.entries)
        resumed = 0
        for render_id, job_request in entries:
            if render_id in self._jobs or self.cache.get(render_id) is not None:
                await asyncio.to_thread(self.journal.remove, render_id)  # finished just before the stop
                continue
            self._spawn(self._run(self._new_job(render_id), job_request))
            resumed += 1
        if resumed:
            _LOGGER.info("resumed %d render jobs accepted before the last stop", resumed)

    async def state(self, render_id: str) -> JobState | None:
        job = self._jobs.get(render_id)
        if job is not None:
            return job.state()
        record = self.cache.get(render_id)
        return JobState(render_id, JobStatus.COMPLETED, record=record) if record is not None else None

    async def wait(self, render_id: str, timeout: float) -> JobState:
        job = self._jobs.get(render_id)
        if job is None:
            return await self.state(render_id) or JobState(
                render_id, JobStatus.FAILED, failure=JobFailure(ErrorKind.RENDER_FAILED, "unknown render id")
            )
        try:
            await asyncio.wait_for(job.done.wait(), timeout)
        except TimeoutError:
            pass  # still running: the caller reports where to poll; the job goes on
        return job.state()

    async def pending_jobs(self) -> int:
        return sum(job.status in (JobStatus.PENDING, JobStatus.PROCESSING) for job in self._jobs.values())

    async def connected(self) -> bool:
        return True

    async def _run(self, job: _Job, request: RenderRequest) -> None:
        try:
            job.record = await self._pool.run(job.render_id, self._render, job, request)
        except Exception as error:  # every failure becomes a typed job failure; the service stays up
            job.failure = JobFailure.from_exception(error)
            job.status = JobStatus.FAILED
            unexpected = not isinstance(error, AvatarServiceError)
            _LOGGER.error("render %s failed: %s", job.render_id, job.failure.message, exc_info=unexpected)
            self.journal.remove(job.render_id)  # ended: pollers see the failure; resubmitting retries
        else:
            self.journal.remove(job.render_id)  # one unlink; a shutdown's cancel skips it and keeps the job
            job.status = JobStatus.COMPLETED
            # Served from the cache from now on; waiters still hold the job object.
            if self._jobs.get(job.render_id) is job:
                del self._jobs[job.render_id]
        finally:
            job.finished_at = time.monotonic()
            job.done.set()

    def _render(self, job: _Job, request: RenderRequest) -> RenderRecord:
        """Runs on a pool thread: synthesize, write the audio, then the cache record."""
        job.status = JobStatus.PROCESSING
        try:
            record = self._renderer.render(request, audio_dir=self._settings.audio_dir)
            if record.render_id != job.render_id:
                raise RenderFailed(f"the pipeline named the render {record.render_id}, the API expected {job.render_id}")
            # One job per render id at a time here, so the audio just written is this run's: its digest goes in.
            record = with_audio_digest(record, self._settings.audio_dir)
            self.cache.put(record)
        except OSError as error:  # a full or read-only DATA_DIR: the server's fault, said plainly
            raise RenderFailed(f"could not write the render to DATA_DIR ({error.strerror or error})") from error
        return record

    def _forget_old_failures(self) -> None:
        cutoff = time.monotonic() - FAILED_JOB_TTL_S
        for render_id, job in list(self._jobs.items()):
            if job.status is JobStatus.FAILED and job.finished_at < cutoff:
                del self._jobs[render_id]

    async def _purge_periodically(self, interval: float) -> None:
        while True:
            await asyncio.sleep(interval)
            try:
                removed = await asyncio.to_thread(self.cache.purge_expired)
            except OSError as error:  # a full or read-only disk must not stop the sweeps
                _LOGGER.warning("cache purge failed: %s", error)
                continue
            if removed:
                _LOGGER.info("cache purge: removed %d expired renders", removed)

    def _spawn(self, coroutine) -> asyncio.Task:
        task = asyncio.get_running_loop().create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

