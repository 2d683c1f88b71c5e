"""How loud audio is over time: RMS per 10 ms frame, and the stretches quieter than a share of its loud level.

Shared by the cue builder (silences close the mouth) and the aligner (recordings are cut in pauses).
"""

import numpy as np

ENVELOPE_FRAME_MS = 10.0


def loudness_envelope(samples: np.ndarray, sample_rate: int, frame_ms: float = ENVELOPE_FRAME_MS) -> np.ndarray:
    """RMS per ``frame_ms`` frame, in the samples' own scale."""
    frame = max(1, int(sample_rate * frame_ms / 1000))
    usable = len(samples) // frame * frame
    if usable == 0:
        return np.zeros(0, dtype=np.float32)
    frames = samples[:usable].reshape(-1, frame)
    return np.sqrt(np.mean(frames.astype(np.float32) ** 2, axis=1))


def quiet_stretches(
    envelope: np.ndarray, ratio: float, min_ms: float, floor: float = 0.0, frame_ms: float = ENVELOPE_FRAME_MS
) -> list[tuple[float, float]]:
    """(start ms, end ms) of every run of frames below ``ratio`` × the loud (95th percentile) level (and below
    ``floor`` when that is higher) lasting at least ``min_ms``."""
    if envelope.size == 0:
        return []
    loud = float(np.percentile(envelope, 95))
    quiet = np.append(envelope < max(loud * ratio, floor), False)
    stretches = []
    start = None
    for index, is_quiet in enumerate(quiet):
        if is_quiet and start is None:
            start = index
        elif not is_quiet and start is not None:
            if (index - start) * frame_ms >= min_ms:
                stretches.append((start * frame_ms, index * frame_ms))
            start = None
    return stretches
