"""Face anchors on every frame of a video, with Face Mesh in tracking mode (packs/anchors.py turns them into a
pack's anchor timeline)."""

from collections.abc import Callable, Iterable

import numpy as np

from avatar_service.tracking.errors import UnusableFace
from avatar_service.tracking.facemesh import FaceMesh
from avatar_service.tracking.landmarks import FaceAnchors, face_anchors

# In tracking mode each frame's face crop comes from the previous frame's landmarks, and even on one still
# image repeated the mouth centre wanders by up to +-0.6 px from call to call (measured on Grace Hopper).
# So the reference is the mean over several passes of the still image, after the crop has settled: the
# first two passes sit up to 1.5 px off. The mean of 4 settled passes lies within 0.1 px of the mean of
# 12 (Grace Hopper), well inside the synthetic-motion error (0.19-0.27 px), at a third of the cost.
REFERENCE_WARMUP_FRAMES = 2
REFERENCE_FRAMES = 4


def track_frames(
    frames: Iterable[np.ndarray],
    reference_image: np.ndarray,
    on_frame: Callable[[], None] = lambda: None,
) -> tuple[FaceAnchors, list[FaceAnchors]]:
    """Anchors on the still reference image and on each frame, with Face Mesh in tracking mode.

    Without the iris model: ~20 % faster per frame, and on the synthetic-motion video its mouth-centre
    error is as low (Grace Hopper 0.19-0.27 vs 0.25-0.31 px with it, the astronaut 0.16 vs 0.17 px).
    """
    with FaceMesh(static=False, max_faces=1, iris=False) as mesh:
        passes = [mesh.faces(reference_image) for _ in range(REFERENCE_WARMUP_FRAMES + REFERENCE_FRAMES)]
        reference_passes = [faces[0] for faces in passes[REFERENCE_WARMUP_FRAMES:] if faces]
        if not reference_passes:
            raise UnusableFace("no face found on the still reference image (the pack's base face)")
        tracked: list[FaceAnchors | None] = []
        for frame in frames:
            faces = mesh.faces(frame)
            tracked.append(face_anchors(faces[0]) if faces else None)
            on_frame()
    missing = [index for index, anchors in enumerate(tracked) if anchors is None]
    if not tracked:
        raise UnusableFace("the video has no frames")
    if missing:
        raise UnusableFace(
            f"no face found in {len(missing)} of {len(tracked)} frames (first: frame {missing[0]}); "
            "the face must stay in view, frontal and at least ~15% of the frame width"
        )
    return mean_anchors([face_anchors(points) for points in reference_passes]), [a for a in tracked if a is not None]


def mean_anchors(passes: list[FaceAnchors]) -> FaceAnchors:
    columns = np.array([[*a.mouth, *a.eyes, a.face_size, a.roll_deg] for a in passes]).mean(axis=0)
    return FaceAnchors(
        mouth=(columns[0], columns[1]), eyes=(columns[2], columns[3]), face_size=columns[4], roll_deg=columns[5]
    )
