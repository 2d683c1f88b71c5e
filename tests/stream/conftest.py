"""Real `avatar-service serve` processes and a real `websockets` client speaking the stream protocol."""

import json
from collections.abc import Iterator
from contextlib import ExitStack

import pytest
from websockets.sync.client import ClientConnection, connect

from tests.support.services import cli_env, start_api

STREAM_PATH = "/v1/avatar/stream"


@pytest.fixture(scope="module")
def api_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    data_dir = tmp_path_factory.mktemp("stream-api")
    api, base_url = start_api(cli_env(data_dir, QUEUE="embedded"), data_dir / "api.log")
    yield base_url
    api.kill()


def ws_url(base_url: str) -> str:
    return base_url.replace("http://", "ws://", 1) + STREAM_PATH


class StreamClient:
    """A connection plus helpers that read the protocol's frames: JSON messages and binary audio."""

    def __init__(self, connection: ClientConnection) -> None:
        self.connection = connection

    def send(self, **message) -> None:
        self.connection.send(json.dumps(message))

    def receive(self, timeout: float = 60):
        """The next frame: a dict for a JSON message, bytes for audio."""
        frame = self.connection.recv(timeout=timeout)
        return json.loads(frame) if isinstance(frame, str) else frame

    def receive_message(self, timeout: float = 60) -> dict:
        frame = self.receive(timeout)
        assert isinstance(frame, dict), f"expected a JSON message, got {len(frame)} bytes of audio"
        return frame

    def start(self, **fields) -> dict:
        self.send(type="start", **fields)
        ready = self.receive_message()
        assert ready["type"] == "ready", ready
        return ready

    def until_done(self, timeout: float = 120) -> tuple[list[dict], list[bytes], dict]:
        """Segments (each with the audio frame that followed it) until ``done``."""
        segments: list[dict] = []
        audio: list[bytes] = []
        while True:
            message = self.receive_message(timeout)
            if message["type"] == "done":
                return segments, audio, message
            assert message["type"] == "segment", message
            segments.append(message)
            frame = self.receive(timeout)
            assert isinstance(frame, bytes), f"segment {message['seq']} not followed by its audio: {frame}"
            audio.append(frame)


@pytest.fixture
def open_stream(api_url: str) -> Iterator:
    with ExitStack() as opened:

        def open_(base_url: str = api_url, **options) -> StreamClient:
            """``options`` go to websockets' connect: ``origin`` as a browser sends it, ``additional_headers``."""
            connection = connect(ws_url(base_url), open_timeout=30, max_size=None, **options)
            return StreamClient(opened.enter_context(connection))

        yield open_


