"""Scale-out mode under stress, on a real Valkey with real `serve` and `worker` processes: the pending-job cap,
a SIGKILLed worker's job re-run by another worker, and typed failures crossing the queue."""

import signal
import time

import httpx
import pytest
from support.services import service_env, start_api, start_worker, wait_until

pytestmark = pytest.mark.valkey


def test_new_renders_past_max_pending_jobs_are_503_with_retry_after(valkey, tmp_path):
    env = service_env(valkey, tmp_path / "data", db=3, MAX_PENDING_JOBS="2")
    api, base_url = start_api(env, tmp_path / "api.log")
    try:
        texts = [f"Queued without a worker, number {n}." for n in range(4)]
        answers = [httpx.post(base_url + "/v1/avatar/render_async", json={"text": text}) for text in texts]
        assert [answer.status_code for answer in answers] == [202, 202, 503, 503]
        assert int(answers[2].headers["Retry-After"]) >= 1
        assert "MAX_PENDING_JOBS=2" in answers[2].json()["detail"]
        # Joining an accepted job is not new work.
        assert httpx.post(base_url + "/v1/avatar/render_async", json={"text": texts[0]}).status_code == 202

        worker = start_worker(env, tmp_path / "worker.log")
        try:
            for accepted in answers[:2]:
                poll_url = accepted.json()["poll_url"]
                wait_until(lambda url=poll_url: httpx.get(url).json()["status"] == "completed", timeout=60, what=poll_url)
            assert httpx.post(base_url + "/v1/avatar/render_async", json={"text": texts[2]}).status_code == 202
        finally:
            worker.kill()
    finally:
        api.kill()


LONG_TEXT = (
    "A worker is killed in the middle of this render, without any warning at all. Another worker notices that "
    "the lease is no longer renewed, takes the job over, and renders it from the start, so the client who "
    "asked for it still gets the finished result a few seconds later, and nothing that was accepted is lost."
)


def test_a_sigkilled_workers_job_completes_on_another_worker_within_30_s(valkey, tmp_path):
    env = service_env(valkey, tmp_path / "data", db=4)
    api, base_url = start_api(env, tmp_path / "api.log")
    # One core for the doomed worker and a long text: a lone render on two cores could end before the survivor
    # has started.
    doomed = start_worker({**env, "RENDER_WORKERS": "1"}, tmp_path / "doomed.log")
    survivor = None
    try:
        # ~70 s of speech: several seconds of work on one core, so the survivor is up before it ends.
        accepted = httpx.post(base_url + "/v1/avatar/render_async", json={"text": " ".join([LONG_TEXT] * 4)}).json()
        render_id = accepted["render_id"]
        wait_until(lambda: f"{render_id}:render(" in doomed.log(), timeout=30, what="the first worker to start")
        survivor = start_worker(env, tmp_path / "survivor.log")
        assert httpx.get(accepted["poll_url"]).json()["status"] == "processing"  # still leased by the first

        doomed.kill(signal.SIGKILL)
        killed_at = time.monotonic()
        done = wait_until(
            lambda: (body := httpx.get(accepted["poll_url"]).json())["status"] in ("completed", "failed") and body,
            timeout=30, what="the job to complete on the surviving worker", interval=0.1,
        )
        recovery_s = time.monotonic() - killed_at
        assert done["status"] == "completed", done
        assert f"{render_id}:render(" in survivor.log()
        assert recovery_s < 30
        assert httpx.get(done["audio_url"]).status_code == 200
    finally:
        for process in (survivor, doomed, api):
            if process is not None:
                process.kill()


def test_a_healthy_long_job_is_not_started_twice(valkey, tmp_path):
    # A 1 s lease, shorter than every render here: only the heartbeat keeps each job with its worker.
    env = service_env(valkey, tmp_path / "data", db=5, RENDER_WORKERS="1", JOB_LEASE_SECONDS="1")
    api, base_url = start_api(env, tmp_path / "api.log")
    workers = [start_worker(env, tmp_path / f"worker-{n}.log") for n in range(2)]
    try:
        texts = [LONG_TEXT + f" Copy number {n}." for n in range(2)]
        accepted = [httpx.post(base_url + "/v1/avatar/render_async", json={"text": t}).json() for t in texts]
        for job in accepted:
            wait_until(lambda url=job["poll_url"]: httpx.get(url).json()["status"] == "completed",
                       timeout=120, what=job["poll_url"])
        for job in accepted:
            starts = sum(worker.log().count(f"{job['render_id']}:render(") for worker in workers)
            assert starts == 1, job["render_id"]
        assert all("try=2" not in worker.log() for worker in workers)
    finally:
        for process in (*workers, api):
            process.kill()


def test_rate_limits_are_shared_by_api_instances_through_valkey(valkey, tmp_path):
    env = service_env(valkey, tmp_path / "data", db=6, RATE_LIMIT_PER_IP="3/minute")
    started = [start_api(env, tmp_path / f"api-{n}.log") for n in range(2)]
    try:
        urls = [base_url + "/v1/voices" for _, base_url in started]
        answers = [httpx.get(urls[n % 2]).status_code for n in range(4)]  # alternating instances
        assert answers == [200, 200, 200, 429]
        assert valkey.client(db=6).keys("LIMITS*")  # the count lives in Valkey, not in either process
    finally:
        for process, _ in started:
            process.kill()


def test_a_record_whose_audio_is_gone_is_a_miss_and_re_renders(valkey, tmp_path):
    env = service_env(valkey, tmp_path / "data", db=7)
    api, base_url = start_api(env, tmp_path / "api.log")
    worker = start_worker(env, tmp_path / "worker.log")
    try:
        first = httpx.post(base_url + "/v1/avatar/render", json={"text": "My audio will vanish."}, timeout=120)
        assert first.status_code == 200, first.text
        audio = tmp_path / "data" / "audio" / first.json()["audio_url"].rsplit("/", 1)[1]
        record = valkey.client(db=7).get("avatar:record:" + first.json()["render_id"])
        assert b'"audio_sha256"' in record
        audio.write_bytes(audio.read_bytes()[:50])  # truncated behind the service's back

        assert httpx.get(f"{base_url}/v1/avatar/render/{first.json()['render_id']}").status_code == 404
        again = httpx.post(base_url + "/v1/avatar/render", json={"text": "My audio will vanish."}, timeout=120)
        assert again.status_code == 200 and again.json()["cached"] is False
        assert httpx.get(again.json()["audio_url"]).content[:4] == b"OggS"
    finally:
        worker.kill()
        api.kill()


def test_a_record_write_during_a_valkey_outage_is_retried(tmp_path):
    # Its own Valkey, since it is stopped mid-test.
    from support.services import ValkeyServer, find_valkey_server

    binary = find_valkey_server()
    if binary is None:
        pytest.skip("no valkey-server")
    valkey = ValkeyServer(binary, tmp_path)
    valkey.start()
    env = service_env(valkey, tmp_path / "data")
    worker = start_worker(env, tmp_path / "worker.log")
    api, base_url = start_api(env, tmp_path / "api.log")
    try:
        accepted = httpx.post(base_url + "/v1/avatar/render_async", json={"text": LONG_TEXT}).json()
        wait_until(lambda: f"{accepted['render_id']}:render(" in worker.log(), timeout=30, what="the render")
        valkey.stop()  # the render finishes while Valkey is down: storing its record fails at first
        wait_until(lambda: "retrying" in worker.log(), timeout=60, what="a failed record write")
        valkey.start()  # empty: no persistence, so the queued job itself is gone and only the record can come back

        def completed() -> bool:
            response = httpx.get(accepted["poll_url"])
            return response.status_code == 200 and response.json()["status"] == "completed"

        wait_until(completed, timeout=60, what="the record, stored once Valkey is back", interval=0.2)
        assert httpx.get(httpx.get(accepted["poll_url"]).json()["audio_url"]).status_code == 200
    finally:
        worker.kill()
        api.kill()
        valkey.stop()
