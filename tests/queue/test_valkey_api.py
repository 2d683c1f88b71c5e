"""The real API (`avatar-service serve`, QUEUE=valkey) on a real Valkey, renders done by worker processes."""

import httpx
import pytest
from support.services import service_env, start_api, start_worker, wait_until

pytestmark = pytest.mark.valkey


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("data")


@pytest.fixture(scope="module")
def logs(tmp_path_factory):
    return tmp_path_factory.mktemp("logs")


@pytest.fixture(scope="module")
def apis(valkey, data_dir, logs):
    """Two API instances on one Valkey and one shared DATA_DIR, as behind a load balancer."""
    started = [start_api(service_env(valkey, data_dir), logs / f"api-{name}.log") for name in "ab"]
    yield [base_url for _, base_url in started]
    for process, _ in started:
        process.kill()


@pytest.fixture(scope="module")
def worker(valkey, data_dir, logs):
    process = start_worker(service_env(valkey, data_dir), logs / "worker.log")
    yield process
    process.kill()


def health(base_url: str) -> dict:
    response = httpx.get(base_url + "/health")
    assert response.status_code == 200
    return response.json()


def poll_until_done(poll_url: str) -> dict:
    def done():
        body = httpx.get(poll_url).json()
        return body if body["status"] in ("completed", "failed") else None

    return wait_until(done, timeout=60, what=poll_url, interval=0.1)


def test_two_api_instances_share_one_job_that_a_worker_process_renders(apis, request):
    first_api, second_api = apis
    text = {"text": "Two instances, one job."}
    accepted = [httpx.post(base + "/v1/avatar/render_async", json=text).json() for base in apis]
    other = httpx.post(second_api + "/v1/avatar/render_async", json={"text": "Another job."}).json()
    assert accepted[0]["render_id"] == accepted[1]["render_id"]
    assert [body["status"] for body in accepted] == ["pending", "pending"]

    # No worker yet: both instances see the same two queued jobs.
    for base in apis:
        assert health(base).items() >= {
            "status": "ok", "queue": "valkey", "valkey_connected": True, "pending_jobs": 2
        }.items()
    assert httpx.get(accepted[1]["poll_url"]).json()["status"] == "pending"

    worker = request.getfixturevalue("worker")
    results = [poll_until_done(body["poll_url"]) for body in (*accepted, other)]
    assert [result["status"] for result in results] == ["completed"] * 3
    assert results[0]["mouth_cues"] == results[1]["mouth_cues"]
    assert worker.log().count(f"→ {accepted[0]['render_id']}:render(") == 1  # rendered once
    assert health(first_api)["pending_jobs"] == 0

    # The audio the worker wrote to the shared DATA_DIR is served by either instance.
    audio = httpx.get(results[1]["audio_url"])
    assert audio.status_code == 200 and audio.headers["content-type"] == "audio/ogg"
    again = httpx.post(first_api + "/v1/avatar/render", json=text).json()
    assert again["cached"] is True and again["eye_events"] == results[0]["eye_events"]


def test_sync_render_waits_for_the_worker(apis, worker):
    response = httpx.post(apis[0] + "/v1/avatar/render", json={"text": "Waiting in sync.", "speed": 1.2},
                          timeout=60)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["status"] == "completed" and body["cached"] is False
    assert body["duration_ms"] > 300


def test_valkey_outage_gives_503_and_degraded_health_then_recovers_without_restart(apis, worker, valkey):
    api = apis[0]
    valkey.stop()
    try:
        response = httpx.post(api + "/v1/avatar/render", json={"text": "During the outage."})
        assert response.status_code == 503
        assert "Retry-After" in response.headers
        assert str(valkey.port) in response.text  # says which Valkey is unreachable
        assert httpx.post(api + "/v1/avatar/render_async", json={"text": "Also refused."}).status_code == 503
        assert health(api).items() >= {
            "status": "degraded", "queue": "valkey", "valkey_connected": False, "pending_jobs": None
        }.items()
        wait_until(lambda: "lost Valkey" in worker.log(), timeout=10, what="the worker to notice")
    finally:
        valkey.start()

    # Same API processes, same worker process: all back by themselves.
    assert health(api)["status"] == "ok"
    response = httpx.post(api + "/v1/avatar/render", json={"text": "After the outage."}, timeout=60)
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "completed"
    assert worker.popen.poll() is None
