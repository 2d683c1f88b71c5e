"""The pending-job cap (embedded queue) over real HTTP: 503 + Retry-After past MAX_PENDING_JOBS, never for
work already accepted or cached, and new work is accepted again once the queue drains."""

from tests.support.services import wait_until


def test_new_renders_past_max_pending_jobs_are_503_with_retry_after(start_server, make_settings):
    server = start_server(make_settings(max_pending_jobs=2, render_workers=1))
    cached = server.render("Already cached before the burst.")
    assert cached.status_code == 200

    texts = [f"Burst request number {n}, each one a new render." for n in range(5)]
    answers = [server.client.post("/v1/avatar/render_async", json={"text": text}) for text in texts]

    assert [answer.status_code for answer in answers[:2]] == [202, 202]
    for refused in answers[2:]:
        assert refused.status_code == 503, refused.text
        assert int(refused.headers["Retry-After"]) >= 1
        assert "MAX_PENDING_JOBS=2" in refused.json()["detail"]
    # Joining a job already accepted, or reading the cache, is not new work: never refused.
    assert server.client.post("/v1/avatar/render_async", json={"text": texts[0]}).status_code == 202
    assert server.render("Already cached before the burst.").json()["cached"] is True

    for accepted in answers[:2]:
        assert server.poll_until_done(accepted.json()["poll_url"])["status"] == "completed"
    wait_until(lambda: server.client.get("/health").json()["pending_jobs"] == 0, timeout=30, what="an empty queue")
    assert server.client.post("/v1/avatar/render_async", json={"text": texts[2]}).status_code == 202
