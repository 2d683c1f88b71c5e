"""Fixtures shared by every test area: settings on a temp DATA_DIR and one loaded Renderer per session."""

import importlib.util
import os
import tempfile
from pathlib import Path

import pytest

# The alignment-patched voice model (~60 MB) is made once per machine and reused by every test, including
# servers and workers the tests start as subprocesses (they inherit this variable).
os.environ.setdefault(
    "VOICE_CACHE_DIR", str(Path(tempfile.gettempdir()) / "avatar-service-test-voice-cache")
)

from avatar_service.config import Settings  # noqa: E402
from avatar_service.pipeline import Renderer  # noqa: E402
from tests.support import require  # noqa: E402


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path / "data", voices_dir=tmp_path / "voices")


@pytest.fixture(scope="session")
def renderer(tmp_path_factory: pytest.TempPathFactory) -> Renderer:
    data_dir = tmp_path_factory.mktemp("renderer-data")
    loaded = Renderer(Settings(data_dir=data_dir, voices_dir=data_dir / "voices"))
    loaded.warm_up()
    return loaded


@pytest.fixture(autouse=True)
def _mediapipe_for_tracking_tests(request: pytest.FixtureRequest) -> None:
    """Tests marked ``tracking`` need the optional mediapipe install (skipped locally, required in CI)."""
    if request.node.get_closest_marker("tracking"):
        require(importlib.util.find_spec("mediapipe") is not None, "mediapipe (the [tracking] extra)")
