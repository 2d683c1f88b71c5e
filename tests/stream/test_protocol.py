"""GET /v1/avatar/stream against a real `avatar-service serve` with a real WebSocket client."""

import io

import av
import httpx
import numpy as np
import pytest
from websockets.exceptions import ConnectionClosed

from tests.stream.conftest import StreamClient
from tests.support.services import cli_env, start_api

PARAGRAPH = (
    "Hello there, I am a talking avatar. I start speaking as soon as the first clause is complete, "
    "while the rest of the text is still arriving. Every segment comes with its own mouth cues and eye "
    "events, timed from the start of the stream. That is all for now!"
)


def speak_word_by_word(client: StreamClient, text: str) -> None:
    for word in text.split(" "):
        client.send(type="text", text=word + " ")


def test_messages_come_in_order_with_continuous_absolute_times(open_stream):
    client = open_stream()
    assert client.start() == {"type": "ready", "sample_rate": 22050, "format": "pcm16", "voice_id": "en_US-joe-medium"}
    speak_word_by_word(client, PARAGRAPH)
    client.send(type="end")
    segments, audio, done = client.until_done()

    assert [segment["seq"] for segment in segments] == list(range(len(segments)))
    assert len(segments) >= 4
    assert segments[0]["text"] == "Hello there, "  # the first clause alone, so speech starts early
    assert "".join(segment["text"] for segment in segments).strip() == PARAGRAPH
    offset = 0
    for segment, frame in zip(segments, audio):
        assert set(segment) >= {"type", "seq", "offset_ms", "duration_ms", "text", "mouth_cues", "eye_events"}
        assert segment["offset_ms"] == offset  # n+1 starts where n ended
        offset += segment["duration_ms"]
        assert len(frame) == 2 * segment["num_samples"]  # 16-bit mono
        assert segment["duration_ms"] == pytest.approx(segment["num_samples"] * 1000 / 22050, abs=1)
        end = segment["offset_ms"] + segment["duration_ms"]
        cue_times = [cue["t_ms"] for cue in segment["mouth_cues"]]
        assert cue_times == sorted(cue_times)
        assert segment["offset_ms"] <= cue_times[0] and cue_times[-1] <= end  # absolute, inside the segment
        assert segment["mouth_cues"][-1]["viseme"] == "REST"
        assert all(segment["offset_ms"] <= event["t_ms"] < end for event in segment["eye_events"])
    total_samples = sum(len(frame) // 2 for frame in audio)
    assert done == {"type": "done", "duration_ms": round(total_samples * 1000 / 22050)}
    assert done["duration_ms"] == offset
    samples = np.frombuffer(b"".join(audio), dtype="<i2")
    assert np.abs(samples).max() > 10_000  # speech, not silence
    with pytest.raises(ConnectionClosed) as closed:
        client.receive(timeout=10)
    assert closed.value.rcvd.code == 1000


def test_flush_speaks_half_a_sentence_and_opus_segments_are_self_contained(open_stream):
    client = open_stream()
    assert client.start(format="opus", speed=1.3)["format"] == "opus"
    client.send(type="text", text="This sentence stops in the mid")
    client.send(type="flush")
    segment = client.receive_message()
    assert segment["type"] == "segment" and segment["text"] == "This sentence stops in the mid"
    ogg = client.receive()
    assert ogg[:4] == b"OggS"
    with av.open(io.BytesIO(ogg)) as container:
        decoded = sum(frame.samples for frame in container.decode(audio=0))
        rate = container.streams.audio[0].rate
    assert decoded * 1000 / rate == pytest.approx(segment["duration_ms"], abs=30)
    client.send(type="end")
    _, _, done = client.until_done()
    assert done["duration_ms"] == segment["duration_ms"]


def test_interrupt_stops_the_audio_and_the_stream_takes_new_text(open_stream):
    client = open_stream()
    client.start()
    client.send(type="text", text=PARAGRAPH * 4)
    client.send(type="flush")
    first = client.receive_message()
    assert first["type"] == "segment"
    client.receive()
    client.send(type="interrupt")
    frames_after_interrupt = []
    while True:
        frame = client.receive()
        if isinstance(frame, dict) and frame["type"] == "interrupted":
            interrupted = frame
            break
        frames_after_interrupt.append(frame)
    # At most the segments already on their way; far from all 4 paragraphs' worth.
    assert len(frames_after_interrupt) <= 4
    spoken = [frame for frame in frames_after_interrupt if isinstance(frame, dict)]
    assert interrupted["offset_ms"] == (spoken[-1] if spoken else first)["offset_ms"] + (
        spoken[-1] if spoken else first)["duration_ms"]
    client.send(type="text", text="Something new.")
    client.send(type="end")
    segments, _, done = client.until_done()
    assert [segment["text"] for segment in segments] == ["Something new."]
    assert segments[0]["offset_ms"] == interrupted["offset_ms"]
    assert done["duration_ms"] == interrupted["offset_ms"] + segments[0]["duration_ms"]


@pytest.mark.parametrize(
    ("frame", "field", "words"),
    [
        ("not json", "message", "not valid JSON"),
        ("[1, 2]", "message", "JSON object"),
        ('{"type": "shout"}', "type", "unknown message type"),
        ('{"type": "text", "text": "early"}', "type", "start message before"),
        ('{"type": "start", "speed": 3}', "speed", "between 0.5 and 2.0"),
        ('{"type": "start", "format": "mp3"}', "format", "pcm16"),
        ('{"type": "start", "voice_id": "nobody"}', "voice_id", "installed voices: en_US-joe-medium"),
        ('{"type": "start", "volume": 11}', "volume", "Extra inputs"),
        (b"\x00\x01", "message", "binary frames"),
    ],
)
def test_bad_messages_get_an_error_and_the_stream_stays_usable(open_stream, frame, field, words):
    client = open_stream()
    client.connection.send(frame)
    error = client.receive_message()
    assert error["type"] == "error" and error["field"] == field, error
    assert words in error["detail"]
    client.start()
    client.send(type="text", text="Still here.")
    client.send(type="end")
    segments, _, _ = client.until_done()
    assert [segment["text"] for segment in segments] == ["Still here."]


def test_messages_out_of_place_after_start_get_errors(open_stream):
    client = open_stream()
    client.start()
    client.send(type="start")
    assert client.receive_message()["field"] == "type"
    client.send(type="text", text=12)
    assert client.receive_message()["field"] == "text"
    client.send(type="end")
    _, _, done = client.until_done()
    assert done["duration_ms"] == 0


def test_text_over_20000_characters_is_refused_piece_by_piece(open_stream):
    client = open_stream()
    client.start()
    client.send(type="text", text="a" * 20_001)
    error = client.receive_message()
    assert error["field"] == "text" and "20000 characters" in error["detail"]
    client.send(type="text", text="word " * 3000)  # 15000 characters: accepted (no sentence end yet)
    client.send(type="text", text="word " * 1001)  # 5005 more: over the limit, refused whole
    error = client.receive_message()
    assert error == {
        "type": "error",
        "field": "text",
        "detail": "text: a stream takes at most 20000 characters (15000 so far, 5005 in this message); "
        "this message was not added",
    }
    client.send(type="interrupt")  # drop the 15000 characters rather than listen to them
    while not (isinstance(frame := client.receive(), dict) and frame["type"] == "interrupted"):
        pass


@pytest.fixture(scope="module")
def limited_api(tmp_path_factory) -> str:
    data_dir = tmp_path_factory.mktemp("stream-limits")
    env = cli_env(data_dir, QUEUE="embedded", MAX_STREAMS="2", STREAM_IDLE_TIMEOUT_SECONDS="1.5", RENDER_WORKERS="1")
    api, base_url = start_api(env, data_dir / "api.log")
    yield base_url
    api.kill()


def test_streams_beyond_max_streams_are_closed_with_1013(open_stream, limited_api):
    first, second = open_stream(limited_api), open_stream(limited_api)
    first.start()
    second.start()
    third = open_stream(limited_api)
    with pytest.raises(ConnectionClosed) as closed:
        third.receive(timeout=10)
    assert closed.value.rcvd.code == 1013
    assert "MAX_STREAMS=2" in closed.value.rcvd.reason
    first.connection.close()
    # The slot is free again once a stream closes.
    fourth = None
    for _ in range(50):
        fourth = open_stream(limited_api)
        try:
            fourth.start()
            break
        except ConnectionClosed:
            continue
    assert fourth is not None
    fourth.send(type="end")
    assert fourth.until_done()[2]["type"] == "done"


def test_an_idle_stream_is_told_and_closed(open_stream, limited_api):
    client = open_stream(limited_api)
    client.start()
    error = client.receive_message(timeout=10)
    assert error["type"] == "error" and "STREAM_IDLE_TIMEOUT_SECONDS" in error["detail"]
    with pytest.raises(ConnectionClosed) as closed:
        client.receive(timeout=10)
    assert (closed.value.rcvd.code, closed.value.rcvd.reason) == (1000, "idle timeout")


def test_a_stream_and_http_renders_share_one_render_thread(open_stream, limited_api):
    client = open_stream(limited_api)
    client.start()
    client.send(type="text", text=PARAGRAPH * 3)
    client.send(type="end")
    assert client.receive_message()["type"] == "segment"
    client.receive()
    # With RENDER_WORKERS=1 the render takes its turn between the stream's segments.
    rendered = httpx.post(limited_api + "/v1/avatar/render", json={"text": "Me too."}, timeout=60)
    assert rendered.status_code == 200
    segments_left = 0
    while client.receive_message()["type"] != "done":
        client.receive()
        segments_left += 1
    assert segments_left >= 3
