"""A full disk, for real: DATA_DIR on a 4 MB tmpfs filled to the last byte. /health says degraded with the
reason, renders fail as server errors (never 200 with a dead audio_url), no `.partial` file is left, and
everything recovers once space is freed. Needs permission to mount tmpfs (root in CI's container)."""

import subprocess

import pytest


@pytest.fixture
def small_data_dir(tmp_path):
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(data_dir)], capture_output=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.decode().strip()}")
    yield data_dir
    subprocess.run(["umount", "-l", str(data_dir)], check=True)


def fill(path) -> None:
    with path.open("wb") as filler:
        try:
            while True:
                filler.write(b"\0" * 65536)
                filler.flush()
        except OSError:
            pass


def test_full_disk_degrades_health_fails_renders_cleanly_and_recovers(small_data_dir, start_server, make_settings):
    server = start_server(make_settings(data_dir=small_data_dir, min_free_disk_mb=0.5))
    assert server.render("Room to spare.").status_code == 200
    assert server.client.get("/health").json()["status"] == "ok"

    filler = small_data_dir / "filler"
    fill(filler)
    health = server.client.get("/health").json()
    assert health["status"] == "degraded"
    assert "MIN_FREE_DISK_MB" in health["reason"] and "MB free" in health["reason"]

    response = server.render("No room for this one at all, the disk is completely full.")
    assert response.status_code == 500, response.text
    body = response.json()
    assert "DATA_DIR" in body["detail"] and "No space left" in body["detail"]
    assert list(small_data_dir.rglob("*.partial")) == []
    assert server.render("Room to spare.").json()["cached"] is True  # what was stored stays served

    filler.unlink()
    assert server.client.get("/health").json()["status"] == "ok"
    again = server.render("No room for this one at all, the disk is completely full.")
    assert again.status_code == 200 and again.json()["cached"] is False
