import importlib.util

import pytest

from tests.support import require


@pytest.fixture(autouse=True)
def _mediapipe_for_tracking_tests(request: pytest.FixtureRequest) -> None:
    if request.node.get_closest_marker("tracking"):
        require(importlib.util.find_spec("mediapipe") is not None, "mediapipe (the [tracking] extra)")
