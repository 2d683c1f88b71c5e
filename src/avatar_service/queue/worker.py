"""`avatar-service worker`: an arq worker that renders jobs from Valkey into the shared DATA_DIR.

Crash safety comes from arq's lease: a job stays in the queue while it runs, guarded by an in-progress key;
if the worker dies, the key lapses and another worker runs the job again. arq sets that key to expire
JOB_TIMEOUT_SECONDS + 12 s after the start, so a killed worker's job used to wait ~2 minutes. Here jobs are
claimed with a JOB_LEASE_SECONDS lease and a heartbeat renews it every third of that while the worker lives,
so a dead worker's job is re-run within ~JOB_LEASE_SECONDS (recipe and figures: docs/deploy.md, "Crash recovery").
Re-running is safe because a render is named by its content hash, and the record is written after the audio
with the audio's size and hash, so a record always describes the audio beside it (cache.py checks it).
"""

import asyncio
import logging
import signal
import time
from pathlib import Path
from typing import Any

from arq.constants import in_progress_key_prefix
from arq.cron import cron
from arq.worker import Worker, func

from avatar_service.cache import audio_problem, with_audio_digest
from avatar_service.config import Settings
from avatar_service.errors import AvatarServiceError, RenderFailed
from avatar_service.queue import connections
from avatar_service.queue.connections import (
    DONE_CHANNEL_PREFIX,
    QUEUE_NAME,
    RECORD_KEY_PREFIX,
    RENDER_FUNCTION,
)
from avatar_service.schemas import RenderRecord, RenderRequest

_LOGGER = logging.getLogger(__name__)

# A failure is kept this long so pollers can read it; a resubmit clears it sooner. Successes are served from
# the record (CACHE_TTL_SECONDS), so arq's own copy of the result only needs to outlive the job's last poll.
FAILED_RESULT_TTL_S = 600
# A job killed with its worker (SIGKILL, OOM) is retried on another worker; a request that keeps killing
# workers stops after this many runs instead of taking the fleet down one by one.
MAX_TRIES = 3
# Grace between our own render timeout and arq's hard one, so a slow render fails with our readable error.
TIMEOUT_GRACE_S = 2
POLL_DELAY_S = 0.1
RECONNECT_DELAY_S = 1.0
# A live worker renews its jobs' leases this many times per JOB_LEASE_SECONDS. The renewal runs on the
# worker's event loop, which stays free because synthesis runs in a thread (see render()).
RENEWALS_PER_LEASE = 3
# A record that cannot be stored (Valkey restarting) is retried this long before the job fails and is re-run.
RECORD_WRITE_RETRY_S = 30.0


async def render(ctx: dict[str, Any], job_request: dict[str, Any], render_id: str) -> str:
    """The arq job: render once, store the record with the cache TTL, report whether work was done."""
    lease = asyncio.create_task(
        _renew_lease(ctx["redis"], in_progress_key_prefix + ctx["job_id"], ctx["settings"].job_lease_seconds)
    )
    try:
        return await _render(ctx, job_request, render_id)
    finally:
        lease.cancel()


async def _render(ctx: dict[str, Any], job_request: dict[str, Any], render_id: str) -> str:
    redis = ctx["redis"]
    settings: Settings = ctx["settings"]
    if await _stored_record_is_sound(redis, settings, render_id):
        return "already rendered"  # a re-run after a crash that happened once the record was stored
    request = RenderRequest.model_validate(job_request)
    # Piper is CPU-bound: on the event loop it would stop timeouts from firing while the lease still runs
    # out, letting a second worker start the same job (docs/sources.md "Job queue"). In a thread, the loop stays live.
    try:
        record: RenderRecord = await asyncio.wait_for(
            asyncio.to_thread(ctx["renderer"].render, request), settings.job_timeout_seconds
        )
    except TimeoutError:
        raise RenderFailed(
            f"render took longer than JOB_TIMEOUT_SECONDS ({settings.job_timeout_seconds} s)"
        ) from None
    if record.render_id != render_id:
        raise RenderFailed(
            f"worker computed render id {record.render_id} for job {render_id}: "
            "API and worker run different pipeline versions"
        )
    # The digest of the audio as it is now on disk, so the record describes exactly that file; should two
    # runs ever overlap, a reader finds the mismatch and renders again rather than serving a mixed result.
    record = await asyncio.to_thread(with_audio_digest, record, settings.audio_dir)
    await _store_record(redis, settings, record)
    return "rendered"


async def _stored_record_is_sound(redis, settings: Settings, render_id: str) -> bool:
    stored = await redis.get(RECORD_KEY_PREFIX + render_id)
    if stored is None:
        return False
    try:
        record = RenderRecord.model_validate_json(stored)
    except ValueError:
        return False
    return await asyncio.to_thread(audio_problem, record, settings.audio_dir) is None


async def _store_record(redis, settings: Settings, record: RenderRecord) -> None:
    """Write the record, riding out a short Valkey outage: the render is done, losing it would waste it."""
    deadline = time.monotonic() + RECORD_WRITE_RETRY_S
    while True:
        try:
            await redis.set(RECORD_KEY_PREFIX + record.render_id, record.model_dump_json(), ex=settings.cache_ttl_seconds)
            return
        except connections.OUTAGE_ERRORS as error:
            if time.monotonic() >= deadline:
                raise
            _LOGGER.warning("storing record %s failed (%s); retrying", record.render_id, error)
            await asyncio.sleep(RECONNECT_DELAY_S)


async def _renew_lease(redis, lease_key: str, lease_s: float) -> None:
    """Keep the job's lease at ``lease_s`` from now, renewed every third of it while this worker lives."""
    while True:
        try:
            # PEXPIRE on a key that is gone (job finished) does nothing, so this never resurrects a lease.
            await redis.pexpire(lease_key, round(lease_s * 1000))
        except connections.OUTAGE_ERRORS as error:
            _LOGGER.warning("renewing lease %s failed: %s", lease_key, error)
        await asyncio.sleep(lease_s / RENEWALS_PER_LEASE)


async def announce_job_end(ctx: dict[str, Any]) -> None:
    """Wake API instances waiting on this render (they re-read the state; the message carries nothing)."""
    await ctx["redis"].publish(DONE_CHANNEL_PREFIX + ctx["job_id"], b"")


async def remove_expired_audio(ctx: dict[str, Any]) -> int:
    """Delete audio files whose record has expired from Valkey (Valkey expires keys, not files)."""
    settings: Settings = ctx["settings"]
    cutoff = time.time() - settings.cache_ttl_seconds
    removed = 0
    for path in _audio_files(settings.audio_dir):
        if path.stat().st_mtime < cutoff and not await ctx["redis"].exists(RECORD_KEY_PREFIX + path.stem):
            path.unlink(missing_ok=True)
            removed += 1
    return removed


def _audio_files(audio_dir: Path) -> list[Path]:
    return [path for path in audio_dir.glob("*") if path.is_file()] if audio_dir.is_dir() else []


def create_worker(settings: Settings, renderer: object, *, burst: bool = False) -> Worker:
    worker = Worker(
        functions=[func(render, name=RENDER_FUNCTION)],
        # arq gives each cron run a unique job id, so one worker in the fleet does the hourly sweep.
        cron_jobs=[cron(remove_expired_audio, minute=17, second=0, unique=True)],
        redis_pool=connections.connect(settings),
        queue_name=QUEUE_NAME,
        burst=burst,
        ctx={"settings": settings, "renderer": renderer},
        after_job_end=announce_job_end,
        max_jobs=settings.render_workers,
        job_timeout=settings.job_timeout_seconds + TIMEOUT_GRACE_S,
        max_tries=MAX_TRIES,
        keep_result=FAILED_RESULT_TTL_S,
        poll_delay=POLL_DELAY_S,
        health_check_interval=60,
        job_serializer=connections.dumps,
        job_deserializer=connections.loads,
        # serve() installs the signal handlers once, for all the Worker instances its reconnect loop makes.
        handle_signals=False,
    )
    # The lease a job is claimed with (arq: job timeout + 10 s). Short from the first moment, so a worker
    # killed before its job's first heartbeat does not leave a 2-minute lease; render() renews it.
    worker.in_progress_timeout_s = settings.job_lease_seconds
    return worker


async def serve(settings: Settings, *, burst: bool = False) -> None:
    """Run jobs until cancelled; ride out Valkey outages by reconnecting instead of exiting."""
    from avatar_service.pipeline import Renderer

    renderer = Renderer(settings)
    settings.audio_dir.mkdir(parents=True, exist_ok=True)
    await asyncio.to_thread(renderer.warm_up)  # the first job should not pay for loading the voice
    # SIGTERM (docker stop, systemd) cancels like Ctrl-C: arq then hands running jobs back to the queue at
    # once (CancelledError → "will be run again") instead of leaving them until the lease expires.
    this_task = asyncio.current_task()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, this_task.cancel)
    address = connections.describe_address(settings)
    while True:
        worker = create_worker(settings, renderer, burst=burst)
        try:
            await worker.async_run()
            return  # burst mode: the queue is empty
        except connections.OUTAGE_ERRORS as error:
            if burst:  # a one-shot run cannot wait for Valkey to come back: say so and stop
                raise AvatarServiceError(
                    f"Valkey not reachable at {address} ({error}); check VALKEY_HOST and VALKEY_PORT"
                ) from None
            _LOGGER.warning("lost Valkey at %s (%s); reconnecting", address, error)
            await _let_running_renders_finish(worker, settings)
        finally:
            await _close_quietly(worker)
        await asyncio.sleep(RECONNECT_DELAY_S)


async def _let_running_renders_finish(worker: Worker, settings: Settings) -> None:
    """An outage must not throw away renders under way (closing the worker would cancel them): they finish
    and store their records, retried until Valkey is back (_store_record). arq's ``job_tasks`` are the
    running job functions."""
    running = [task for task in worker.job_tasks.values() if not task.done()]
    if running:
        _LOGGER.info("letting %d running renders finish before reconnecting", len(running))
        await asyncio.wait(running, timeout=settings.job_timeout_seconds + RECORD_WRITE_RETRY_S)


async def _close_quietly(worker: Worker) -> None:
    """Close the worker; during an outage its farewell commands fail, which must not stop the reconnect."""
    try:
        await worker.close()
    except connections.OUTAGE_ERRORS:
        await worker.pool.aclose(close_connection_pool=True)
