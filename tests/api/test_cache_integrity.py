"""Damaged cache entries over real HTTP: each one is a miss that re-renders, never a 500 or a dead audio_url."""

import hashlib
import json

import httpx
import pytest


def records_dir(server):
    return server.settings.data_dir / "results"


def audio_path(server, body: dict):
    return server.settings.data_dir / "audio" / body["audio_url"].rsplit("/", 1)[1]


def assert_served_fresh(server, text: str, first: dict) -> dict:
    again = server.render(text)
    assert again.status_code == 200, again.text
    body = again.json()
    assert body["cached"] is False and body["render_id"] == first["render_id"]
    audio = httpx.get(body["audio_url"])
    assert audio.status_code == 200 and audio.content[:4] == b"OggS"
    return body


def test_the_record_keeps_the_audio_size_and_hash(live):
    body = live.render("My record knows my audio.").json()
    record = json.loads((live.settings.data_dir / "results" / f"{body['render_id']}.json").read_text())
    audio = audio_path(live, body).read_bytes()
    assert record["audio_size"] == len(audio)
    assert record["audio_sha256"] == hashlib.sha256(audio).hexdigest()


@pytest.mark.parametrize(
    "damage",
    ["directory_in_place_of_record", "garbage_record", "truncated_audio", "audio_from_another_run", "audio_gone"],
)
def test_a_damaged_entry_is_a_miss_and_re_renders(start_server, make_settings, damage):
    server = start_server(make_settings())
    text = f"Damage case {damage.replace('_', ' ')}."
    first = server.render(text).json()
    record = records_dir(server) / f"{first['render_id']}.json"
    audio = audio_path(server, first)
    server.stop()  # restart, so the entry is read from disk rather than from memory

    if damage == "directory_in_place_of_record":
        record.unlink()
        (record / "inside").mkdir(parents=True)
    elif damage == "garbage_record":
        record.write_bytes(b"\x00not json")
    elif damage == "truncated_audio":
        audio.write_bytes(audio.read_bytes()[:100])
    elif damage == "audio_from_another_run":
        data = bytearray(audio.read_bytes())
        data[-1] ^= 0xFF  # same size, other content
        audio.write_bytes(bytes(data))
    else:
        audio.unlink()

    restarted = start_server(server.settings)
    polled = restarted.client.get(f"/v1/avatar/render/{first['render_id']}")
    assert polled.status_code == 404  # a miss, not a 500
    assert_served_fresh(restarted, text, first)
    assert restarted.render(text).json()["cached"] is True


def test_audio_deleted_while_its_record_is_hot_is_a_miss(live):
    text = "Deleted behind the cache's back."
    first = live.render(text).json()
    assert live.render(text).json()["cached"] is True
    audio_path(live, first).unlink()
    assert_served_fresh(live, text, first)
