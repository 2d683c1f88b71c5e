"""A seamless idle loop (VP9 WebM) from a pack's still base face: subtle head sway, roll and breathing.

Every motion component completes a whole number of cycles per loop, so the last frame leads straight
back into the first. The head moves fully, the shoulders a little, which reads as a living sitter rather
than a camera shake. Overlays follow it through the anchor timeline tracked on this video.
"""

import io
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from avatar_service.packs.files import add_to_pack, load_manifest
from avatar_service.packs.manifest import PackManifest

IDLE_NAME = "idle_loop.webm"
GRID_PX = 64  # mesh cell size of the warp: the motion field is smooth, so 64 px cells are exact enough


@dataclass(frozen=True)
class IdleMotion:
    seconds: float = 4.0
    fps: int = 25
    sway_px: float = 0.8  # side to side, once per loop
    bob_px: float = 1.2  # up and down with the breath, once per loop
    roll_deg: float = 0.45  # head tilt, once per loop plus a smaller second harmonic
    breathing_scale: float = 0.004
    # libvpx constant-quality setting: 40 keeps skin texture at ~100-150 KB for 4 s of 512x640.
    crf: int = 40


DEFAULT_MOTION = IdleMotion()


def head_pose(motion: IdleMotion, frame: int) -> tuple[float, float, float, float]:
    """(dx, dy, roll in degrees, scale) of the head at `frame`."""
    phase = 2 * math.pi * frame / (motion.seconds * motion.fps)
    dx = motion.sway_px * math.sin(phase + 1.3)
    dy = motion.bob_px * math.sin(phase)
    roll = motion.roll_deg * (0.75 * math.sin(phase + 0.6) + 0.25 * math.sin(2 * phase + 2.1))
    scale = 1 + motion.breathing_scale * math.sin(phase - 0.4)
    return dx, dy, roll, scale


def warp_frame(
    base: Image.Image, pose: tuple[float, float, float, float], pivot: tuple[float, float], neck_y: float
) -> Image.Image:
    """Move the head by `pose` about `pivot` (a point low in the head); the move fades out below `neck_y`
    toward the bottom edge so the shoulders shift only a third as much."""
    dx, dy, roll, scale = pose
    width, height = base.size
    xs = np.arange(0, width + GRID_PX, GRID_PX, dtype=np.float64).clip(0, width)
    ys = np.arange(0, height + GRID_PX, GRID_PX, dtype=np.float64).clip(0, height)
    gx, gy = np.meshgrid(np.unique(xs), np.unique(ys))
    # Inverse of "rotate by roll and scale about pivot, then translate": where each output point comes from.
    angle = math.radians(roll)
    ux, uy = gx - pivot[0] - dx, gy - pivot[1] - dy
    cos, sin = math.cos(angle) / scale, math.sin(angle) / scale
    sx = pivot[0] + cos * ux + sin * uy
    sy = pivot[1] - sin * ux + cos * uy
    fall = np.clip((gy - neck_y) / max(height - neck_y, 1), 0, 1)
    weight = 1 - (2 / 3) * fall * fall * (3 - 2 * fall)  # smoothstep from 1 at the neck to 1/3 at the bottom
    src_x = np.clip(gx + weight * (sx - gx), 0, width)
    src_y = np.clip(gy + weight * (sy - gy), 0, height)
    mesh = []
    for row in range(gx.shape[0] - 1):
        for col in range(gx.shape[1] - 1):
            box = (int(gx[row, col]), int(gy[row, col]), int(gx[row + 1, col + 1]), int(gy[row + 1, col + 1]))
            corners = [(row, col), (row + 1, col), (row + 1, col + 1), (row, col + 1)]  # PIL's quad order
            quad = [v for r, c in corners for v in (src_x[r, c], src_y[r, c])]
            mesh.append((box, quad))
    return base.transform(base.size, Image.Transform.MESH, mesh, resample=Image.Resampling.BICUBIC)


def render_idle_loop(base: Image.Image, manifest: PackManifest, motion: IdleMotion = DEFAULT_MOTION) -> bytes:
    """Encode the idle loop as VP9 WebM bytes."""
    import av

    mouth, eyes = manifest.mouth.anchor, manifest.eyes.anchor
    face_height = mouth.y - eyes.y
    pivot = (mouth.x, mouth.y + 0.6 * face_height)  # about where the head turns on the neck
    neck_y = mouth.y + 1.2 * face_height
    frame_count = round(motion.seconds * motion.fps)
    buffer = io.BytesIO()
    with av.open(buffer, mode="w", format="webm") as container:
        stream = container.add_stream("libvpx-vp9", rate=motion.fps)
        stream.width, stream.height = base.size
        stream.pix_fmt = "yuv420p"
        stream.options = {"crf": str(motion.crf), "b:v": "0", "row-mt": "1", "cpu-used": "4", "deadline": "good"}
        for index in range(frame_count):
            frame = warp_frame(base, head_pose(motion, index), pivot, neck_y)
            for packet in stream.encode(av.VideoFrame.from_image(frame)):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return buffer.getvalue()


def add_idle_loop(pack_dir: Path, motion: IdleMotion = DEFAULT_MOTION) -> Path:
    """Make `idle_loop.webm` for a pack. A timeline tracked on an older loop no longer matches, so it is
    dropped from the manifest (run `avatar-service anchors` again)."""
    manifest = load_manifest(pack_dir)
    with Image.open(pack_dir / manifest.base_face) as image:
        base = image.convert("RGB")
    video = render_idle_loop(base, manifest, motion)
    stale = manifest.anchor_timeline
    add_to_pack(pack_dir, {IDLE_NAME: video}, manifest.model_copy(update={"idle_video": IDLE_NAME, "anchor_timeline": None}))
    if stale:
        (pack_dir / stale).unlink(missing_ok=True)
    return pack_dir / IDLE_NAME
