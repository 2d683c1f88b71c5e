"""Reading video frames and still images, with one-line errors for files that cannot be decoded."""

import queue
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Self

import numpy as np

from avatar_service.tracking.errors import UnreadableMedia

if TYPE_CHECKING:
    import av

# Frames decoded ahead of Face Mesh: enough to cover the model start-up (~20 ms, ~15 frames), so the
# decoder never waits early on; 24 frames of 512x640 RGB are ~24 MB.
PREFETCH_DEPTH = 24


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
    """Yield every frame as an (H, W, 3) uint8 RGB array, decoded on one core.

    One decoder thread on purpose: tracking runs Face Mesh on the other core, which is the slower stage
    (1.3 vs 1.1 ms per 512x640 frame), and libavcodec's frame threads cost 0.15 ms more CPU per frame
    for nothing then; on a loaded machine that CPU is what counts.
    """
    import av
    import cv2

    threads = cv2.getNumThreads()
    # OpenCV's thread pool spends ~0.5 ms of CPU per frame to split a 0.05 ms colour conversion.
    cv2.setNumThreads(1)
    try:
        with av.open(str(path)) as container:
            stream = container.streams.video[0]
            stream.codec_context.thread_count = 1
            for frame in container.decode(stream):
                yield to_rgb(frame)
    except (av.FFmpegError, IndexError, OSError) as error:
        raise UnreadableMedia(f"cannot read video {path}: {_reason(error)}") from None
    finally:
        cv2.setNumThreads(threads)


def to_rgb(frame: "av.VideoFrame") -> np.ndarray:
    """A decoded frame as RGB. VP9's planar YUV 4:2:0 goes through OpenCV, 0.05 ms per 512x640 frame,
    where libswscale's `to_ndarray(format="rgb24")` takes 0.4-0.9 ms: about as long as decoding it."""
    if frame.format.name == "yuv420p" and frame.width % 2 == 0 and frame.height % 2 == 0:
        import cv2

        return cv2.cvtColor(frame.to_ndarray(), cv2.COLOR_YUV2RGB_I420)
    return frame.to_ndarray(format="rgb24")


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


class Prefetched:
    """Decode ahead in a thread, started on entering the block: libvpx, OpenCV and Face Mesh release the
    GIL, so on 2 cores decoding overlaps with the model start-up and tracking instead of adding to them.
    Decoder errors are re-raised in the iterating thread; leaving the block stops the decoder.

        with Prefetched(read_video_frames(path)) as frames:
            for frame in frames: ...
    """

    _DONE = object()

    def __init__(self, frames: Iterable[np.ndarray], depth: int = PREFETCH_DEPTH) -> None:
        self._frames = frames
        self._buffer: queue.Queue = queue.Queue(maxsize=depth)
        self._stop = threading.Event()
        self._worker = threading.Thread(target=self._produce, name="video-decode", daemon=True)

    def __enter__(self) -> Self:
        self._worker.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        while self._worker.is_alive():  # unblock a producer waiting on a full queue
            try:
                self._buffer.get_nowait()
            except queue.Empty:
                self._worker.join(0.01)

    def __iter__(self) -> Iterator[np.ndarray]:
        while (item := self._buffer.get()) is not self._DONE:
            if isinstance(item, BaseException):
                raise item
            yield item

    def _produce(self) -> None:
        try:
            for frame in self._frames:
                if self._stop.is_set():
                    return
                self._buffer.put(frame)
        except Exception as error:  # noqa: BLE001 - re-raised in the consuming thread by __iter__
            self._buffer.put(error)
        self._buffer.put(self._DONE)
