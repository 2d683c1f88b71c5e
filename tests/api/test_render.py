"""Rendering over real HTTP: sync, async + poll, the cache, de-duplication, audio URLs, health."""

import json
import threading
from concurrent.futures import ThreadPoolExecutor

import httpx

from avatar_service.schemas import RenderResult

RESULT_FIELDS = {
    "render_id",
    "status",
    "audio_url",
    "duration_ms",
    "mouth_cues",
    "eye_events",
    "cached",
    "processing_time_ms",
    "timing",
}


def test_sync_render_returns_a_completed_result(live):
    response = live.render("Sync render test.", speed=1.2)

    assert response.status_code == 200
    body = response.json()
    assert set(body) == RESULT_FIELDS
    assert body["timing"] == "voice-model"  # a render is timed by the voice model's own durations
    RenderResult.model_validate(body)
    assert body["status"] == "completed" and body["cached"] is False
    assert len(body["render_id"]) == 32
    assert body["audio_url"] == f"{live.base_url}/audio/{body['render_id']}.ogg"
    assert body["duration_ms"] > 300
    assert body["mouth_cues"][0]["t_ms"] == 0 and body["mouth_cues"][-1]["viseme"] == "REST"
    assert body["processing_time_ms"] > 0


def test_async_render_then_poll_to_completion(live):
    accepted = live.client.post("/v1/avatar/render_async", json={"text": "Async render, then poll."})

    assert accepted.status_code == 202
    body = accepted.json()
    assert body["status"] in ("pending", "processing")
    assert body["poll_url"] == f"{live.base_url}/v1/avatar/render/{body['render_id']}"
    # While it runs, the poll answers the status form of the contract.
    first_poll = live.client.get(body["poll_url"]).json()
    assert first_poll["render_id"] == body["render_id"]
    if first_poll["status"] != "completed":
        assert set(first_poll) == {"render_id", "status", "error", "error_kind"} and first_poll["error"] is None

    done = live.poll_until_done(body["poll_url"])
    assert done["status"] == "completed", done
    assert set(done) == RESULT_FIELDS
    assert done["render_id"] == body["render_id"] and done["mouth_cues"]


def test_second_identical_request_is_cached_with_identical_timeline(live):
    first = live.render("Cache me, please.").json()
    second = live.render("Cache me, please.").json()

    assert first["cached"] is False and second["cached"] is True
    # Piper's durations differ on every synthesis (docs/sources.md), so equal cues prove it was not re-rendered.
    assert second["mouth_cues"] == first["mouth_cues"]
    assert second["eye_events"] == first["eye_events"]
    assert (second["render_id"], second["duration_ms"], second["audio_url"]) == (
        first["render_id"],
        first["duration_ms"],
        first["audio_url"],
    )
    assert second["processing_time_ms"] == first["processing_time_ms"]


def test_ten_concurrent_identical_requests_share_one_synthesis(live):
    jobs_before = live.queue.jobs_created
    start_together = threading.Barrier(10)

    def render(_index: int) -> httpx.Response:
        with httpx.Client(base_url=live.base_url, timeout=120) as client:
            start_together.wait()
            return client.post("/v1/avatar/render", json={"text": "Ten of us asked at the same time."})

    with ThreadPoolExecutor(max_workers=10) as pool:
        responses = list(pool.map(render, range(10)))

    assert [response.status_code for response in responses] == [200] * 10
    bodies = [response.json() for response in responses]
    assert live.queue.jobs_created - jobs_before == 1
    assert all(body["mouth_cues"] == bodies[0]["mouth_cues"] for body in bodies)
    assert len({body["processing_time_ms"] for body in bodies}) == 1
    audio_files = list(live.settings.audio_dir.glob(f"{bodies[0]['render_id']}.*"))
    assert [path.name for path in audio_files] == [f"{bodies[0]['render_id']}.ogg"]


def test_audio_base_url_applies_to_cached_results_without_a_flush(start_server, make_settings):
    first_server = start_server(make_settings())
    first = first_server.render("Where does my audio live?").json()
    first_server.stop()
    assert first["audio_url"].startswith(first_server.base_url + "/audio/")
    # The cache keeps the file name only, so the base URL is free to change.
    (stored,) = (first_server.settings.data_dir / "results").glob("*.json")
    assert (
        "://" not in stored.read_text() and json.loads(stored.read_text())["audio_file"] == f"{first['render_id']}.ogg"
    )

    cdn = start_server(make_settings(audio_base_url="https://cdn.example.test/avatar-audio/"))
    again = cdn.render("Where does my audio live?").json()
    polled = cdn.client.get(f"/v1/avatar/render/{first['render_id']}").json()

    assert again["cached"] is True and again["mouth_cues"] == first["mouth_cues"]
    assert again["audio_url"] == f"https://cdn.example.test/avatar-audio/{first['render_id']}.ogg"
    assert polled["audio_url"] == again["audio_url"]


def test_cache_survives_an_app_restart(start_server, make_settings):
    before = start_server(make_settings())
    first = before.render("Remember me after a restart.").json()
    before.stop()

    after = start_server(make_settings())
    jobs_before = after.queue.jobs_created
    polled = after.client.get(f"/v1/avatar/render/{first['render_id']}")
    again = after.render("Remember me after a restart.").json()

    assert polled.status_code == 200 and polled.json()["mouth_cues"] == first["mouth_cues"]
    assert again["cached"] is True and again["eye_events"] == first["eye_events"]
    assert after.queue.jobs_created == jobs_before
    assert after.client.get(again["audio_url"]).status_code == 200


def test_health_counts_pending_jobs(start_server, make_settings):
    server = start_server(make_settings(render_workers=1))
    assert server.client.get("/health").json() == {
        "status": "ok",
        "reason": None,
        "queue": "embedded",
        "valkey_connected": False,
        "pending_jobs": 0,
    }
    poll_urls = [
        server.client.post("/v1/avatar/render_async", json={"text": f"Queued job number {n}, one at a time."}).json()[
            "poll_url"
        ]
        for n in range(3)
    ]

    # One render thread: at least two of the three are still waiting while we ask.
    assert server.client.get("/health").json()["pending_jobs"] >= 2
    assert all(server.poll_until_done(url)["status"] == "completed" for url in poll_urls)
    assert server.client.get("/health").json()["pending_jobs"] == 0
