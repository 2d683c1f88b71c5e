"""The onnxruntime thread policy: fixed threads for the front, one-thread decoder sessions, same bits under load."""

import hashlib
from concurrent.futures import ThreadPoolExecutor

TEXT = "A lone request gets every core; a busy engine shares them."


def _fingerprint(renderer) -> tuple[str, list]:
    speech = renderer.engine.synthesize(renderer.catalog.get(None), TEXT, 1.0, seed=5)
    return hashlib.sha256(speech.samples.tobytes()).hexdigest(), speech.phones


def test_one_thread_sessions_for_load_and_an_all_core_front_for_a_lone_render(renderer):
    loaded = renderer.engine._loaded(renderer.catalog.get(None))
    front, decoder = loaded.session.get_session_options(), loaded.decoder.get_session_options()
    alone = loaded.front_alone.get_session_options()
    assert front.intra_op_num_threads == decoder.intra_op_num_threads == 1
    assert alone.intra_op_num_threads == renderer.settings.onnx_threads
    assert alone.get_session_config_entry("session.intra_op.allow_spinning") == "0"


def test_concurrent_renders_give_the_same_bits_as_a_lone_one(renderer):
    alone = _fingerprint(renderer)
    with ThreadPoolExecutor(max_workers=3) as pool:
        under_load = list(pool.map(lambda _: _fingerprint(renderer), range(6)))
    assert all(result == alone for result in under_load)
