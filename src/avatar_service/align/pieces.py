"""Where to cut a long recording so each piece is aligned on its own: in pauses, pieces up to ~20 s.

pocketsphinx's phone-level pass keeps a table of frames × HMM states for the whole utterance (measured: 160 MB
peak for 17 s, 310 MB for 75 s), so one 10-minute utterance would need gigabytes. Cutting in pauses costs
nothing in accuracy: no phone spans a pause.
"""

import numpy as np

from avatar_service.align.recording import ALIGN_RATE
from avatar_service.loudness import loudness_envelope, quiet_stretches

MAX_PIECE_MS = 20_000
# A pause this long is a safe place to cut (a stop consonant's closure is < 150 ms).
MIN_PAUSE_MS = 250
# Quieter than this relative to the loud (95th percentile) frames counts as a pause: about −35 dB.
PAUSE_RATIO = 10 ** (-35 / 20)


def pauses(speech_16k: np.ndarray, min_pause_ms: int = MIN_PAUSE_MS) -> list[tuple[int, int]]:
    """(start ms, end ms) of every quiet stretch of at least ``min_pause_ms``."""
    envelope = loudness_envelope(speech_16k, ALIGN_RATE)
    return [(int(start), int(end)) for start, end in quiet_stretches(envelope, PAUSE_RATIO, min_pause_ms)]


def cut_points(candidates: list[int], duration_ms: int, max_piece_ms: int = MAX_PIECE_MS) -> list[int]:
    """Choose cuts among ``candidates`` (ms, ascending) so pieces stay under ``max_piece_ms`` where possible.

    Greedy: each piece runs to the last candidate that keeps it short enough; with no candidate in reach, the
    next one after (a long stretch without any pause stays whole rather than being cut mid-word).
    """
    cuts: list[int] = []
    start = 0
    remaining = [c for c in candidates if 0 < c < duration_ms]
    while duration_ms - start > max_piece_ms and remaining:
        within = [c for c in remaining if c - start <= max_piece_ms]
        cut = within[-1] if within else remaining[0]
        cuts.append(cut)
        start = cut
        remaining = [c for c in remaining if c > cut]
    return cuts
