"""Seven mouth frames from the person's own mouth: landmark-driven piecewise-affine warps plus a painted
mouth interior (dark cavity, teeth tinted from the skin, tongue), following what a prototype showed to
look natural (shared/notes/field-facts.md, "A pack from one photo").

Geometry works in a mouth frame of reference: origin between the lip corners, x along the corner line,
y perpendicular and down, one unit = the mouth width. So every shape constant below is a fraction of the
mouth width and the head's roll in the photo does not matter.
"""

from dataclasses import dataclass

import numpy as np

from avatar_service.packs import imaging
from avatar_service.schemas import VISEMES
from avatar_service.tracking import landmarks as lm


@dataclass(frozen=True)
class MouthShape:
    jaw: float = 0.0  # lower lip and chin drop
    lift: float = 0.0  # upper lip raised at the centre, showing the upper teeth
    spread: float = 0.0  # relative change of mouth width (+ wider, - narrower)
    pucker: float = 0.0  # lips pushed forward: fuller and rounder (0..1)
    tuck: float = 0.0  # lower lip pulled up under the upper teeth (0..1)
    roundness: float = 1.0  # >1 narrows the opening toward an O
    teeth: float = 0.0  # visible upper-teeth height
    lower_teeth: float = 0.0
    tongue: str = ""  # "floor" (low in an open mouth) or "tip" (between the teeth)


SHAPES: dict[str, MouthShape] = {
    "REST": MouthShape(),
    "AA": MouthShape(jaw=0.30, lift=0.03, teeth=0.075, tongue="floor", roundness=0.8),
    "EE": MouthShape(jaw=0.075, lift=0.035, spread=0.12, teeth=0.065, lower_teeth=0.03),
    "OH": MouthShape(jaw=0.22, lift=0.02, spread=-0.12, pucker=0.5, teeth=0.05, tongue="floor", roundness=1.5),
    "OO": MouthShape(jaw=0.07, spread=-0.22, pucker=1.0, roundness=2.2, teeth=0.02),
    "FF": MouthShape(lift=0.05, tuck=1.0, teeth=0.06),
    "TH": MouthShape(jaw=0.10, lift=0.02, teeth=0.045, lower_teeth=0.02, tongue="tip"),
}
assert tuple(SHAPES) == VISEMES

CORNERS = (61, 291, 78, 308)
# Lower jaw moves as a block below the mouth; beyond ~1 mouth width sideways the face stays put.
JAW_SIDE_START, JAW_SIDE_WIDTH = 0.45, 0.5
SKIN_FOLLOW_SIGMA = 0.12  # how far lip moves drag the skin around them
MIN_LIP_GAP_PX = 0.5  # closed lips stay a hair apart so the warp's triangles never collapse
RING_MARGIN = (0.12, 0.10)  # fixed ring inset as a fraction of the frame width, height


@dataclass
class MouthSprites:
    box: tuple[int, int, int, int]  # left, top, width, height on the canvas
    frames: list[np.ndarray]  # in VISEMES order, each (height, width, 3) uint8
    mask: np.ndarray  # (height, width) uint8


class MouthGeometry:
    """Mouth-local coordinates for one face."""

    def __init__(self, points: np.ndarray) -> None:
        left, right = points[61], points[291]
        self.width = float(np.hypot(*(right - left)))
        self.u = (right - left) / self.width
        self.v = np.array([-self.u[1], self.u[0]])
        self.origin = (left + right) / 2

    def to_local(self, xy: np.ndarray) -> np.ndarray:
        d = xy - self.origin
        return np.stack([d @ self.u, d @ self.v], axis=-1) / self.width

    def to_image(self, local: np.ndarray) -> np.ndarray:
        return self.origin + self.width * (local[..., :1] * self.u + local[..., 1:] * self.v)


def mouth_box(points: np.ndarray, canvas: tuple[int, int]) -> tuple[int, int, int, int]:
    """A frame from under the nose to well below the chin, so the jaw can drop inside it."""
    geometry = MouthGeometry(points)
    width = geometry.width
    frame_w = int(np.ceil(2.2 * width / 8) * 8)
    top = points[list(lm.OUTER_LIP_UPPER), 1].min() - 0.55 * width
    bottom = points[lm.CHIN, 1] + 0.55 * width
    frame_h = int(np.ceil((bottom - top) / 8) * 8)
    left = round(geometry.origin[0] - frame_w / 2)
    top_px = round(top)
    left = min(max(left, 0), canvas[0] - frame_w)
    top_px = min(max(top_px, 0), canvas[1] - frame_h)
    return left, top_px, frame_w, frame_h


def _closing_shift(local: dict[int, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """x positions and gap (inner lower - inner upper) of the photo's lips, to close an open mouth."""
    xs = np.array([local[i][0] for i in lm.INNER_LIP_UPPER])
    gaps = np.array([local[j][1] - local[i][1] for i, j in zip(lm.INNER_LIP_UPPER, lm.INNER_LIP_LOWER, strict=True)])
    order = np.argsort(xs)
    return xs[order], np.clip(gaps[order], 0, None)


def lip_targets(points: np.ndarray, shape: MouthShape) -> dict[int, np.ndarray]:
    """Mouth-local target position of every lip landmark for one shape, starting from the lips closed."""
    geometry = MouthGeometry(points)
    local = {i: geometry.to_local(points[i]) for i in set(lm.MOUTH_RING + lm.INNER_LIP_UPPER + lm.INNER_LIP_LOWER)}
    gap_x, gap = _closing_shift(local)
    upper = set(lm.OUTER_LIP_UPPER + lm.INNER_LIP_UPPER) - set(CORNERS)
    thick_upper = {o: local[i][1] - local[o][1] for o, i in zip(lm.OUTER_LIP_UPPER, lm.INNER_LIP_UPPER, strict=True)}
    thick_lower = {o: local[o][1] - local[i][1] for o, i in zip(lm.OUTER_LIP_LOWER, lm.INNER_LIP_LOWER, strict=True)}
    targets = {}
    inner_half = max(abs(local[78][0]), abs(local[308][0]), 1e-3)
    for index, (x, y) in local.items():
        # Position across the mouth, -1..1 between the corners of the ring the point belongs to.
        inner = index in lm.INNER_LIP_UPPER or index in lm.INNER_LIP_LOWER
        t = float(np.clip(x / (inner_half if inner else 0.5), -1, 1))
        opening = (1 - t * t) ** (0.5 * shape.roundness)
        half_gap = float(np.interp(x, gap_x, gap)) / 2
        corner_drop = 0.25 * shape.jaw
        if index in CORNERS:
            dy = corner_drop
        elif index in upper:
            dy = half_gap + corner_drop * (1 - opening)
            if index in lm.INNER_LIP_UPPER:
                dy -= shape.lift * opening
            else:
                dy -= 0.7 * shape.lift * opening + 0.4 * shape.pucker * thick_upper[index] * opening
        else:
            dy = -half_gap + shape.jaw * (0.25 + 0.75 * opening)
            if index in lm.OUTER_LIP_LOWER:
                dy += 0.4 * shape.pucker * thick_lower[index] * opening
                dy -= 0.35 * shape.tuck * thick_lower[index] * opening
        targets[index] = np.array([x * (1 + shape.spread), y + dy])
    # Keep inner lips from crossing: the lower edge never rises above the upper edge.
    min_gap = MIN_LIP_GAP_PX / geometry.width
    for upper_index, lower_index in zip(lm.INNER_LIP_UPPER[1:-1], lm.INNER_LIP_LOWER[1:-1], strict=True):
        targets[lower_index][1] = max(targets[lower_index][1], targets[upper_index][1] + min_gap)
    return targets


def _jaw_weight(local: np.ndarray) -> np.ndarray:
    """How much a point moves with the lower jaw (1 on the chin, 0 above the mouth and far to the side)."""
    below = imaging.smoothstep(local[..., 1] / 0.25)
    side = 1 - imaging.smoothstep((np.abs(local[..., 0]) - JAW_SIDE_START) / JAW_SIDE_WIDTH)
    return below * side


def _ring_taper(xy: np.ndarray, box: tuple[int, int, int, int], fade_px: float) -> np.ndarray:
    """1 well inside the fixed ring, falling to 0 at it: nothing moves outside the ring."""
    left, top, width, height = box
    mx, my = RING_MARGIN[0] * width, RING_MARGIN[1] * height
    inside = np.minimum.reduce([
        xy[:, 0] - (left + mx), (left + width - mx) - xy[:, 0], xy[:, 1] - (top + my), (top + height - my) - xy[:, 1]
    ])
    return imaging.smoothstep(inside / fade_px)


def _fixed_points(box: tuple[int, int, int, int], step: float = 16) -> np.ndarray:
    left, top, width, height = box
    points = []
    for inset_x, inset_y in ((0.0, 0.0), (RING_MARGIN[0] * width, RING_MARGIN[1] * height)):
        x0, x1, y0, y1 = left + inset_x, left + width - 1 - inset_x, top + inset_y, top + height - 1 - inset_y
        nx, ny = max(int((x1 - x0) / step), 1), max(int((y1 - y0) / step), 1)
        points += [(x, y) for x in np.linspace(x0, x1, nx + 1) for y in (y0, y1)]
        points += [(x, y) for y in np.linspace(y0, y1, ny + 1)[1:-1] for x in (x0, x1)]
    return np.array(points, dtype=np.float64)


def warp_targets(points: np.ndarray, shape: MouthShape, box: tuple[int, int, int, int]) -> tuple[np.ndarray, np.ndarray]:
    """(source, destination) canvas points of the warp: every landmark inside the ring, moved by the lip
    targets, the jaw and the skin that follows the lips; plus the fixed ring points."""
    geometry = MouthGeometry(points)
    lips = lip_targets(points, shape)
    lip_ids = np.array(sorted(lips))
    lip_src_local = geometry.to_local(points[lip_ids])
    lip_dst_local = np.array([lips[i] for i in lip_ids])
    jaw_move = shape.jaw - float(np.interp(0.0, *_closing_shift({i: geometry.to_local(points[i]) for i in lips}))) / 2
    lip_residual = lip_dst_local - lip_src_local - _jaw_weight(lip_src_local)[:, None] * (0, jaw_move)

    others = np.array([i for i in range(lm.FACE_POINT_COUNT) if i not in lips])
    other_local = geometry.to_local(points[others])
    distance2 = ((other_local[:, None, :] - lip_src_local[None, :, :]) ** 2).sum(axis=-1)
    follow = np.exp(-distance2 / (2 * SKIN_FOLLOW_SIGMA**2))
    dragged = follow @ lip_residual / np.maximum(follow.sum(axis=1, keepdims=True), 1.0)
    other_dst_local = other_local + _jaw_weight(other_local)[:, None] * (0, jaw_move) + dragged

    src = np.concatenate([points[lip_ids], points[others]])
    dst = np.concatenate([geometry.to_image(lip_dst_local), geometry.to_image(other_dst_local)])
    taper = _ring_taper(src, box, fade_px=0.15 * geometry.width)
    keep = taper > 0
    # Lip points always stay: the ring is far from them by construction of the box.
    dst = src + (dst - src) * taper[:, None]
    fixed = _fixed_points(box)
    gap_src, gap_dst = _gap_points(points, geometry, lips)
    return np.concatenate([src[keep], gap_src, fixed]), np.concatenate([dst[keep], gap_dst, fixed])


def _gap_points(
    points: np.ndarray, geometry: MouthGeometry, lips: dict[int, np.ndarray]
) -> tuple[np.ndarray, np.ndarray]:
    """Points inside the opened mouth, all sampling the photo's lip line. They make the triangulation
    follow the inner lip edges (instead of triangles spanning the opening and smearing the lips); what
    they sample is painted over by the interior anyway."""
    src, dst = [], []
    for upper, lower in zip(lm.INNER_LIP_UPPER[1:-1], lm.INNER_LIP_LOWER[1:-1], strict=True):
        top, bottom = lips[upper], lips[lower]
        if (bottom[1] - top[1]) * geometry.width < 3:
            continue
        for fraction in (0.25, 0.5, 0.75):
            dst.append(geometry.to_image(top + fraction * (bottom - top)))
            src.append((points[upper] + points[lower]) / 2)
    return np.array(src).reshape(-1, 2), np.array(dst).reshape(-1, 2)


@dataclass(frozen=True)
class MouthColours:
    cavity: np.ndarray
    teeth: np.ndarray
    tongue: np.ndarray
    grain: float  # standard deviation of the photo's fine texture, 0..1


def sample_colours(portrait: np.ndarray, points: np.ndarray) -> MouthColours:
    """Colours for the painted interior, taken from this face so the insides match the skin and lips."""
    height, width = portrait.shape[:2]
    outer = np.array([points[i] for i in lm.OUTER_LIP_UPPER + lm.OUTER_LIP_LOWER[::-1]])
    inner = np.array([points[i] for i in lm.INNER_LIP_UPPER + lm.INNER_LIP_LOWER[::-1]])
    lips = (imaging.polygon_mask(outer, width, height) > 0.5) & (imaging.polygon_mask(inner, width, height) < 0.5)
    lip = imaging.median_colour(portrait, lips)
    skin_mask = np.zeros((height, width), bool)
    for index in (205, 425, 199):  # both cheeks and the chin
        x, y = points[index].astype(int)
        skin_mask[max(y - 4, 0) : y + 5, max(x - 4, 0) : x + 5] = True
    skin = imaging.median_colour(portrait, skin_mask)
    _, lip_s, lip_v = _hsv(lip)
    _, _, skin_v = _hsv(skin)
    grey = portrait[skin_mask].mean(axis=1) / 255
    return MouthColours(
        cavity=imaging.hsv_shift(lip, min(0.8, lip_s * 1.1 + 0.15), 0.17),
        # Teeth keep a trace of the skin's hue: neutral grey or pure white looked pasted on.
        # Warmer than a plain tint: next to skin, low-saturation teeth read as blue-grey.
        teeth=imaging.hsv_shift(skin, 0.3, float(np.clip(skin_v * 0.95, 0.5, 0.8))),
        tongue=imaging.hsv_shift(lip, min(0.75, lip_s * 1.05), lip_v * 0.8),
        grain=float(np.clip(0.5 * np.std(grey - grey.mean()), 0.003, 0.012)),
    )


def _hsv(rgb: np.ndarray) -> tuple[float, float, float]:
    import colorsys

    return colorsys.rgb_to_hsv(*rgb)


def paint_interior(
    frame: np.ndarray, points: np.ndarray, targets: dict[int, np.ndarray], shape: MouthShape,
    colours: MouthColours, box: tuple[int, int, int, int], seed: int,
) -> np.ndarray:
    """Paint the open mouth (cavity, teeth, tongue) between the warped inner lip edges."""
    left, top, width, height = box
    geometry = MouthGeometry(points)
    upper_ring = np.array([targets[i] for i in lm.INNER_LIP_UPPER])
    lower_ring = np.array([targets[i] for i in lm.INNER_LIP_LOWER])
    polygon = geometry.to_image(np.concatenate([upper_ring, lower_ring[::-1]])) - (left, top)
    cover = imaging.polygon_mask(polygon, width, height)
    if shape.tongue == "tip":
        cover = np.maximum(cover, _tongue_tip(geometry, upper_ring, lower_ring, shape, box))
    if cover.max() == 0:
        return frame
    grid = np.stack(np.meshgrid(np.arange(width) + left + 0.5, np.arange(height) + top + 0.5), axis=-1)
    local = geometry.to_local(grid)
    x, y = local[..., 0], local[..., 1]
    px = 1 / geometry.width  # one canvas pixel in mouth units
    upper = np.interp(x, upper_ring[:, 0], upper_ring[:, 1])
    lower = np.interp(x, lower_ring[:, 0], lower_ring[:, 1])
    opening = np.clip(lower - upper, 0, None)

    # Cavity: darkest in the middle, a touch lighter near the lips that light bounces off.
    depth = np.clip(np.minimum(y - upper, lower - y) / np.maximum(opening / 2, px), 0, 1)
    paint = colours.cavity * (1.3 - 0.4 * depth)[..., None]
    if shape.tongue == "floor":
        # A low mound, highest in the middle, fading into the dark at the sides.
        tongue_top = lower - 0.35 * opening * _arch(x, 0.3)
        tongue = imaging.smoothstep((y - tongue_top) / np.maximum(0.2 * opening, px)) * _arch(x, 0.3)
        shade = 0.75 + 0.25 * imaging.smoothstep((y - tongue_top) / np.maximum(0.3 * opening, px))
        paint = _over(paint, colours.tongue * shade[..., None], tongue)
    if shape.lower_teeth:
        band = np.minimum(shape.lower_teeth, 0.4 * opening) * _arch(x, 0.32)
        lower_teeth = imaging.smoothstep((y - (lower - band)) / px) * (band > px)
        paint = _over(paint, colours.teeth * (0.8 * _side_shade(x))[..., None], lower_teeth)
    if shape.tongue == "tip":
        tip = _tongue_tip(geometry, upper_ring, lower_ring, shape, box)
        shade = 0.85 + 0.15 * imaging.smoothstep((y - upper) / np.maximum(opening, px))
        paint = _over(paint, colours.tongue * 1.1 * shade[..., None], tip)
    if shape.teeth:
        band = np.minimum(shape.teeth, 0.6 * np.maximum(opening, shape.teeth * shape.tuck)) * _arch(x, 0.36)
        teeth = imaging.smoothstep((upper + band - y) / px) * imaging.smoothstep((y - upper) / px + 1) * (band > px)
        under_lip = 0.55 + 0.45 * imaging.smoothstep((y - upper) / (4 * px))
        gaps = 1 - 0.22 * sum(np.exp(-(((x - g) / (0.7 * px)) ** 2)) for g in (0.0, -0.17, 0.17, -0.3, 0.3))
        tooth = colours.teeth * (_side_shade(x) * under_lip * gaps)[..., None]
        paint = _over(paint, tooth, teeth)
    paint = imaging.blur(paint.astype(np.float32), 0.8)
    cover = imaging.blur(cover.astype(np.float32), 0.6)
    paint *= 1 + np.random.default_rng(seed).normal(0, colours.grain / 0.5, paint.shape[:2])[..., None]
    paint = np.clip(paint, 0, 1) * 255
    return (frame * (1 - cover[..., None]) + paint * cover[..., None]).round().astype(np.uint8)


def _over(below: np.ndarray, above: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    return below * (1 - alpha[..., None]) + above * alpha[..., None]


def _arch(x: np.ndarray, half_span: float) -> np.ndarray:
    """1 in the middle, rounding off to 0 at +-half_span: how much of a tooth row shows across the mouth."""
    return np.sqrt(np.clip(1 - (x / half_span) ** 2, 0, 1))


def _side_shade(x: np.ndarray) -> np.ndarray:
    """Teeth further back in the arch catch less light."""
    return 1 - 0.45 * np.clip(np.abs(x) / 0.36, 0, 1) ** 2


def _tongue_tip(
    geometry: MouthGeometry, upper_ring: np.ndarray, lower_ring: np.ndarray, shape: MouthShape,
    box: tuple[int, int, int, int],
) -> np.ndarray:
    """Coverage of a tongue tip resting between the teeth, overlapping the lower lip's edge a little."""
    left, top, width, height = box
    upper = float(np.interp(0.0, upper_ring[:, 0], upper_ring[:, 1]))
    lower = float(np.interp(0.0, lower_ring[:, 0], lower_ring[:, 1]))
    centre = np.array([0.0, (upper + shape.teeth * 0.6 + lower + 0.02) / 2])
    radii = np.array([0.17, max((lower + 0.02 - upper - shape.teeth * 0.6) / 2, 0.01)])
    angles = np.linspace(0, 2 * np.pi, 48, endpoint=False)
    outline = centre + radii * np.stack([np.cos(angles), np.sin(angles)], axis=-1)
    return imaging.polygon_mask(geometry.to_image(outline) - (left, top), width, height)


def make_mouth_sprites(portrait: np.ndarray, points: np.ndarray) -> MouthSprites:
    """All seven frames (VISEMES order) and their shared feather mask."""
    canvas = (portrait.shape[1], portrait.shape[0])
    box = mouth_box(points, canvas)
    left, top, width, height = box
    colours = sample_colours(portrait, points)
    base = portrait[top : top + height, left : left + width]
    frames = []
    for seed, viseme in enumerate(VISEMES):
        shape = SHAPES[viseme]
        src, dst = warp_targets(points, shape, box)
        map_x, map_y = imaging.piecewise_affine_maps(src, dst, canvas[0], canvas[1])
        window = (slice(top, top + height), slice(left, left + width))
        warped = imaging.remap(portrait, map_x[window], map_y[window])
        frames.append(paint_interior(warped, points, lip_targets(points, shape), shape, colours, box, seed))
    changed = np.zeros((height, width), np.float32)
    for frame in frames:
        changed = np.maximum(changed, (np.abs(frame.astype(np.int16) - base).max(axis=-1) > 2).astype(np.float32))
    mask = feather(changed, box, sigma=0.05 * width)
    for frame in frames:
        frame[mask == 0] = base[mask == 0]
    return MouthSprites(box=box, frames=frames, mask=mask)


def feather(changed: np.ndarray, box: tuple[int, int, int, int], sigma: float) -> np.ndarray:
    """Soft mask: 1 over everything that changed, fading out over ~2 sigma, zero at the fixed ring."""
    _, _, width, height = box
    grown = imaging.blur(changed, sigma) > 0.02
    soft = np.clip(imaging.blur(grown.astype(np.float32), sigma) * 2, 0, 1)
    ys, xs = np.mgrid[0:height, 0:width]
    mx, my = RING_MARGIN[0] * width, RING_MARGIN[1] * height
    inside = np.minimum.reduce([xs - mx, width - 1 - mx - xs, ys - my, height - 1 - my - ys])
    soft *= imaging.smoothstep(inside / max(sigma, 1))
    return (soft * 255).round().astype(np.uint8)
