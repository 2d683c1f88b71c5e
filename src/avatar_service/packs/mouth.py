"""Seven mouth frames from the person's own mouth: landmark-driven piecewise-affine warps plus a painted
mouth interior (dark cavity, teeth tinted from the skin, tongue), following what a prototype showed to
look natural (docs/packs.md, "Why these choices").

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
    "AA": MouthShape(jaw=0.30, lift=0.03, teeth=0.10, tongue="floor", roundness=0.8),
    "EE": MouthShape(jaw=0.075, lift=0.035, spread=0.12, teeth=0.065, lower_teeth=0.03),
    "OH": MouthShape(jaw=0.22, lift=0.02, spread=-0.12, pucker=0.5, teeth=0.05, tongue="floor", roundness=2.5),
    "OO": MouthShape(jaw=0.14, spread=-0.22, pucker=1.0, roundness=12.0, teeth=0.02),
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
# Smoothing of the warp away from the lips, in mouth widths: wide enough to blur the warp's triangle
# kinks into one smooth stretch, while within LIP_ZONE of the lips the exact warp keeps their shape.
WARP_SMOOTH_SIGMA = 0.12
LIP_ZONE_SIGMA = 0.06

# The painted interior (HSV values 0..1; lengths in mouth widths unless named _PX).
CAVITY_BACK_VALUE = 0.05  # the throat: near black, warm
CAVITY_LIT_VALUE = 0.24  # the floor and inner cheeks where light from the front reaches
CAVITY_FLOOR_LIGHT = 0.8  # how far the floor brightens toward CAVITY_LIT_VALUE
CORNER_SHADOW = 0.6  # the corners lead back into the cheeks: darker
# Teeth: the skin's hue turned toward ivory, lightly saturated. Less looked blue-white beside warm skin,
# more (or the skin's own hue) looked like a pink gum.
TEETH_SATURATION = 0.26
TEETH_HUE_SHIFT = 0.04
UPPER_LIP_SHADOW = 0.35  # the upper lip shades the top of the teeth
LOWER_TEETH_SHADE = 0.7
TOOTH_GAPS = (0.0, -0.17, 0.17, -0.3, 0.3)  # between the incisors and canines (~8.5 and ~6.5 mm wide)
TONGUE_SATURATION = 0.5
TONGUE_HUE_SHIFT = -0.03
TONGUE_RISE = 0.4  # of the opening's height in the middle
TONGUE_HALF_SPAN = 0.4
LIP_RIM_PX = 2.0
PAINT_SOFTNESS_PX = 0.7
EDGE_FEATHER_PX = 0.9
LIP_EDGE_BAND_PX = 2.0
# The displacement fades to zero over this distance (mouth widths) inside the ring, instead of stopping
# dead at it: the dropped chin then compresses the neck shadow gradually rather than in a hard crease.
RING_FADE = 0.3


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


def warp_maps(points: np.ndarray, shape: MouthShape, box: tuple[int, int, int, int]) -> tuple[np.ndarray, np.ndarray]:
    """Sampling maps (canvas coordinates) for the mouth frame `box`. The piecewise-affine warp places the
    lips exactly; away from them its displacement is low-passed, because its kinks along triangle edges
    showed as jagged chin contours and stretched bands of skin, then faded smoothly to zero at the fixed
    ring so the jaw's drop spreads over the whole frame instead of a thin band under the chin."""
    left, top, width, height = box
    src, dst = warp_targets(points, shape, box)
    # Triangulate in frame coordinates: only the frame's pixels are ever sampled.
    map_x, map_y = imaging.piecewise_affine_maps(src - (left, top), dst - (left, top), width, height)
    grid_x, grid_y = np.meshgrid(np.arange(width, dtype=np.float32), np.arange(height, dtype=np.float32))
    displacement = np.stack([map_x - grid_x, map_y - grid_y], axis=-1)
    geometry = MouthGeometry(points)
    smooth = imaging.blur(displacement, WARP_SMOOTH_SIGMA * geometry.width)
    lips = lip_targets(points, shape)
    outline = geometry.to_image(np.array([lips[i] for i in lm.OUTER_LIP_UPPER + lm.OUTER_LIP_LOWER[::-1]]))
    near_lips = imaging.polygon_mask(outline - (left, top), width, height)
    near_lips = np.clip(imaging.blur(near_lips, LIP_ZONE_SIGMA * geometry.width) * 2, 0, 1)[..., None]
    displacement = near_lips * displacement + (1 - near_lips) * smooth
    displacement *= _ring_fade(width, height, fade_px=RING_FADE * geometry.width)[..., None]
    return grid_x + left + displacement[..., 0], grid_y + top + displacement[..., 1]


def _ring_fade(width: int, height: int, fade_px: float) -> np.ndarray:
    """Per pixel of the frame: 0 on and outside the fixed ring, rising smoothly to 1 `fade_px` inside it."""
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    mx, my = RING_MARGIN[0] * width, RING_MARGIN[1] * height
    inside = np.minimum.reduce([xs - mx, width - 1 - mx - xs, ys - my, height - 1 - my - ys])
    return imaging.smoothstep(inside / max(fade_px, 1.0))


@dataclass(frozen=True)
class MouthColours:
    cavity_back: np.ndarray  # the throat and the shadow under the upper teeth
    cavity_lit: np.ndarray  # the floor of the mouth and inner cheeks where light from the front reaches
    lip_inside: np.ndarray  # the wet inner rim of the lower lip
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
    saturated = min(0.8, lip_s * 1.1 + 0.15)
    return MouthColours(
        cavity_back=imaging.hsv_shift(lip, saturated, CAVITY_BACK_VALUE),
        cavity_lit=imaging.hsv_shift(lip, saturated, CAVITY_LIT_VALUE),
        lip_inside=imaging.hsv_shift(lip, saturated, lip_v * 0.55),
        # Teeth keep a trace of the skin's hue: neutral grey or pure white looked pasted on
        # (docs/packs.md, "Why these choices"); no brighter than the lit skin, or they glow.
        teeth=imaging.hsv_shift(
            skin, TEETH_SATURATION, float(np.clip(skin_v * 0.97, 0.5, 0.85)), hue_shift=TEETH_HUE_SHIFT
        ),
        # A tongue in the mouth's shade: pinker than the lips (the lips' own hue looked orange), darker.
        tongue=imaging.hsv_shift(lip, TONGUE_SATURATION, lip_v * 0.8, hue_shift=TONGUE_HUE_SHIFT),
        grain=float(np.clip(0.5 * np.std(grey - grey.mean()), 0.003, 0.012)),
    )


def _hsv(rgb: np.ndarray) -> tuple[float, float, float]:
    import colorsys

    return colorsys.rgb_to_hsv(*rgb)


@dataclass(frozen=True)
class Opening:
    """The opened mouth on a frame's pixel grid, in mouth units: per pixel its position (x, y), the upper
    and lower inner lip edges in its column, the opening's `height` there and its depth `s` from the
    upper edge (0) to the lower one (1)."""

    x: np.ndarray
    y: np.ndarray
    upper: np.ndarray
    lower: np.ndarray
    px: float  # one canvas pixel in mouth units

    @property
    def height(self) -> np.ndarray:
        return np.clip(self.lower - self.upper, 0, None)

    @property
    def s(self) -> np.ndarray:
        return np.clip((self.y - self.upper) / np.maximum(self.height, self.px), 0, 1)


def paint_interior(
    frame: np.ndarray, points: np.ndarray, targets: dict[int, np.ndarray], shape: MouthShape,
    colours: MouthColours, box: tuple[int, int, int, int], seed: int,
) -> np.ndarray:
    """Paint the open mouth between the warped inner lip edges: a dark cavity lit from the front, the
    tongue, lower and upper teeth, a tongue tip for TH, each with soft edges and the photo's grain."""
    left, top, width, height = box
    geometry = MouthGeometry(points)
    upper_ring = np.array([targets[i] for i in lm.INNER_LIP_UPPER])
    lower_ring = np.array([targets[i] for i in lm.INNER_LIP_LOWER])
    polygon = geometry.to_image(np.concatenate([upper_ring, lower_ring[::-1]])) - (left, top)
    cover = imaging.polygon_mask(polygon, width, height)
    tip = _tongue_tip(geometry, upper_ring, lower_ring, shape, box) if shape.tongue == "tip" else None
    if tip is not None:
        cover = np.maximum(cover, tip)
    if cover.max() == 0:
        return frame
    grid = np.stack(np.meshgrid(np.arange(width) + left + 0.5, np.arange(height) + top + 0.5), axis=-1)
    local = geometry.to_local(grid)
    x, y = local[..., 0], local[..., 1]
    mouth = Opening(
        x=x, y=y, px=1 / geometry.width,
        upper=np.interp(x, upper_ring[:, 0], upper_ring[:, 1]),
        lower=np.interp(x, lower_ring[:, 0], lower_ring[:, 1]),
    )
    paint = _cavity(mouth, colours, half_width=float(np.abs(upper_ring[:, 0]).max()))
    if shape.tongue == "floor":
        paint = _over(paint, *_tongue_floor(mouth, colours))
    if shape.lower_teeth:
        paint = _over(paint, *_lower_teeth(mouth, shape, colours))
    paint = _over(paint, *_lower_lip_rim(mouth, colours))
    if tip is not None:
        paint = _over(paint, *_shaded_tip(mouth, tip, colours))
    if shape.teeth:
        paint = _over(paint, *_upper_teeth(mouth, shape, colours))
    # Blur like the photo's own softness, then feather the lip edges so no polygon edge shows.
    paint = imaging.blur(paint.astype(np.float32), PAINT_SOFTNESS_PX)
    paint *= 1 + np.random.default_rng(seed).normal(0, colours.grain / 0.5, paint.shape[:2])[..., None]
    paint = np.clip(paint, 0, 1) * 255
    cover = imaging.blur(cover.astype(np.float32), EDGE_FEATHER_PX)
    return _over(_soft_lip_edges(frame, cover), paint, cover).round().astype(np.uint8)


def _soft_lip_edges(frame: np.ndarray, cover: np.ndarray) -> np.ndarray:
    """The warp stretches the photo's lip line (crease, highlights) along the new inner lip edges, which
    read as a torn edge; soften the lips in a thin band around the opening."""
    band = np.clip(imaging.blur(cover, LIP_EDGE_BAND_PX) * 3, 0, 1)
    softened = imaging.blur(frame.astype(np.float32), LIP_EDGE_BAND_PX / 2)
    return _over(frame.astype(np.float32), softened, band)


def _cavity(mouth: Opening, colours: MouthColours, half_width: float) -> np.ndarray:
    """Darkest under the upper teeth and deep in the corners; light from the front reaches the floor."""
    lit = CAVITY_FLOOR_LIGHT * imaging.smoothstep((mouth.s - 0.35) / 0.65)
    corners = 1 - CORNER_SHADOW * imaging.smoothstep((np.abs(mouth.x) / max(half_width, mouth.px) - 0.5) / 0.5)
    return _mix(colours.cavity_back, colours.cavity_lit, lit) * corners[..., None]


def _tongue_floor(mouth: Opening, colours: MouthColours) -> tuple[np.ndarray, np.ndarray]:
    """A low mound across the middle of the floor; its top is further back, so darker than its front."""
    rise = TONGUE_RISE * mouth.height * np.sqrt(_arch(mouth.x, TONGUE_HALF_SPAN))  # a flat-topped mound
    tongue_top = mouth.lower - rise
    below_top = (mouth.y - tongue_top) / np.maximum(rise, mouth.px)
    alpha = imaging.smoothstep(below_top / 0.3) * (rise > mouth.px)
    shade = 0.45 + 0.55 * imaging.smoothstep(below_top)
    return colours.tongue * shade[..., None], alpha


def _lower_teeth(mouth: Opening, shape: MouthShape, colours: MouthColours) -> tuple[np.ndarray, np.ndarray]:
    """Lower incisors peeking over the lower lip, in the upper teeth's shadow."""
    band = np.minimum(shape.lower_teeth, 0.4 * mouth.height) * _arch(mouth.x, 0.32)
    alpha = imaging.smoothstep((mouth.y - (mouth.lower - band)) / mouth.px + 0.5) * (band > mouth.px)
    return colours.teeth * (LOWER_TEETH_SHADE * _side_shade(mouth.x))[..., None], alpha


def _lower_lip_rim(mouth: Opening, colours: MouthColours) -> tuple[np.ndarray, np.ndarray]:
    """The wet inside of the lower lip: a thin darker-lip band that eases the lip into the cavity."""
    alpha = imaging.smoothstep(1 - (mouth.lower - mouth.y) / (LIP_RIM_PX * mouth.px)) * (mouth.height > mouth.px)
    return np.broadcast_to(colours.lip_inside, mouth.x.shape + (3,)), alpha


def _upper_teeth(mouth: Opening, shape: MouthShape, colours: MouthColours) -> tuple[np.ndarray, np.ndarray]:
    """The upper incisors hanging from the upper lip: shadowed by it at the top, slightly translucent at
    the biting edge, darker further back in the arch, with faint gaps between the teeth."""
    # Most of a small opening shows teeth; for FF they reach down onto the tucked lower lip.
    share = 0.6 + 0.4 * shape.tuck
    band = np.minimum(shape.teeth, share * mouth.height) * _arch(mouth.x, 0.36)
    below_lip = mouth.y - mouth.upper
    alpha = imaging.smoothstep((band - below_lip) / mouth.px + 0.5) * imaging.smoothstep(below_lip / mouth.px + 1)
    alpha *= band > mouth.px
    lip_shadow = 1 - UPPER_LIP_SHADOW * (1 - imaging.smoothstep(below_lip / np.maximum(0.45 * band, mouth.px)))
    biting_edge = 1 - 0.12 * imaging.smoothstep((below_lip - band) / (2 * mouth.px) + 1)
    gaps = 1 - 0.15 * sum(np.exp(-(((mouth.x - g) / (0.6 * mouth.px)) ** 2)) for g in TOOTH_GAPS)
    shade = _side_shade(mouth.x) * lip_shadow * biting_edge * gaps
    return colours.teeth * shade[..., None], alpha


def _shaded_tip(mouth: Opening, tip: np.ndarray, colours: MouthColours) -> tuple[np.ndarray, np.ndarray]:
    """The tongue tip between the teeth, rounded: lit in the middle, darker toward its edges."""
    rounding = imaging.blur(tip.astype(np.float32), 1.5)
    under_teeth = 0.7 + 0.3 * mouth.s  # the upper teeth shade the top of the tip
    # In front of the teeth the tip catches the light the tongue inside the mouth does not.
    return colours.tongue * ((0.7 + 0.55 * rounding) * under_teeth)[..., None], imaging.blur(tip, 0.6)


def _mix(a: np.ndarray, b: np.ndarray, t: np.ndarray) -> np.ndarray:
    return a * (1 - t[..., None]) + b * t[..., None]


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
    radii = np.array([0.14, max((lower + 0.02 - upper - shape.teeth * 0.6) / 2, 0.01)])
    angles = np.linspace(0, 2 * np.pi, 48, endpoint=False)
    outline = centre + radii * np.stack([np.cos(angles), np.sin(angles)], axis=-1)
    return imaging.polygon_mask(geometry.to_image(outline) - (left, top), width, height)


def make_mouth_sprites(portrait: np.ndarray, points: np.ndarray) -> MouthSprites:
    """All seven frames (VISEMES order) and their shared feather mask."""
    box = mouth_box(points, (portrait.shape[1], portrait.shape[0]))
    left, top, width, height = box
    colours = sample_colours(portrait, points)
    base = portrait[top : top + height, left : left + width]
    frames = []
    for seed, viseme in enumerate(VISEMES):
        shape = SHAPES[viseme]
        map_x, map_y = warp_maps(points, shape, box)
        warped = imaging.remap(portrait, map_x, map_y)
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
    soft *= _ring_fade(width, height, fade_px=sigma)
    return (soft * 255).round().astype(np.uint8)
