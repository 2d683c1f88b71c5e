"""The face rig of a format-2 pack, derived from one face's landmarks (pure numpy: no image I/O, no
mediapipe), so the pack builder, `pack validate` and a later server-side renderer share one definition.

A rig is a fixed triangle mesh over the photo plus sparse per-vertex offsets ("controls"); a frame's
vertex positions are `rest + sum(weight_c * offset_c)`. docs/rig.md is the contract with the WebGL
player; the shape constants are the natural ranges measured on a prototype, listed in docs/rig.md.
Lengths scale with the person: H = face height (landmark 10 to 152), W = mouth width (61 to 291).
"""

from dataclasses import dataclass, field

import numpy as np

from avatar_service.tracking import landmarks as lm

RIG_VERSION = 1
LANDMARK_COUNT = 478  # Face Mesh with iris refinement: vertex i of a rig IS landmark i

# Rings outside the face oval (scale about the oval's centre). Along each spoke the warp fades linearly
# from the oval to the fixed ring, so the soft ring between them follows its oval vertex by the fraction
# of the way it lies from the fixed ring, and the neck under the chin is compressed evenly; the fixed
# ring (>= 2x the largest jaw drop below the chin) and the image border never move.
SOFT_RING_SCALE, FIXED_RING_SCALE = 1.22, 1.6
BORDER_POINTS_PER_SIDE = 8
BORDER_INSET_PX = 2.0

# Controls at weight 1 (docs/packs.md, "The rig's shape constants"; docs/rig.md, "What the numbers mean").
JAW_DROP_H = 0.13  # chin drop of an emphatic open vowel
LOWER_LIP_OF_CHIN = 0.88
SPREAD_OF_W = 0.12  # mouth width gained by lip_spread
SPREAD_CORNER_LIFT_H = 0.015
ROUND_OF_W = 0.25  # mouth width lost by lip_round
ROUND_POUT = 0.15  # lips fuller by this fraction of their thickness when rounded
TUCK_OF_LOWER_LIP = 0.5  # the lower lip rolls in by half its thickness
UPPER_RAISE_H = 0.02
BLINK_CLOSURE = 0.96  # of the lid gap; the lashes cover the rest and no triangle collapses to zero
GAZE_OF_EYE_WIDTH = 0.04  # iris shift per unit of gaze weight

CORNER_GROUPS = ((61, 76, 62, 78), (291, 306, 292, 308))  # each side moves as one rigid group
# The corners hardly drop as the jaw opens (the opening is a lens pointed at the corners), and the inner
# upper lip arches up by a little of the chin drop.
CORNER_JAW = 0.12
UPPER_LIP_ARCH = 0.08

VISEMES: dict[str, dict[str, float]] = {
    "REST": {},
    "AA": {"jaw_open": 0.75},
    "EE": {"jaw_open": 0.25, "lip_spread": 0.9},
    "OH": {"jaw_open": 0.55, "lip_round": 0.6},
    "OO": {"jaw_open": 0.22, "lip_round": 1.0},
    "FF": {"jaw_open": 0.06, "lower_lip_tuck": 1.0, "upper_lip_raise": 0.6},
    "TH": {"jaw_open": 0.2, "upper_lip_raise": 0.3},
}

# Upper lid ring and lower lid ring (corner to corner) with the iris centre of each image-side eye.
EYES = {
    "left": (lm.LEFT_EYE_UPPER, lm.LEFT_EYE_LOWER, 468),
    "right": (lm.RIGHT_EYE_UPPER, lm.RIGHT_EYE_LOWER, 473),
}


@dataclass
class Rig:
    """Mesh and controls on base-face pixels. `controls[name]` is a dense (V, 2) offset array."""

    width: int
    height: int
    vertices: np.ndarray
    triangles: np.ndarray
    fixed: list[int]
    controls: dict[str, np.ndarray]
    visemes: dict[str, dict[str, float]]
    inner_lip: list[int]
    teeth: dict[str, dict[str, float]] = field(default_factory=dict)
    jaw_vertex: int = lm.CHIN


@dataclass(frozen=True)
class FaceMeasures:
    """Lengths of this face that scale every target."""

    face_height: float  # H
    mouth_width: float  # W
    centre: np.ndarray  # between the inner lips
    lip_line: np.ndarray  # (n, 2) the closed inner-lip line, corner to corner

    @classmethod
    def of(cls, points: np.ndarray) -> "FaceMeasures":
        upper = points[list(lm.INNER_LIP_UPPER)]
        lower = points[list(lm.INNER_LIP_LOWER)]
        return cls(
            face_height=float(np.hypot(*(points[lm.CHIN] - points[10]))),
            mouth_width=float(np.hypot(*(points[291] - points[61]))),
            centre=(points[13] + points[14]) / 2,
            lip_line=(upper + lower) / 2,
        )

    def split_y(self, x: np.ndarray) -> np.ndarray:
        """y of the closed-lip line at each x, held level beyond the corners."""
        line = self.lip_line[np.argsort(self.lip_line[:, 0])]
        return np.interp(x, line[:, 0], line[:, 1])


def derive_rig(points: np.ndarray, triangles: np.ndarray, oval: tuple[int, ...], width: int, height: int) -> Rig:
    """The rig for one face: `points` are its 478 landmarks on the base image, `triangles` and `oval`
    the Face Mesh surface and outer ring (packs.face_topology)."""
    if points.shape != (LANDMARK_COUNT, 2):
        raise ValueError(f"need {LANDMARK_COUNT} landmarks (Face Mesh with iris refinement), got {points.shape[0]}")
    points = closed_lips(points)
    vertices, rings, soft_follow = _with_rings(points, oval, width, height)
    # Shapes are derived in the head's own frame (eye line level), then turned back onto the photo, so a
    # tilted head opens its jaw along its own vertical axis and "left of the corner" means along its lips.
    roll = np.radians(lm.face_anchors(points).roll_deg)
    upright = _rotated(points, -roll, pivot=points[lm.NOSE_TIP])
    faces = [triangles, *(_eye_fill(upright, eye) for eye in EYES.values())]
    faces += [_ring_strip(vertices, inner, outer) for inner, outer in zip(rings, rings[1:], strict=False)]
    mesh = _oriented(vertices, np.concatenate(faces))
    measures = FaceMeasures.of(upright)
    face = {
        "jaw_open": _smoothed(jaw_open(upright, measures), upright, triangles),
        "lip_spread": lip_width_change(upright, measures, SPREAD_OF_W, SPREAD_CORNER_LIFT_H),
        "lip_round": lip_round(upright, measures),
        "lower_lip_tuck": lower_lip_tuck(upright, measures),
        "upper_lip_raise": upper_lip_raise(upright, measures),
        "blink_left": blink(upright, EYES["left"]),
        "blink_right": blink(upright, EYES["right"]),
        "gaze_x": gaze(upright, np.array([1.0, 0.0])),
        "gaze_y": gaze(upright, np.array([0.0, 1.0])),
    }
    face = {name: _rotated(offsets, roll) for name, offsets in face.items()}
    soft, fixed_rings = rings[1], rings[2:]
    controls = {}
    for name, offsets in face.items():
        full = np.zeros_like(vertices)
        full[:LANDMARK_COUNT] = offsets
        full[soft] = soft_follow[:, None] * offsets[list(oval)]
        controls[name] = full
    return Rig(
        width=width,
        height=height,
        vertices=vertices,
        triangles=mesh,
        fixed=sorted(int(i) for ring in fixed_rings for i in ring),
        controls=controls,
        visemes=VISEMES,
        inner_lip=list(lm.INNER_LIP_UPPER) + list(lm.INNER_LIP_LOWER[-2:0:-1]),
        teeth=teeth_boxes(points, measures),
    )


# ---- mesh ------------------------------------------------------------------------------------------


def _rotated(xy: np.ndarray, angle: float, pivot: np.ndarray | None = None) -> np.ndarray:
    """Turn points (about `pivot`) or offset vectors (no pivot) by `angle` radians."""
    cos, sin = np.cos(angle), np.sin(angle)
    turn = np.array([[cos, -sin], [sin, cos]])
    if pivot is None:
        return xy @ turn.T
    return (xy - pivot) @ turn.T + pivot


def closed_lips(points: np.ndarray) -> np.ndarray:
    """The landmarks with each inner-lip pair (13/14, 82/87, ...) moved to its midpoint, so the opening
    (a hole in the mesh) has no area at rest and weight 0 draws exactly the base image: whatever the base
    shows between the lips (REST's closed lips) becomes the lips' edge when they part."""
    closed = points.copy()
    upper, lower = list(lm.INNER_LIP_UPPER), list(lm.INNER_LIP_LOWER)
    middle = (points[upper] + points[lower]) / 2
    closed[upper] = middle
    closed[lower] = middle
    return closed


def _with_rings(
    points: np.ndarray, oval: tuple[int, ...], width: int, height: int
) -> tuple[np.ndarray, list[np.ndarray], np.ndarray]:
    """Landmarks plus the soft ring, the fixed ring and the image-border points; the index rings in
    order from the face oval outward; how much each soft-ring vertex follows its oval vertex."""
    centre = points[list(oval)].mean(axis=0)
    spokes = points[list(oval)] - centre
    fixed_scale = _fitted_scale(centre, spokes, FIXED_RING_SCALE, width, height)
    soft_scale = np.minimum(SOFT_RING_SCALE, 1 + 0.5 * (fixed_scale - 1))
    soft = centre + soft_scale[:, None] * spokes
    fixed = centre + fixed_scale[:, None] * spokes
    border = _border_points(width, height)
    stacks = [points, soft, fixed, border]
    starts = np.cumsum([0] + [len(stack) for stack in stacks])
    rings = [np.array(oval)] + [np.arange(starts[i], starts[i + 1]) for i in (1, 2, 3)]
    follow = 1 - (soft_scale - 1) / (fixed_scale - 1)
    return np.concatenate(stacks).astype(np.float64), rings, follow


def _fitted_scale(centre: np.ndarray, spokes: np.ndarray, scale: float, width: int, height: int) -> np.ndarray:
    """Per spoke the largest scale <= `scale` that stays BORDER_INSET_PX inside the image (radially, so
    the ring stays star-shaped about the centre)."""
    low = np.full(2, BORDER_INSET_PX)
    high = np.array([width, height]) - BORDER_INSET_PX
    limits = np.full(len(spokes), scale)
    for axis in (0, 1):
        s = spokes[:, axis]
        with np.errstate(divide="ignore"):
            to_high = np.where(s > 0, (high[axis] - centre[axis]) / s, np.inf)
            to_low = np.where(s < 0, (low[axis] - centre[axis]) / s, np.inf)
        limits = np.minimum(limits, np.minimum(to_high, to_low))
    return limits * 0.999


def _border_points(width: int, height: int) -> np.ndarray:
    n = BORDER_POINTS_PER_SIDE
    xs, ys = np.linspace(0, width, n + 1)[:-1], np.linspace(0, height, n + 1)[:-1]
    return np.concatenate([
        np.stack([xs, np.zeros(n)], 1),
        np.stack([np.full(n, width), ys], 1),
        np.stack([width - xs, np.full(n, height)], 1),
        np.stack([np.zeros(n), height - ys], 1),
    ])


def _ring_strip(vertices: np.ndarray, inner: np.ndarray, outer: np.ndarray) -> np.ndarray:
    """Triangles between two closed rings that are star-shaped about the inner ring's centre: walk both
    by angle and always advance the ring whose next vertex comes first (a zipper)."""
    centre = vertices[inner].mean(axis=0)
    rings = []
    for ring in (inner, outer):
        angles = np.arctan2(*(vertices[ring] - centre)[:, ::-1].T)
        order = np.argsort(angles)
        rings.append((ring[order], np.unwrap(angles[order])))
    (a, a_angle), (b, b_angle) = rings
    a_angle = np.append(a_angle, a_angle[0] + 2 * np.pi)
    b_angle = np.append(b_angle, b_angle[0] + 2 * np.pi)
    i = j = 0
    triangles = []
    while i < len(a) or j < len(b):
        if j >= len(b) or (i < len(a) and a_angle[i + 1] <= b_angle[j + 1]):
            triangles.append((a[i % len(a)], a[(i + 1) % len(a)], b[j % len(b)]))
            i += 1
        else:
            triangles.append((a[i % len(a)], b[(j + 1) % len(b)], b[j % len(b)]))
            j += 1
    return np.array(triangles, dtype=np.int64)


def _eye_fill(points: np.ndarray, eye: tuple) -> np.ndarray:
    """The eye opening as a strip of quads between the lids (it collapses evenly in a blink); the quads
    the iris centre can reach in a gaze shift are one fan about it, so the iris moves between the lids."""
    upper, lower, iris = eye
    closed = points + blink(points, eye)
    fan, triangles = _iris_fan(points, eye)
    for k in range(len(upper) - 1):
        quad = [upper[k], upper[k + 1], lower[k + 1], lower[k]]
        if k in fan:
            continue
        if quad[0] == quad[3]:  # the corner: a triangle
            triangles.append((quad[0], quad[1], quad[2]))
        elif quad[1] == quad[2]:
            triangles.append((quad[0], quad[1], quad[3]))
        else:
            triangles += _best_split(quad, points, closed)
    return np.array(triangles, dtype=np.int64)


def _iris_fan(points: np.ndarray, eye: tuple) -> tuple[list[int], list[tuple[int, int, int]]]:
    """The lid quads (by index) within a gaze shift of the iris centre, and their fan about it."""
    upper, lower, iris = eye
    reach = GAZE_OF_EYE_WIDTH * float(np.ptp(points[list(upper), 0])) + 1.0
    x = points[iris, 0]
    fan = [
        k for k in range(len(upper) - 1)
        if min(points[[upper[k], lower[k]], 0]) <= x + reach
        and max(points[[upper[k + 1], lower[k + 1]], 0]) >= x - reach
    ]
    if not fan:
        return [], []
    ring = list(upper[fan[0] : fan[-1] + 2]) + list(lower[fan[0] : fan[-1] + 2])[::-1]
    return fan, [(iris, a, b) for a, b in zip(ring, ring[1:] + ring[:1], strict=True) if a != b]


def _best_split(quad: list[int], rest: np.ndarray, closed: np.ndarray) -> list[tuple[int, int, int]]:
    """The diagonal of a lid quad that keeps both halves largest in the closed lid (the lids are not
    straight, so one diagonal can fold where the other does not)."""
    a, b, c, d = quad
    splits = ([(a, b, c), (a, c, d)], [(a, b, d), (b, c, d)])

    def worst(split: list[tuple[int, int, int]]) -> float:
        tris = np.array(split)
        sign = np.sign(signed_areas(rest, tris))
        return float(np.min(sign * signed_areas(closed, tris)))

    return max(splits, key=worst)


def signed_areas(positions: np.ndarray, triangles: np.ndarray) -> np.ndarray:
    """The signed area of each triangle in px² (positive = counter-clockwise on screen)."""
    a, b, c = (positions[triangles[:, k]] for k in range(3))
    return 0.5 * ((b[:, 0] - a[:, 0]) * (c[:, 1] - a[:, 1]) - (b[:, 1] - a[:, 1]) * (c[:, 0] - a[:, 0]))


def _oriented(vertices: np.ndarray, triangles: np.ndarray) -> np.ndarray:
    """Every triangle wound the same way at rest (positive signed area), so a flip is a sign change."""
    flip = signed_areas(vertices, triangles) < 0
    out = triangles.copy()
    out[flip] = out[flip][:, [0, 2, 1]]
    return out


# ---- controls (each returns (478, 2) offsets at weight 1) ------------------------------------------


def _lip_position(points: np.ndarray, m: FaceMeasures) -> np.ndarray:
    """q per landmark: -1 at the image-left corner, +1 at the right, 0 in the middle."""
    return (points[:, 0] - m.centre[0]) / (m.mouth_width / 2)


def _below_lips(points: np.ndarray, m: FaceMeasures) -> np.ndarray:
    """1 below the closed-lip line, 0 above: a step between the lips (the opening is a hole there),
    a smooth ramp beyond the corners where skin joins upper and lower face."""
    q = np.abs(_lip_position(points, m))
    band = np.maximum(0.25 * (q - 1), 0) * m.mouth_width + 1e-6
    below = _smoothstep((points[:, 1] - m.split_y(points[:, 0])) / band + 0.5)
    # The two inner lips touch at rest, so their side is known from the ring, not from y.
    below[list(lm.INNER_LIP_UPPER + lm.OUTER_LIP_UPPER)] = 0.0
    below[list(lm.INNER_LIP_LOWER + lm.OUTER_LIP_LOWER)] = 1.0
    return below


def _near_mouth(points: np.ndarray, m: FaceMeasures, reach_w: float = 0.45) -> np.ndarray:
    """How much a lip move drags the skin: 1 on the lips, fading with distance from the lip ring."""
    ring = points[list(lm.MOUTH_RING)]
    distance = np.min(np.hypot(*(points[:, None, :] - ring[None, :, :]).transpose(2, 0, 1)), axis=1)
    inside = _inside(points, points[list(lm.OUTER_LIP_UPPER + lm.OUTER_LIP_LOWER[-2:0:-1])])
    return np.where(inside, 1.0, np.exp(-((distance / (reach_w * m.mouth_width)) ** 2)))


def jaw_open(points: np.ndarray, m: FaceMeasures) -> np.ndarray:
    """Chin drops JAW_DROP_H·H; the lower lip follows at LOWER_LIP_OF_CHIN with an elliptical profile
    between the inner corners and the upper lip arches up a little, so the opening is a lens and not a
    box; the corners barely drop."""
    drop = JAW_DROP_H * m.face_height
    q = np.abs(points[:, 0] - m.centre[0]) / (np.hypot(*(points[308] - points[78])) / 2)
    ellipse = np.clip(1 - q**2, 0, 1) ** 0.75
    corner = CORNER_JAW / LOWER_LIP_OF_CHIN
    lip_profile = np.where(q <= 1, corner + (1 - corner) * ellipse, corner * np.exp(-(((q - 1) / 0.8) ** 2)))
    chin_y = points[lm.CHIN, 1]
    depth = np.clip((points[:, 1] - m.centre[1]) / (chin_y - m.centre[1]), 0, 1)
    jaw = points[list(lm.JAW)]
    half_face = (jaw[:, 0].max() - jaw[:, 0].min()) / 2
    side = np.abs(points[:, 0] - m.centre[0]) / half_face
    jaw_profile = 1 - 0.7 * _smoothstep((side - 0.35) / 0.65)  # the jaw rotates about the ears
    weight = (1 - depth) * LOWER_LIP_OF_CHIN * lip_profile + depth * jaw_profile
    weight = weight * _below_lips(points, m)
    for group in CORNER_GROUPS:
        weight[list(group)] = CORNER_JAW
    # The upper lip arches up as a band, fading toward the nose over about its thickness.
    above = 1 - _below_lips(points, m)
    height_above = np.clip(m.split_y(points[:, 0]) - points[:, 1], 0, None)
    fade = np.exp(-((height_above / (1.5 * _lip_thickness(points)[0])) ** 2))
    # Toward the corners it goes down with them instead (the corner and its neighbours move as one).
    upper_lip = (CORNER_JAW * (1 - ellipse) - UPPER_LIP_ARCH * ellipse) * fade * above
    weight = np.where(above > 0.5, upper_lip, weight)
    offsets = np.zeros_like(points)
    offsets[:, 1] = drop * weight
    offsets[list(CORNER_GROUPS[0] + CORNER_GROUPS[1]), 1] = drop * CORNER_JAW
    _rigid_corners(points, offsets, m)
    return offsets


def lip_width_change(points: np.ndarray, m: FaceMeasures, width_change: float, corner_lift_h: float) -> np.ndarray:
    """Corners move out by width_change·W/2 each (in, if negative) and up by corner_lift_h·H, the lips
    in proportion to their position along the mouth, the skin around fading with distance."""
    q = np.clip(_lip_position(points, m), -1.2, 1.2)
    near = _near_mouth(points, m)
    offsets = np.zeros_like(points)
    offsets[:, 0] = width_change * m.mouth_width / 2 * q * near
    offsets[:, 1] = -corner_lift_h * m.face_height * np.clip(q**2, 0, 1) * near
    _rigid_corners(points, offsets, m)
    return offsets


def lip_round(points: np.ndarray, m: FaceMeasures) -> np.ndarray:
    """Narrower by ROUND_OF_W, and the lips pout: fuller up and down by ROUND_POUT of their thickness."""
    offsets = lip_width_change(points, m, -ROUND_OF_W, 0.0)
    q = _lip_position(points, m)
    middle = np.clip(1 - q**2, 0, 1)
    upper_t, lower_t = _lip_thickness(points)
    for ring, thickness, sign in ((lm.OUTER_LIP_UPPER, upper_t, -1), (lm.OUTER_LIP_LOWER, lower_t, 1)):
        ring = list(ring[1:-1])
        offsets[ring, 1] += sign * ROUND_POUT * thickness * middle[ring]
    return offsets


def lower_lip_tuck(points: np.ndarray, m: FaceMeasures) -> np.ndarray:
    """FF: the lower lip rolls in under the upper teeth; its outer edge rises by half its thickness, its
    inner edge stays (it must not cross the upper lip), the skin below follows a little."""
    _, lower_t = _lip_thickness(points)
    inner_y = m.split_y(points[:, 0])
    outer = points[list(lm.OUTER_LIP_LOWER)]
    outer_y = np.interp(points[:, 0], *outer[np.argsort(outer[:, 0])].T)
    q = _lip_position(points, m)
    across = np.clip((points[:, 1] - inner_y) / np.maximum(outer_y - inner_y, 1e-6), 0, None)
    profile = np.where(across <= 1, across, np.exp(-((across - 1) / 1.5) ** 2))
    middle = np.clip(1 - q**2, 0, 1)
    offsets = np.zeros_like(points)
    offsets[:, 1] = -TUCK_OF_LOWER_LIP * lower_t * profile * middle * _below_lips(points, m)
    return offsets


def upper_lip_raise(points: np.ndarray, m: FaceMeasures) -> np.ndarray:
    """The upper lip lifts by UPPER_RAISE_H·H in the middle, showing the upper teeth; the skin up to
    the nose follows with distance."""
    q = _lip_position(points, m)
    middle = np.clip(1 - q**2, 0, 1) ** 0.7
    above = 1 - _below_lips(points, m)
    offsets = np.zeros_like(points)
    # Nothing above the base of the nose (landmark 2) moves: the nostrils are not lifted with the lip.
    nose_base = points[2, 1]
    below_nose = _smoothstep((points[:, 1] - nose_base) / (0.5 * (m.centre[1] - nose_base)))
    offsets[:, 1] = -UPPER_RAISE_H * m.face_height * middle * above * below_nose * _near_mouth(points, m, reach_w=0.3)
    _rigid_corners(points, offsets, m)
    return offsets


def blink(points: np.ndarray, eye: tuple) -> np.ndarray:
    """The upper lid closes onto the lower lid (BLINK_CLOSURE of the gap); the skin up to the brow
    follows with distance; the iris centre stays between the lids."""
    upper, lower, iris = eye
    low = points[list(lower)]
    low_line = low[np.argsort(low[:, 0])]

    def low_y(x: np.ndarray | float) -> np.ndarray:
        return np.interp(x, low_line[:, 0], low_line[:, 1])

    lid = points[list(upper)]
    lid_dy = BLINK_CLOSURE * (low_y(lid[:, 0]) - lid[:, 1])
    order = np.argsort(lid[:, 0])
    eye_width = float(np.ptp(lid[:, 0]))
    offsets = np.zeros_like(points)
    offsets[list(upper), 1] = lid_dy
    # Skin above the lid: the lid's own drop at that x, fading over about half an eye width.
    lid_y_at = np.interp(points[:, 0], lid[order, 0], lid[order, 1])
    above = points[:, 1] < lid_y_at - 0.5
    in_span = (points[:, 0] > lid[:, 0].min() - 0.2 * eye_width) & (points[:, 0] < lid[:, 0].max() + 0.2 * eye_width)
    beside = np.maximum(np.abs(points[:, 0] - lid[order, 0].mean()) - eye_width / 2, 0)
    distance = np.hypot(np.maximum(lid_y_at - points[:, 1], 0), beside)
    follow = np.exp(-((distance / (0.3 * eye_width)) ** 2)) * 0.6
    skin = above & in_span
    skin[list(upper) + list(lower) + [iris]] = False
    offsets[skin, 1] = np.interp(points[skin, 0], lid[order, 0], lid_dy[order]) * follow[skin]
    # The iris centre goes where its fan stays widest in the closed lid (the lids are not straight lines,
    # so a fixed fraction of the gap can fall outside the closed fan).
    _, fan = _iris_fan(points, eye)
    if fan:
        closed = points + offsets
        x = points[iris, 0]
        up = float(np.interp(x, lid[order, 0], closed[list(upper), 1][order]))
        down = float(low_y(x))
        tris = np.array(fan)
        rest_sign = np.sign(signed_areas(points, tris))

        def worst(y: float) -> float:
            closed[iris, 1] = y
            return float(np.min(rest_sign * signed_areas(closed, tris)))

        best = max(np.linspace(up, down, 41), key=worst)
        offsets[iris, 1] = best - points[iris, 1]
    return offsets


def gaze(points: np.ndarray, direction: np.ndarray) -> np.ndarray:
    """Both iris centres shift by GAZE_OF_EYE_WIDTH of their eye's width along `direction`."""
    offsets = np.zeros_like(points)
    for upper, _, iris in EYES.values():
        eye_width = float(np.ptp(points[list(upper), 0]))
        offsets[iris] = GAZE_OF_EYE_WIDTH * eye_width * direction
    return offsets


def _smoothed(offsets: np.ndarray, points: np.ndarray, triangles: np.ndarray, iterations: int = 8) -> np.ndarray:
    """The offsets relaxed over the skin (each vertex toward its mesh neighbours' mean), with the lips
    and the chin held: the field's formulas then never leave a neighbour moving against a thin triangle."""
    count = len(points)
    edges = np.concatenate([triangles[:, [0, 1]], triangles[:, [1, 2]], triangles[:, [2, 0]]])
    edges = np.unique(np.sort(np.concatenate([edges, edges[:, ::-1]]), axis=1), axis=0)
    edges = np.concatenate([edges, edges[:, ::-1]])
    degree = np.bincount(edges[:, 0], minlength=count).astype(np.float64)
    lips = points[list(lm.OUTER_LIP_UPPER + lm.OUTER_LIP_LOWER[-2:0:-1])]
    held = _inside(points, lips)
    held[list(lm.MOUTH_RING) + [lm.CHIN]] = True
    free = ~held & (degree > 0)
    relaxed = offsets.copy()
    for _ in range(iterations):
        total = np.zeros_like(relaxed)
        np.add.at(total, edges[:, 0], relaxed[edges[:, 1]])
        mean = total / np.maximum(degree, 1)[:, None]
        relaxed[free] = 0.5 * relaxed[free] + 0.5 * mean[free]
    return relaxed


def _rigid_corners(points: np.ndarray, offsets: np.ndarray, m: FaceMeasures) -> None:
    """Each corner group moves as one; points within a few % of W of it blend toward its move, so the
    slivers at the corners do not tear."""
    for group in CORNER_GROUPS:
        move = offsets[group[0]].copy()
        distance = np.hypot(*(points - points[list(group)].mean(axis=0)).T)
        pull = np.exp(-((distance / (0.15 * m.mouth_width)) ** 2))[:, None]
        offsets[:] = offsets * (1 - pull) + move * pull
        offsets[list(group)] = move


def _lip_thickness(points: np.ndarray) -> tuple[float, float]:
    """Upper and lower lip thickness in the middle (outer edge to inner edge), px."""
    return float(points[13, 1] - points[0, 1]), float(points[17, 1] - points[14, 1])


def teeth_boxes(points: np.ndarray, m: FaceMeasures) -> dict[str, dict[str, float]]:
    """Upper teeth hang from the head with their edge 0.018·H under the rest lip line; the lower teeth
    sit 0.013·H higher, behind them (hidden by the lower lip until the jaw opens)."""
    h = m.face_height
    edge = float(m.centre[1] + 0.018 * h)
    x0 = float(points[78, 0] + 0.08 * m.mouth_width)
    x1 = float(points[308, 0] - 0.08 * m.mouth_width)
    upper_height = 0.06 * h
    return {
        "upper_teeth": {"y": edge - upper_height, "x0": x0, "x1": x1, "height": upper_height},
        "lower_teeth": {"y": edge - 0.013 * h, "x0": x0, "x1": x1, "height": 0.05 * h},
    }


def _inside(points: np.ndarray, polygon: np.ndarray) -> np.ndarray:
    """Even-odd point-in-polygon test."""
    x, y = points[:, 0:1], points[:, 1:2]
    x0, y0 = polygon[:, 0], polygon[:, 1]
    x1, y1 = np.roll(x0, -1), np.roll(y0, -1)
    crosses = ((y0 > y) != (y1 > y)) & (x < (x1 - x0) * (y - y0) / np.where(y1 == y0, 1e-12, y1 - y0) + x0)
    return crosses.sum(axis=1) % 2 == 1


def _smoothstep(t: np.ndarray) -> np.ndarray:
    t = np.clip(t, 0.0, 1.0)
    return t * t * (3 - 2 * t)


# ---- rig.json --------------------------------------------------------------------------------------

SPARSE_EPSILON_PX = 0.005  # offsets that round to 0.00 are left out of rig.json


def rig_document(rig: Rig, colours: dict[str, list[float]]) -> dict:
    """rig.json as docs/rig.md specifies it; `colours` are the interior's cavity_near, cavity_deep,
    teeth and tongue (0-1 RGB)."""
    controls = {}
    for name, offsets in rig.controls.items():
        moving = np.flatnonzero(np.abs(offsets).max(axis=1) >= SPARSE_EPSILON_PX)
        controls[name] = {"indices": moving.tolist(), "offsets": _rounded(offsets[moving])}
    return {
        "rig_version": RIG_VERSION,
        "image": {"width": rig.width, "height": rig.height},
        "vertices": _rounded(rig.vertices),
        "triangles": rig.triangles.tolist(),
        "fixed": rig.fixed,
        "controls": controls,
        "visemes": rig.visemes,
        "mouth": {
            "inner_lip": rig.inner_lip,
            "interior": {
                **{name: [round(float(c), 3) for c in rgb] for name, rgb in colours.items()},
                **{name: {k: round(v, 2) for k, v in box.items()} for name, box in rig.teeth.items()},
                "jaw_vertex": rig.jaw_vertex,
            },
        },
    }


def _rounded(values: np.ndarray) -> list[list[float]]:
    return np.round(values, 2).tolist()
