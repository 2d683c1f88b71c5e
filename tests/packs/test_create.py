import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from avatar_service.cli import main
from avatar_service.packs.validate import MAX_PACK_BYTES, validate_pack
from tests.packs.conftest import GRACE_HOPPER, load_grey, load_rgb

pytestmark = pytest.mark.tracking


@pytest.fixture(params=["grace_pack", "astronaut_pack"])
def pack(request: pytest.FixtureRequest) -> Path:
    return request.getfixturevalue(request.param)


def test_pack_from_a_photo_validates_and_fits_the_budget(pack: Path) -> None:
    manifest = validate_pack(pack)
    assert manifest.idle_video and manifest.anchor_timeline
    assert manifest.format_version == 2 and manifest.rig  # the face rig, checked for fold-overs by validate
    assert manifest.mouth.frame.height > 120  # the taller frame that reaches the chin
    assert sum((pack / name).stat().st_size for name in set(manifest.files().values())) <= MAX_PACK_BYTES
    assert not [p for p in pack.parent.iterdir() if p.name.startswith(".")]  # no staging left behind


def test_every_mouth_frame_differs_inside_the_mask(pack: Path) -> None:
    manifest = validate_pack(pack)
    strip = load_rgb(pack / manifest.mouth.sprites)
    mask = load_grey(pack / manifest.mouth.mask) > 0
    width = manifest.mouth.frame.width
    frames = [strip[:, i * width : (i + 1) * width] for i in range(len(manifest.mouth.visemes))]
    for i in range(len(frames)):
        for j in range(i + 1, len(frames)):
            difference = np.abs(frames[i] - frames[j]).max(axis=-1)[mask].mean()
            assert difference > 1.0, (manifest.mouth.visemes[i], manifest.mouth.visemes[j], difference)
    base = load_rgb(pack / manifest.base_face)
    left = int(manifest.mouth.anchor.x - width / 2)
    top = int(manifest.mouth.anchor.y - manifest.mouth.frame.height / 2)
    region = base[top : top + manifest.mouth.frame.height, left : left + width]
    for frame in frames:
        assert np.array_equal(frame[~mask], region[~mask])  # outside the mask a sprite is the base


def test_eye_states_change_only_inside_the_mask(pack: Path) -> None:
    manifest = validate_pack(pack)
    eyes = {state: load_rgb(pack / getattr(manifest.eyes, state)) for state in ("open", "half", "closed")}
    mask = load_grey(pack / manifest.eyes.mask) > 0
    closed_change = np.abs(eyes["closed"] - eyes["open"]).max(axis=-1)
    assert closed_change[mask].mean() > 3
    assert np.abs(eyes["half"] - eyes["open"]).max(axis=-1)[mask].mean() > 1
    for state in ("half", "closed"):
        assert np.array_equal(eyes[state][~mask], eyes["open"][~mask])
    # The closing lid darkens nothing outside the eye area: the mask covers a minority of the frame.
    assert mask.mean() < 0.6


def test_open_mouth_is_darker_inside_than_rest(grace_pack: Path) -> None:
    manifest = validate_pack(grace_pack)
    strip = load_rgb(grace_pack / manifest.mouth.sprites).mean(axis=-1)
    width = manifest.mouth.frame.width
    rest, aa = strip[:, :width], strip[:, width : 2 * width]
    opened = (rest - aa > 60) & (aa < 70)  # a dark mouth interior where the closed lips were
    assert opened.sum() > 0.01 * opened.size


def test_cli_create_writes_a_pack_and_refuses_to_overwrite(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    args = ["pack", "create", "--photo", str(GRACE_HOPPER), "--id", "gh", "--packs-dir", str(tmp_path)]
    assert main(args) == 0
    manifest = json.loads((tmp_path / "gh" / "manifest.json").read_text())
    assert manifest["id"] == "gh"
    assert main(args) == 2
    assert "already exists" in capsys.readouterr().err


def _one_line_error(capsys: pytest.CaptureFixture) -> str:
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "\n" not in err and "Traceback" not in err
    return err


def test_no_face(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    photo = tmp_path / "wall.png"
    Image.fromarray(np.full((400, 320, 3), 128, np.uint8)).save(photo)
    assert main(["pack", "create", "--photo", str(photo), "--id", "x", "--packs-dir", str(tmp_path / "p")]) == 2
    assert "no face found" in _one_line_error(capsys)
    assert not (tmp_path / "p").exists() or not any((tmp_path / "p").iterdir())


def test_several_faces(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    face = Image.open(GRACE_HOPPER).convert("RGB")
    pair = Image.new("RGB", (face.width * 2, face.height))
    pair.paste(face, (0, 0))
    pair.paste(face, (face.width, 0))
    photo = tmp_path / "pair.png"
    pair.save(photo)
    assert main(["pack", "create", "--photo", str(photo), "--id", "x", "--packs-dir", str(tmp_path / "p")]) == 2
    assert "2 faces found" in _one_line_error(capsys)


def test_face_too_small(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    from skimage.data import astronaut

    # The astronaut's face is ~18 % of the picture's width; widened to 640 px it is ~14 %: still found
    # by the detector, but under the 15 % limit.
    wide = Image.new("RGB", (640, 512), (90, 90, 90))
    wide.paste(Image.fromarray(astronaut()), (0, 0))
    photo = tmp_path / "astronaut_wide.png"
    wide.save(photo)
    assert main(["pack", "create", "--photo", str(photo), "--id", "x", "--packs-dir", str(tmp_path / "p")]) == 2
    err = _one_line_error(capsys)
    assert "too small" in err and "crop" in err


def test_unreadable_photo(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    photo = tmp_path / "broken.jpg"
    photo.write_bytes(b"not a jpeg at all")
    assert main(["pack", "create", "--photo", str(photo), "--id", "x", "--packs-dir", str(tmp_path / "p")]) == 2
    assert "cannot read image" in _one_line_error(capsys)


def test_shipped_default_pack_validates() -> None:
    pack = Path(__file__).resolve().parents[2] / "web" / "avatars" / "grace_hopper_v1"
    manifest = validate_pack(pack)
    assert manifest.attribution and "public domain" in manifest.attribution
