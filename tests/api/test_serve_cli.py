"""`avatar-service serve` as a user runs it: a real process, restarted on the same DATA_DIR."""

import subprocess
import sys

import httpx

from tests.support.services import CLI, cli_env, start_api


def serve_env(data_dir, **extra) -> dict[str, str]:
    env = cli_env(data_dir, QUEUE="embedded", **extra)
    env.pop("AUDIO_BASE_URL", None)  # a developer's shell setting must not change the URLs checked here
    return env


def test_serve_renders_and_its_cache_survives_a_restart(tmp_path):
    env = serve_env(tmp_path / "data")
    first_process, base_url = start_api(env, tmp_path / "first.log")
    try:
        first = httpx.post(base_url + "/v1/avatar/render", json={"text": "Served by the command."}, timeout=120).json()
        assert first["cached"] is False
        assert httpx.get(base_url + "/").status_code == 200
    finally:
        first_process.kill()

    second_process, base_url = start_api(env, tmp_path / "second.log")
    try:
        again = httpx.post(base_url + "/v1/avatar/render", json={"text": "Served by the command."}, timeout=120).json()
    finally:
        second_process.kill()
    assert again["cached"] is True
    assert again["mouth_cues"] == first["mouth_cues"] and again["eye_events"] == first["eye_events"]
    assert "Traceback" not in first_process.log() + second_process.log()


def test_serve_with_an_unknown_default_voice_fails_in_one_line(tmp_path):
    done = subprocess.run(
        [sys.executable, "-c", CLI, "serve", "--port", "0"],
        check=False,
        env=serve_env(tmp_path / "data", DEFAULT_VOICE="xx_XX-nobody-low"),
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        "error: voice_id: unknown voice 'xx_XX-nobody-low'; installed voices: en_US-joe-medium"
    ]
