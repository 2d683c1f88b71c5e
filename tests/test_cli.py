"""The `avatar-service render` command, run as a real subprocess."""

import json
import os
import subprocess
import sys


def run_cli(*args, cwd):
    return subprocess.run(
        [sys.executable, "-m", "avatar_service", *args], cwd=cwd, capture_output=True, text=True, timeout=120
    )


def test_render_writes_audio_and_json_and_prints_it(tmp_path):
    done = run_cli("render", "Hello from the command line.", "--out", str(tmp_path / "out"), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["status"] == "completed" and result["cached"] is False
    assert set(result) >= {"render_id", "audio_url", "duration_ms", "mouth_cues", "eye_events", "processing_time_ms"}
    saved = json.loads((tmp_path / "out" / f"{result['render_id']}.json").read_text())
    assert saved == result
    assert (tmp_path / "out" / f"{result['render_id']}.ogg").is_file()


def test_bad_input_is_one_line_and_nonzero(tmp_path):
    for args, needle in [
        (("render", "   "), "text"),
        (("render", "hi", "--speed", "9"), "speed"),
        (("render", "hi", "--voice", "nobody"), "en_US-joe-medium"),
    ]:
        done = run_cli(*args, cwd=tmp_path)
        assert done.returncode == 2
        lines = done.stderr.strip().splitlines()
        assert len(lines) == 1 and needle in lines[0], done.stderr


def _one_error_line(done) -> str:
    assert done.returncode == 2, (done.returncode, done.stderr)
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and "Traceback" not in done.stderr, done.stderr
    return lines[0]


def test_unwritable_out_is_one_line_before_any_render(tmp_path):
    a_file = tmp_path / "a-file"
    a_file.write_text("")
    for out in (a_file, a_file / "sub"):
        line = _one_error_line(run_cli("render", "Hello.", "--out", str(out), cwd=tmp_path))
        assert line.startswith("error: out: cannot create directory") and "Opus" not in line, line


def test_help_speaks_to_users(tmp_path):
    done = run_cli("--help", cwd=tmp_path)
    assert done.returncode == 0
    assert "talking avatar" in done.stdout and "this module" not in done.stdout and "subcommands;" not in done.stdout


def test_worker_burst_without_valkey_exits_with_a_clear_error(tmp_path):
    from tests.support.services import free_port

    port = free_port()  # nothing listens there
    done = subprocess.run(
        [sys.executable, "-m", "avatar_service", "worker", "--burst"], cwd=tmp_path, capture_output=True, text=True,
        timeout=120, env={**os.environ, "QUEUE": "valkey", "VALKEY_HOST": "127.0.0.1", "VALKEY_PORT": str(port),
                          "DATA_DIR": str(tmp_path / "data")},
    )
    assert done.returncode == 2, done.stderr
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith("error: Valkey not reachable at 127.0.0.1:") and "VALKEY_HOST" in last, done.stderr
    assert "Traceback" not in done.stderr


def test_working_folders_share_the_per_user_data_dir(tmp_path):
    # No DATA_DIR and no VOICE_CACHE_DIR: the patched voice (~60 MB) is made once in the user's data directory,
    # not copied into a ./data of every folder the command runs in.
    env = {key: value for key, value in os.environ.items() if key not in ("DATA_DIR", "VOICE_CACHE_DIR")}
    env["XDG_DATA_HOME"] = str(tmp_path / "xdg")
    for folder in ("one", "two"):
        (tmp_path / folder).mkdir()
        done = subprocess.run(
            [sys.executable, "-m", "avatar_service", "render", "Hi.", "--out", "out"], cwd=tmp_path / folder,
            capture_output=True, text=True, timeout=180, env=env,
        )
        assert done.returncode == 0, done.stderr
        assert not (tmp_path / folder / "data").exists()
    patched = sorted(path.name for path in (tmp_path / "xdg" / "avatar-service" / "voice-cache").glob("*.onnx"))
    assert len(patched) == 2 and patched[0].endswith(".decoder.onnx")  # one voice patched once: front + decoder
