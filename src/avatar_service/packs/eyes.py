"""Open, half and closed eyes by sliding each upper lid down over the eyeball, column by column.

The lid edge (with its lashes) moves toward the lower-lid curve and the skin above it stretches; the
eyeball below the lid is left untouched. Squashing the whole eye looked wrong in a prototype; this held
up even behind glasses (shared/notes/field-facts.md, "A pack from one photo").
"""

from dataclasses import dataclass

import numpy as np

from avatar_service.packs import imaging
from avatar_service.tracking import landmarks as lm

EYE_STATES = {"open": 0.0, "half": 0.5, "closed": 1.0}
# Skin above the lid that stretches as it closes, as a multiple of the eye's widest opening. 1.3 dragged
# Grace Hopper's glasses frame down with the lid; 0.7 stays on the lid and is still > 0.5, which keeps the
# smoothstep mapping monotonic for a full close.
STRETCH_HEIGHT = 0.7


@dataclass
class EyeSprites:
    box: tuple[int, int, int, int]  # left, top, width, height on the canvas
    frames: dict[str, np.ndarray]  # open / half / closed, each (height, width, 3) uint8
    mask: np.ndarray  # (height, width) uint8


def _lid_curves(points: np.ndarray, upper: tuple[int, ...], lower: tuple[int, ...]) -> tuple[np.ndarray, ...]:
    """x positions (sorted) with the upper and lower lid y at each."""
    up, low = points[list(upper)], points[list(lower)]
    xs = np.linspace(max(up[:, 0].min(), low[:, 0].min()), min(up[:, 0].max(), low[:, 0].max()), 64)
    upper_y = np.interp(xs, *up[np.argsort(up[:, 0])].T)
    lower_y = np.interp(xs, *low[np.argsort(low[:, 0])].T)
    return xs, upper_y, np.maximum(lower_y, upper_y)


def eyes_box(points: np.ndarray, canvas: tuple[int, int]) -> tuple[int, int, int, int]:
    rings = lm.LEFT_EYE_UPPER + lm.LEFT_EYE_LOWER + lm.RIGHT_EYE_UPPER + lm.RIGHT_EYE_LOWER
    eye = points[list(rings)]
    eye_width = np.hypot(*(points[133] - points[33]))
    opening = max(_lid_curves(points, u, l)[2].max() - _lid_curves(points, u, l)[1].min()
                  for u, l in ((lm.LEFT_EYE_UPPER, lm.LEFT_EYE_LOWER), (lm.RIGHT_EYE_UPPER, lm.RIGHT_EYE_LOWER)))
    left, right = eye[:, 0].min() - 0.4 * eye_width, eye[:, 0].max() + 0.4 * eye_width
    top = eye[:, 1].min() - (STRETCH_HEIGHT + 0.8) * opening
    bottom = eye[:, 1].max() + 0.8 * opening
    width = int(np.ceil((right - left) / 8) * 8)
    height = int(np.ceil((bottom - top) / 8) * 8)
    x0 = round((left + right) / 2 - width / 2)
    y0 = round((top + bottom) / 2 - height / 2)
    return min(max(x0, 0), canvas[0] - width), min(max(y0, 0), canvas[1] - height), width, height


def close_lids(image: np.ndarray, points: np.ndarray, closure: float, box: tuple[int, int, int, int]) -> tuple[np.ndarray, np.ndarray]:
    """The eye frame with both upper lids moved `closure` (0..1) of the way down, and where it moved."""
    left, top, width, height = box
    map_y = np.tile(np.arange(height, dtype=np.float32)[:, None] + top, (1, width))
    moved = np.zeros((height, width), np.float32)
    rows = np.arange(height, dtype=np.float64) + top
    for upper, lower in ((lm.LEFT_EYE_UPPER, lm.LEFT_EYE_LOWER), (lm.RIGHT_EYE_UPPER, lm.RIGHT_EYE_LOWER)):
        xs, upper_y, lower_y = _lid_curves(points, upper, lower)
        stretch = STRETCH_HEIGHT * float((lower_y - upper_y).max())
        for column in range(width):
            x = column + left + 0.5
            if not xs[0] <= x <= xs[-1]:
                continue
            lid, floor = np.interp(x, xs, upper_y), np.interp(x, xs, lower_y)
            drop = closure * (floor - lid)
            if drop <= 0:
                continue
            start = lid - stretch
            target = lid + drop
            # Rows from `start` to the new lid edge sample from `start` to the old edge: the lid skin
            # stretches smoothly and the lashes arrive at `target`. Below it the eyeball stays.
            span = (rows - start) / (target - start)
            inside = (span >= 0) & (span <= 1)
            map_y[inside, column] = (rows - drop * imaging.smoothstep(span))[inside]
            moved[inside, column] = 1
    map_x = np.tile(np.arange(width, dtype=np.float32)[None, :] + left, (height, 1))
    return imaging.remap(image, map_x, map_y), moved


def make_eye_sprites(base: np.ndarray, points: np.ndarray) -> EyeSprites:
    canvas = (base.shape[1], base.shape[0])
    box = eyes_box(points, canvas)
    left, top, width, height = box
    crop = base[top : top + height, left : left + width]
    frames, moved = {}, np.zeros((height, width), np.float32)
    for state, closure in EYE_STATES.items():
        if closure == 0:
            frames[state] = crop.copy()
            continue
        frames[state], region = close_lids(base, points, closure, box)
        moved = np.maximum(moved, region)
    soft = np.clip(imaging.blur(moved, 2.0) * 2.5, 0, 1)
    mask = (soft * 255).round().astype(np.uint8)
    for frame in frames.values():
        frame[mask == 0] = crop[mask == 0]
    return EyeSprites(box=box, frames=frames, mask=mask)
