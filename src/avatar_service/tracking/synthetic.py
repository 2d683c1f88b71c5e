"""A test video with known motion: a real photo moved by sub-pixel sways, rolls and breathing scale.

Used by the accuracy test and `bench/bench_tracking.py`: the true position of any point of the photo
is known on every frame, so tracking error can be measured rather than eyeballed.
"""

import io
import math
from pathlib import Path

import numpy as np

FPS = 25
SECONDS = 4.0


def motion_matrix(frame: int, centre: tuple[float, float]) -> np.ndarray:
    """2x3 affine matrix of frame `frame`: up to ~3 px sway, 1 deg roll, 1 % scale, at odd sub-pixel
    offsets so no frame lands on whole pixels."""
    t = frame / FPS
    dx = 2.6 * math.sin(2 * math.pi * t / SECONDS) + 0.37
    dy = 1.8 * math.sin(2 * math.pi * 2 * t / SECONDS + 0.5) - 0.21
    roll = math.radians(1.0 * math.sin(2 * math.pi * t / SECONDS + 1.1))
    scale = 1 + 0.01 * math.sin(2 * math.pi * t / SECONDS + 2.0)
    cos, sin = scale * math.cos(roll), scale * math.sin(roll)
    cx, cy = centre
    return np.array([[cos, -sin, cx - cos * cx + sin * cy + dx], [sin, cos, cy - sin * cx - cos * cy + dy]])


def synthetic_video(photo: np.ndarray, path: Path, crf: int = 18) -> list[np.ndarray]:
    """Write the moving photo as a VP9 WebM (100 frames, 25 fps); return each frame's motion matrix."""
    import av
    import cv2

    height, width = photo.shape[:2]
    centre = (width / 2, height * 0.6)
    matrices = [motion_matrix(i, centre) for i in range(round(FPS * SECONDS))]
    buffer = io.BytesIO()
    with av.open(buffer, mode="w", format="webm") as container:
        stream = container.add_stream("libvpx-vp9", rate=FPS)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.options = {"crf": str(crf), "b:v": "0", "row-mt": "1", "cpu-used": "5", "deadline": "realtime"}
        for matrix in matrices:
            moved = cv2.warpAffine(photo, matrix, (width, height), flags=cv2.INTER_CUBIC, borderMode=cv2.BORDER_REFLECT)
            for packet in stream.encode(av.VideoFrame.from_ndarray(moved, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    path.write_bytes(buffer.getvalue())
    return matrices


def mouth_errors(reference_mouth: tuple[float, float], tracked: list[tuple[float, float]], matrices: list[np.ndarray]) -> np.ndarray:
    """Distance in px between each tracked mouth centre and where the motion really put the reference."""
    truth = np.array([m @ (*reference_mouth, 1.0) for m in matrices])
    return np.hypot(*(np.array(tracked) - truth).T)
