"""Gradients of a network's ops, replacing TensorFlow's own where those are slow on a CPU.

The loaded network is an imported graph, so its ops take their gradients from the
registry; :data:`GRADIENT_OVERRIDES` names, per op type, the gradient fvcli registers
instead (the graph's nodes are marked with it before import).
"""

from __future__ import annotations

import tensorflow as tf
from tensorflow.python.ops import gen_nn_ops

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


# op type -> the registered gradient its nodes are given
GRADIENT_OVERRIDES = {"MaxPool": MAX_POOL_GRADIENT}
