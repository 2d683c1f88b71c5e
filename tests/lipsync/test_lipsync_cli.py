"""`avatar-service lipsync`, run as a real subprocess on recordings the pipeline did not make."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.lipsync.conftest import TEXT


def run_cli(*args, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "avatar_service", "lipsync", *map(str, args)],
        cwd=cwd, capture_output=True, text=True, timeout=300,
    )


def test_json_result_with_a_transcript_file(espeak_clip, tmp_path) -> None:
    path, _reference = espeak_clip
    (tmp_path / "line.txt").write_text(TEXT, encoding="utf-8")
    done = run_cli(path, "--transcript", tmp_path / "line.txt", "--out", tmp_path / "out" / "result.json", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    result = json.loads((tmp_path / "out" / "result.json").read_text())
    assert result["status"] == "completed" and result["timing"] == "forced-alignment"
    assert result["mouth_cues"][0]["t_ms"] == 0 and result["mouth_cues"][-1]["viseme"] == "REST"
    assert len(result["mouth_cues"]) > 20 and result["eye_events"]
    assert (tmp_path / "out" / f"{result['render_id']}.ogg").is_file()
    assert result["audio_url"].startswith("file://")


def test_rhubarb_tsv_on_stdout_without_a_transcript(espeak_clip, tmp_path) -> None:
    path, _reference = espeak_clip
    done = run_cli(path, "--format", "rhubarb-tsv", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == "0.00\tX" and lines[-1].endswith("\tX") and len(lines) > 10


def test_bad_input_is_one_line_naming_the_field(espeak_clip, silent_wav, too_long_wav, tmp_path) -> None:
    speech, _reference = espeak_clip
    (tmp_path / "notes.txt").write_text("not audio at all", encoding="utf-8")
    big = tmp_path / "big.wav"
    with big.open("wb") as file:
        file.truncate(51 * 1024 * 1024)  # sparse: the size check needs no real data
    (tmp_path / "latin1.txt").write_bytes("caf\xe9".encode("latin-1"))
    cases = [
        ((tmp_path / "missing.wav",), "audio: no such file"),
        ((tmp_path / "notes.txt",), "audio: not a readable audio file"),
        ((silent_wav,), "audio: recording is silent"),
        ((too_long_wav,), "audio: recording is 660.0 s long; the limit is 10 minutes"),
        ((big,), "audio: file is 53.5 MB; the limit is 52 MB"),
        ((speech, "--text", "Good morning, everyone."), "transcript: does not fit the audio"),
        ((speech, "--text", "  "), "transcript: is blank"),
        ((speech, "--text", "Call 911 now"), "transcript: contains digits (911)"),
        ((speech, "--text", "zxqvbn florbit"), "transcript: does not fit the audio"),
        ((speech, "--transcript", tmp_path / "nope.txt"), "transcript: no such file"),
        ((speech, "--transcript", tmp_path / "latin1.txt"), "is not UTF-8 text"),
        ((speech, "--format", "dat", "--dat-frame-rate", "5"), "dat_frame_rate: 5 is outside 10-100 fps"),
    ]
    for args, expected in cases:
        done = run_cli(*args, cwd=tmp_path)
        lines = done.stderr.strip().splitlines()
        assert done.returncode == 2 and len(lines) == 1, (args, done.stderr)
        assert lines[0].startswith("error: ") and expected in lines[0], (args, lines[0])
        assert done.stdout == ""


@pytest.mark.parametrize("fmt", ["rhubarb-json", "rhubarb-xml", "dat"])
def test_other_formats_write_the_out_file(espeak_clip, tmp_path, fmt) -> None:
    path, _reference = espeak_clip
    out = tmp_path / f"cues.{fmt}"
    done = run_cli(path, "--text", TEXT, "--format", fmt, "--out", out, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert out.read_text().strip() and done.stdout == ""
    assert not list(tmp_path.glob("*.ogg")), "Rhubarb formats need no audio copy"
