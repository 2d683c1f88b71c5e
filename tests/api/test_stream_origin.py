"""The stream's Origin check over a real uvicorn and a real `websockets` client (api/origins.py): browsers let any
page open a WebSocket anywhere, so only the service's own pages and CORS_ORIGINS may stream; clients that are no
browser send no Origin and stream as before."""

import json
import logging

import pytest
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

FOREIGN = "http://evil.example"


def handshake(base_url: str, origin: str | None = None, headers: dict[str, str] | None = None) -> str:
    """"ready" when the stream opened and answered ``start``, else "refused <HTTP status>"."""
    url = base_url.replace("http://", "ws://", 1) + "/v1/avatar/stream"
    try:
        with connect(url, origin=origin, additional_headers=headers, open_timeout=30) as socket:
            socket.send(json.dumps({"type": "start"}))
            return json.loads(socket.recv(timeout=30))["type"]
    except InvalidStatus as refused:
        return f"refused {refused.response.status_code}"


def test_only_the_services_own_pages_may_stream_by_default(start_server, make_settings, caplog):
    server = start_server(make_settings())
    port = server.base_url.rsplit(":", 1)[1]

    assert handshake(server.base_url) == "ready"  # no Origin: Python, curl, not a browser
    assert handshake(server.base_url, origin=server.base_url) == "ready"  # the player served by this service
    # Behind a TLS proxy the page is on https, and uvicorn takes the scheme from the trusted X-Forwarded-Proto.
    assert handshake(server.base_url, origin=f"https://127.0.0.1:{port}", headers={"X-Forwarded-Proto": "https"}) == "ready"

    with caplog.at_level(logging.WARNING, logger="avatar_service.api.stream"):
        assert handshake(server.base_url, origin=FOREIGN) == "refused 403"
    refusal = caplog.records[-1].getMessage()
    assert repr(FOREIGN) in refusal and "CORS_ORIGINS" in refusal and f"'http://127.0.0.1:{port}'" in refusal
    # Another port or scheme on the same host is another origin (RFC 6454 §5): another local app's page.
    assert handshake(server.base_url, origin="http://127.0.0.1:1") == "refused 403"
    assert handshake(server.base_url, origin=f"https://127.0.0.1:{port}") == "refused 403"
    assert handshake(server.base_url, origin="null") == "refused 403"  # sandboxed frames, file:// pages


@pytest.mark.parametrize("cors_origins", ["http://app.example, http://evil.example", "*"])
def test_cors_origins_lets_other_sites_stream(start_server, make_settings, cors_origins):
    server = start_server(make_settings(cors_origins=cors_origins))

    assert handshake(server.base_url, origin=FOREIGN) == "ready"
    assert handshake(server.base_url, origin=server.base_url) == "ready"
    assert handshake(server.base_url) == "ready"
    expected = "ready" if cors_origins == "*" else "refused 403"
    assert handshake(server.base_url, origin="http://other.example") == expected
