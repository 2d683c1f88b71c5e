"""Lip-sync jobs: run by a small process pool owned by the API process that received the upload.

Why not the render queue (docs/lipsync.md): the upload is already on this machine, and shipping up to 50 MB
through Valkey to a worker would cost more than the alignment itself (~0.05 × the audio's length). Why
processes, not threads: pocketsphinx keeps the GIL while it decodes (measured: the event loop stalled for
over a second), and a process per job slot also bounds memory and isolates a crash in the native decoder.
Results go to their own record directory with the shared audio directory, kept CACHE_TTL_SECONDS like renders.
"""

import asyncio
import logging
import multiprocessing
import shutil
import time
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from pathlib import Path

from avatar_service.cache import ResultCache
from avatar_service.config import Settings
from avatar_service.errors import ErrorKind, InvalidInput, JobFailure
from avatar_service.schemas import JobStatus, RenderRecord

_LOGGER = logging.getLogger(__name__)

# A failed job stays pollable this long; submitting the same upload again retries.
FAILED_JOB_TTL_S = 600.0


@dataclass(frozen=True)
class LipsyncState:
    render_id: str
    status: JobStatus
    record: RenderRecord | None = None
    failure: JobFailure | None = None  # set when failed: its kind, the field at fault, one readable line
    cached: bool = False


def run_job(upload: Path, transcript: str | None, audio_dir: Path, render_id: str) -> RenderRecord | JobFailure:
    """Runs in a pool process. The upload is removed whatever happens: its content is now in the record."""
    from avatar_service.recordings.pipeline import lipsync

    try:
        return lipsync(upload, transcript, audio_dir, render_id=render_id)
    except InvalidInput as error:  # as data: the exception's constructor does not survive pickling
        return JobFailure.from_exception(error)
    finally:
        upload.unlink(missing_ok=True)


@dataclass
class _Job:
    future: asyncio.Future
    finished_at: float = 0.0


class LipsyncJobs:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.uploads_dir = settings.data_dir / "uploads"
        self.cache = ResultCache(
            settings.data_dir / "lipsync-results", settings.audio_dir, settings.cache_ttl_seconds
        )
        self._pool = self._new_pool()
        self._jobs: dict[str, _Job] = {}

    def _new_pool(self) -> ProcessPoolExecutor:
        # spawn: the API process runs threads (uvicorn, the render pool), which fork must not copy.
        return ProcessPoolExecutor(
            max_workers=max(1, self.settings.render_workers), mp_context=multiprocessing.get_context("spawn")
        )

    async def start(self) -> None:
        await asyncio.to_thread(self.cache.load)
        # Uploads left by a crash belong to no job now.
        await asyncio.to_thread(shutil.rmtree, self.uploads_dir, True)
        self.uploads_dir.mkdir(parents=True, exist_ok=True)

    async def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)

    def cached(self, render_id: str) -> LipsyncState | None:
        record = self.cache.get(render_id)
        return LipsyncState(render_id, JobStatus.COMPLETED, record=record, cached=True) if record else None

    async def submit(self, upload: Path, transcript: str | None, render_id: str) -> LipsyncState:
        """Start a job for ``upload`` (which it takes over), or join the one already running for that id."""
        job = self._jobs.get(render_id)
        state = self._state_of(render_id, job) if job is not None else self.cached(render_id)
        if state is not None and state.status is not JobStatus.FAILED:
            upload.unlink(missing_ok=True)
            return state
        self._forget_old_failures()
        loop = asyncio.get_running_loop()
        arguments = (run_job, upload, transcript, self.settings.audio_dir, render_id)
        try:
            future = loop.run_in_executor(self._pool, *arguments)
        except BrokenProcessPool:
            # A pool process died (OOM killer, a crash in the native decoder): its job failed; later ones
            # get a fresh pool instead of failing for the rest of the API's life.
            _LOGGER.warning("lip-sync process pool broken; starting a new one")
            self._pool = self._new_pool()
            future = loop.run_in_executor(self._pool, *arguments)
        job = self._jobs[render_id] = _Job(future)
        future.add_done_callback(lambda _f: self._finished(render_id, job))
        return LipsyncState(render_id, JobStatus.PROCESSING)

    async def state(self, render_id: str) -> LipsyncState | None:
        job = self._jobs.get(render_id)
        return self._state_of(render_id, job) if job is not None else self.cached(render_id)

    async def wait(self, render_id: str, timeout: float) -> LipsyncState | None:
        job = self._jobs.get(render_id)
        if job is None:
            return await self.state(render_id)
        try:
            await asyncio.wait_for(asyncio.shield(job.future), timeout)
        except TimeoutError:
            pass  # still running: the caller says where to poll
        except Exception:  # noqa: S110 - the failure is read from the job's state below
            pass
        return self._state_of(render_id, job)  # this job's own outcome: not "cached" even once it is

    def _finished(self, render_id: str, job: _Job) -> None:
        job.finished_at = time.monotonic()
        outcome = self._state_of(render_id, job)
        if outcome.failure is not None and outcome.failure.kind is ErrorKind.INTERNAL:
            cause = None if job.future.cancelled() else job.future.exception()
            _LOGGER.error("lip sync %s failed", render_id, exc_info=cause)
        if outcome.status is JobStatus.COMPLETED:
            self.cache.put(outcome.record)
            if self._jobs.get(render_id) is job:
                del self._jobs[render_id]  # served from the cache from now on

    def _state_of(self, render_id: str, job: _Job) -> LipsyncState:
        future = job.future
        if not future.done():
            return LipsyncState(render_id, JobStatus.PROCESSING)
        if future.cancelled() or future.exception() is not None:
            error = future.exception() if not future.cancelled() else None
            reason = f"internal error while lip-syncing ({type(error).__name__}); see the server log"
            return LipsyncState(render_id, JobStatus.FAILED, failure=JobFailure(ErrorKind.INTERNAL, reason))
        result = future.result()
        if isinstance(result, JobFailure):
            return LipsyncState(render_id, JobStatus.FAILED, failure=result)
        return LipsyncState(render_id, JobStatus.COMPLETED, record=result)

    def _forget_old_failures(self) -> None:
        cutoff = time.monotonic() - FAILED_JOB_TTL_S
        for render_id, job in list(self._jobs.items()):
            if job.future.done() and job.finished_at < cutoff:
                del self._jobs[render_id]
