"""Any audio file → mono samples: 24 kHz float for the stored Opus copy, 16 kHz int16 for the aligner.

PyAV (FFmpeg) decodes WAV, MP3, OGG/Opus/Vorbis, FLAC, M4A/AAC, WebM at any rate and channel count. One decode
pass feeds two resamplers, so a 10-minute file is read once. Limits are checked before decoding (file size,
the container's declared duration) and again while decoding (a container may under-declare its length).
"""

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from avatar_service.audio import OPUS_RATE
from avatar_service.errors import InvalidInput

MAX_RECORDING_BYTES = 50 * 1024 * 1024
MAX_RECORDING_SECONDS = 600.0
# pocketsphinx's bundled en-us acoustic model is trained on 16 kHz speech (its feat.params: -samprate 16000).
ALIGN_RATE = 16_000
# The loudest 10 ms frame below this RMS (about −60 dBFS) means there is nothing to lip-sync.
SILENT_PEAK_RMS = 1e-3


@dataclass(frozen=True)
class Recording:
    samples: np.ndarray  # float32 mono in [-1, 1] at ``sample_rate`` (what gets stored as OGG/Opus)
    sample_rate: int
    speech_16k: np.ndarray  # int16 mono at 16 kHz (what the aligner reads)

    @property
    def duration_ms(self) -> int:
        return round(len(self.samples) * 1000 / self.sample_rate)


def probe_recording(
    path: Path, max_bytes: int = MAX_RECORDING_BYTES, max_seconds: float = MAX_RECORDING_SECONDS
) -> None:
    """Cheap checks before any decoding: the file exists, is within the size limit, opens as a container with
    an audio stream, and does not declare more than ``max_seconds``. Raises InvalidInput(field="audio")."""
    if not path.is_file():
        raise InvalidInput("audio", f"no such file: {path}")
    size = path.stat().st_size
    if size > max_bytes:
        raise InvalidInput("audio", f"file is {size / 1e6:.1f} MB; the limit is {max_bytes / 1e6:.0f} MB")
    if size == 0:
        raise InvalidInput("audio", "file is empty")
    with _opened(path) as container:
        if not container.streams.audio:
            raise InvalidInput("audio", "file has no audio stream")
        declared = _declared_seconds(container, container.streams.audio[0])
    if declared > max_seconds:
        raise InvalidInput("audio", _too_long(declared, max_seconds))


def load_recording(
    path: Path, max_bytes: int = MAX_RECORDING_BYTES, max_seconds: float = MAX_RECORDING_SECONDS
) -> Recording:
    """Decode ``path``; raises InvalidInput(field="audio") for a file too big, too long, unreadable or silent."""
    probe_recording(path, max_bytes, max_seconds)
    with _opened(path) as container:
        stored, speech = _decode(container, container.streams.audio[0], max_seconds)
    if speech.size == 0:
        raise InvalidInput("audio", "file contains no audio samples")
    if _peak_rms(speech) < SILENT_PEAK_RMS * 32768:
        raise InvalidInput("audio", "recording is silent (no frame louder than -60 dBFS)")
    return Recording(stored, OPUS_RATE, speech)


@contextmanager
def _opened(path: Path) -> Iterator:
    """The container, with FFmpeg's errors (opening or decoding) turned into InvalidInput."""
    import av

    try:
        with av.open(str(path)) as container:
            yield container
    except av.FFmpegError as error:
        raise InvalidInput("audio", f"not a readable audio file ({error.strerror or type(error).__name__})") from None


def _declared_seconds(container, stream) -> float:
    if stream.duration is not None and stream.time_base is not None:
        return float(stream.duration * stream.time_base)
    if container.duration is not None:
        return container.duration / 1_000_000  # AV_TIME_BASE
    return 0.0


def _too_long(seconds: float, max_seconds: float) -> str:
    return f"recording is {seconds:.1f} s long; the limit is {max_seconds / 60:g} minutes"


def _decode(container, stream, max_seconds: float) -> tuple[np.ndarray, np.ndarray]:
    import av

    to_stored = av.AudioResampler(format="flt", layout="mono", rate=OPUS_RATE)
    to_speech = av.AudioResampler(format="s16", layout="mono", rate=ALIGN_RATE)
    stored: list[np.ndarray] = []
    speech: list[np.ndarray] = []
    limit = int(max_seconds * ALIGN_RATE) + ALIGN_RATE  # a second of slack for codec padding
    decoded = 0
    for frame in container.decode(stream):
        frame.pts = None  # resample by sample count; some containers carry gaps or odd timestamps
        stored.extend(f.to_ndarray()[0] for f in to_stored.resample(frame))
        for out in to_speech.resample(frame):
            speech.append(out.to_ndarray()[0])
            decoded += out.samples
        if decoded > limit:
            raise InvalidInput("audio", _too_long(decoded / ALIGN_RATE, max_seconds))
    stored.extend(f.to_ndarray()[0] for f in to_stored.resample(None))
    speech.extend(f.to_ndarray()[0] for f in to_speech.resample(None))
    return _joined(stored, np.float32), _joined(speech, np.int16)


def _joined(chunks: list[np.ndarray], dtype) -> np.ndarray:
    return np.concatenate(chunks).astype(dtype, copy=False) if chunks else np.zeros(0, dtype=dtype)


def _peak_rms(speech: np.ndarray, frame: int = ALIGN_RATE // 100) -> float:
    usable = len(speech) // frame * frame
    if usable == 0:
        return float(np.sqrt(np.mean(speech.astype(np.float64) ** 2))) if speech.size else 0.0
    frames = speech[:usable].astype(np.float64).reshape(-1, frame)
    return float(np.sqrt(np.mean(frames**2, axis=1)).max())
