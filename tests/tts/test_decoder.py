"""Decoding in pieces: the same samples as decoding a sentence whole, and a lone call uses every core."""

from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from avatar_service.tts.decoder import CONTEXT_FRAMES, MIN_PIECE_FRAMES, decode_in_pieces, piece_bounds
from avatar_service.tts.engine import PiperEngine, length_scale_for, model_feeds

TEXTS = [
    "Short sentence one two reaches the voice now.",
    "A longer sentence, with a clause or two, gives the decoder enough frames to cut in three pieces.",
]


def test_piece_bounds_cover_the_frames_in_long_enough_pieces():
    assert piece_bounds(MIN_PIECE_FRAMES * 2 - 1, 2) == [(0, MIN_PIECE_FRAMES * 2 - 1)]  # too short to cut
    for frames, pieces in [(128, 2), (213, 2), (441, 3), (441, 8), (1000, 4)]:
        bounds = piece_bounds(frames, pieces)
        assert bounds[0][0] == 0 and bounds[-1][1] == frames
        assert all(end == start for (_, end), (start, _) in zip(bounds, bounds[1:]))
        assert 1 < len(bounds) <= pieces and all(end - start >= MIN_PIECE_FRAMES for start, end in bounds)


def _latent_and_decode(renderer, text: str):
    """The real voice's latent for ``text`` (from its front) and a function decoding a latent."""
    loaded = renderer.engine._loaded(renderer.catalog.get(None))
    assert loaded.decoder is not None, "the patched voice must have its decoder cut off"
    ids = loaded.piper.phonemes_to_ids(loaded.piper.phonemize(text)[0])
    latent = loaded.session.run(None, model_feeds(loaded, ids, length_scale_for(1.0), seed=3))[0]
    latent_name = loaded.decoder.get_inputs()[0].name
    return latent, lambda part: loaded.decoder.run(None, {latent_name: part})[0], loaded.piper.config.hop_length


@pytest.mark.parametrize("text", TEXTS)
def test_pieces_give_exactly_the_samples_of_the_whole(renderer, text):
    latent, decode, hop = _latent_and_decode(renderer, text)
    whole = decode(latent).reshape(-1)
    with ThreadPoolExecutor(2) as helpers:
        for pieces in (2, 3):
            assert len(piece_bounds(latent.shape[2], pieces)) > 1
            assert np.array_equal(decode_in_pieces(decode, latent, hop, pieces, helpers), whole)


def test_too_little_context_would_change_the_samples(renderer):
    """The test above can fail: pieces decoded without their context frames differ at the seams."""
    latent, decode, hop = _latent_and_decode(renderer, TEXTS[0])
    whole = decode(latent).reshape(-1)
    middle = latent.shape[2] // 2
    left = decode(np.ascontiguousarray(latent[:, :, :middle])).reshape(-1)
    assert CONTEXT_FRAMES > 0 and not np.array_equal(left, whole[: middle * hop])


class _CountingExecutor(ThreadPoolExecutor):
    submitted = 0

    def submit(self, *args, **kwargs):
        self.submitted += 1
        return super().submit(*args, **kwargs)


# Texts whose front gave other bits on two threads than on one before its long sums were cut (tts/patch.py).
ROUNDED_DIFFERENTLY = [
    "Every error has the same JSON body, never a traceback:",
    "A failed job's `error_kind` (`invalid_input`, `voice_error`), its message and the field it names.",
    "The same JSON comes from the API and from `avatar-service render`.",
]


def test_a_lone_call_uses_every_core_a_busy_engine_one_and_the_bits_agree(renderer):
    engine = PiperEngine(renderer.settings.resolved_voice_cache_dir, onnx_threads=2, cores=2)
    engine._helpers = helpers = _CountingExecutor(1)
    voice = renderer.catalog.get(None)
    for text in [*TEXTS, *ROUNDED_DIFFERENTLY]:
        submitted = helpers.submitted
        alone = engine.synthesize(voice, text, seed=4)
        assert helpers.submitted > submitted  # the decoding was cut in pieces, one ran on a helper
        submitted = helpers.submitted
        with engine.cores_for_one_render():  # another render is running
            busy = engine.synthesize(voice, text, seed=4)
        assert helpers.submitted == submitted  # one piece, on the caller's thread
        assert np.array_equal(alone.samples, busy.samples) and alone.phones == busy.phones, text


def test_a_render_that_starts_while_others_wait_takes_one_core(renderer):
    engine = PiperEngine(renderer.settings.resolved_voice_cache_dir, onnx_threads=2, cores=2)
    engine._helpers = helpers = _CountingExecutor(1)
    engine.waiting = 1  # the render pool says one more render waits for a thread
    engine.synthesize(renderer.catalog.get(None), TEXTS[0], seed=4)
    assert helpers.submitted == 0
