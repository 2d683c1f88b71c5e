"""Seeded noise: the model edit that takes Piper's noise as inputs, and repeatable synthesis with the real voice."""

import hashlib
import json
import subprocess
import sys

import numpy as np
import onnx
import onnxruntime
from onnx import TensorProto, helper

from avatar_service.tts.noise import DURATION_NOISE, PRIOR_NOISE, noise_feeds
from avatar_service.tts.patch import add_noise_inputs

TEXT = "Hello there. The same request gives the same speech, every time!"


def _two_noise_nodes_model() -> onnx.ModelProto:
    """A tiny graph shaped like Piper's: two RandomNormalLike nodes, each feeding a Mul by a scale."""
    nodes = [
        helper.make_node("RandomNormalLike", ["a"], ["noise_a"], dtype=TensorProto.FLOAT),
        helper.make_node("Mul", ["noise_a", "scale"], ["out_a"]),
        helper.make_node("RandomNormalLike", ["b"], ["noise_b"], dtype=TensorProto.FLOAT),
        helper.make_node("Mul", ["noise_b", "scale"], ["out_b"]),
    ]
    graph = helper.make_graph(
        nodes,
        "noisy",
        [
            helper.make_tensor_value_info("a", TensorProto.FLOAT, [1, 2, 3]),
            helper.make_tensor_value_info("b", TensorProto.FLOAT, [1, 4, "frames"]),
            helper.make_tensor_value_info("scale", TensorProto.FLOAT, [1]),
        ],
        [
            helper.make_tensor_value_info("out_a", TensorProto.FLOAT, [1, 2, 3]),
            helper.make_tensor_value_info("out_b", TensorProto.FLOAT, [1, 4, "frames"]),
        ],
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 15)])


def test_noise_nodes_become_inputs_that_are_tiled_cut_and_shaped_like_the_nodes_output():
    model = _two_noise_nodes_model()
    add_noise_inputs(model)
    assert not [node for node in model.graph.node if node.op_type == "RandomNormalLike"]
    session = onnxruntime.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    declared = {i.name: i.shape for i in session.get_inputs()}
    assert declared[DURATION_NOISE] == [2, f"{DURATION_NOISE}_length"]
    assert declared[PRIOR_NOISE] == [4, f"{PRIOR_NOISE}_length"]

    durations = np.arange(6, dtype=np.float32).reshape(2, 3)  # exactly the element count
    prior = np.arange(12, dtype=np.float32).reshape(4, 3)  # 12 values for 20 elements: tiled, then cut
    out_a, out_b = session.run(
        None,
        {
            "a": np.zeros((1, 2, 3), np.float32),
            "b": np.zeros((1, 4, 5), np.float32),
            "scale": np.array([0.5], np.float32),
            DURATION_NOISE: durations,
            PRIOR_NOISE: prior,
        },
    )
    np.testing.assert_array_equal(out_a, 0.5 * durations.reshape(1, 2, 3))  # the scale still applies
    np.testing.assert_array_equal(out_b.reshape(-1), 0.5 * np.resize(prior, 20))


def test_noise_is_a_function_of_seed_and_phoneme_ids():
    channels = {DURATION_NOISE: 2, PRIOR_NOISE: 192}
    first = noise_feeds(channels, [1, 0, 5, 0, 2], 1.0, seed=7)
    assert first[DURATION_NOISE].shape == (2, 5)
    assert first[PRIOR_NOISE].shape == (192, 40)  # 8 frames per id
    again = noise_feeds(channels, [1, 0, 5, 0, 2], 1.0, seed=7)
    assert all(np.array_equal(first[name], again[name]) for name in channels)
    other_seed = noise_feeds(channels, [1, 0, 5, 0, 2], 1.0, seed=8)
    other_ids = noise_feeds(channels, [1, 0, 6, 0, 2], 1.0, seed=7)
    assert not np.array_equal(first[DURATION_NOISE], other_seed[DURATION_NOISE])
    assert not np.array_equal(first[DURATION_NOISE], other_ids[DURATION_NOISE])
    assert noise_feeds(channels, [1, 0, 5, 0, 2], 2.0, seed=7)[PRIOR_NOISE].shape == (192, 80)  # slow speech


def test_the_real_voice_takes_its_noise_as_inputs(renderer):
    loaded = renderer.engine._loaded(renderer.catalog.get(None))
    assert loaded.noise_channels == {DURATION_NOISE: 2, PRIOR_NOISE: 192}


def _fingerprint(speech) -> dict:
    return {
        "samples": hashlib.sha256(speech.samples.tobytes()).hexdigest(),
        "phones": [[span.phone, span.start_sample, span.num_samples] for span in speech.phones],
    }


def test_same_seed_same_speech_other_seed_other_speech(renderer):
    voice = renderer.catalog.get(None)
    first = _fingerprint(renderer.engine.synthesize(voice, TEXT, 1.0, seed=11))
    assert _fingerprint(renderer.engine.synthesize(voice, TEXT, 1.0, seed=11)) == first
    other = _fingerprint(renderer.engine.synthesize(voice, TEXT, 1.0, seed=12))
    assert other["samples"] != first["samples"] and other["phones"] != first["phones"]


FRESH_PROCESS = """
import hashlib, json, sys, tempfile
from pathlib import Path
from avatar_service.config import Settings
from avatar_service.pipeline import Renderer
renderer = Renderer(Settings(data_dir=Path(tempfile.mkdtemp())))
speech = renderer.engine.synthesize(renderer.catalog.get(None), sys.argv[1], 1.0, seed=11)
print(json.dumps({
    "samples": hashlib.sha256(speech.samples.tobytes()).hexdigest(),
    "phones": [[span.phone, span.start_sample, span.num_samples] for span in speech.phones],
}))
"""


def test_same_seed_same_speech_in_a_fresh_process(renderer):
    here = _fingerprint(renderer.engine.synthesize(renderer.catalog.get(None), TEXT, 1.0, seed=11))
    done = subprocess.run(
        [sys.executable, "-c", FRESH_PROCESS, TEXT], capture_output=True, text=True, check=True, timeout=300
    )
    assert json.loads(done.stdout.strip().splitlines()[-1]) == here
