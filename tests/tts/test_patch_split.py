"""tts/patch.py's decoder cut on small graphs of the same shape as a VITS export (no real voice needed)."""

import numpy as np
import onnx
import onnxruntime
from onnx import TensorProto, helper, numpy_helper

from avatar_service.tts.patch import receptive_frames, split_decoder


def _vits_like(with_speaker: bool) -> onnx.ModelProto:
    """input → 'front' (Mul) → latent → dec.conv_pre (Conv) [+ speaker embedding] → output; durations beside."""
    nodes = [
        helper.make_node("Mul", ["input", "two"], ["latent"], name="/Mul_7"),
        helper.make_node("Conv", ["latent", "dec.conv_pre.weight"], ["pre"], name="/dec/conv_pre/Conv"),
        helper.make_node("Ceil", ["input"], ["durations"], name="/Ceil"),
    ]
    inputs = [helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, 2, "frames"])]
    if with_speaker:
        # A speaker embedding computed from its own input, added to the decoder's first layer (VITS's cond).
        nodes += [
            helper.make_node("Mul", ["sid", "two"], ["speaker"], name="/emb_g"),
            helper.make_node("Add", ["pre", "speaker"], ["output"], name="/dec/Add"),
        ]
        inputs.append(helper.make_tensor_value_info("sid", TensorProto.FLOAT, [1, 2, 1]))
    else:
        nodes.append(helper.make_node("Relu", ["pre"], ["output"], name="/dec/Relu"))
    graph = helper.make_graph(
        nodes,
        "vits_like",
        inputs,
        [
            helper.make_tensor_value_info("output", TensorProto.FLOAT, [1, 2, "frames"]),
            helper.make_tensor_value_info("durations", TensorProto.FLOAT, [1, 2, "frames"]),
        ],
        [
            numpy_helper.from_array(np.array(2.0, dtype=np.float32), "two"),
            numpy_helper.from_array(np.eye(2, dtype=np.float32).reshape(2, 2, 1) * 3, "dec.conv_pre.weight"),
        ],
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def _run(model: onnx.ModelProto, feeds: dict) -> list[np.ndarray]:
    session = onnxruntime.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return session.run(None, feeds)


def test_the_decoder_is_cut_at_its_first_layer_and_the_parts_give_the_whole():
    model = _vits_like(with_speaker=False)
    front, decoder = split_decoder(model)
    assert [i.name for i in decoder.graph.input] == ["latent"]
    assert [o.name for o in front.graph.output] == ["latent", "durations"]
    feeds = {"input": np.random.default_rng(0).standard_normal((1, 2, 5)).astype(np.float32)}
    whole_audio, whole_durations = _run(model, feeds)
    latent, durations = _run(front, feeds)
    assert np.array_equal(_run(decoder, {"latent": latent})[0], whole_audio)
    assert np.array_equal(durations, whole_durations)


def test_what_the_decoder_reads_besides_the_latent_becomes_an_input_of_it():
    model = _vits_like(with_speaker=True)
    front, decoder = split_decoder(model)
    assert [i.name for i in decoder.graph.input] == ["latent", "speaker"]
    assert [o.name for o in front.graph.output] == ["latent", "speaker", "durations"]
    rng = np.random.default_rng(1)
    feeds = {"input": rng.standard_normal((1, 2, 5)).astype(np.float32), "sid": rng.standard_normal((1, 2, 1)).astype(np.float32)}
    latent, speaker, _ = _run(front, feeds)
    assert np.array_equal(_run(decoder, {"latent": latent, "speaker": speaker})[0], _run(model, feeds)[0])


def test_a_model_without_a_vits_decoder_is_left_whole():
    model = _vits_like(with_speaker=False)
    for initializer in model.graph.initializer:
        if initializer.name == "dec.conv_pre.weight":
            initializer.name = "other.weight"
    for node in model.graph.node:
        node.input[:] = ["other.weight" if name == "dec.conv_pre.weight" else name for name in node.input]
    assert split_decoder(model) is None


def _upsampler(extra_op: str | None = None) -> onnx.ModelProto:
    """latent → Conv k7 → ConvTranspose k16 stride 8 → Conv k7 dilation 12 → (extra_op) → audio."""
    nodes = [
        helper.make_node("Conv", ["latent", "w_pre"], ["pre"], kernel_shape=[7], pads=[3, 3]),
        helper.make_node("ConvTranspose", ["pre", "w_up"], ["up"], kernel_shape=[16], strides=[8], pads=[4, 4]),
        helper.make_node("Conv", ["up", "w_res"], ["res"], kernel_shape=[7], dilations=[12], pads=[36, 36]),
    ]
    last = "res"
    if extra_op is not None:
        nodes.append(helper.make_node(extra_op, [last], ["extra"]))
        last = "extra"
    nodes.append(helper.make_node("Tanh", [last], ["audio"]))
    graph = helper.make_graph(
        nodes,
        "upsampler",
        [helper.make_tensor_value_info("latent", TensorProto.FLOAT, [1, 2, "frames"])],
        [helper.make_tensor_value_info("audio", TensorProto.FLOAT, [1, 2, "samples"])],
        [
            numpy_helper.from_array(np.ones((2, 2, 7), dtype=np.float32), "w_pre"),
            numpy_helper.from_array(np.ones((2, 2, 16), dtype=np.float32), "w_up"),
            numpy_helper.from_array(np.ones((2, 2, 7), dtype=np.float32), "w_res"),
        ],
    )
    return helper.make_model(graph)


def test_the_receptive_field_is_counted_from_the_layers_and_unknown_layers_count_as_unknown():
    # Back: 3 frames (conv), (16 − 1 − 4)/8 + 1 (transposed, rounded up), 36 samples at 8 a frame: 9.875 → 10.
    assert receptive_frames(_upsampler()) == 10
    assert receptive_frames(_upsampler("Softmax")) is None  # no count for a layer it does not know
