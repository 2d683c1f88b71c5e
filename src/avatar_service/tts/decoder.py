"""Decoding a sentence's latent frames into audio in pieces, on as many cores as are free, with the same bits.

VITS's decoder (HiFi-GAN's generator: Kong et al. 2020, §2.1) is made of convolutions over the latent frames,
so an audio sample depends only on the frames around it. Decoding frames ``[a, b)`` with ``CONTEXT_FRAMES``
more on each side and keeping the middle gives exactly the samples a decode of the whole sentence gives there
(en_US-joe-medium: a change to one frame reaches 9.3 frames back and 10.3 ahead; 12 frames of context already
gave identical bits). Pieces therefore run side by side when cores are free, e.g. for a lone request, and
one after another in one call under load, and the audio is the same either way:

- each decode runs on a one-thread session, whose arithmetic does not depend on the machine's load;
- onnxruntime's GEMM cuts a long sum into blocks whose length depends on how many columns it computes at
  once, and for fewer than 65 columns it uses longer blocks (MLAS ``MlasSgemmOperation``: "expand the K stride
  if N is small"), which rounds differently. A piece is therefore never decoded with fewer than
  ``MIN_PIECE_FRAMES`` + context frames, well above that, and a test checks pieces against the whole
  (tests/tts/test_decoder.py). docs/pipeline.md, "Threads", has the measurements.
"""

from collections.abc import Callable
from concurrent.futures import Executor

import numpy as np

# Frames decoded on each side of a piece beyond its own: above the decoder's measured reach (10.3 frames).
CONTEXT_FRAMES = 16
# The shortest piece worth a core of its own; with its context, well above onnxruntime's 64-column switch.
MIN_PIECE_FRAMES = 64

Decode = Callable[[np.ndarray], np.ndarray]  # latent [1, channels, frames] → audio samples, hop per frame


def piece_bounds(frames: int, pieces: int) -> list[tuple[int, int]]:
    """``frames`` cut into at most ``pieces`` equal runs of at least ``MIN_PIECE_FRAMES`` (one if too short)."""
    count = max(1, min(pieces, frames // MIN_PIECE_FRAMES))
    cuts = [round(index * frames / count) for index in range(count + 1)]
    return list(zip(cuts, cuts[1:]))


def decode_in_pieces(
    decode: Decode, latent: np.ndarray, hop_length: int, pieces: int, helpers: Executor | None
) -> np.ndarray:
    """The audio for ``latent`` [1, channels, frames], decoded in up to ``pieces`` pieces.

    The first piece runs on the calling thread and the others on ``helpers`` (all on the calling thread
    without it); the result does not depend on ``pieces``.
    """
    frames = latent.shape[2]
    bounds = piece_bounds(frames, pieces)
    if helpers is None or len(bounds) == 1:
        return decode(latent).reshape(-1)

    def one_piece(start: int, end: int) -> np.ndarray:
        low, high = max(0, start - CONTEXT_FRAMES), min(frames, end + CONTEXT_FRAMES)
        audio = decode(np.ascontiguousarray(latent[:, :, low:high])).reshape(-1)
        return audio[(start - low) * hop_length : (end - low) * hop_length]

    others = [helpers.submit(one_piece, start, end) for start, end in bounds[1:]]
    first = one_piece(*bounds[0])
    return np.concatenate([first, *(other.result() for other in others)])
