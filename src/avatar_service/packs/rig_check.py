"""The geometric checks `pack validate` runs on a format-2 pack's `rig.json` (modelled in
`packs.manifest.RigFile`): indices in range, no fold-over at any single control at full weight or at any
viseme's combination."""

import numpy as np

from avatar_service.packs.manifest import RigFile
from avatar_service.packs.rig import signed_areas
from avatar_service.schemas import VISEMES

# Face Mesh folds two nose-wing triangles in 2D already at rest, and closing the inner lips leaves thin
# slivers at the mouth corners; triangles under this area at rest, and folds that overlap less than it,
# never show (docs/rig.md, "What the numbers mean").
SLIVER_PX2 = 0.5
# Controls the player drives in both directions; the rest only in [0, 1].
SIGNED_CONTROLS = ("gaze_x", "gaze_y")
REQUIRED_CONTROLS = (
    "jaw_open", "lip_spread", "lip_round", "lower_lip_tuck", "upper_lip_raise",
    "blink_left", "blink_right", "gaze_x", "gaze_y",
)


def rig_problems(rig: RigFile, name: str) -> list[str]:
    """Everything wrong with a parsed rig, each as one phrase naming the field."""
    problems = _index_problems(rig, name)
    if problems:
        return problems
    return _fold_problems(rig, name)


def _index_problems(rig: RigFile, name: str) -> list[str]:
    count = len(rig.vertices)
    problems = []

    def check(field: str, indices: list[int] | np.ndarray) -> None:
        indices = np.asarray(indices, dtype=np.int64).ravel()
        bad = indices[(indices < 0) | (indices >= count)]
        if bad.size:
            problems.append(f"{name} {field} references missing vertex {int(bad[0])} (the rig has {count} vertices)")

    check("triangles", rig.triangles)
    check("fixed", rig.fixed)
    check("mouth.inner_lip", rig.mouth.inner_lip)
    check("mouth.interior.jaw_vertex", [rig.mouth.interior.jaw_vertex])
    for control_name, control in rig.controls.items():
        check(f"controls.{control_name}.indices", control.indices)
        if len(control.indices) != len(control.offsets):
            problems.append(
                f"{name} controls.{control_name} has {len(control.indices)} indices but {len(control.offsets)} offsets"
            )
    fixed = set(rig.fixed)
    for control_name, control in rig.controls.items():
        moved = [i for i, (dx, dy) in zip(control.indices, control.offsets, strict=False) if i in fixed and (dx or dy)]
        if moved:
            problems.append(f"{name} controls.{control_name} moves fixed vertex {moved[0]}")
    missing = [control for control in REQUIRED_CONTROLS if control not in rig.controls]
    if missing:
        problems.append(f"{name} controls lacks {', '.join(missing)}")
    for viseme, weights in rig.visemes.items():
        if viseme not in VISEMES:
            problems.append(f"{name} visemes.{viseme}: unknown viseme (known: {', '.join(VISEMES)})")
        unknown = [control for control in weights if control not in rig.controls]
        if unknown:
            problems.append(f"{name} visemes.{viseme} uses unknown control {unknown[0]}")
    absent = [viseme for viseme in VISEMES if viseme not in rig.visemes]
    if absent:
        problems.append(f"{name} visemes lacks {', '.join(absent)}")
    return problems


def _fold_problems(rig: RigFile, name: str) -> list[str]:
    rest = np.array(rig.vertices, dtype=np.float64)
    triangles = np.array(rig.triangles, dtype=np.int64)
    offsets = {}
    for control_name, control in rig.controls.items():
        dense = np.zeros_like(rest)
        if control.indices:
            dense[control.indices] = control.offsets
        offsets[control_name] = dense
    rest_area = signed_areas(rest, triangles)
    # Orientation is taken from rest, so a consistently wound rig is not required, only an unfolding one.
    counted = np.abs(rest_area) >= SLIVER_PX2
    poses = [(f"controls.{c} at weight {w:g}", {c: w}) for c in rig.controls for w in _full_weights(c)]
    poses += [(f"visemes.{v} ({_describe(weights)})", weights) for v, weights in rig.visemes.items() if weights]
    problems = []
    for label, weights in poses:
        moved = rest + sum(weight * offsets[control] for control, weight in weights.items())
        area = signed_areas(moved, triangles)
        # Folded: wound the other way by more than a sliver (an overlap under half a pixel never shows).
        folded = np.flatnonzero(counted & (np.sign(rest_area) * area < -SLIVER_PX2))
        if folded.size:
            first = triangles[folded[0]].tolist()
            problems.append(f"{name} {label} folds {folded.size} triangle(s) over (first: vertices {first})")
    return problems


def _full_weights(control: str) -> tuple[float, ...]:
    return (1.0, -1.0) if control in SIGNED_CONTROLS else (1.0,)


def _describe(weights: dict[str, float]) -> str:
    return ", ".join(f"{control} {weight:g}" for control, weight in weights.items())
