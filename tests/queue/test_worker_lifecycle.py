"""Worker lifecycle on a real Valkey: SIGKILL mid-render (re-run elsewhere, once), SIGTERM, timeouts."""

import signal

import pytest
from support.services import on_queue, service_env, start_worker, wait_until

from avatar_service.config import Settings
from avatar_service.queue.connections import RECORD_KEY_PREFIX
from avatar_service.schemas import JobStatus, RenderRequest, render_id_for

pytestmark = pytest.mark.valkey

# Long enough that the render takes a good fraction of a second, so the kill lands mid-job.
TEXT = (
    "The worker that started this sentence will not live to finish it. "
    "Another worker picks the job up once the lease of the first has expired, "
    "renders the same audio under the same content hash, and stores the one result "
    "that every client then sees. Nothing is lost and nothing is delivered twice."
)
# The lease no longer follows the job timeout (the heartbeat keeps it at JOB_LEASE_SECONDS, 10 s), so the
# timeout can be generous enough for a loaded machine.
JOB_TIMEOUT_SECONDS = "30"


def test_sigkilled_worker_job_is_rerun_by_another_worker_and_completes_once(valkey, tmp_path):
    data_dir = tmp_path / "data"
    env = service_env(valkey, data_dir, JOB_TIMEOUT_SECONDS=JOB_TIMEOUT_SECONDS)
    settings = Settings(queue="valkey", valkey_host="127.0.0.1", valkey_port=valkey.port, data_dir=data_dir)
    request = RenderRequest(text=TEXT)
    render_id = render_id_for(TEXT, "en_US-joe-medium", 1.0)
    client = valkey.client()

    doomed = start_worker(env, tmp_path / "doomed.log")
    try:
        on_queue(settings, lambda queue: queue.submit(request, render_id, "en_US-joe-medium"))
        wait_until(lambda: f"→ {render_id}:render(" in doomed.log(), timeout=30,
                   what="the worker to start the render", interval=0.002)
        doomed.kill(signal.SIGKILL)
    finally:
        doomed.kill()
    assert not client.exists(RECORD_KEY_PREFIX + render_id), "the kill came too late: the job had finished"
    assert "← " not in doomed.log()

    # While the dead worker's lease lasts the job is still counted, as running.
    state = on_queue(settings, lambda queue: queue.state(render_id))
    pending = on_queue(settings, lambda queue: queue.pending_jobs())
    assert state.status is JobStatus.PROCESSING
    assert pending == 1

    rescuer = start_worker(env, tmp_path / "rescuer.log")
    try:
        finished = on_queue(settings, lambda queue: queue.wait(render_id, timeout=90))
        pending = on_queue(settings, lambda queue: queue.pending_jobs())
    finally:
        rescuer.kill()
    assert finished.status is JobStatus.COMPLETED, finished.error
    assert pending == 0
    log = rescuer.log()
    assert f"→ {render_id}:render(" in log and "try=2" in log
    assert log.count(f"← {render_id}:render ● 'rendered'") == 1
    audio = [path.name for path in (data_dir / "audio").iterdir() if path.suffix in (".ogg", ".wav")]
    assert audio == [finished.record.audio_file]



def test_sigterm_hands_the_running_job_back_to_the_queue_at_once(valkey, tmp_path):
    data_dir = tmp_path / "data"
    env = service_env(valkey, data_dir, db=1)
    settings = Settings(queue="valkey", valkey_host="127.0.0.1", valkey_port=valkey.port, valkey_db=1,
                        data_dir=data_dir)
    request = RenderRequest(text=TEXT, speed=0.9)
    render_id = render_id_for(TEXT, "en_US-joe-medium", 0.9)
    client = valkey.client(db=1)

    stopping = start_worker(env, tmp_path / "stopping.log")
    try:
        on_queue(settings, lambda queue: queue.submit(request, render_id, "en_US-joe-medium"))
        # Once the render itself runs (arq does not hand back a job cancelled before it started it).
        wait_until(lambda: f"→ {render_id}:render(" in stopping.log(), timeout=30,
                   what="the worker to start the render", interval=0.002)
        stopping.popen.send_signal(signal.SIGTERM)
        # No lease to wait out (compare the SIGKILL test): the job is free for the next worker right away.
        wait_until(lambda: not client.exists("arq:in-progress:" + render_id), timeout=5,
                   what="the job to be handed back")
    finally:
        stopping.kill()
    assert "cancelled, will be run again" in stopping.log()
    assert on_queue(settings, lambda queue: queue.state(render_id)).status is JobStatus.PENDING


def test_a_render_over_the_job_timeout_fails_with_a_readable_error(valkey, tmp_path):
    data_dir = tmp_path / "data"
    env = service_env(valkey, data_dir, db=2, JOB_TIMEOUT_SECONDS="1")
    settings = Settings(queue="valkey", valkey_host="127.0.0.1", valkey_port=valkey.port, valkey_db=2,
                        data_dir=data_dir)
    text = " ".join([TEXT] * 4)  # several seconds of work, well over one second
    request = RenderRequest(text=text)
    render_id = render_id_for(text, "en_US-joe-medium", 1.0)

    worker = start_worker(env, tmp_path / "slow.log")
    try:
        on_queue(settings, lambda queue: queue.submit(request, render_id, "en_US-joe-medium"))
        failed = on_queue(settings, lambda queue: queue.wait(render_id, timeout=30))
    finally:
        worker.kill(signal.SIGKILL)  # don't wait for the abandoned render thread
    assert failed.status is JobStatus.FAILED
    assert failed.error == "render took longer than JOB_TIMEOUT_SECONDS (1 s)"
