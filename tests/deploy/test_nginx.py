"""deploy/nginx.conf run by real Nginx in front of the API: demo page and audio from disk, API proxied."""

from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

pytestmark = pytest.mark.nginx

WEB_DIR = Path(__file__).resolve().parents[2] / "web"


def test_demo_page_comes_from_the_web_directory(stack):
    response = httpx.get(stack.nginx_url + "/")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert response.content == (WEB_DIR / "index.html").read_bytes()


def test_api_routes_are_proxied(stack):
    health = httpx.get(stack.nginx_url + "/health")
    assert health.status_code == 200
    assert health.json()["status"] == "ok"
    voices = httpx.get(stack.nginx_url + "/v1/voices")
    assert voices.status_code == 200
    assert voices.json() == httpx.get(stack.api_url + "/v1/voices").json()
    assert httpx.get(stack.nginx_url + "/openapi.json").json()["paths"]


def test_audio_is_served_from_the_shared_directory_by_nginx_itself(stack):
    rendered = httpx.post(
        stack.nginx_url + "/v1/avatar/render", json={"text": "Served by Nginx."}, timeout=60
    )
    assert rendered.status_code == 200, rendered.text
    audio_url = rendered.json()["audio_url"]
    # Nginx passed its own host on, so the API's URL points back through Nginx.
    assert urlsplit(audio_url).netloc == urlsplit(stack.nginx_url).netloc
    path = urlsplit(audio_url).path
    assert path.startswith("/audio/")
    on_disk = (stack.data_dir / "audio" / path.removeprefix("/audio/")).read_bytes()

    # With the API gone, the proxied routes fail but audio still comes straight from disk.
    stack.api.kill()
    assert httpx.get(stack.nginx_url + "/health").status_code == 502
    audio = httpx.get(stack.nginx_url + path)
    assert audio.status_code == 200
    assert audio.headers["content-type"] == "audio/ogg"
    assert "immutable" in audio.headers["cache-control"]
    assert audio.content == on_disk
    partial = httpx.get(stack.nginx_url + path, headers={"Range": "bytes=0-99"})
    assert partial.status_code == 206
    assert partial.content == on_disk[:100]
    assert partial.headers["content-range"] == f"bytes 0-99/{len(on_disk)}"
