"""The noise a VITS voice samples on each call, drawn from a seed so that a render can be repeated exactly.

The patched model (``tts/patch.py``) takes both noise tensors as inputs of shape ``[channels, length]``. The
duration predictor needs one value per channel and phoneme id; the prior needs one per channel and audio
frame, a number only the model knows, so it gets a buffer sized for the longest plausible output (the graph
tiles a shorter one, which stays deterministic). See docs/pipeline.md, "Deterministic renders".
"""

import hashlib
import math

import numpy as np

# The patched model's inputs that replace its two noise nodes, in graph order (tts/patch.py makes them).
DURATION_NOISE = "noise_durations"
PRIOR_NOISE = "noise_prior"
NOISE_INPUTS = (DURATION_NOISE, PRIOR_NOISE)
# Audio frames per phoneme id the prior's buffer covers at length_scale 1 (en_US-joe-medium needed at most
# 4.31 in 354 calls at speeds 0.5-2; see docs/pipeline.md). A much larger buffer costs time to fill.
PRIOR_FRAMES_PER_ID = 8


def noise_feeds(
    channels: dict[str, int], phoneme_ids: list[int], length_scale: float, seed: int
) -> dict[str, np.ndarray]:
    """The model's noise inputs for one call: a pure function of the seed, the ids and the length scale.

    ``channels`` maps each noise input the model declares to its channel count. The generator is seeded
    with the caller's seed and a digest of the phoneme ids (numpy ``SeedSequence`` mixes a list of integers
    of any size), so each sentence of a text gets its own noise however the text is cut into calls.
    """
    ids_digest = int.from_bytes(
        hashlib.sha256(np.asarray(phoneme_ids, dtype="<i8").tobytes()).digest()[:8], "little"
    )
    generator = np.random.default_rng([seed, ids_digest])
    lengths = {
        DURATION_NOISE: len(phoneme_ids),
        PRIOR_NOISE: math.ceil(PRIOR_FRAMES_PER_ID * len(phoneme_ids) * max(1.0, length_scale)),
    }
    return {
        name: generator.standard_normal((channels[name], lengths[name]), dtype=np.float32)
        for name in NOISE_INPUTS
        if name in channels
    }
