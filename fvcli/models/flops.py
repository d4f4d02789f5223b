"""FLOPs of a forward pass, read off a frozen graph's static shapes at a given image size."""

from __future__ import annotations

import tensorflow as tf

from .graph import relax_input, sub_graph


COUNTED_OPS = ("Conv2D", "DepthwiseConv2dNative", "MatMul")


def graph_flops(graph_def, output_names: list[str], input_name: str, size: int,
                channels: int) -> int:
    """Multiply-adds x 2 of the convolutions (plain and depthwise, which is what fvcli makes
    of grouped ones with a channel per group) and matrix products that ``graph_def``
    computes on the way to the ops ``output_names`` for one ``size`` x ``size`` image of
    ``channels`` channels; the rest is cheap beside them. Ops inside function calls are not
    seen. ValueError when the graph's static shapes cannot take that size (a head fixed
    to the model's own size, say)."""
    # relaxed: shapes the graph recorded at its own size would refuse any other
    wanted = relax_input(sub_graph(graph_def, output_names), input_name)
    keep = {node.name for node in wanted.node}
    with tf.Graph().as_default() as fixed:
        images = tf.compat.v1.placeholder(tf.float32, [1, size, size, channels])
        tf.graph_util.import_graph_def(wanted, input_map={input_name + ":0": images}, name="")
    total = 0
    for op in fixed.get_operations():
        if op.name not in keep or op.type not in COUNTED_OPS:
            continue
        out, kernel = op.outputs[0].shape, op.inputs[1].shape
        if op.type == "Conv2D":  # kernel [h, w, input channels per group, outputs]
            total += 2 * out[1] * out[2] * out[3] * kernel[0] * kernel[1] * kernel[2]
        elif op.type == "DepthwiseConv2dNative":  # each output reads one input channel
            total += 2 * out[1] * out[2] * out[3] * kernel[0] * kernel[1]
        else:
            total += 2 * out[-1] * kernel[0]
    return int(total)
