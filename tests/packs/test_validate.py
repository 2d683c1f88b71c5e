import json
import shutil
from pathlib import Path

import pytest
from PIL import Image

from avatar_service.cli import main
from avatar_service.packs.manifest import RIG_SCHEMA_PATH, SCHEMA_PATH, render_json_schema, rig_json_schema

AVATARS = Path(__file__).resolve().parents[2] / "web" / "avatars"


@pytest.fixture
def pack(tmp_path: Path) -> Path:
    copy = tmp_path / "grace_hopper_v1"
    shutil.copytree(AVATARS / "grace_hopper_v1", copy)
    return copy


def edit_manifest(pack: Path, change) -> None:
    path = pack / "manifest.json"
    manifest = json.loads(path.read_text())
    change(manifest)
    path.write_text(json.dumps(manifest))


def validate_error(pack: Path, capsys: pytest.CaptureFixture) -> str:
    assert main(["pack", "validate", str(pack)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: invalid pack") and "\n" not in err
    return err


@pytest.mark.parametrize("pack_id", ["grace_hopper_v1", "realistic_female_v1"])
def test_shipped_packs_validate(pack_id: str, capsys: pytest.CaptureFixture) -> None:
    assert main(["pack", "validate", str(AVATARS / pack_id)]) == 0
    assert f"ok: {pack_id}" in capsys.readouterr().out


def test_missing_file(pack: Path, capsys: pytest.CaptureFixture) -> None:
    (pack / "eyes_half.webp").unlink()
    assert "missing file eyes_half.webp (eyes.half)" in validate_error(pack, capsys)


def test_missing_manifest(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    assert "missing file manifest.json" in validate_error(tmp_path, capsys)


def test_wrong_image_size(pack: Path, capsys: pytest.CaptureFixture) -> None:
    Image.new("RGB", (100, 80)).save(pack / "eyes_closed.webp")
    err = validate_error(pack, capsys)
    assert "eyes_closed.webp is 100x80" in err and "(eyes.closed)" in err


def test_sprite_strip_must_hold_every_viseme(pack: Path, capsys: pytest.CaptureFixture) -> None:
    edit_manifest(pack, lambda m: m["mouth"]["visemes"].pop())
    assert "6 frames of" in validate_error(pack, capsys)


def test_anchor_outside_the_canvas(pack: Path, capsys: pytest.CaptureFixture) -> None:
    edit_manifest(pack, lambda m: m["mouth"]["anchor"].update(x=700))
    assert "mouth.anchor (700," in validate_error(pack, capsys)


def test_layer_reaching_outside_the_canvas(pack: Path, capsys: pytest.CaptureFixture) -> None:
    edit_manifest(pack, lambda m: m["eyes"]["anchor"].update(x=5))
    assert "eyes layer" in validate_error(pack, capsys)


def test_anchor_not_on_the_face(pack: Path, capsys: pytest.CaptureFixture) -> None:
    def swap(m: dict) -> None:
        m["mouth"]["anchor"]["y"], m["eyes"]["anchor"]["y"] = 200, 420

    edit_manifest(pack, swap)
    assert "not below eyes.anchor" in validate_error(pack, capsys)


def test_unknown_viseme(pack: Path, capsys: pytest.CaptureFixture) -> None:
    edit_manifest(pack, lambda m: m["mouth"]["visemes"].__setitem__(3, "UH"))
    assert "unknown viseme 'UH'" in validate_error(pack, capsys)


def test_over_budget(pack: Path, capsys: pytest.CaptureFixture) -> None:
    (pack / "idle_loop.webm").write_bytes((pack / "idle_loop.webm").read_bytes() + bytes(1_000_000))
    assert "over the 1 MB budget" in validate_error(pack, capsys)


def test_broken_timeline(pack: Path, capsys: pytest.CaptureFixture) -> None:
    timeline = json.loads((pack / "anchor_timeline.json").read_text())
    timeline["frame_count"] += 1
    (pack / "anchor_timeline.json").write_text(json.dumps(timeline))
    assert "anchor_timeline.json" in validate_error(pack, capsys)


def test_published_schema_is_up_to_date() -> None:
    hint = "run: python -m avatar_service.packs.manifest"
    assert SCHEMA_PATH.read_text() == render_json_schema(), hint
    assert RIG_SCHEMA_PATH.read_text() == render_json_schema(rig_json_schema()), hint
