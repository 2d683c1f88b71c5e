"""Reading video frames and still images, with one-line errors for files that cannot be decoded."""

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from avatar_service.tracking.errors import UnreadableMedia


@dataclass
class VideoInfo:
    fps: float
    # Estimated from the container when the stream does not say (WebM often does not).
    frame_count: int
    width: int
    height: int


def probe_video(path: Path) -> VideoInfo:
    import av

    try:
        with av.open(str(path)) as container:
            stream = container.streams.video[0]
            fps = float(stream.average_rate or stream.guessed_rate or 25)
            count = stream.frames
            if not count and container.duration:
                count = round(container.duration / 1_000_000 * fps)
            return VideoInfo(fps=fps, frame_count=int(count), width=stream.width, height=stream.height)
    except (av.FFmpegError, IndexError, OSError) as error:
        raise UnreadableMedia(f"cannot read video {path}: {_reason(error)}") from None


def read_video_frames(path: Path) -> Iterator[np.ndarray]:
    """Yield every frame as an (H, W, 3) uint8 RGB array."""
    import av

    try:
        with av.open(str(path)) as container:
            stream = container.streams.video[0]
            stream.thread_type = "AUTO"  # libvpx decodes on both cores
            for frame in container.decode(stream):
                yield frame.to_ndarray(format="rgb24")
    except (av.FFmpegError, IndexError, OSError) as error:
        raise UnreadableMedia(f"cannot read video {path}: {_reason(error)}") from None


def read_image(path: Path) -> np.ndarray:
    """An image file as an (H, W, 3) uint8 RGB array, rotated upright by its EXIF orientation."""
    from PIL import Image, ImageOps, UnidentifiedImageError

    try:
        with Image.open(path) as image:
            upright = ImageOps.exif_transpose(image)
            return np.asarray(upright.convert("RGB"))
    except (UnidentifiedImageError, OSError, ValueError) as error:
        raise UnreadableMedia(f"cannot read image {path}: {_reason(error)}") from None


def _reason(error: Exception) -> str:
    if isinstance(error, IndexError):
        return "no video stream"
    text = getattr(error, "strerror", None) or str(error)
    return text.splitlines()[0] if text else type(error).__name__


def prefetched(frames: Iterator[np.ndarray], depth: int = 8) -> Iterator[np.ndarray]:
    """Decode ahead in a thread: libvpx and Face Mesh both release the GIL, so on 2 cores decoding
    overlaps with tracking instead of adding to it. Decoder errors are re-raised in the caller."""
    import queue
    import threading

    buffer: queue.Queue = queue.Queue(maxsize=depth)
    done = object()
    stop = threading.Event()

    def produce() -> None:
        try:
            for frame in frames:
                if stop.is_set():
                    return
                buffer.put(frame)
        except Exception as error:  # noqa: BLE001 - re-raised in the consuming thread below
            buffer.put(error)
        buffer.put(done)

    worker = threading.Thread(target=produce, name="video-decode", daemon=True)
    worker.start()
    try:
        while (item := buffer.get()) is not done:
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        while worker.is_alive():  # unblock a producer waiting on a full queue
            try:
                buffer.get_nowait()
            except queue.Empty:
                worker.join(0.01)
