"""Real HTTP for the API tests: uvicorn serving `create_app(...)` on a free port in a background thread.

Apps share the session's warmed Renderer (voices load once) but each has its own DATA_DIR unless a test reuses
one on purpose (restarts). One long-lived server (`live`) serves the tests that need no special settings.
"""

import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import uvicorn
from fastapi import FastAPI

from avatar_service.api import create_app
from avatar_service.api.connections import guarded_protocol, header_limits
from avatar_service.config import Settings
from avatar_service.pipeline import Renderer
from tests.support.services import free_port, wait_until


@dataclass
class LiveServer:
    app: FastAPI
    base_url: str
    settings: Settings
    client: httpx.Client
    thread: "_ServerThread"

    def stop(self) -> None:
        """Shut down (lifespan included), e.g. to restart another app on the same DATA_DIR."""
        self.client.close()
        self.thread.stop()

    @property
    def queue(self):
        return self.app.state.services.queue

    def render(self, text: str, **fields) -> httpx.Response:
        return self.client.post("/v1/avatar/render", json={"text": text, **fields})

    def poll_until_done(self, poll_url: str, timeout: float = 60) -> dict:
        def done() -> dict | None:
            body = self.client.get(poll_url).json()
            return body if body["status"] in ("completed", "failed") else None

        return wait_until(done, timeout=timeout, what=f"{poll_url} to finish", interval=0.05)


class _ServerThread:
    def __init__(self, app: FastAPI) -> None:
        self.port = free_port()
        # The same connection limits as `avatar-service serve`.
        protocol = guarded_protocol(header_limits(app.state.services.settings))
        config = uvicorn.Config(
            app, host="127.0.0.1", port=self.port, log_level="warning", timeout_graceful_shutdown=5, http=protocol
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def start(self) -> None:
        self.thread.start()
        wait_until(lambda: self.server.started or not self.thread.is_alive(), timeout=60, what="uvicorn to start")
        assert self.server.started, "uvicorn did not start (see the log above)"

    def stop(self) -> None:
        if self.thread.is_alive():
            self.server.should_exit = True
            self.thread.join(timeout=30)


@pytest.fixture(scope="session")
def api_renderer(renderer: Renderer) -> Renderer:
    return renderer


def _start(app_settings: Settings, renderer: Renderer) -> LiveServer:
    app = create_app(app_settings, renderer)
    thread = _ServerThread(app)
    thread.start()
    base_url = f"http://127.0.0.1:{thread.port}"
    return LiveServer(app, base_url, app_settings, httpx.Client(base_url=base_url, timeout=120), thread)


@pytest.fixture
def make_settings(tmp_path: Path) -> Callable[..., Settings]:
    """Settings on this test's DATA_DIR; AUDIO_BASE_URL and friends from the developer's shell never leak in."""

    def make(**overrides) -> Settings:
        return Settings(**{"data_dir": tmp_path / "data", "audio_base_url": None, **overrides})

    return make


@pytest.fixture
def start_server(api_renderer: Renderer) -> Iterator[Callable[..., LiveServer]]:
    """Start an app with these settings (and optionally its own Renderer); all are stopped after the test."""
    running: list[LiveServer] = []

    def start(app_settings: Settings, renderer: Renderer | None = None) -> LiveServer:
        server = _start(app_settings, renderer or api_renderer)
        running.append(server)
        return server

    yield start
    for server in running:
        server.stop()


@pytest.fixture(scope="session")
def live(api_renderer: Renderer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    data_dir = tmp_path_factory.mktemp("api-live")
    server = _start(Settings(data_dir=data_dir, audio_base_url=None), api_renderer)
    yield server
    server.stop()
