"""The stream through deploy/nginx.conf run by the real Nginx (the deploy tests' stack fixture)."""

import pytest
from websockets.exceptions import InvalidStatus

from tests.deploy.conftest import stack  # noqa: F401  (the fixture: real Nginx in front of a real API)
from tests.stream.conftest import STREAM_PATH
from tests.support.services import wait_until

pytestmark = pytest.mark.nginx


def test_a_stream_works_through_nginx(stack, open_stream):  # noqa: F811
    client = open_stream(stack.nginx_url)
    assert client.start()["type"] == "ready"
    client.send(type="text", text="Through the proxy, word by word. ")
    client.send(type="end")
    segments, audio, done = client.until_done()
    assert [segment["text"] for segment in segments] == ["Through the proxy, ", "word by word. "]
    assert done["duration_ms"] == sum(segment["duration_ms"] for segment in segments)
    assert sum(len(frame) for frame in audio) == 2 * sum(segment["num_samples"] for segment in segments)
    client.connection.close()
    # Nginx logs the upgraded request (101 Switching Protocols) once the connection has ended.
    access_log = stack.api.log_path.parent / "access.log"
    wait_until(lambda: f'"GET {STREAM_PATH} HTTP/1.1" 101' in access_log.read_text(), timeout=10,
               what="Nginx to log the WebSocket upgrade")


def test_the_pages_nginx_serves_may_stream_and_other_sites_may_not(stack, open_stream):  # noqa: F811
    """Nginx passes the browser's Host (port included) and X-Forwarded-Proto on, so the API compares the page's
    Origin with the address the browser used, not its own 127.0.0.1:<api port> (api/origins.py)."""
    assert open_stream(stack.nginx_url, origin=stack.nginx_url).start()["type"] == "ready"
    # Caddy in front (docs/deploy.md) serves the page on https and says so in X-Forwarded-Proto.
    https_page = stack.nginx_url.replace("http://", "https://", 1)
    behind_tls = open_stream(stack.nginx_url, origin=https_page, additional_headers={"X-Forwarded-Proto": "https"})
    assert behind_tls.start()["type"] == "ready"
    with pytest.raises(InvalidStatus) as refused:
        open_stream(stack.nginx_url, origin="http://evil.example")
    assert refused.value.response.status_code == 403
    assert "'http://evil.example'" in stack.api.log()
