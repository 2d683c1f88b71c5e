"""One-time edit of a Piper voice model: phoneme durations as an output, the sampling noise as inputs, and the
waveform decoder cut off into a model of its own.

Run in a child process (``python -m avatar_service.tts.patch MODEL FRONT DECODER``): loading a graph with ``onnx``
peaks at ~150 MB more than rendering ever needs, and a long-running service should not keep that, or the
``onnx`` package itself, for a one-time job.

Why noise inputs: a VITS voice (Kim et al. 2021, "Conditional Variational Autoencoder with Adversarial
Learning for End-to-End Text-to-Speech", §2.2.2 and §2.3) samples Gaussian noise twice per call — once in the
stochastic duration predictor (2 channels per phoneme id) and once to draw the latent from the prior (one
value per latent channel and audio frame). Piper's ONNX export turns both into ``RandomNormalLike`` nodes
without a seed, and a seed attribute would not help: onnxruntime's generator advances on every run of a
session, so only a fresh session repeats its sequence. Each node is therefore replaced by a graph input the
caller fills from its own seeded generator (see docs/pipeline.md, "Deterministic renders").

Why the decoder is cut off: the engine runs a render on one thread under load and on several when it is
alone, and wants the same bits both ways (docs/pipeline.md, "Threads"). The front (text encoder, duration
predictor, flow) runs on several threads, with a few of its sums cut for that (``split_long_sums``). The
decoder, HiFi-GAN's generator (Kong et al. 2020, "HiFi-GAN", §2.1), always runs on one thread per call, and a
render alone decodes pieces of its latent side by side (tts/engine.py); ``decoder_on_rows`` makes that one
thread faster. Two models let each be treated as it needs.
"""

import math
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

# In graph order: the duration predictor's noise node always comes first, because its output decides how
# many frames the prior's noise has and ONNX keeps nodes in topological order (onnx/docs/IR.md, "Graphs").
from avatar_service.tts.engine import CONTEXT_FRAMES_KEY
from avatar_service.tts.noise import NOISE_INPUTS


def add_noise_inputs(model: onnx.ModelProto) -> None:
    """Replace each ``RandomNormalLike`` node by a 2-D input ``[channels, length]`` holding the noise.

    The input may be shorter or longer than the tensor the node made: it is flattened, tiled until it covers
    the element count, cut to it and reshaped like the node's output, which keeps its name so the node's
    consumers (and the noise scales they multiply by) are untouched.
    """
    graph = model.graph
    noise_nodes = [node for node in graph.node if node.op_type == "RandomNormalLike"]
    if not noise_nodes:
        return  # nothing random: already deterministic
    if len(noise_nodes) != len(NOISE_INPUTS):
        raise ValueError(f"expected {len(NOISE_INPUTS)} RandomNormalLike nodes, found {len(noise_nodes)}")
    inferred = onnx.shape_inference.infer_shapes(model, data_prop=True)
    known = [*inferred.graph.input, *inferred.graph.value_info]
    shapes = {info.name: info.type.tensor_type.shape for info in known}
    graph.initializer.extend(
        [
            numpy_helper.from_array(_int64s([0]), "noise/zero"),
            numpy_helper.from_array(_int64s([1]), "noise/one"),
            numpy_helper.from_array(_int64s([-1]), "noise/flat"),
        ]
    )
    for node, input_name in zip(noise_nodes, NOISE_INPUTS):
        (like,) = node.input
        (output,) = node.output
        graph.input.append(
            helper.make_tensor_value_info(
                input_name, TensorProto.FLOAT, [_channels(shapes.get(like), output), f"{input_name}_length"]
            )
        )
        index = list(graph.node).index(node)
        graph.node.remove(node)
        for offset, replacement in enumerate(_noise_from_input(input_name, like, output)):
            graph.node.insert(index + offset, replacement)
    onnx.checker.check_model(model, full_check=True)


# The decoder's first layer (VITS's ``dec.conv_pre``; parameter names survive torch.onnx.export): its input is
# the latent the decoder turns into audio, z·mask of Kim et al. 2021, eq. 9.
DECODER_FIRST_WEIGHT = "dec.conv_pre.weight"


def split_decoder(model: onnx.ModelProto) -> tuple[onnx.ModelProto, onnx.ModelProto] | None:
    """The model cut in two at the decoder's input: (front, decoder), or None if no decoder is found.

    The decoder's inputs are the latent first, then anything else it reads from the front (a multi-speaker
    voice's speaker embedding). The front's outputs are those inputs, then the model's other outputs (the
    durations) in their order. Both are exact sub-graphs: running them in turn gives the same bits as the
    whole model.
    """
    graph = model.graph
    first = next(
        (node for node in graph.node if node.op_type == "Conv" and DECODER_FIRST_WEIGHT in node.input[1:]),
        None,
    )
    if first is None:
        return None
    latent = first.input[0]
    audio, *others = [output.name for output in graph.output]
    # What the decoder reads besides the latent: tensors that depend on the model's inputs but not on the
    # latent (a speaker embedding). Tensors made from constants alone are computed inside the decoder.
    from_inputs = _downstream(graph, {model_input.name for model_input in graph.input})
    from_latent = _downstream(graph, {latent})
    produced_by = {name: node for node in graph.node for name in node.output}
    extra_inputs: list[str] = []
    seen: set[str] = set()
    pending = [audio]
    while pending:
        name = pending.pop()
        if name in seen or name == latent or name not in produced_by:
            continue  # an initializer, or a tensor already walked
        seen.add(name)
        if name in from_inputs and name not in from_latent:
            extra_inputs.append(name)
            continue
        pending.extend(produced_by[name].input)
    # The extractor types the cut's tensors from value_info, which an export need not carry for every tensor.
    extractor = onnx.utils.Extractor(onnx.shape_inference.infer_shapes(model))
    decoder_inputs = [latent, *extra_inputs]
    decoder = extractor.extract_model(decoder_inputs, [audio])
    front = extractor.extract_model([model_input.name for model_input in graph.input], [*decoder_inputs, *others])
    return front, decoder


def _downstream(graph: onnx.GraphProto, sources: set[str]) -> set[str]:
    """Every tensor computed (directly or not) from ``sources``; ONNX lists nodes in topological order."""
    reached = set(sources)
    for node in graph.node:
        if any(name in reached for name in node.input):
            reached.update(node.output)
    return reached


def _noise_from_input(input_name: str, like: str, output: str) -> list[onnx.NodeProto]:
    """Nodes computing ``output`` = the input's values, tiled and cut to the shape of ``like``."""
    p = f"{input_name}/"
    return [
        helper.make_node("Reshape", [input_name, "noise/flat"], [p + "values"]),
        helper.make_node("Shape", [like], [p + "shape"]),
        helper.make_node("ReduceProd", [p + "shape"], [p + "count"], keepdims=1),
        helper.make_node("Shape", [p + "values"], [p + "available"]),
        # Tile repeats = ceil(count / available), in integers: (count + available - 1) // available.
        helper.make_node("Add", [p + "count", p + "available"], [p + "count_plus"]),
        helper.make_node("Sub", [p + "count_plus", "noise/one"], [p + "ceil_numerator"]),
        helper.make_node("Div", [p + "ceil_numerator", p + "available"], [p + "repeats"]),
        helper.make_node("Tile", [p + "values", p + "repeats"], [p + "tiled"]),
        helper.make_node("Slice", [p + "tiled", "noise/zero", p + "count", "noise/zero"], [p + "cut"]),
        helper.make_node("Reshape", [p + "cut", p + "shape"], [output]),
    ]


def _channels(shape: onnx.TensorShapeProto | None, noise_name: str) -> int:
    """The noise tensor's second dimension (batch, channels, length), known statically in VITS exports."""
    dims = list(shape.dim) if shape is not None else []
    if len(dims) != 3 or not dims[1].HasField("dim_value"):
        raise ValueError(f"cannot tell how many channels {noise_name} has")
    return dims[1].dim_value


def _int64s(values: list[int]) -> np.ndarray:
    return np.array(values, dtype=np.int64)


# Terms onnxruntime's matrix products sum in one block when a thread computes more than 64 columns (MLAS
# ``MLAS_SGEMM_STRIDEK``); with fewer columns it sums longer blocks, which rounds differently.
SUM_BLOCK = 128
# A thread's share of the columns drops to 64 or fewer only when there are more columns than rows (else the
# rows are split) and at most 64 columns (plus a 16-column block of alignment) per thread.
COLUMNS_PER_THREAD = 64 + 16
CHANNEL_AXIS = "sums/channel_axis"  # a Conv's input is [batch, channels, length]


def split_long_sums(model: onnx.ModelProto, threads: int) -> int:
    """Cut each convolution that ``threads`` onnxruntime threads could round differently from one into
    convolutions over at most ``SUM_BLOCK`` input terms each, added in a fixed order; returns how many.

    onnxruntime splits a product's columns (here: frames or phoneme ids) between threads when there are more
    columns than output channels, and then sums in blocks whose length depends on how many columns each thread
    got (MLAS ``MlasSgemmOperation``: "expand the K stride if N is small"), so the same call gave other bits on
    one thread than on two (docs/pipeline.md, "Threads"). A convolution whose sum has at most ``SUM_BLOCK``
    terms is always one block. Only convolutions with fewer than ``COLUMNS_PER_THREAD × threads`` output
    channels can be split that finely, and in a VITS front those are a few small projections, so the cut
    costs little.
    """
    graph = model.graph
    weights = {initializer.name: initializer for initializer in graph.initializer}
    if CHANNEL_AXIS not in weights:
        graph.initializer.append(numpy_helper.from_array(_int64s([1]), CHANNEL_AXIS))
    nodes: list[onnx.NodeProto] = []
    replaced: set[str] = set()
    for node in graph.node:
        weight = weights.get(node.input[1]) if node.op_type == "Conv" and len(node.input) > 1 else None
        attributes = {attribute.name: helper.get_attribute_value(attribute) for attribute in node.attribute}
        if weight is None or len(weight.dims) != 3 or attributes.get("group", 1) != 1:
            nodes.append(node)
            continue
        out_channels, in_channels, kernel = weight.dims
        if in_channels * kernel <= SUM_BLOCK or out_channels >= COLUMNS_PER_THREAD * max(1, threads):
            nodes.append(node)
            continue
        nodes.extend(_conv_in_blocks(node, numpy_helper.to_array(weight), attributes, graph))
        replaced.add(weight.name)
    del graph.node[:]
    graph.node.extend(nodes)
    still_used = {name for node in graph.node for name in node.input}
    unused = [initializer for initializer in graph.initializer if initializer.name in replaced - still_used]
    for initializer in unused:
        graph.initializer.remove(initializer)
    return len(replaced)


def _conv_in_blocks(
    node: onnx.NodeProto, weight: np.ndarray, attributes: dict, graph: onnx.GraphProto
) -> list[onnx.NodeProto]:
    """``node`` (a Conv) as convolutions over blocks of input channels, summed left to right; bias once."""
    _, in_channels, kernel = weight.shape
    per_block = max(1, SUM_BLOCK // kernel)
    prefix = f"{node.name or node.output[0]}/block"
    nodes, partial_sums = [], []
    for index, first in enumerate(range(0, in_channels, per_block)):
        last = min(in_channels, first + per_block)
        name = f"{prefix}{index}"
        graph.initializer.extend(
            [
                numpy_helper.from_array(np.ascontiguousarray(weight[:, first:last]), f"{name}/weight"),
                numpy_helper.from_array(_int64s([first]), f"{name}/first"),
                numpy_helper.from_array(_int64s([last]), f"{name}/last"),
            ]
        )
        nodes.append(
            helper.make_node("Slice", [node.input[0], f"{name}/first", f"{name}/last", CHANNEL_AXIS], [f"{name}/input"])
        )
        bias = [node.input[2]] if index == 0 and len(node.input) > 2 else []
        nodes.append(
            helper.make_node("Conv", [f"{name}/input", f"{name}/weight", *bias], [f"{name}/output"], name=name, **attributes)
        )
        partial_sums.append(f"{name}/output")
    total = partial_sums[0]
    for index, partial in enumerate(partial_sums[1:], start=1):
        summed = node.output[0] if index == len(partial_sums) - 1 else f"{prefix}/sum{index}"
        nodes.append(helper.make_node("Add", [total, partial], [summed]))
        total = summed
    return nodes


# Operators that work on a [batch, channels, 1, length] tensor as they do on [batch, channels, length]:
# elementwise ones (with at most scalar constants) and the convolutions ``decoder_on_rows`` rewrites.
_ELEMENTWISE = frozenset({"Add", "Sub", "Mul", "Div", "LeakyRelu", "Relu", "Tanh"})
# Operators through which an output position depends on the same input positions: those, and reshaping ones.
_POINTWISE = _ELEMENTWISE | {"Unsqueeze", "Squeeze", "Identity"}


def receptive_frames(decoder: onnx.ModelProto) -> int | None:
    """How many latent frames on either side of a frame the decoder's audio for it depends on, or None if the
    graph holds an operator this count does not know.

    Walks the graph from the latent (its first input) keeping, per tensor, the samples per latent frame and
    how far back and ahead (in latent frames) a position reaches. A convolution (kernel k, dilation d, pads
    p₀) reaches p₀ input samples back and (k−1)·d − p₀ ahead; a transposed one (stride u, pads p₀) makes
    output j from inputs ⌈(j + p₀ − k + 1)/u⌉ … ⌊(j + p₀)/u⌋ (ONNX operator docs, Conv and ConvTranspose).
    Decoding a piece with this much context on each side gives the whole latent's samples in between
    (tts/engine.py ``_decoded``).
    """
    graph = decoder.graph
    latent = graph.input[0].name
    reach: dict[str, tuple[float, float, float]] = {latent: (1.0, 0.0, 0.0)}  # tensor → (rate, back, ahead)
    for node in graph.node:
        reached = [reach[name] for name in node.input if name in reach]
        if not reached:
            continue
        rate, back, ahead = reached[0][0], max(r[1] for r in reached), max(r[2] for r in reached)
        attributes = {attribute.name: helper.get_attribute_value(attribute) for attribute in node.attribute}
        kernel = attributes.get("kernel_shape", [1])[-1]
        pads = attributes.get("pads", [0, 0])
        begin = pads[len(pads) // 2 - 1]  # [begin…, end…]: the length axis is the last of each half
        if node.op_type == "Conv":
            dilation, stride = attributes.get("dilations", [1])[-1], attributes.get("strides", [1])[-1]
            back, ahead = back + begin / rate, ahead + ((kernel - 1) * dilation - begin) / rate
            rate /= stride
        elif node.op_type == "ConvTranspose":
            stride = attributes.get("strides", [1])[-1]
            back, ahead = back + ((kernel - 1 - begin) / stride + 1) / rate, ahead + (begin / stride + 1) / rate
            rate *= stride
        elif node.op_type not in _POINTWISE:
            return None
        for name in node.output:
            reach[name] = (rate, back, ahead)
    audio = graph.output[0].name
    if audio not in reach:
        return None
    return math.ceil(max(reach[audio][1:]))


ROW_AXIS = "rows/axis"


def decoder_on_rows(decoder: onnx.ModelProto) -> None:
    """Make the decoder's 1-D convolutions 2-D ones over a single row: [batch, channels, 1, length].

    The arithmetic is the same, but onnxruntime's graph optimizer gives 2-D convolutions its blocked-channel
    (NCHWc) direct-convolution kernels (onnxruntime docs, "Graph optimizations": NCHWc Optimizer), where 1-D ones
    take an im2col copy and a matrix product. Measured on en_US-joe-medium, one thread: 139 vs 181 ms for a
    3 s sentence. A direct convolution also sums each output over its channels and taps in one fixed order,
    whatever the length, so a piece of the latent decoded with enough context on each side gives exactly the
    bits of the whole (tts/engine.py, ``LoadedVoice.decoder_context``). The decoder's inputs get the row axis on
    entry and its outputs lose it on exit; raises ValueError for a layer it cannot carry over (the caller
    keeps the decoder as it was).
    """
    graph = decoder.graph
    weights = {initializer.name: initializer for initializer in graph.initializer}
    graph.initializer.append(numpy_helper.from_array(_int64s([2]), ROW_AXIS))
    on_rows: dict[str, str] = {}  # a 3-D tensor → its 4-D form
    nodes: list[onnx.NodeProto] = []
    for model_input in graph.input:
        if len(model_input.type.tensor_type.shape.dim) == 3:
            on_rows[model_input.name] = f"{model_input.name}/rows"
            nodes.append(helper.make_node("Unsqueeze", [model_input.name, ROW_AXIS], [on_rows[model_input.name]]))
    for node in graph.node:
        if not any(name in on_rows for name in node.input):
            nodes.append(node)
            continue
        if node.op_type in ("Conv", "ConvTranspose"):
            nodes.append(_convolution_on_rows(node, weights, on_rows))
        elif node.op_type in _ELEMENTWISE:
            constants = [weights[name] for name in node.input if name in weights]
            if any(len(constant.dims) > 1 for constant in constants):
                raise ValueError(f"{node.name or node.op_type}: a constant that would broadcast on the wrong axis")
            nodes.append(_rewired(node, [on_rows.get(name, name) for name in node.input], on_rows, on_row=True))
        else:  # any other operator reads the 3-D tensor, taken off the row
            inputs = []
            for name in node.input:
                if name in on_rows:
                    nodes.append(helper.make_node("Squeeze", [on_rows[name], ROW_AXIS], [f"{name}/off_rows"]))
                    name = f"{name}/off_rows"
                inputs.append(name)
            nodes.append(_rewired(node, inputs, on_rows, on_row=False))
    for output in graph.output:
        if output.name in on_rows:
            nodes.append(helper.make_node("Squeeze", [on_rows[output.name], ROW_AXIS], [output.name]))
    del graph.node[:]
    graph.node.extend(nodes)
    del graph.value_info[:]  # shapes of the old 3-D tensors
    onnx.checker.check_model(decoder, full_check=True)


def _convolution_on_rows(node: onnx.NodeProto, weights: dict, on_rows: dict[str, str]) -> onnx.NodeProto:
    weight = weights.get(node.input[1])
    if weight is None or len(weight.dims) != 3:
        raise ValueError(f"{node.name or node.op_type}: weights that are not a constant 1-D kernel")
    weight.CopyFrom(numpy_helper.from_array(numpy_helper.to_array(weight)[:, :, None, :], weight.name))
    attributes = {}
    for attribute in node.attribute:
        value = helper.get_attribute_value(attribute)
        if attribute.name in ("kernel_shape", "strides", "dilations"):
            value = [1, *value]
        elif attribute.name == "output_padding":
            value = [0, *value]
        elif attribute.name == "pads":  # [begin, end] → [row begin, begin, row end, end]
            value = [0, value[0], 0, value[1]]
        elif attribute.name not in ("group", "auto_pad"):
            raise ValueError(f"{node.name or node.op_type}: attribute {attribute.name} not carried over")
        attributes[attribute.name] = value
    inputs = [on_rows.get(name, name) for name in node.input]
    outputs = [f"{name}/rows" for name in node.output]
    renamed = helper.make_node(node.op_type, inputs, outputs, name=node.name, **attributes)
    on_rows.update({name: f"{name}/rows" for name in node.output})
    return renamed


def _rewired(node: onnx.NodeProto, inputs: list[str], on_rows: dict[str, str], on_row: bool) -> onnx.NodeProto:
    """``node`` reading ``inputs``; ``on_row``: its outputs are 4-D, under new names recorded in ``on_rows``."""
    copy = onnx.NodeProto()
    copy.CopyFrom(node)
    del copy.input[:]
    copy.input.extend(inputs)
    if on_row:
        del copy.output[:]
        copy.output.extend(f"{name}/rows" for name in node.output)
        on_rows.update({name: f"{name}/rows" for name in node.output})
    return copy


def main(model_path: str, front_path: str, decoder_path: str, threads: str) -> None:
    """Write the patched model to ``front_path``, or its two parts to both paths if the decoder is found; the
    front's sums are cut so that 1 to ``threads`` onnxruntime threads give it the same bits."""
    from piper.patch_voice_with_alignment import add_alignment_output

    model = onnx.load(model_path)
    add_noise_inputs(model)  # first: it checks the graph, and Piper's alignment output carries no type
    try:
        add_alignment_output(model)
    except ValueError:
        pass  # already patched upstream: the output is there
    parts = split_decoder(model)
    if parts is None:
        onnx.save(model, front_path)
        return
    front, decoder = parts
    split_long_sums(front, int(threads))
    context = receptive_frames(decoder)
    if context is not None:  # without it, the engine decodes a sentence in one call
        helper.set_model_props(decoder, {CONTEXT_FRAMES_KEY: str(context)})
    try:
        decoder_on_rows(decoder)
    except ValueError:
        pass  # a layer this rewrite does not know: the decoder keeps its 1-D convolutions, slower but the same
    onnx.save(decoder, decoder_path)
    onnx.save(front, front_path)


if __name__ == "__main__":
    main(*sys.argv[1:5])
