"""A pack's anchor timeline (`anchor_timeline.json`): the face tracked on every frame of its idle video, smoothed
and expressed in canvas pixels (`avatar-service anchors`, in packs/cli.py, adds it to a pack)."""

from pathlib import Path

import numpy as np

from avatar_service.packs.files import add_to_pack, load_manifest
from avatar_service.packs.manifest import AnchorTimeline, Size, TimelineFrame, TimelineReference
from avatar_service.tracking.facemesh import require_mediapipe
from avatar_service.tracking.landmarks import FaceAnchors
from avatar_service.tracking.progress import ProgressBar
from avatar_service.tracking.timeline import track_frames
from avatar_service.tracking.video import Prefetched, probe_video, read_image, read_video_frames

TIMELINE_NAME = "anchor_timeline.json"
# Light smoothing: a [1, 2, 1] / 4 kernel removes frame-to-frame landmark jitter (~0.1-0.3 px) while a
# 0.5 Hz head bob at 25 fps keeps 99.6 % of its amplitude.
SMOOTHING_KERNEL = np.array([0.25, 0.5, 0.25])


def build_timeline(
    reference: FaceAnchors, frames: list[FaceAnchors], fps: float, canvas: Size, scale: float = 1.0
) -> AnchorTimeline:
    """Smooth the per-frame anchors and express them in canvas pixels (the video may be scaled).

    Smoothing wraps around the ends because an idle video plays as a loop.
    """
    columns = np.array([[*a.mouth, *a.eyes, a.face_size, a.roll_deg] for a in frames], dtype=np.float64)
    padded = np.concatenate([columns[-1:], columns, columns[:1]])
    smooth = sum(weight * padded[offset : offset + len(columns)] for offset, weight in enumerate(SMOOTHING_KERNEL))
    positions = smooth[:, :5] * scale
    return AnchorTimeline(
        fps=fps,
        frame_count=len(frames),
        canvas=canvas,
        reference=TimelineReference(
            mouth=_rounded(reference.mouth, scale),
            eyes=_rounded(reference.eyes, scale),
            face_size=round(reference.face_size * scale, 3),
        ),
        frames=[
            TimelineFrame(
                mouth=(round(row[0], 3), round(row[1], 3)),
                eyes=(round(row[2], 3), round(row[3], 3)),
                face_size=round(row[4], 3),
                roll_deg=round(roll - reference.roll_deg, 4),
            )
            for row, roll in zip(positions, smooth[:, 5], strict=True)
        ],
    )


def _rounded(point: tuple[float, float], scale: float) -> tuple[float, float]:
    return (round(point[0] * scale, 3), round(point[1] * scale, 3))


def track_pack_video(pack_dir: Path, video: Path, *, show_progress: bool = True) -> AnchorTimeline:
    """Track `video` (the pack's idle loop) and add `anchor_timeline.json` to the pack."""
    require_mediapipe()
    manifest = load_manifest(pack_dir)
    info = probe_video(video)
    reference = read_image(pack_dir / manifest.base_face)
    scale = manifest.canvas.width / info.width
    if (info.width, info.height) != (reference.shape[1], reference.shape[0]):
        # Track the reference at the video's size so both are measured alike.
        from PIL import Image

        reference = np.asarray(Image.fromarray(reference).resize((info.width, info.height), Image.LANCZOS))
    progress = ProgressBar(f"tracking {video.name}", info.frame_count) if show_progress else None
    try:
        with Prefetched(read_video_frames(video)) as video_frames:
            reference_anchors, frames = track_frames(
                video_frames, reference, on_frame=progress.advance if progress else lambda: None
            )
    finally:
        if progress:
            progress.finish()  # end the bar's line, also before an error message
    timeline = build_timeline(reference_anchors, frames, info.fps, manifest.canvas, scale)
    updated = manifest.model_copy(update={"anchor_timeline": TIMELINE_NAME})
    add_to_pack(pack_dir, {TIMELINE_NAME: timeline.model_dump_json(indent=1).encode()}, updated)
    return timeline
