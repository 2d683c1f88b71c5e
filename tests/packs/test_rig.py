"""Format-2 rigs: the geometry `pack create` derives, and `pack validate` refusing folded or broken rigs."""

import importlib.util
import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from avatar_service.cli import main
from avatar_service.packs.rig import LANDMARK_COUNT, signed_areas
from avatar_service.packs.validate import validate_pack
from tests.packs.test_validate import AVATARS, edit_manifest, validate_error
from tests.support import require
from tests.support.placeholder_pack import write_placeholder_pack


@pytest.fixture
def pack(tmp_path: Path) -> Path:
    copy = tmp_path / "grace_hopper_v1"
    shutil.copytree(AVATARS / "grace_hopper_v1", copy)
    return copy


def load_rig(pack: Path) -> dict:
    return json.loads((pack / "rig.json").read_text())


def edit_rig(pack: Path, change) -> None:
    rig = load_rig(pack)
    change(rig)
    (pack / "rig.json").write_text(json.dumps(rig))


def pose(rig: dict, weights: dict[str, float]) -> np.ndarray:
    positions = np.array(rig["vertices"])
    for name, weight in weights.items():
        control = rig["controls"][name]
        positions[control["indices"]] += weight * np.array(control["offsets"])
    return positions


def polygon_area(points: np.ndarray) -> float:
    x, y = points.T
    return 0.5 * float(np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1)))


def test_shipped_grace_hopper_is_format_2_with_true_colour_images() -> None:
    manifest = validate_pack(AVATARS / "grace_hopper_v1")
    assert manifest.format_version == 2 and manifest.rig == "rig.json"
    assert not [name for name in manifest.files().values() if name.endswith(".png") and "mask" not in name]
    from PIL import Image

    with Image.open(AVATARS / "grace_hopper_v1" / manifest.base_face) as base:
        assert base.mode == "RGB"
        assert len(base.getcolors(1 << 24)) > 20_000  # format 1's palette base had 256


def test_mesh_covers_the_image_and_keeps_landmark_numbering() -> None:
    rig = load_rig(AVATARS / "grace_hopper_v1")
    vertices, triangles = np.array(rig["vertices"]), np.array(rig["triangles"])
    areas = signed_areas(vertices, triangles)
    assert (areas > 0).mean() > 0.99  # wound one way at rest, but for Face Mesh's own nose-wing slivers
    assert np.all(areas[areas <= 0] > -0.5)
    width, height = rig["image"]["width"], rig["image"]["height"]
    opening = abs(polygon_area(vertices[rig["mouth"]["inner_lip"]]))
    # Every pixel is covered once, but for the closed inner-lip opening (and Face Mesh's nose folds).
    assert abs(areas.sum() + opening - width * height) < 0.002 * width * height
    assert len(vertices) > LANDMARK_COUNT and max(rig["fixed"]) == len(vertices) - 1
    assert {tuple(vertices[i]) for i in rig["fixed"]} >= {(0.0, 0.0), (float(width), float(height))}
    for control in rig["controls"].values():
        assert not set(control["indices"]) & set(rig["fixed"])  # the border never moves


def test_jaw_opens_the_inner_lips_in_proportion_and_visemes_are_ordered() -> None:
    rig = load_rig(AVATARS / "grace_hopper_v1")
    vertices = np.array(rig["vertices"])
    face_height = np.hypot(*(vertices[152] - vertices[10]))
    chin_drop = pose(rig, {"jaw_open": 1})[152, 1] - vertices[152, 1]
    assert chin_drop == pytest.approx(0.13 * face_height, rel=0.02)

    def opening(weights: dict[str, float]) -> float:
        return abs(polygon_area(pose(rig, weights)[rig["mouth"]["inner_lip"]]))

    openings = [opening({"jaw_open": w}) for w in np.linspace(0, 1, 11)]
    assert np.all(np.diff(openings) > 0) and openings[0] < 0.02 * openings[-1]
    visemes = {name: opening(weights) for name, weights in rig["visemes"].items()}
    assert visemes["AA"] > visemes["OH"] > visemes["EE"] > visemes["REST"]
    assert visemes["FF"] < 0.25 * visemes["AA"]


def test_blink_closes_each_lid_and_only_its_own_eye() -> None:
    rig = load_rig(AVATARS / "grace_hopper_v1")
    vertices = np.array(rig["vertices"])
    for control, (upper, lower, other) in {"blink_left": (159, 145, 386), "blink_right": (386, 374, 159)}.items():
        closed = pose(rig, {control: 1})
        gap = vertices[lower, 1] - vertices[upper, 1]
        assert closed[lower, 1] - closed[upper, 1] < 0.1 * gap
        assert np.array_equal(closed[other], vertices[other])


def test_refuses_a_control_that_folds_at_full_weight(pack: Path, capsys: pytest.CaptureFixture) -> None:
    def triple_jaw(rig: dict) -> None:
        rig["controls"]["jaw_open"]["offsets"] = [[3 * dx, 3 * dy] for dx, dy in rig["controls"]["jaw_open"]["offsets"]]

    edit_rig(pack, triple_jaw)
    assert "rig.json controls.jaw_open at weight 1 folds" in validate_error(pack, capsys)


def test_refuses_a_viseme_combination_that_folds(pack: Path, capsys: pytest.CaptureFixture) -> None:
    edit_rig(pack, lambda rig: rig["visemes"].update(AA={"jaw_open": 2.5, "lip_round": 1}))
    err = validate_error(pack, capsys)
    assert "rig.json visemes.AA (jaw_open 2.5, lip_round 1) folds" in err
    assert "controls.jaw_open" not in err  # each control alone at weight 1 is fine


def test_refuses_missing_vertices(pack: Path, capsys: pytest.CaptureFixture) -> None:
    count = len(load_rig(pack)["vertices"])
    edit_rig(pack, lambda rig: rig["triangles"].append([0, 1, count]))
    assert f"rig.json triangles references missing vertex {count} (the rig has {count} vertices)" in validate_error(
        pack, capsys
    )

    def bad_control(rig: dict) -> None:
        rig["triangles"].pop()
        rig["controls"]["blink_left"]["indices"][0] = count + 5

    edit_rig(pack, bad_control)
    assert f"controls.blink_left.indices references missing vertex {count + 5}" in validate_error(pack, capsys)


def test_refuses_a_control_that_moves_a_fixed_vertex(pack: Path, capsys: pytest.CaptureFixture) -> None:
    border = load_rig(pack)["fixed"][-1]

    def move_border(rig: dict) -> None:
        rig["controls"]["gaze_y"]["indices"].append(border)
        rig["controls"]["gaze_y"]["offsets"].append([0, 1])

    edit_rig(pack, move_border)
    assert f"rig.json controls.gaze_y moves fixed vertex {border}" in validate_error(pack, capsys)


def test_refuses_format_2_without_a_rig_and_a_missing_rig_file(pack: Path, capsys: pytest.CaptureFixture) -> None:
    (pack / "rig.json").unlink()
    assert "missing file rig.json (rig)" in validate_error(pack, capsys)
    edit_manifest(pack, lambda m: m.pop("rig"))
    assert "format_version 2 needs a rig file" in validate_error(pack, capsys)


def test_refuses_a_rig_for_another_canvas(pack: Path, capsys: pytest.CaptureFixture) -> None:
    edit_rig(pack, lambda rig: rig["image"].update(width=640))
    assert "rig.json image is 640x640, not the canvas's 512x640" in validate_error(pack, capsys)


def test_format_1_packs_still_validate(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    placeholder = write_placeholder_pack(tmp_path)
    assert main(["pack", "validate", str(placeholder)]) == 0
    assert validate_pack(placeholder).format_version == 1


@pytest.mark.tracking
@pytest.mark.parametrize("pack_id", ["grace_hopper_v1", "realistic_female_v1"])
def test_shipped_rig_is_derived_from_its_own_base_face(pack_id: str) -> None:
    """The shipped rig.json is what `pack create` derives today from the pack's own base face: rebuilding
    the pack after changing packs/rig.py is not forgotten."""
    require(importlib.util.find_spec("mediapipe") is not None, "mediapipe (the [tracking] extra)")
    from avatar_service.packs.create import make_rig
    from avatar_service.packs.imaging import decoded

    pack = AVATARS / pack_id
    manifest = validate_pack(pack)
    derived = json.loads(json.dumps(make_rig(decoded((pack / manifest.base_face).read_bytes()), pack_id)))
    assert derived == load_rig(pack)


@pytest.mark.tracking
def test_pack_upgrade_gives_a_format_1_pack_its_rig(pack: Path, capsys: pytest.CaptureFixture) -> None:
    require(importlib.util.find_spec("mediapipe") is not None, "mediapipe (the [tracking] extra)")
    shipped = load_rig(pack)
    (pack / "rig.json").unlink()
    edit_manifest(pack, lambda m: (m.pop("rig"), m.update(format_version=1)))
    assert validate_pack(pack).format_version == 1
    assert main(["pack", "upgrade", str(pack)]) == 0
    assert "is format 2" in capsys.readouterr().out
    assert validate_pack(pack).rig == "rig.json"
    assert load_rig(pack) == shipped  # the same rig pack create derived from the same base face


@pytest.mark.tracking
def test_pack_upgrade_refuses_a_pack_without_a_face(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    require(importlib.util.find_spec("mediapipe") is not None, "mediapipe (the [tracking] extra)")
    placeholder = write_placeholder_pack(tmp_path)
    from PIL import Image

    Image.new("RGB", (512, 640), (128, 120, 110)).save(placeholder / "base_face.png")
    before = sorted(path.name for path in placeholder.iterdir())
    assert main(["pack", "upgrade", str(placeholder)]) == 2
    err = capsys.readouterr().err.strip()
    assert "no face found in the base face" in err and "\n" not in err
    assert sorted(path.name for path in placeholder.iterdir()) == before  # nothing written
    assert validate_pack(placeholder).format_version == 1


@pytest.mark.tracking
@pytest.mark.parametrize("degrees", [-15, 15])
def test_a_tilted_head_gets_the_same_rig_turned(degrees: float) -> None:
    """Shapes follow the head's own axes: the rig of a rotated face is the rotated rig, and never folds."""
    require(importlib.util.find_spec("mediapipe") is not None, "mediapipe (the [tracking] extra)")
    from avatar_service.packs.face_topology import face_mesh_triangles, face_oval_ring
    from avatar_service.packs.manifest import RigFile
    from avatar_service.packs.rig import derive_rig, rig_document
    from avatar_service.packs.rig_check import rig_problems

    landmarks = np.array(load_rig(AVATARS / "grace_hopper_v1")["vertices"][:LANDMARK_COUNT])
    angle = np.radians(degrees)
    turn = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    pivot = np.array([256.0, 320.0])
    upright = derive_rig(landmarks, face_mesh_triangles(), face_oval_ring(), 512, 640)
    tilted = derive_rig((landmarks - pivot) @ turn.T + pivot, face_mesh_triangles(), face_oval_ring(), 512, 640)
    for name in ("jaw_open", "lip_spread", "blink_left", "gaze_x"):
        face = slice(0, LANDMARK_COUNT)
        np.testing.assert_allclose(tilted.controls[name][face], upright.controls[name][face] @ turn.T, atol=0.05)
    black = [0.0, 0.0, 0.0]
    document = rig_document(tilted, {"cavity_near": black, "cavity_deep": black, "teeth": black, "tongue": black})
    assert rig_problems(RigFile.model_validate(document), "rig.json") == []
