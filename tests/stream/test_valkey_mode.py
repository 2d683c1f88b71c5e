"""In Valkey mode the API process synthesizes streams itself: they work with no worker running at all."""

import httpx
import pytest

from tests.queue.conftest import valkey  # noqa: F401  (the fixture: a real valkey-server)
from tests.support.services import service_env, start_api

pytestmark = pytest.mark.valkey


def test_a_stream_needs_no_worker_in_valkey_mode(valkey, open_stream, tmp_path):  # noqa: F811
    api, base_url = start_api(service_env(valkey, tmp_path / "data"), tmp_path / "api.log")
    try:
        assert httpx.get(base_url + "/health").json()["queue"] == "valkey"
        client = open_stream(base_url)
        client.start()
        client.send(type="text", text="No worker is running, ")
        client.send(type="text", text="yet this is spoken.")
        client.send(type="end")
        segments, audio, done = client.until_done()
        assert [segment["text"] for segment in segments] == ["No worker is running, ", "yet this is spoken."]
        assert done["duration_ms"] == sum(segment["duration_ms"] for segment in segments) > 1000
        # HTTP renders still go to the queue and wait for a worker: nothing rendered them in this process.
        queued = httpx.post(base_url + "/v1/avatar/render_async", json={"text": "For a worker."}).json()
        assert httpx.get(queued["poll_url"]).json()["status"] == "pending"
    finally:
        api.kill()
