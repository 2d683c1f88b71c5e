"""Schemathesis with every check (`--checks all`) against a real `avatar-service serve` and its OpenAPI schema.

Bounded to a few minutes: a fixed number of examples per operation, deterministic generation, one worker.
Fails on any 5xx, any undocumented status code or header, schema-invalid requests accepted, schema-valid
ones refused (except the two documented in schemathesis.toml), and responses that do not match the schema.
"""

import shutil
import subprocess
from pathlib import Path

import pytest

from tests.support.services import cli_env, start_api

CONFIG = Path(__file__).with_name("schemathesis.toml")
EXAMPLES_PER_OPERATION = 15


def test_schemathesis_all_checks_against_the_real_server(tmp_path):
    binary = shutil.which("schemathesis") or shutil.which("st")
    if binary is None:
        pytest.fail("schemathesis is not installed (pip install -e '.[test]')")
    # A low phoneme cap keeps every accepted render short (longer fuzzed texts get the documented 422), so
    # sync renders finish well within SYNC_TIMEOUT_SECONDS even on a loaded machine: a 504 counts as a 5xx.
    env = cli_env(tmp_path / "data", MAX_PHONEMES_PER_REQUEST="300", SYNC_TIMEOUT_SECONDS="120")
    api, base_url = start_api(env, tmp_path / "api.log")
    try:
        run = subprocess.run(
            [binary, "--config-file", str(CONFIG), "run", f"{base_url}/openapi.json",
             "--checks", "all", "--max-examples", str(EXAMPLES_PER_OPERATION), "--generation-deterministic",
             "--workers", "1", "--request-timeout", "30", "--no-color"],
            capture_output=True, text=True, timeout=600, cwd=tmp_path,
        )
    finally:
        api.kill()
    assert run.returncode == 0, run.stdout[-6000:] + run.stderr[-2000:]
    assert "Traceback" not in api.log()
