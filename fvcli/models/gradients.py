"""Gradients of a network's ops, replacing TensorFlow's own where those are slow on a CPU.

The loaded network is an imported graph, so its ops take their gradients from the
registry; :data:`GRADIENT_OVERRIDES` names, per op type, the gradient fvcli registers
instead (the graph's nodes are marked with it before import).
"""

from __future__ import annotations

import tensorflow as tf
from tensorflow.python.ops import gen_nn_ops, nn_grad

MAX_POOL_GRADIENT = "FvcliMaxPool"


@tf.RegisterGradient(MAX_POOL_GRADIENT)
def _max_pool_gradient(op, gradient):
    """MaxPool's gradient, with the pooled output recomputed beside it.

    oneDNN's fast MaxPoolGrad is used only when the op's pooled input comes straight from
    a oneDNN MaxPool. Through the pruned function's boundary the forward output arrives
    via Identity nodes, which grappler removes only in some runs: in the others TF falls
    back to its own MaxPoolGrad, 20x slower, and a step takes twice as long (seen in 1 of
    3 processes). The recomputed pool is marked so that grappler does not merge it back
    into the forward one; it costs one extra pooling, a few per cent of a step."""
    images = op.inputs[0]
    attributes = {name: op.get_attr(name) for name in ("ksize", "strides", "padding",
                                                       "data_format")}
    pooled = gen_nn_ops.max_pool(images, **attributes)
    pooled.op._set_attr("_fvcli_recomputed", tf.compat.v1.AttrValue(b=True))
    return gen_nn_ops.max_pool_grad(images, pooled, gradient, **attributes)


STRIDED_CONV_GRADIENT = "FvcliStridedConv"
FEW_CHANNELS = 4  # inputs of at most this many channels take the sub-pixel gradient


@tf.RegisterGradient(STRIDED_CONV_GRADIENT)
def _strided_conv_gradient(op, gradient):
    """Conv2D's gradients; for a strided convolution of an input of few channels (a stem,
    such as InceptionV1's 7x7/2 first layer on the RGB image), the input's gradient is
    computed by :func:`subpixel_input_gradient`. oneDNN's backward-data kernel writes 3
    channels at stride 2 at a fifth of its forward speed: at batch 8 and 128 px it took
    14 % of a whole InceptionV1 step to Mixed_4b."""
    standard = nn_grad._Conv2DGrad(op, gradient)
    images, kernel = op.inputs
    strides = op.get_attr("strides")
    if (op.get_attr("data_format") != b"NHWC" or any(d != 1 for d in op.get_attr("dilations"))
            or strides[1] != strides[2] or strides[1] < 2 or not kernel.shape.is_fully_defined()
            or kernel.shape[2] > FEW_CHANNELS):
        return standard
    stride = strides[1]
    # the output's size from its gradient: a use of the output itself would keep grappler
    # from fusing the convolution with its bias and ReLU
    output_size = tf.shape(gradient)[1:3]
    before = [_leading_padding(op, axis, tf.shape(images)[axis + 1], output_size[axis],
                               kernel.shape[axis], stride) for axis in (0, 1)]
    return [subpixel_input_gradient(images, kernel, gradient, stride, before), standard[1]]


def _leading_padding(op, axis: int, size, output_size, kernel_size: int, stride: int):
    """Rows (axis 0) or columns (axis 1) of zeros the convolution adds before the input."""
    padding = op.get_attr("padding")
    if padding == b"VALID":
        return 0
    if padding == b"EXPLICIT":
        return op.get_attr("explicit_paddings")[2 + 2 * axis]
    return tf.maximum((output_size - 1) * stride + kernel_size - size, 0) // 2


def subpixel_input_gradient(images, kernel, gradient, stride: int, before) -> tf.Tensor:
    """The gradient with respect to ``images`` ([batch, h, w, c]) of a convolution with
    ``kernel`` at ``stride`` that pads ``before`` = (top, left), given ``gradient`` of
    its output.

    The input is seen in stride x stride blocks (space-to-depth): each output pixel then
    reads a small window of whole blocks, with the kernel regrouped per block. The
    gradient of the blocks is one stride-1 convolution of the output's gradient with that
    regrouped kernel, flipped: a forward convolution, which oneDNN runs fast, writing
    stride^2 x c channels instead of c. Depth-to-space turns the blocks back into pixels.
    """
    kernel_h, kernel_w, channels, filters = kernel.shape
    taps_h, taps_w = -(-kernel_h // stride), -(-kernel_w // stride)  # blocks per window
    kernel = tf.pad(kernel, [[0, taps_h * stride - kernel_h], [0, taps_w * stride - kernel_w],
                             [0, 0], [0, 0]])
    blocked = tf.reshape(tf.transpose(
        tf.reshape(kernel, [taps_h, stride, taps_w, stride, channels, filters]),
        [0, 2, 1, 3, 4, 5]), [taps_h, taps_w, stride * stride * channels, filters])
    flipped = tf.transpose(tf.reverse(blocked, [0, 1]), [0, 1, 3, 2])
    full = tf.pad(gradient, [[0, 0], [taps_h - 1, taps_h - 1], [taps_w - 1, taps_w - 1],
                             [0, 0]])
    padded_input = tf.nn.depth_to_space(tf.nn.conv2d(full, flipped, 1, "VALID"), stride)
    # Crop the padding off; rows the convolution never read (VALID) get zeros.
    height, width = tf.shape(images)[1], tf.shape(images)[2]
    top, left = before
    missing_h = tf.maximum(top + height - tf.shape(padded_input)[1], 0)
    missing_w = tf.maximum(left + width - tf.shape(padded_input)[2], 0)
    padded_input = tf.pad(padded_input, [[0, 0], [0, missing_h], [0, missing_w], [0, 0]])
    return padded_input[:, top:top + height, left:left + width, :]


# op type -> the registered gradient its nodes are given
GRADIENT_OVERRIDES = {"MaxPool": MAX_POOL_GRADIENT, "Conv2D": STRIDED_CONV_GRADIENT}
