"""Open, half and closed eyes by sliding each upper lid down over the eyeball.

The lash line moves down toward the lower-lid curve and the lid skin above it stretches to follow; the
eyeball below the lid is left untouched, and so is everything above the lid skin (glasses, brows).
Where the skin is stretched it is smoothed along the lid and evened toward its colour, so the closed lid
shows no column streaks. Squashing the whole eye looked wrong in a prototype; this held
up even behind glasses (docs/packs.md, "Why these choices").
"""

from dataclasses import dataclass

import numpy as np

from avatar_service.packs import imaging
from avatar_service.tracking import landmarks as lm

EYE_STATES = {"open": 0.0, "half": 0.5, "closed": 1.0}
# Lid skin above the lash line that stretches down over the eye, as a fraction of the eye's widest
# opening; nothing above it moves. It must reach past thick dark lashes (the astronaut needs ~0.8, less
# left a dark ring around the closed lid), but 0.7 already touched Grace Hopper's glasses frame and lens
# glare, which then moved with the lid. So per column the skin stops below the first thing above the
# lid skin that is much darker or brighter than it (frame, glare, brow), at least MIN_STRETCH up.
STRETCH_HEIGHT = 0.8
MIN_STRETCH = 0.35
OBSTACLE_CONTRAST = 0.25  # luminance difference from the lid skin (its fraction) that marks an obstacle
OBSTACLE_MARGIN_PX = 1.5
# The lash line (this fraction of the opening above the lid edge) slides down rigidly, unstretched.
LASH_BAND = 0.15
# Steepest allowed displacement change per row: below 1 the warp never folds over itself.
MAX_WARP_SLOPE = 0.8
# Lid skin stretched ~3x turns every pixel column into a vertical streak. Where it is magnified, the lid
# is drawn from a copy blurred along the lid (sigma x, y in px), fully from it at LID_BLUR_FULL times.
LID_BLUR_PX = (1.8, 0.7)
LID_BLUR_FULL = 2.0
# A closing lid unfolds its crease: the stretched skin is evened toward the lid skin's colour (this share
# where fully magnified), else the crease's shadow spreads over the whole closed lid.
LID_EVEN = 0.45
LID_COLOUR_PX = 4.0
# Where that colour comes from: the open lid up to this fraction of the opening above the lid edge,
# the pixels between these luminance percentiles.
REFERENCE_HEIGHT = 0.9
LID_SKIN_PERCENTILES = (50, 85)
LASH_SOFT_PX = 1.2  # the new lid edge fades into the eyeball over about this many pixels
# The lashes meeting the lower lid: a soft dark line this much darker at full closure, ~1.5 px wide.
LASH_SHADE = 0.3
LASH_LINE_PX = 1.5
GRAIN_SEED = 7  # fixed, so a pack is reproducible
EPSILON = 1e-6


@dataclass
class EyeSprites:
    box: tuple[int, int, int, int]  # left, top, width, height on the canvas
    frames: dict[str, np.ndarray]  # open / half / closed, each (height, width, 3) uint8
    mask: np.ndarray  # (height, width) uint8


@dataclass
class LidWarp:
    """Per pixel of the eye frame: where to sample (rows), how much the lid covers, how magnified."""

    map_y: np.ndarray
    cover: np.ndarray
    magnification: np.ndarray
    lash_line: np.ndarray  # 1 on the new lid edge, fading over LASH_LINE_PX
    skin: np.ndarray  # eye number (1, 2) on the stretched lid skin, 0 elsewhere
    reference: np.ndarray  # eye number on the open eye's lid skin (lashes up to the crease), 0 elsewhere


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
    curves = [
        _lid_curves(points, upper, lower)
        for upper, lower in ((lm.LEFT_EYE_UPPER, lm.LEFT_EYE_LOWER), (lm.RIGHT_EYE_UPPER, lm.RIGHT_EYE_LOWER))
    ]
    opening = max(curve[2].max() - curve[1].min() for curve in curves)
    left, right = eye[:, 0].min() - 0.4 * eye_width, eye[:, 0].max() + 0.4 * eye_width
    top = eye[:, 1].min() - (STRETCH_HEIGHT + 0.8) * opening
    bottom = eye[:, 1].max() + 0.8 * opening
    width = int(np.ceil((right - left) / 8) * 8)
    height = int(np.ceil((bottom - top) / 8) * 8)
    x0 = round((left + right) / 2 - width / 2)
    y0 = round((top + bottom) / 2 - height / 2)
    return min(max(x0, 0), canvas[0] - width), min(max(y0, 0), canvas[1] - height), width, height


def _stretch_tops(
    luminance: np.ndarray, rows: np.ndarray, lid: np.ndarray, opening: float, skin: float
) -> np.ndarray:
    """Per column, the highest row the lid skin may be taken from (see STRETCH_HEIGHT)."""
    lowest, highest = lid - MIN_STRETCH * opening, lid - STRETCH_HEIGHT * opening
    band = (rows >= highest) & (rows < lid - LASH_BAND * opening)
    is_skin = band & (np.abs(luminance - skin) < OBSTACLE_CONTRAST * skin / 2)
    # Obstacles count only above skin: the dark lashes right over the lid are what the lid is made of.
    skin_below = np.flip(np.maximum.accumulate(np.flip(is_skin, axis=0), axis=0), axis=0)
    skin_below = np.vstack([skin_below[1:], np.zeros_like(skin_below[:1])])
    obstacle = band & skin_below & (np.abs(luminance - skin) > OBSTACLE_CONTRAST * skin)
    lowest_obstacle = np.where(obstacle, rows, -np.inf).max(axis=0) + OBSTACLE_MARGIN_PX
    tops = np.clip(np.maximum(highest, lowest_obstacle), None, lowest)
    # A smooth top edge: take the lowest nearby top, then round it off.
    window = np.lib.stride_tricks.sliding_window_view(np.pad(tops, 3, mode="edge"), 7).max(axis=1)
    return imaging.blur(window[None, :].astype(np.float32), 2.0, 0.1)[0]


def lid_warp(
    luminance: np.ndarray, points: np.ndarray, closure: float, box: tuple[int, int, int, int]
) -> LidWarp:
    """Both upper lids moved `closure` (0..1) of the way to the lower lids. Per column the displacement
    rises from 0 at the top of the stretched skin to the full drop at the lash band, which moves rigidly;
    the rise is a smoothstep where that keeps the warp from folding, else closer to linear."""
    left, top, width, height = box
    rows = np.arange(height, dtype=np.float64)[:, None] + top
    x = np.arange(width) + left + 0.5
    displacement = np.zeros((height, width))
    slope = np.zeros((height, width))
    cover = np.zeros((height, width))
    lash_line = np.zeros((height, width))
    skin = np.zeros((height, width))
    reference = np.zeros((height, width))
    eyes = ((lm.LEFT_EYE_UPPER, lm.LEFT_EYE_LOWER), (lm.RIGHT_EYE_UPPER, lm.RIGHT_EYE_LOWER))
    for number, (upper, lower) in enumerate(eyes, start=1):
        xs, upper_y, lower_y = _lid_curves(points, upper, lower)
        opening = float((lower_y - upper_y).max())
        lid = np.interp(x, xs, upper_y)
        drop = np.where((x >= xs[0]) & (x <= xs[-1]), closure * (np.interp(x, xs, lower_y) - lid), 0.0)
        skin_luminance = _reference_luminance(luminance, rows, lid, opening, drop > 0)
        start = _stretch_tops(luminance, rows, lid, opening, skin_luminance)
        edge = lid + drop
        run = edge - LASH_BAND * opening - start  # rows over which the displacement rises
        u = np.clip((rows - start) / run, 0, 1)
        # Blend of linear (slope drop/run) and smoothstep (peak slope 1.5 drop/run), as smooth as allowed.
        smooth = np.clip(2 * (MAX_WARP_SLOPE * run / np.maximum(drop, EPSILON) - 1), 0, 1)
        eye_displacement = drop * ((1 - smooth) * u + smooth * imaging.smoothstep(u))
        rising = (rows >= start) & (rows <= start + run)
        eye_slope = np.where(rising, drop * ((1 - smooth) + smooth * 6 * u * (1 - u)) / run, 0.0)
        eye_cover = imaging.smoothstep((edge - rows) / LASH_SOFT_PX + 0.5) * (rows >= start) * (drop > 0)
        displacement += eye_displacement * (drop > 0)
        slope += eye_slope * (drop > 0)
        cover = np.maximum(cover, eye_cover)
        lash_line += np.exp(-(((rows - edge + 0.5) / LASH_LINE_PX) ** 2)) * (drop > 0)
        skin += number * (rising & (drop > 0))
        above_lashes = (rows >= lid - REFERENCE_HEIGHT * opening) & (rows < lid - LASH_BAND * opening)
        reference += number * (above_lashes & (drop > 0))
    return LidWarp(
        map_y=(rows - displacement).astype(np.float32),
        cover=cover.astype(np.float32),
        magnification=1 / np.maximum(1 - slope, 1 - MAX_WARP_SLOPE),
        lash_line=lash_line,
        skin=skin,
        reference=reference,
    )


def close_lids(
    image: np.ndarray, points: np.ndarray, closure: float, box: tuple[int, int, int, int]
) -> tuple[np.ndarray, np.ndarray]:
    """The eye frame with both upper lids moved `closure` (0..1) of the way down, and where it changed."""
    left, top, width, height = box
    original = image[top : top + height, left : left + width].astype(np.float32)
    warp = lid_warp(original.mean(axis=-1), points, closure, box)
    map_x = np.tile(np.arange(width, dtype=np.float32)[None, :] + left, (height, 1))
    lid = imaging.remap(image, map_x, warp.map_y).astype(np.float32)
    along_lid = imaging.blur(image.astype(np.float32), *LID_BLUR_PX)
    smooth_lid = imaging.remap(along_lid, map_x, warp.map_y)
    streaky = np.clip((warp.magnification - 1) / (LID_BLUR_FULL - 1), 0, 1)[..., None]
    lid = lid * (1 - streaky) + smooth_lid * streaky
    skin = (warp.skin > 0).astype(np.float32)
    even = imaging.blur(LID_EVEN * streaky[..., 0] * skin, 1.5)[..., None]
    lid = lid * (1 - even) + _lid_colour(original, warp) * even
    lid *= 1 - LASH_SHADE * closure * warp.lash_line[..., None]
    lid += _grain(original, warp.reference > 0) * (streaky * skin[..., None])
    cover = warp.cover[..., None]
    frame = original * (1 - cover) + lid * cover
    return np.clip(frame, 0, 255).round().astype(np.uint8), (warp.cover > 0).astype(np.float32)


def _skin_pixels(pixels: np.ndarray) -> np.ndarray:
    """The lid skin among the pixels above an open eye: the lighter ones (not lashes, crease or glasses
    frame) without the brightest (lens glare)."""
    luminance = pixels.mean(axis=-1) if pixels.ndim > 1 else pixels
    low, high = np.percentile(luminance, LID_SKIN_PERCENTILES)
    return pixels[(luminance >= low) & (luminance <= high)]


def _reference_luminance(
    luminance: np.ndarray, rows: np.ndarray, lid: np.ndarray, opening: float, columns: np.ndarray
) -> float:
    above_lashes = (rows >= lid - REFERENCE_HEIGHT * opening) & (rows < lid - LASH_BAND * opening) & columns
    return float(_skin_pixels(luminance[above_lashes]).mean())


def _lid_colour(original: np.ndarray, warp: LidWarp) -> np.ndarray:
    """Each closed lid's colour, from its open eye's lid skin, spread over the stretched skin with soft
    edges."""
    colour = np.zeros_like(original)
    for number in np.unique(warp.skin[warp.skin > 0]):
        colour[warp.skin == number] = _skin_pixels(original[warp.reference == number]).mean(axis=0)
    skin = (warp.skin > 0).astype(np.float32)
    return imaging.blur(colour, LID_COLOUR_PX) / np.maximum(imaging.blur(skin, LID_COLOUR_PX), EPSILON)[..., None]


def _grain(original: np.ndarray, skin: np.ndarray) -> np.ndarray:
    """Noise as strong as the photo's fine texture on the skin around the eyes, to put back what the
    smoothing along the lid took out (a clean lid looked airbrushed next to the grainy skin)."""
    detail = original - imaging.blur(original, 1.0)
    strength = float(detail[skin].std()) if skin.any() else 0.0
    return np.random.default_rng(GRAIN_SEED).normal(0, strength, original.shape).astype(np.float32)


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
