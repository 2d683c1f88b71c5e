"""The onnxruntime thread policy: a lone render on every core, renders under load on one, the same bits."""

import dataclasses
import hashlib
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from avatar_service.tts.engine import PiperEngine, _decoded

TEXT = "A lone request gets every core; a busy engine shares them."
# Texts whose front gave other bits on two threads than on one before its long sums were cut (tts/patch.py).
ROUNDED_DIFFERENTLY = [
    "Every error has the same JSON body, never a traceback:",
    "A failed job's `error_kind` (`invalid_input`, `voice_error`), its message and the field it names.",
    "The same JSON comes from the API and from `avatar-service render`.",
]


def _fingerprint(renderer) -> tuple[str, list]:
    speech = renderer.engine.synthesize(renderer.catalog.get(None), TEXT, 1.0, seed=5)
    return hashlib.sha256(speech.samples.tobytes()).hexdigest(), speech.phones


def test_one_thread_sessions_for_load_and_an_onnx_threads_front_for_a_lone_render(renderer):
    loaded = renderer.engine._loaded(renderer.catalog.get(None))
    for session, threads in [
        (loaded.session, 1),
        (loaded.decoder, 1),
        (loaded.front_alone, renderer.settings.onnx_threads),
    ]:
        options = session.get_session_options()
        assert options.intra_op_num_threads == threads
        # Threads spin between a call's operators, never after it (tts/engine.py _session).
        spinning = "1" if threads > 1 else "0"
        assert options.get_session_config_entry("session.intra_op.allow_spinning") == spinning
        assert options.get_session_config_entry("session.force_spinning_stop") == spinning


def test_concurrent_renders_give_the_same_bits_as_a_lone_one(renderer):
    alone = _fingerprint(renderer)
    with ThreadPoolExecutor(max_workers=3) as pool:
        under_load = list(pool.map(lambda _: _fingerprint(renderer), range(6)))
    assert all(result == alone for result in under_load)


def _one_thread_sessions_made(loaded) -> None:
    """Wait until the voice's one-thread front exists (it is made on a thread of its own)."""
    deadline = time.monotonic() + 60
    while not loaded.session.ready():
        assert time.monotonic() < deadline, "the one-thread sessions were never made"
        time.sleep(0.01)


class _Counted:
    """An onnxruntime session that counts its runs."""

    def __init__(self, session) -> None:
        self.session, self.runs = session, 0

    def run(self, *args, **kwargs):
        self.runs += 1
        return self.session.run(*args, **kwargs)

    def __getattr__(self, name):
        return getattr(self.session, name)


def test_a_lone_render_runs_on_the_all_core_sessions_a_busy_one_on_one_thread_same_bits(renderer):
    engine = PiperEngine(renderer.settings.resolved_voice_cache_dir, onnx_threads=2, cores=2)
    voice = renderer.catalog.get(None)
    loaded = engine._loaded(voice)
    counted = dataclasses.replace(loaded, front_alone=_Counted(loaded.front_alone), decoder=_Counted(loaded.decoder))
    engine._voices[voice.model_path] = counted
    _one_thread_sessions_made(loaded)
    for text in [TEXT, *ROUNDED_DIFFERENTLY]:
        before = (counted.front_alone.runs, counted.decoder.runs)
        alone = engine.synthesize(voice, text, seed=4)
        sentences = counted.front_alone.runs - before[0]
        assert sentences > 0 and counted.decoder.runs - before[1] > sentences  # some sentence in pieces
        before = (counted.front_alone.runs, counted.decoder.runs)
        with engine.running_render():  # another render is running
            busy = engine.synthesize(voice, text, seed=4)
        assert counted.front_alone.runs == before[0] and counted.decoder.runs == before[1] + sentences  # whole
        assert np.array_equal(alone.samples, busy.samples) and alone.phones == busy.phones, text


def test_a_render_that_starts_while_others_wait_takes_one_thread(renderer):
    engine = PiperEngine(renderer.settings.resolved_voice_cache_dir, onnx_threads=2, cores=2)
    voice = renderer.catalog.get(None)
    loaded = engine._loaded(voice)
    counted = dataclasses.replace(loaded, front_alone=_Counted(loaded.front_alone))
    engine._voices[voice.model_path] = counted
    _one_thread_sessions_made(loaded)
    engine.waiting = 1  # the render pool says one more render waits for a thread
    engine.synthesize(voice, TEXT, seed=4)
    assert counted.front_alone.runs == 0


def test_a_latent_decoded_in_pieces_gives_the_whole_latents_bits(renderer):
    loaded = renderer.engine._loaded(renderer.catalog.get(None))
    context = loaded.decoder_context  # counted from the graph when the voice was patched
    assert context == 13
    name = loaded.decoder.get_inputs()[0].name
    rng = np.random.default_rng(0)
    with ThreadPoolExecutor(max_workers=3) as pool:
        for frames in [*range(40, 140, 7), 163, 230, 301]:
            latent = (rng.standard_normal((1, 192, frames)) * 0.8).astype(np.float32)
            whole = loaded.decoder.run(None, {name: latent})[0].reshape(-1)
            for pieces in (2, 3, 4):
                cut = _decoded(loaded.decoder, name, latent, {}, pieces, context, pool)
                assert np.array_equal(cut, whole), (frames, pieces)
    # With less context the joins differ: the test can tell.
    latent = (rng.standard_normal((1, 192, 130)) * 0.8).astype(np.float32)
    head = loaded.decoder.run(None, {name: latent[:, :, : 65 + context // 2]})[0].reshape(-1)
    whole = loaded.decoder.run(None, {name: latent})[0].reshape(-1)
    per_frame = whole.size // 130
    assert not np.array_equal(head[: 65 * per_frame], whole[: 65 * per_frame])


def test_the_one_thread_sessions_are_made_when_load_first_comes_without_stalling_it(renderer):
    engine = PiperEngine(renderer.settings.resolved_voice_cache_dir, onnx_threads=2, cores=2)
    voice = renderer.catalog.get(None)
    alone = engine.synthesize(voice, TEXT, seed=4)
    loaded = engine._loaded(voice)
    assert loaded.session._session is None  # a process alone holds no one-thread front
    counted = dataclasses.replace(loaded, front_alone=_Counted(loaded.front_alone))
    engine._voices[voice.model_path] = counted
    with engine.running_render():  # another render is running: load has come
        first_busy = engine.synthesize(voice, TEXT, seed=4)
    # It ran on the all-core front rather than wait ~0.5 s for a one-thread front to be made ...
    runs = counted.front_alone.runs
    assert runs > 0
    _one_thread_sessions_made(loaded)
    with engine.running_render():
        later_busy = engine.synthesize(voice, TEXT, seed=4)
    # ... which later renders under load use; the bits are the same on every path.
    assert counted.front_alone.runs == runs
    for speech in (first_busy, later_busy):
        assert np.array_equal(speech.samples, alone.samples) and speech.phones == alone.phones
