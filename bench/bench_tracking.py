"""Tracking accuracy and speed on a synthetic-motion video made from a real photo (Grace Hopper).

Prints the mean/max mouth-centre error in px against the known motion, tracking speed as a multiple of
real time, and where a frame's time goes. Target: mean <= 1 px, >= 10x real time on 2 cores.
- warm: in a process that has imported the tracking code; model start-up, reference passes, decoding,
  Face Mesh and smoothing included (a new Face Mesh graph per run).
- cold: a fresh Python process (interpreter start-up excluded): imports, reading the photo, then as warm.
Both are measured on a quiet machine and again with one core kept busy by another process, which is
what the shared 2-core machine usually looks like.
    python bench/bench_tracking.py
"""

import importlib.util
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

# Located without importing matplotlib (or numpy with it), so the cold runs import only what tracking does.
MATPLOTLIB_DIR = Path(importlib.util.find_spec("matplotlib").submodule_search_locations[0])
PHOTO = MATPLOTLIB_DIR / "mpl-data" / "sample_data" / "grace_hopper.jpg"
WARM_RUNS = 5
COLD_RUNS = 3
BUSY_LOOP = "while True: pass"


def track(video: Path, photo_path: Path) -> tuple[object, list[object], object]:
    """What `avatar-service anchors` does minus the pack files: (reference, raw frames, timeline)."""
    from avatar_service.packs.anchors import build_timeline
    from avatar_service.packs.manifest import Size
    from avatar_service.tracking.timeline import track_frames
    from avatar_service.tracking.video import (
        Prefetched,
        probe_video,
        read_image,
        read_video_frames,
    )

    with Prefetched(read_video_frames(video)) as frames:
        photo = read_image(photo_path)
        reference, tracked = track_frames(frames, photo)
    canvas = Size(width=photo.shape[1], height=photo.shape[0])
    return reference, tracked, build_timeline(reference, tracked, probe_video(video).fps, canvas)


def cold_run(video: Path) -> None:
    """Child process: time one run including every import, print the seconds."""
    start = time.perf_counter()
    track(video, PHOTO)
    print(time.perf_counter() - start)


def warm_times(video: Path) -> list[float]:
    times = []
    for _ in range(WARM_RUNS):
        start = time.perf_counter()
        track(video, PHOTO)
        times.append(time.perf_counter() - start)
    return times


def cold_times(video: Path) -> list[float]:
    command = [sys.executable, __file__, "--cold-run", str(video)]
    return [float(subprocess.run(command, check=True, capture_output=True, text=True).stdout) for _ in range(COLD_RUNS)]


@contextmanager
def busy_core() -> Iterator[None]:
    """Another process spinning on one of the two cores for the duration of the block."""
    spinner = subprocess.Popen([sys.executable, "-c", BUSY_LOOP])
    try:
        yield
    finally:
        spinner.kill()
        spinner.wait()


def timed_ms(action: Callable[[], object], repeat: int = 1) -> float:
    start = time.perf_counter()
    for _ in range(repeat):
        action()
    return (time.perf_counter() - start) * 1000 / repeat


def print_breakdown(video: Path, warm_best: float) -> None:
    """Each stage alone, one after the other, to compare with the pipelined total."""
    from avatar_service.tracking.facemesh import FaceMesh
    from avatar_service.tracking.timeline import (
        REFERENCE_FRAMES,
        REFERENCE_WARMUP_FRAMES,
    )
    from avatar_service.tracking.video import read_image, read_video_frames

    photo = read_image(PHOTO)
    decode_ms = timed_ms(lambda: list(read_video_frames(video)))
    frames = list(read_video_frames(video))
    passes = REFERENCE_WARMUP_FRAMES + REFERENCE_FRAMES
    start = time.perf_counter()
    mesh = FaceMesh(static=False, iris=False)
    mesh.faces(photo)  # the graph starts and loads its models on the first frame
    start_ms = (time.perf_counter() - start) * 1000
    reference_ms = timed_ms(lambda: mesh.faces(photo), passes - 1) * passes
    mesh_ms = timed_ms(lambda: [mesh.faces(frame) for frame in frames]) / len(frames)
    mesh.close()
    sequential_ms = start_ms + reference_ms + decode_ms + mesh_ms * len(frames)
    print("per-stage breakdown (warm, each stage alone):")
    print(f"  VP9 decode + RGB:       {decode_ms / len(frames):.2f} ms/frame")
    print(f"  Face Mesh + landmarks:  {mesh_ms:.2f} ms/frame")
    print(f"  model start-up:         {start_ms:.1f} ms (graph + first frame)")
    print(f"  reference passes:       {reference_ms:.1f} ms ({passes} passes)")
    print(f"  stages in sequence:     {sequential_ms:.0f} ms; pipelined (warm best) {warm_best * 1000:.0f} ms")


def print_speed(label: str, video: Path, seconds: float) -> float:
    """The multiple of real time is taken from the median run (the best run flatters a shared machine)."""
    warm, cold = warm_times(video), cold_times(video)
    print(
        f"speed, {label}: warm {seconds / statistics.median(warm):.1f}x (median of {len(warm)}: "
        f"{statistics.median(warm) * 1000:.0f} ms, best {min(warm) * 1000:.0f} ms), "
        f"cold {seconds / statistics.median(cold):.1f}x (median of {len(cold)}: {statistics.median(cold) * 1000:.0f} ms, "
        f"best {min(cold) * 1000:.0f} ms) real time (target >= 10x)"
    )
    return min(warm)


def main() -> None:
    from avatar_service.tracking.synthetic import (
        FPS,
        SECONDS,
        mouth_errors,
        synthetic_video,
    )
    from avatar_service.tracking.video import read_image

    photo = read_image(PHOTO)
    with tempfile.TemporaryDirectory() as workdir:
        video = Path(workdir) / "synthetic.webm"
        matrices = synthetic_video(photo, video)
        reference, frames, timeline = track(video, PHOTO)
        errors = mouth_errors(timeline.reference.mouth, [f.mouth for f in timeline.frames], matrices)
        raw = mouth_errors(reference.mouth, [f.mouth for f in frames], matrices)
        print(f"frames: {len(frames)} ({SECONDS:g} s at {FPS} fps, {photo.shape[1]}x{photo.shape[0]})")
        print(f"mouth-centre error (smoothed timeline): mean {errors.mean():.3f} px, max {errors.max():.3f} px")
        print(f"mouth-centre error (raw landmarks):     mean {raw.mean():.3f} px, max {raw.max():.3f} px")
        warm_best = print_speed("quiet machine", video, SECONDS)
        with busy_core():
            print_speed("one core busy", video, SECONDS)
        print_breakdown(video, warm_best)


if __name__ == "__main__":
    if sys.argv[1:2] == ["--cold-run"]:
        cold_run(Path(sys.argv[2]))
    else:
        main()
