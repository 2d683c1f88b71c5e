"""Optional access control over real HTTP: API keys, per-key and per-IP rate limits, trusted Host names.
Off by default (the other tests run open); each test turns on one part."""

import asyncio

import httpx
import websockets
from websockets.exceptions import InvalidStatus


def test_api_keys_are_required_when_configured(start_server, make_settings, tmp_path):
    keys_file = tmp_path / "keys"
    keys_file.write_text("# one per line\nfile-key\n")
    server = start_server(make_settings(api_keys="env-key-1, env-key-2", api_keys_file=keys_file))
    url = "/v1/avatar/render"

    missing = server.client.post(url, json={"text": "Who am I?"})
    wrong = server.client.post(url, json={"text": "Who am I?"}, headers={"Authorization": "Bearer nope"})
    assert missing.status_code == wrong.status_code == 401
    assert missing.json()["field"] == "authorization" and "missing API key" in missing.json()["detail"]
    assert "unknown API key" in wrong.json()["detail"]
    assert missing.headers["WWW-Authenticate"] == "Bearer"

    for headers in ({"Authorization": "Bearer env-key-2"}, {"X-API-Key": "file-key"}):
        assert server.client.post(url, json={"text": "Who am I?"}, headers=headers).status_code == 200
    # The player's files, the audio and /health stay open (load balancers, the demo page).
    assert server.client.get("/health").status_code == 200


def test_rate_limits_per_key_and_per_ip_answer_429_with_retry_after(start_server, make_settings):
    server = start_server(make_settings(api_keys="a,b", rate_limit_per_key="3/minute", rate_limit_per_ip="5/minute"))

    def voices(key: str) -> httpx.Response:
        return server.client.get("/v1/voices", headers={"X-API-Key": key})

    assert [voices("a").status_code for _ in range(4)] == [200, 200, 200, 429]
    limited = voices("a")
    assert limited.status_code == 429 and int(limited.headers["Retry-After"]) >= 1
    assert "per API key" in limited.json()["detail"]
    # Key b has a budget of its own, but this address is at 3 of its 5 per minute (refusals do not count).
    answers = [voices("b") for _ in range(3)]
    assert [answer.status_code for answer in answers] == [200, 200, 429]
    assert "per client address" in answers[2].json()["detail"]


def test_trusted_hosts_stop_the_host_header_steering_urls(start_server, make_settings):
    server = start_server(make_settings(trusted_hosts="127.0.0.1,*.example.org"))

    evil = server.client.post("/v1/avatar/render", json={"text": "Hi."}, headers={"Host": "evil.example.com"})
    assert evil.status_code == 400 and evil.json()["field"] == "host"
    assert "TRUSTED_HOSTS" in evil.json()["detail"]

    good = server.client.post("/v1/avatar/render", json={"text": "Hi."}, headers={"Host": "api.example.org"})
    assert good.status_code == 200
    assert good.json()["audio_url"].startswith("http://api.example.org/audio/")
    assert server.render("Hi.").status_code == 200  # Host 127.0.0.1:<port>


def test_the_websocket_stream_needs_a_key_too(start_server, make_settings):
    """Browsers cannot set headers on a WebSocket: the key may come as ?api_key=; without one the handshake
    is refused before any stream starts."""
    server = start_server(make_settings(api_keys="ws-key"))
    url = server.base_url.replace("http://", "ws://") + "/v1/avatar/stream"

    async def handshake(target: str) -> str:
        try:
            async with websockets.connect(target, open_timeout=30) as socket:
                await socket.send('{"type": "start"}')
                return (await asyncio.wait_for(socket.recv(), 30))
        except InvalidStatus as refused:
            return f"refused {refused.response.status_code}"

    assert asyncio.run(handshake(url)) == "refused 403"
    assert asyncio.run(handshake(url + "?api_key=wrong")) == "refused 403"
    assert '"ready"' in asyncio.run(handshake(url + "?api_key=ws-key"))
