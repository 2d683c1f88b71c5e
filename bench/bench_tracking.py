"""Tracking accuracy and speed on a synthetic-motion video made from a real photo (Grace Hopper).

Prints the mean/max mouth-centre error in px against the known motion, and tracking speed as a multiple
of real time (decode + Face Mesh + smoothing; model start-up included). Target: mean <= 1 px, >= 10x.
    python bench/bench_tracking.py
"""

import tempfile
import time
from pathlib import Path

import matplotlib
import numpy as np

from avatar_service.packs.manifest import Size
from avatar_service.tracking.synthetic import (
    FPS,
    SECONDS,
    mouth_errors,
    synthetic_video,
)
from avatar_service.tracking.timeline import build_timeline, track_frames
from avatar_service.tracking.video import prefetched, read_image, read_video_frames


def main() -> None:
    photo = read_image(Path(matplotlib.get_data_path()) / "sample_data" / "grace_hopper.jpg")
    with tempfile.TemporaryDirectory() as workdir:
        video = Path(workdir) / "synthetic.webm"
        matrices = synthetic_video(photo, video)
        runs = []
        for _ in range(3):
            start = time.perf_counter()
            reference, frames = track_frames(prefetched(read_video_frames(video)), photo)
            timeline = build_timeline(reference, frames, FPS, Size(width=photo.shape[1], height=photo.shape[0]))
            runs.append(time.perf_counter() - start)
    errors = mouth_errors(timeline.reference.mouth, [f.mouth for f in timeline.frames], matrices)
    raw = mouth_errors(reference.mouth, [f.mouth for f in frames], matrices)
    best = min(runs)
    print(f"frames: {len(frames)} ({SECONDS:g} s at {FPS} fps, {photo.shape[1]}x{photo.shape[0]})")
    print(f"mouth-centre error (smoothed timeline): mean {errors.mean():.3f} px, max {errors.max():.3f} px")
    print(f"mouth-centre error (raw landmarks):     mean {raw.mean():.3f} px, max {raw.max():.3f} px")
    print(f"tracking time: best {best:.3f} s, median {np.median(runs):.3f} s of 3 runs")
    print(f"speed: {SECONDS / best:.1f}x real time (target >= 10x)")


if __name__ == "__main__":
    main()
