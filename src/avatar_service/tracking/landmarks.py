"""Named Face Mesh landmark indices and the anchors derived from them (pure functions on arrays)."""

from dataclasses import dataclass

import numpy as np

# Index rings of MediaPipe's FACEMESH_LIPS / FACEMESH_*_EYE (face_mesh_connections.py; docs/sources.md
# "Faces"); each runs corner to corner.
OUTER_LIP_UPPER = (61, 185, 40, 39, 37, 0, 267, 269, 270, 409, 291)
OUTER_LIP_LOWER = (61, 146, 91, 181, 84, 17, 314, 405, 321, 375, 291)
INNER_LIP_UPPER = (78, 191, 80, 81, 82, 13, 312, 311, 310, 415, 308)
INNER_LIP_LOWER = (78, 95, 88, 178, 87, 14, 317, 402, 318, 324, 308)
# Eyes as seen in the image: the subject's right eye is on the image's left.
LEFT_EYE_UPPER = (33, 246, 161, 160, 159, 158, 157, 173, 133)
LEFT_EYE_LOWER = (33, 7, 163, 144, 145, 153, 154, 155, 133)
RIGHT_EYE_UPPER = (263, 466, 388, 387, 386, 385, 384, 398, 362)
RIGHT_EYE_LOWER = (263, 249, 390, 373, 374, 380, 381, 382, 362)
LEFT_EYE_CORNERS = (33, 133)
RIGHT_EYE_CORNERS = (263, 362)
# Face oval from the left temple round the chin to the right temple.
JAW = (127, 234, 93, 132, 58, 172, 136, 150, 149, 176, 148, 152, 377, 400, 378, 379, 365, 397, 288, 361, 323, 454, 356)
CHIN = 152
NOSE_TIP = 1
FACE_LEFT, FACE_RIGHT = 234, 454

FACE_POINT_COUNT = 468  # mesh points; 468..477 are the iris points added by refine_landmarks

MOUTH_RING = tuple(dict.fromkeys(OUTER_LIP_UPPER + OUTER_LIP_LOWER))


@dataclass(frozen=True)
class FaceAnchors:
    """Where the overlays sit on one frame: mouth and eye centres (px), a size and the head roll."""

    mouth: tuple[float, float]
    eyes: tuple[float, float]
    face_size: float
    roll_deg: float


def face_anchors(points: np.ndarray) -> FaceAnchors:
    """Anchors from one face's (478, 2) landmarks.

    The mouth centre averages the whole outer lip ring and the eye centres average the eye corners: many
    points cancel most per-point jitter, and corners do not move when the eyelids do. `face_size` is the
    distance between the two eye centres, which scales with the face but not with expression.
    """
    mouth = points[list(MOUTH_RING)].mean(axis=0)
    left = points[list(LEFT_EYE_CORNERS)].mean(axis=0)
    right = points[list(RIGHT_EYE_CORNERS)].mean(axis=0)
    eyes = (left + right) / 2
    across = right - left
    return FaceAnchors(
        mouth=(float(mouth[0]), float(mouth[1])),
        eyes=(float(eyes[0]), float(eyes[1])),
        face_size=float(np.hypot(*across)),
        roll_deg=float(np.degrees(np.arctan2(across[1], across[0]))),
    )


def face_width(points: np.ndarray) -> float:
    """Cheek-to-cheek width in pixels, the measure the small-face limit is stated in."""
    return float(np.hypot(*(points[FACE_RIGHT] - points[FACE_LEFT])))
