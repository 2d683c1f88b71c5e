"""Nothing accepted is lost: `kill -9` of a real `avatar-service serve` with accepted async jobs, then a
restart on the same DATA_DIR, and every accepted job completes."""

import signal

import httpx

from tests.support.services import cli_env, start_api, wait_until

JOBS = 8


def test_kill_9_with_accepted_jobs_then_restart_completes_all_of_them(tmp_path):
    env = cli_env(tmp_path / "data", RENDER_WORKERS="1")
    api, base_url = start_api(env, tmp_path / "first.log")
    try:
        accepted = [
            httpx.post(base_url + "/v1/avatar/render_async", json={"text": f"Accepted job number {n}, then a crash."})
            for n in range(JOBS)
        ]
        assert [response.status_code for response in accepted] == [202] * JOBS
        api.kill(signal.SIGKILL)
    finally:
        api.kill()
    render_ids = [response.json()["render_id"] for response in accepted]

    restarted, base_url = start_api(env, tmp_path / "second.log")
    try:
        for render_id in render_ids:
            poll_url = f"{base_url}/v1/avatar/render/{render_id}"

            def finished(url=poll_url):
                response = httpx.get(url)
                assert response.status_code == 200, response.text  # a 404 here is a lost job
                return response.json()["status"] in ("completed", "failed") and response.json()

            done = wait_until(finished, timeout=120, what=poll_url, interval=0.2)
            assert done["status"] == "completed", done
        assert list((tmp_path / "data" / "journal").glob("*")) == []
        assert "resumed" in restarted.log()
    finally:
        restarted.kill()
