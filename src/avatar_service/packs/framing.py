"""Choosing the 512x640 portrait crop around one detected face."""

import numpy as np
from PIL import Image

from avatar_service.tracking.errors import UnusableFace
from avatar_service.tracking.landmarks import (
    LEFT_EYE_CORNERS,
    RIGHT_EYE_CORNERS,
    face_width,
)

CANVAS = (512, 640)
# The face (cheek to cheek) fills half the canvas width, eyes 41 % down: a head-and-shoulders portrait
# with room for the idle loop's sway and a mouth frame that reaches below the chin.
FACE_WIDTH_FRACTION = 0.5
EYE_LINE_FRACTION = 0.41
# The short-range face detector misses faces under ~10-15 % of the frame width, and landmarks on a face
# that small are too coarse for mouth warps (docs/sources.md, "Faces"; tests/packs/test_create.py).
MIN_FACE_FRACTION = 0.15
MAX_UPSCALE = 4.0


def check_face_size(points: np.ndarray, image_width: int, source: str) -> None:
    fraction = face_width(points) / image_width
    if fraction < MIN_FACE_FRACTION:
        raise UnusableFace(
            f"face in {source} is too small ({fraction:.0%} of the image width, need at least "
            f"{MIN_FACE_FRACTION:.0%}): crop the photo around the face first"
        )


def crop_box(points: np.ndarray, image_size: tuple[int, int]) -> tuple[float, float, float, float]:
    """(left, top, right, bottom) in photo pixels of the canvas-shaped window around the face.

    The window keeps the face at the standard size and place when the photo allows it; near an edge it
    slides inward, and if the photo is too small it zooms in rather than padding with invented pixels."""
    photo_w, photo_h = image_size
    canvas_w, canvas_h = CANVAS
    eyes = (points[list(LEFT_EYE_CORNERS)].mean(axis=0) + points[list(RIGHT_EYE_CORNERS)].mean(axis=0)) / 2
    scale = FACE_WIDTH_FRACTION * canvas_w / face_width(points)
    scale = max(scale, canvas_w / photo_w, canvas_h / photo_h)
    if scale > MAX_UPSCALE:
        raise UnusableFace(
            f"face too small to fill the {canvas_w}x{canvas_h} canvas without blurring "
            f"(would need {scale:.1f}x enlargement, at most {MAX_UPSCALE:.0f}x); use a larger photo"
        )
    window_w, window_h = canvas_w / scale, canvas_h / scale
    left = float(np.clip(eyes[0] - window_w / 2, 0, photo_w - window_w))
    top = float(np.clip(eyes[1] - EYE_LINE_FRACTION * window_h, 0, photo_h - window_h))
    return left, top, left + window_w, top + window_h


def crop_face(photo: np.ndarray, points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The canvas-sized portrait and the landmarks moved into its pixel coordinates."""
    left, top, right, bottom = crop_box(points, (photo.shape[1], photo.shape[0]))
    portrait = Image.fromarray(photo).resize(CANVAS, Image.Resampling.LANCZOS, box=(left, top, right, bottom))
    scale = CANVAS[0] / (right - left)
    return np.asarray(portrait), (points - (left, top)) * scale
