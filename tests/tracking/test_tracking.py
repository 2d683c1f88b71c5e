import json
import shutil
import subprocess
import sys
from pathlib import Path

import matplotlib
import numpy as np
import pytest

from avatar_service.cli import main
from avatar_service.packs.anchors import build_timeline
from avatar_service.packs.manifest import Size
from avatar_service.packs.validate import validate_pack
from avatar_service.tracking.synthetic import FPS, mouth_errors, synthetic_video
from avatar_service.tracking.timeline import track_frames
from avatar_service.tracking.video import read_image, read_video_frames

ROOT = Path(__file__).resolve().parents[2]
GRACE = ROOT / "web" / "avatars" / "grace_hopper_v1"
PHOTO = Path(matplotlib.get_data_path()) / "sample_data" / "grace_hopper.jpg"


@pytest.mark.tracking
def test_mouth_centre_error_on_known_subpixel_motion(tmp_path: Path) -> None:
    photo = read_image(PHOTO)
    matrices = synthetic_video(photo, tmp_path / "moving.webm")
    reference, frames = track_frames(read_video_frames(tmp_path / "moving.webm"), photo)
    timeline = build_timeline(reference, frames, FPS, Size(width=photo.shape[1], height=photo.shape[0]))
    errors = mouth_errors(timeline.reference.mouth, [f.mouth for f in timeline.frames], matrices)
    assert len(errors) == 100
    assert errors.mean() <= 1.0, errors.mean()
    assert errors.max() <= 2.5, errors.max()


@pytest.mark.tracking
def test_anchors_cli_adds_a_timeline_that_follows_the_idle_loop(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    pack = tmp_path / "gh"
    shutil.copytree(GRACE, pack)
    (pack / "anchor_timeline.json").unlink()
    manifest = json.loads((pack / "manifest.json").read_text())
    del manifest["anchor_timeline"]
    (pack / "manifest.json").write_text(json.dumps(manifest))
    args = ["anchors", "--avatar-id", "gh", "--input", str(pack / "idle_loop.webm"), "--packs-dir", str(tmp_path)]
    assert main(args) == 0
    captured = capsys.readouterr()
    assert "tracking idle_loop.webm [" in captured.err and "100/100" in captured.err  # the progress bar
    assert validate_pack(pack).anchor_timeline == "anchor_timeline.json"
    timeline = json.loads((pack / "anchor_timeline.json").read_text())
    assert timeline["frame_count"] == 100 and timeline["fps"] == 25
    mouth = np.array([f["mouth"] for f in timeline["frames"]]) - timeline["reference"]["mouth"]
    # The idle loop sways ~1-2 px: the timeline sees real motion, and no more than the loop has.
    assert 0.5 < np.abs(mouth).max() < 4
    roll = np.array([f["roll_deg"] for f in timeline["frames"]])
    assert 0.1 < np.abs(roll).max() < 1.5


@pytest.mark.tracking
def test_video_without_a_face(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    pack = tmp_path / "gh"
    shutil.copytree(GRACE, pack)
    before = (pack / "anchor_timeline.json").read_bytes()
    blank = tmp_path / "blank.webm"
    synthetic_video(np.full((640, 512, 3), 90, np.uint8), blank)
    assert main(["anchors", "--avatar-id", "gh", "--input", str(blank), "--packs-dir", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert err.startswith("error: no face found in 100 of 100 frames")
    assert (pack / "anchor_timeline.json").read_bytes() == before  # nothing half-written
    assert not [p for p in pack.iterdir() if p.name.startswith(".")]


def test_unreadable_video(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    shutil.copytree(GRACE, tmp_path / "gh")
    broken = tmp_path / "broken.webm"
    broken.write_bytes(b"\x1aE\xdf\xa3 not really a webm")
    assert main(["anchors", "--avatar-id", "gh", "--input", str(broken), "--packs-dir", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: cannot read video") and "\n" not in err


@pytest.mark.tracking
def test_anchors_command_is_quiet_and_works(tmp_path: Path) -> None:
    shutil.copytree(GRACE, tmp_path / "gh")
    result = subprocess.run(
        [sys.executable, "-m", "avatar_service", "anchors", "--avatar-id", "gh",
         "--input", str(tmp_path / "gh" / "idle_loop.webm"), "--packs-dir", str(tmp_path)],
        check=False, capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 0, result.stderr
    # The protobuf shim and the quieted native logs: no GetPrototype traceback, no XNNPACK/absl lines.
    for noise in ("GetPrototype", "AttributeError", "XNNPACK", "absl::InitializeLog", "W0000"):
        assert noise not in result.stderr
    assert "wrote" in result.stdout


def test_missing_mediapipe_is_one_clear_line(tmp_path: Path) -> None:
    shutil.copytree(GRACE, tmp_path / "gh")
    code = (
        "import sys; sys.modules['mediapipe'] = None; sys.modules['mediapipe.python'] = None;"
        "from avatar_service.cli import main; sys.exit(main(sys.argv[1:]))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code, "anchors", "--avatar-id", "gh",
         "--input", str(tmp_path / "gh" / "idle_loop.webm"), "--packs-dir", str(tmp_path)],
        check=False, capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 2
    assert result.stderr.strip().startswith("error: face tracking needs mediapipe: install avatar-service[tracking]")


def test_pack_tools_other_than_tracking_do_not_import_mediapipe() -> None:
    code = (
        "import sys; from avatar_service.cli import main; main(['pack', 'validate', sys.argv[1]]);"
        "assert 'mediapipe' not in sys.modules, 'mediapipe imported'"
    )
    subprocess.run([sys.executable, "-c", code, str(GRACE)], check=True, timeout=60)


@pytest.mark.tracking
def test_no_face_on_the_reference_is_reported() -> None:
    from avatar_service.tracking.errors import UnusableFace

    blank = np.full((64, 64, 3), 90, np.uint8)
    with pytest.raises(UnusableFace, match="still reference image"):
        track_frames([blank], blank)


@pytest.mark.tracking
def test_landmarks_read_from_the_wire_match_the_protobuf_attributes() -> None:
    from avatar_service.tracking.facemesh import _import_face_mesh, landmark_xy

    _import_face_mesh()
    from mediapipe.framework.formats.landmark_pb2 import NormalizedLandmarkList

    points = NormalizedLandmarkList()
    for x, y in ((0.25, 0.5), (0.0, 1.0), (0.731, 0.012)):
        points.landmark.add(x=x, y=y, z=-0.01)
    expected = np.array([(p.x, p.y) for p in points.landmark])
    assert np.array_equal(landmark_xy(points), expected)  # the fixed-size record path
    points.landmark[1].visibility = 0.9  # another record size: the attribute path
    assert np.array_equal(landmark_xy(points), expected)


def test_prefetched_frames_arrive_in_order_and_decoder_errors_reach_the_caller() -> None:
    from avatar_service.tracking.errors import UnreadableMedia
    from avatar_service.tracking.video import Prefetched

    def frames_then_error():
        yield from (np.full((2, 2, 3), value, np.uint8) for value in range(40))
        raise UnreadableMedia("cannot read video x.webm: truncated")

    with Prefetched(frames_then_error(), depth=4) as frames:
        seen = []
        with pytest.raises(UnreadableMedia, match="truncated"):
            seen.extend(int(frame[0, 0, 0]) for frame in frames)
    assert seen == list(range(40))
    with Prefetched(frames_then_error(), depth=4) as frames:
        pass  # left before reading: the decoder thread must stop, not block on the full queue
    assert not frames._worker.is_alive()
