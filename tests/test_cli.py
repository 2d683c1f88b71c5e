"""The `avatar-service render` command, run as a real subprocess."""

import json
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
