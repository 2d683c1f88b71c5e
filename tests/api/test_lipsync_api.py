"""POST /v1/avatar/lipsync (+ _async and the poll) over real HTTP, on recordings the pipeline did not make."""

import json
import socket

import pytest

from tests.lipsync.conftest import TEXT, espeak_clip, silent_wav, too_long_wav  # noqa: F401 (fixtures)
from tests.support.services import free_port


def _upload(path, name="speech.wav"):
    return {"audio": (name, path.read_bytes(), "application/octet-stream")}


def test_sync_result_is_a_render_result_served_and_cached(live, espeak_clip) -> None:  # noqa: F811
    path, _reference = espeak_clip
    response = live.client.post("/v1/avatar/lipsync", files=_upload(path), data={"transcript": TEXT})
    assert response.status_code == 200, response.text
    result = response.json()
    assert result["status"] == "completed" and result["timing"] == "forced-alignment" and result["cached"] is False
    assert result["mouth_cues"][0]["t_ms"] == 0 and result["mouth_cues"][-1]["viseme"] == "REST"
    assert result["eye_events"] and 6000 < result["duration_ms"] < 9000
    audio = live.client.get(result["audio_url"])
    assert audio.status_code == 200 and audio.headers["content-type"] == "audio/ogg" and audio.content[:4] == b"OggS"

    again = live.client.post("/v1/avatar/lipsync", files=_upload(path, "other-name.wav"), data={"transcript": TEXT})
    assert again.json()["cached"] is True and again.json()["render_id"] == result["render_id"]
    assert again.json()["mouth_cues"] == result["mouth_cues"]
    polled = live.client.get(f"/v1/avatar/lipsync/{result['render_id']}")
    assert polled.status_code == 200 and polled.json()["mouth_cues"] == result["mouth_cues"]


def test_async_then_poll_without_transcript(live, espeak_clip) -> None:  # noqa: F811
    path, _reference = espeak_clip
    accepted = live.client.post("/v1/avatar/lipsync_async", files=_upload(path))
    assert accepted.status_code == 202, accepted.text
    body = accepted.json()
    assert body["status"] in ("processing", "completed") and body["poll_url"].endswith(body["render_id"])
    done = live.poll_until_done(body["poll_url"], timeout=120)
    assert done["status"] == "completed" and done["timing"] == "recognition"
    assert len(done["mouth_cues"]) > 10


def test_bad_uploads_are_422_naming_the_problem(live, silent_wav, too_long_wav) -> None:  # noqa: F811
    cases = [
        ({"files": {"audio": ("notes.txt", b"just some text, not audio", "text/plain")}}, "audio", "not a readable audio file"),
        ({"files": {"audio": ("empty.wav", b"", "audio/wav")}}, "audio", "file is empty"),
        ({"files": _upload(too_long_wav)}, "audio", "the limit is 10 minutes"),
        ({"files": _upload(silent_wav)}, "audio", "recording is silent"),
        ({"files": {"transcript": (None, "hello")}}, "audio", "missing"),
        ({"files": {**_upload(silent_wav), "speaker": (None, "me")}}, "speaker", "unknown field"),
        ({"files": _upload(silent_wav), "data": {"transcript": "   "}}, "transcript", "is blank"),
        ({"json": {"audio": "x"}}, "body", "multipart/form-data"),
    ]
    for request, field, needle in cases:
        response = live.client.post("/v1/avatar/lipsync", **request)
        assert response.status_code == 422, (field, response.text)
        body = response.json()
        assert body["field"] == field and needle in body["detail"], body


def test_a_transcript_that_does_not_fit_is_422(live, espeak_clip) -> None:  # noqa: F811
    path, _reference = espeak_clip
    response = live.client.post("/v1/avatar/lipsync", files=_upload(path), data={"transcript": "Good morning."})
    assert response.status_code == 422
    assert response.json()["field"] == "transcript" and "does not fit the audio" in response.json()["detail"]
    # The async flow reports the same problem when polled.
    accepted = live.client.post("/v1/avatar/lipsync_async", files=_upload(path), data={"transcript": "Good morning."})
    failed = live.poll_until_done(accepted.json()["poll_url"])
    assert failed["status"] == "failed" and failed["error"].startswith("transcript: does not fit")


def test_an_upload_over_the_size_limit_is_refused_from_its_header(live) -> None:
    """Only the headers are sent: the answer must come before any of the 60 MB body."""
    host, port = live.base_url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=30) as connection:
        connection.sendall(
            b"POST /v1/avatar/lipsync HTTP/1.1\r\nHost: test\r\n"
            b"Content-Type: multipart/form-data; boundary=x\r\n"
            + f"Content-Length: {60 * 1024 * 1024}\r\n\r\n".encode()
        )
        received = b""
        while not (b"\r\n\r\n" in received and received.rstrip().endswith(b"}")):
            chunk = connection.recv(65536)
            if not chunk:
                break
            received += chunk
    reply = received.decode("utf-8", "replace")
    assert reply.startswith("HTTP/1.1 413")
    body = json.loads(reply.split("\r\n\r\n", 1)[1])
    assert body["field"] == "audio" and "over the upload limit" in body["detail"]


@pytest.mark.parametrize("render_id", ["0" * 32, "not-an-id"])
def test_unknown_or_malformed_ids(live, render_id) -> None:
    response = live.client.get(f"/v1/avatar/lipsync/{render_id}")
    assert response.status_code == (404 if len(render_id) == 32 else 422)
    assert response.json()["field"] == "render_id"


def test_valkey_mode_runs_lip_sync_beside_the_api(start_server, make_settings, espeak_clip) -> None:  # noqa: F811
    """With QUEUE=valkey the upload never goes to Valkey: lip sync answers even while Valkey is unreachable."""
    server = start_server(make_settings(queue="valkey", valkey_host="127.0.0.1", valkey_port=free_port()))
    assert server.client.get("/health").json()["valkey_connected"] is False
    path, _reference = espeak_clip
    response = server.client.post("/v1/avatar/lipsync", files=_upload(path), data={"transcript": TEXT})
    assert response.status_code == 200, response.text
    assert server.client.get(response.json()["audio_url"]).status_code == 200


def test_a_killed_pool_process_fails_its_job_and_the_next_upload_still_works(live, espeak_clip) -> None:  # noqa: F811
    """A crash in the native decoder (here: SIGKILL to the pool's processes) is a 500 for that job, not for
    every later one."""
    import os
    import signal

    path, _reference = espeak_clip
    jobs = live.app.state.lipsync_jobs
    accepted = live.client.post("/v1/avatar/lipsync_async", files=_upload(path), data={"transcript": TEXT + " "})
    assert accepted.status_code == 202
    for process in list(jobs._pool._processes.values()):
        os.kill(process.pid, signal.SIGKILL)
    failed = live.poll_until_done(accepted.json()["poll_url"])
    assert failed["status"] == "failed" and "internal error" in failed["error"]
    retried = live.client.post("/v1/avatar/lipsync", files=_upload(path), data={"transcript": TEXT + " "})
    assert retried.status_code == 200, retried.text
