"""Where sound starts after a pause, to the millisecond: the first moment the audio is louder than a pause.

pocketsphinx labels 10 ms frames whose 25.6 ms analysis windows overlap; after silence the first frame whose
window merely ends in the new sound is already the phone, and the phone is often given part of the silence as
well, so a phone after a pause starts before its sound (measured on espeak-ng's and Piper's speech:
docs/lipsync.md, "Phones after a pause start where their sound does"). The boundary between silence and
speech is an energy endpoint, found as in Rabiner and Sambur, "An algorithm for determining the endpoints of
isolated utterances" (Bell System Technical Journal 54(2), 1975): short-time energy against a threshold set
from the recording's own levels, searched near a first, coarser estimate.
"""

import numpy as np

from avatar_service.align.pieces import PAUSE_RATIO
from avatar_service.align.recording import ALIGN_RATE
from avatar_service.loudness import loudness_envelope

STEP_MS = 1
# Short, to place an onset within a few ms (a voiced sound's level ripples with its pitch period, but only the
# first ms above the threshold counts).
WINDOW_MS = 4
# The onset is searched from a frame before pocketsphinx's boundary to the end of the phone's own span (less a
# frame): after a pause the phone is often given some of the silence too (measured up to 80 ms on Piper speech).
SEARCH_BEFORE_MS = 10
_CHUNK = ALIGN_RATE * 60  # samples per chunk (a multiple of the 1 ms block)


class OnsetFinder:
    """Short-time levels of one recording (16 kHz int16) and its pause threshold (align/pieces.py)."""

    def __init__(self, speech_16k: np.ndarray) -> None:
        block = ALIGN_RATE * STEP_MS // 1000
        per_window = WINDOW_MS // STEP_MS
        energies = _block_energies(speech_16k, block)
        # Level at ms t: RMS of the window centred on t (its blocks summed).
        summed = np.convolve(energies, np.ones(per_window, dtype=np.float32), "valid") if energies.size else energies
        self._levels = np.sqrt(summed / (block * per_window))
        self._centre_ms = WINDOW_MS / 2
        envelope = loudness_envelope(speech_16k, ALIGN_RATE)
        self._threshold = float(np.percentile(envelope, 95)) * PAUSE_RATIO if envelope.size else np.inf

    def onset(self, start_ms: float, latest_ms: float) -> float:
        """The first ms from a frame before ``start_ms`` to ``latest_ms`` where the audio is louder than a pause;
        ``start_ms`` itself when the audio is already loud a frame before it or never gets loud in that span."""
        first = max(0, int(np.ceil((start_ms - SEARCH_BEFORE_MS - self._centre_ms) / STEP_MS)))
        last = min(len(self._levels) - 1, int((latest_ms - self._centre_ms) / STEP_MS))
        if last <= first:
            return start_ms
        loud = np.flatnonzero(self._levels[first:last + 1] > self._threshold)
        if loud.size == 0 or loud[0] == 0:
            return start_ms
        return (first + int(loud[0])) * STEP_MS + self._centre_ms


def _block_energies(speech_16k: np.ndarray, block: int) -> np.ndarray:
    """Sum of squares per ``block`` samples, a chunk at a time: a float copy of ten minutes of audio at once
    would add 38-77 MB to the aligner's peak."""
    usable = len(speech_16k) // block * block
    chunks = [
        np.square(speech_16k[first:min(first + _CHUNK, usable)].reshape(-1, block), dtype=np.float32).sum(axis=1)
        for first in range(0, usable, _CHUNK)
    ]
    return np.concatenate(chunks) if chunks else np.zeros(0, dtype=np.float32)
