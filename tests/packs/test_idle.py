import shutil
from pathlib import Path

import av
import numpy as np
import pytest

from avatar_service.cli import main
from avatar_service.packs.validate import validate_pack
from tests.support.placeholder_pack import write_placeholder_pack

AVATARS = Path(__file__).resolve().parents[2] / "web" / "avatars"


def frames(video: Path) -> list[np.ndarray]:
    with av.open(str(video)) as container:
        return [f.to_ndarray(format="rgb24").astype(np.int16) for f in container.decode(video=0)]


def test_pack_idle_makes_a_seamless_subtle_loop(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    shutil.copytree(AVATARS / "grace_hopper_v1", tmp_path / "gh")
    (tmp_path / "gh" / "idle_loop.webm").write_bytes(b"an older loop")
    edit = (tmp_path / "gh" / "manifest.json").read_text().replace('"idle_video": "idle_loop.webm",', "")
    (tmp_path / "gh" / "manifest.json").write_text(edit)
    assert main(["pack", "idle", "--avatar-id", "gh", "--packs-dir", str(tmp_path)]) == 0
    manifest = validate_pack(tmp_path / "gh")
    assert manifest.idle_video == "idle_loop.webm"
    assert manifest.anchor_timeline is None  # a timeline tracked on another loop is dropped
    assert not (tmp_path / "gh" / "anchor_timeline.json").exists()
    video = frames(tmp_path / "gh" / "idle_loop.webm")
    assert len(video) == 100 and video[0].shape == (640, 512, 3)

    def step(a, b):
        return np.abs(a - b).mean()

    # It moves (mid-loop differs from the start; how far is checked on the tracked timeline in
    # tests/tracking), and the wrap-around is no bigger a jump than an ordinary frame step.
    assert step(video[0], video[50]) > 2 * step(video[0], video[1])
    typical = np.median([step(video[i], video[i + 1]) for i in range(99)])
    assert step(video[-1], video[0]) < 2 * typical


def test_pack_idle_on_an_incomplete_pack(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    write_placeholder_pack(tmp_path, "p")
    (tmp_path / "p" / "base_face.png").unlink()
    assert main(["pack", "idle", "--avatar-id", "p", "--packs-dir", str(tmp_path)]) == 2
    assert "missing file base_face.png" in capsys.readouterr().err
    assert sorted(path.name for path in (tmp_path / "p").iterdir() if path.name.startswith("."))  == []
