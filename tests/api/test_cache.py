"""Cache lifetime over real HTTP: expired renders and their audio are removed, at start-up and while running."""

import os
import shutil
import time

from avatar_service.cache import ResultCache
from tests.support.services import wait_until

EIGHT_DAYS_S = 8 * 24 * 3600


def age(path, seconds: float) -> None:
    past = time.time() - seconds
    os.utime(path, (past, past))


def test_entries_older_than_the_ttl_are_removed_with_their_audio_at_start_up(start_server, make_settings):
    first = start_server(make_settings())
    result = first.render("I will be eight days old.").json()
    first.stop()
    data_dir = first.settings.data_dir
    record = data_dir / "results" / f"{result['render_id']}.json"
    audio = data_dir / "audio" / f"{result['render_id']}.ogg"
    age(record, EIGHT_DAYS_S)
    age(audio, EIGHT_DAYS_S)
    # Audio no record owns (a crash between the two writes): removed once older than the TTL, kept before.
    old_orphan, new_orphan = data_dir / "audio" / ("a" * 32 + ".ogg"), data_dir / "audio" / ("b" * 32 + ".ogg")
    old_orphan.write_bytes(b"x")
    new_orphan.write_bytes(b"x")
    age(old_orphan, EIGHT_DAYS_S)

    second = start_server(make_settings())  # default CACHE_TTL_SECONDS: 7 days

    assert not record.exists() and not audio.exists()
    assert not old_orphan.exists() and new_orphan.exists()
    assert second.client.get(f"/v1/avatar/render/{result['render_id']}").status_code == 404
    assert second.client.get(result["audio_url"].replace(first.base_url, second.base_url)).status_code == 404
    again = second.render("I will be eight days old.").json()
    assert again["cached"] is False and audio.exists()


def test_entries_expire_while_the_service_runs(start_server, make_settings):
    server = start_server(make_settings(cache_ttl_seconds=1))
    result = server.render("I only live for a second.").json()
    record = server.settings.data_dir / "results" / f"{result['render_id']}.json"
    audio = server.settings.audio_dir / f"{result['render_id']}.ogg"
    assert record.exists() and audio.exists()

    # Nobody asks for it again: the periodic sweep has to remove it.
    wait_until(lambda: not record.exists() and not audio.exists(), timeout=10, what="the sweep to remove it")
    assert server.client.get(f"/v1/avatar/render/{result['render_id']}").status_code == 404


def test_an_expired_entry_is_dropped_on_lookup_before_any_sweep(live, tmp_path):
    # The lookup itself removes an expired entry, so a re-render of the same id never races a later sweep.
    record = live.queue.cache.get(live.render("Expire me on lookup.").json()["render_id"])
    cache = ResultCache(tmp_path / "results", tmp_path / "audio", ttl_seconds=0.3)
    cache.load()
    shutil.copy(live.settings.audio_dir / record.audio_file, tmp_path / "audio" / record.audio_file)
    cache.put(record)
    assert cache.get(record.render_id) == record

    time.sleep(0.4)

    assert cache.get(record.render_id) is None
    assert not (tmp_path / "results" / f"{record.render_id}.json").exists()
    assert not (tmp_path / "audio" / record.audio_file).exists()
