"""Helpers for tests that need tools from outside Python (chromium, nginx, valkey-server)."""

import os

import pytest


def require(available: bool, what: str) -> None:
    """Skip when a tool is missing on a developer's machine; in CI (CI=true) a missing tool is a failure."""
    if available:
        return
    if os.environ.get("CI"):
        pytest.fail(f"{what} is required in CI but missing: .ci/run must install it")
    pytest.skip(f"{what} not installed")
