"""ValkeyQueue against a real valkey-server, with jobs run by a real `avatar-service worker` process."""

import asyncio
import json

import pytest
from support.services import on_queue, service_env, start_worker, wait_until

from avatar_service.config import Settings
from avatar_service.errors import ErrorKind
from avatar_service.queue.base import QueueUnavailable
from avatar_service.queue.connections import QUEUE_NAME, RECORD_KEY_PREFIX
from avatar_service.queue.valkey import ValkeyQueue
from avatar_service.schemas import JobStatus, RenderRequest, render_id_for

pytestmark = pytest.mark.valkey

VOICE = "en_US-joe-medium"


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("data")


@pytest.fixture(scope="module")
def settings(valkey, data_dir) -> Settings:
    return Settings(queue="valkey", valkey_host="127.0.0.1", valkey_port=valkey.port, data_dir=data_dir)


@pytest.fixture(scope="module")
def worker(valkey, data_dir, tmp_path_factory):
    process = start_worker(service_env(valkey, data_dir), tmp_path_factory.mktemp("logs") / "worker.log")
    yield process
    process.kill()


def job(text: str, speed: float = 1.0) -> tuple[RenderRequest, str]:
    request = RenderRequest(text=text, speed=speed)
    return request, render_id_for(text, VOICE, speed)


def test_a_worker_process_renders_the_job_and_the_result_is_cached_in_valkey(settings, worker, valkey):
    request, render_id = job("Hello from the worker.")

    async def scenario(queue):
        submitted = await queue.submit(request, render_id, VOICE)
        finished = await queue.wait(render_id, timeout=60)
        again = await queue.submit(request, render_id, VOICE)
        return submitted, finished, again, await queue.pending_jobs()

    submitted, finished, again, pending = on_queue(settings, scenario)
    assert submitted.status is JobStatus.PENDING
    assert finished.status is JobStatus.COMPLETED, finished.error
    assert finished.record.render_id == render_id
    assert finished.record.duration_ms > 300
    assert (settings.audio_dir / finished.record.audio_file).stat().st_size > 1000
    assert worker.log().count(f"→ {render_id}:render(") == 1  # run by the worker process, once
    assert again.status is JobStatus.COMPLETED and again.cached
    assert again.record == finished.record
    assert pending == 0
    ttl = valkey.client().ttl(RECORD_KEY_PREFIX + render_id)
    assert settings.cache_ttl_seconds - 60 < ttl <= settings.cache_ttl_seconds


def test_jobs_travel_as_json_never_pickle(settings, valkey):
    # No worker on db 3: the job stays queued so its stored form can be read back.
    settings = settings.model_copy(update={"valkey_db": 3})
    request, render_id = job("Stored as JSON.")
    on_queue(settings, lambda queue: queue.submit(request, render_id, VOICE))
    raw = valkey.client(db=3).get("arq:job:" + render_id)
    stored = json.loads(raw)
    assert stored["f"] == "render"
    assert stored["a"] == [{"text": "Stored as JSON.", "voice_id": VOICE, "speed": 1.0}, render_id]


def test_identical_submits_from_two_queues_share_one_job_and_pending_counts_them(settings, valkey):
    settings = settings.model_copy(update={"valkey_db": 4})  # no worker here: jobs stay queued
    first, first_id = job("One job for both instances.")
    second, second_id = job("A different text.")

    async def scenario(queue):
        other_api = ValkeyQueue(settings)
        try:
            states = [
                await queue.submit(first, first_id, VOICE),
                await other_api.submit(first, first_id, VOICE),
                await other_api.submit(second, second_id, VOICE),
            ]
            return states, await queue.pending_jobs(), await other_api.state(first_id)
        finally:
            await other_api.close()

    states, pending, polled = on_queue(settings, scenario)
    assert [state.status for state in states] == [JobStatus.PENDING] * 3
    assert pending == 2
    assert valkey.client(db=4).zcard(QUEUE_NAME) == 2
    assert polled.status is JobStatus.PENDING


def test_a_failed_render_reports_its_error_and_a_resubmit_retries_it(settings, worker):
    # The API checks voices before queueing; a voice the worker lacks still fails there, readably.
    request = RenderRequest(text="No such voice.", voice_id="xx_XX-missing-low")
    render_id = render_id_for(request.text, "xx_XX-missing-low", 1.0)

    async def scenario(queue):
        await queue.submit(request, render_id, "xx_XX-missing-low")
        failed = await queue.wait(render_id, timeout=30)
        polled = await queue.state(render_id)
        resubmitted = await queue.submit(request, render_id, "xx_XX-missing-low")
        return failed, polled, resubmitted

    failed, polled, resubmitted = on_queue(settings, scenario)
    assert failed.status is JobStatus.FAILED
    assert "xx_XX-missing-low" in failed.error and "voice" in failed.error
    # The kind and field cross the queue as data (the API maps the kind to 422 without reading the text).
    assert (failed.failure.kind, failed.failure.field) == (ErrorKind.INVALID_INPUT, "voice_id")
    assert polled.status is JobStatus.FAILED
    # The failure does not block the content hash: the job is queued and run again at once.
    assert resubmitted.status is JobStatus.PENDING
    wait_until(lambda: worker.log().count(f"→ {render_id}:render(") == 2, timeout=30, what="the re-run")


def test_outage_raises_queue_unavailable_and_recovers_without_a_new_queue(settings, valkey, worker):
    request, render_id = job("Back after the outage.")

    async def scenario(queue):
        assert await queue.connected()
        valkey.stop()
        try:
            assert not await queue.connected()
            for call in (queue.submit(request, render_id, VOICE), queue.state(render_id),
                         queue.pending_jobs(), queue.wait(render_id, 1)):
                with pytest.raises(QueueUnavailable, match=str(valkey.port)):
                    await call
            # The worker notices too (it polls), and keeps running instead of exiting.
            await asyncio.to_thread(wait_until, lambda: "lost Valkey" in worker.log(), 10, "the worker")
        finally:
            valkey.start()
        assert await queue.connected()
        await queue.submit(request, render_id, VOICE)
        return await queue.wait(render_id, timeout=60)

    finished = on_queue(settings, scenario)
    # The same worker process reconnected by itself and ran the job.
    assert worker.popen.poll() is None
    assert finished.status is JobStatus.COMPLETED, finished.error
