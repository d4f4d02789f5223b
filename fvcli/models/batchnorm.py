"""Inference BatchNorm folded into the convolution or matrix product before it.

A frozen network normalises each convolution's output with constants: y = x·s + t per
channel, with s = γ/√(σ²+ε) and t = β − μ·s. The same y comes from the convolution with
weights w·s followed by a bias b·s + t, which saves the BatchNorm's pass over the map
forward and, more so, backward, where a render spends most of its time. Two forms reach
fvcli's frozen graphs:

- ``FusedBatchNorm``/``FusedBatchNormV3`` with ``is_training=False`` (TF-Slim, TF-Hub);
- Keras' ``BatchNormalization``, which traces to ``Mul(x, s)`` then ``AddV2(·, t)`` with s
  and t computed from constants (so also any other constant per-channel affine map).

The op whose output the BatchNorm gave keeps its name (it becomes the BiasAdd), so the
BatchNorm's output stays readable under its own name. A convolution whose own output (or
bias-added output) is fetched, or read by any other op, is left as it is.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import tensorflow as tf

from .graph import sub_graph

_LINEAR_OPS = {"Conv2D", "DepthwiseConv2dNative", "MatMul"}
_FUSED_BATCH_NORMS = {"FusedBatchNorm", "FusedBatchNormV3"}
_ADDS = {"Add", "AddV2"}


@dataclass
class _Fold:
    """One BatchNorm to fold: ``end`` becomes BiasAdd(``linear`` with scaled weights)."""

    end: object                 # the node whose output is the normalised value
    linear: object              # the Conv2D / DepthwiseConv2dNative / MatMul before it
    bias: str | None            # the tensor of the bias the linear op's BiasAdd adds, if any
    scale: str | tuple          # s: a tensor name, or the FusedBatchNorm's (γ, σ², ε)
    shift: str | tuple          # t: a tensor name, or the FusedBatchNorm's (β, μ)


def fold_batch_norms(graph_def, input_name: str, fetches: list[str]):
    """A copy of the part of ``graph_def`` that computes ``fetches`` (tensor names) from
    the input, with every inference BatchNorm folded into the convolution, depthwise
    convolution or matrix product with constant weights before it, unless an
    intermediate value of that pair is fetched or read elsewhere."""
    keep = [input_name] + [name.split(":")[0] for name in fetches]
    graph_def = sub_graph(graph_def, keep)
    nodes = {node.name: node for node in graph_def.node}
    readers = _reader_counts(graph_def, fetches)
    varying = _depends_on(graph_def, input_name)
    folds = [fold for node in graph_def.node
             if (fold := _match(node, nodes, readers, varying)) is not None]
    if not folds:
        return graph_def
    values = _evaluate(graph_def, _constants_of(folds, nodes))
    for fold in folds:
        _apply(fold, nodes, values, graph_def)
    return sub_graph(graph_def, keep)  # drops the unscaled weights and skipped ops


def _tensor(reference: str) -> str:
    """A node input ("conv", "bn:1") as a tensor name ("conv:0", "bn:1")."""
    return reference if ":" in reference else reference + ":0"


def _reader_counts(graph_def, fetches: list[str]) -> dict[str, int]:
    """How many times each tensor is read: by ops of the graph, and once more if fetched."""
    counts: dict[str, int] = {}
    for name in list(fetches) + [source for node in graph_def.node for source in node.input
                                 if not source.startswith("^")]:
        counts[_tensor(name)] = counts.get(_tensor(name), 0) + 1
    return counts


def _depends_on(graph_def, input_name: str) -> set[str]:
    """Names of the nodes whose value depends on the input: the others are constants."""
    readers: dict[str, list[str]] = {}
    for node in graph_def.node:
        for source in node.input:
            readers.setdefault(source.lstrip("^").split(":")[0], []).append(node.name)
    varying, todo = set(), [input_name]
    while todo:
        name = todo.pop()
        if name not in varying:
            varying.add(name)
            todo.extend(readers.get(name, []))
    return varying


def _match(end, nodes, readers, varying) -> _Fold | None:
    """The fold ending at ``end``, if ``end`` is a BatchNorm (or constant per-channel
    affine map) of a linear op's output that nothing else reads."""
    if end.op in _FUSED_BATCH_NORMS:
        if end.attr["is_training"].b or end.attr["data_format"].s not in (b"", b"NHWC"):
            return None
        if any(readers.get(f"{end.name}:{index}", 0) for index in range(1, 6)):
            return None  # the batch statistics are read: not a plain inference BatchNorm
        source, parameters = _tensor(end.input[0]), [_tensor(name) for name in end.input[1:5]]
        scale = (parameters[0], parameters[3], end.attr["epsilon"].f)
        shift = (parameters[1], parameters[2])
    elif end.op in _ADDS:
        product, shift = _split_constant(end, nodes, varying)
        if product is None or nodes[product.split(":")[0]].op != "Mul":
            return None
        if readers.get(_tensor(product), 0) != 1:
            return None
        source, scale = _split_constant(nodes[product.split(":")[0]], nodes, varying)
        if source is None:
            return None
    else:
        return None
    constants = [name for name in (scale if isinstance(scale, tuple) else (scale,))
                 if isinstance(name, str)] + list(shift if isinstance(shift, tuple) else (shift,))
    if any(name.split(":")[0] in varying for name in constants):
        return None
    linear, bias = _linear_before(source, nodes, readers, varying)
    if linear is None:
        return None
    return _Fold(end=end, linear=linear, bias=bias, scale=scale, shift=shift)


def _split_constant(node, nodes, varying):
    """(the varying input, the constant input) of a two-input op, or (None, None)."""
    inputs = [_tensor(name) for name in node.input if not name.startswith("^")]
    if len(inputs) != 2:
        return None, None
    first, second = (name.split(":")[0] in varying for name in inputs)
    if first and not second:
        return inputs[0], inputs[1]
    if second and not first:
        return inputs[1], inputs[0]
    return None, None


def _linear_before(tensor: str, nodes, readers, varying):
    """(the linear op with constant weights that ``tensor`` comes from, possibly through
    a BiasAdd, the bias tensor or None), or (None, None) when some step is read elsewhere
    or the op is not one fvcli folds into."""
    if readers.get(tensor, 0) != 1 or not tensor.endswith(":0"):
        return None, None
    node, bias = nodes[tensor.split(":")[0]], None
    if node.op == "BiasAdd":
        if node.attr["data_format"].s not in (b"", b"NHWC"):
            return None, None
        bias = _tensor(node.input[1])
        tensor = _tensor(node.input[0])
        if bias.split(":")[0] in varying or readers.get(tensor, 0) != 1:
            return None, None
        node = nodes[tensor.split(":")[0]]
    if node.op not in _LINEAR_OPS or not tensor.endswith(":0"):
        return None, None
    if node.attr["T"].type != tf.float32.as_datatype_enum:
        return None, None
    if node.op != "MatMul" and node.attr["data_format"].s not in (b"", b"NHWC"):
        return None, None
    if node.input[1].split(":")[0] in varying:
        return None, None
    return node, bias


def _constants_of(folds: list[_Fold], nodes) -> list[str]:
    """Every constant tensor the folds need: weights, biases, scales and shifts."""
    names = []
    for fold in folds:
        names.append(_tensor(fold.linear.input[1]))
        names.extend([fold.bias] if fold.bias else [])
        for part in (fold.scale, fold.shift):
            names.extend(name for name in (part if isinstance(part, tuple) else (part,))
                         if isinstance(name, str))
    return sorted(set(names))


def _evaluate(graph_def, tensor_names: list[str]) -> dict[str, np.ndarray]:
    """The values of constant tensors of ``graph_def``, computed by TensorFlow itself
    (Keras computes γ/√(σ²+ε) with ops, not as one constant)."""
    constants = sub_graph(graph_def, [name.split(":")[0] for name in tensor_names])
    graph = tf.Graph()
    with graph.as_default():
        tf.compat.v1.import_graph_def(constants, name="")
    with tf.compat.v1.Session(graph=graph) as session:
        values = session.run(tensor_names)
    return dict(zip(tensor_names, values))


def _per_channel(value: np.ndarray, channels: int) -> np.ndarray | None:
    """``value`` as one float64 number per output channel, if it broadcasts only along
    the channel axis (a scalar, [C], or [1, ..., 1, C])."""
    value = np.asarray(value, np.float64)
    if value.size not in (1, channels) or any(d != 1 for d in value.shape[:-1]):
        return None
    return np.broadcast_to(value.reshape(-1), (channels,))


def _scale_and_shift(fold: _Fold, values, channels: int):
    """The per-channel s and t of y = x·s + t, in float64."""
    if isinstance(fold.scale, tuple):  # FusedBatchNorm: γ/√(σ²+ε) and β − μ·s
        gamma, variance, epsilon = fold.scale
        beta, mean = fold.shift
        scale = (values[gamma].astype(np.float64)
                 / np.sqrt(values[variance].astype(np.float64) + epsilon))
        shift = values[beta].astype(np.float64) - values[mean].astype(np.float64) * scale
        return scale, shift
    return _per_channel(values[fold.scale], channels), _per_channel(values[fold.shift], channels)


def _apply(fold: _Fold, nodes, values, graph_def) -> None:
    """Scale the linear op's weights and turn ``fold.end`` into its BiasAdd, in place."""
    linear = fold.linear
    weights = values[_tensor(linear.input[1])].astype(np.float64)
    transposed = linear.op == "MatMul" and linear.attr["transpose_b"].b
    channels = weights.shape[0] if transposed else (
        weights.shape[2] * weights.shape[3] if linear.op == "DepthwiseConv2dNative"
        else weights.shape[-1])
    scale, shift = _scale_and_shift(fold, values, channels)
    if scale is None or shift is None:
        return  # not a per-channel map: leave it
    if transposed:
        weights = weights * scale[:, None]
    elif linear.op == "DepthwiseConv2dNative":  # output channel = input channel x multiplier
        weights = weights * scale.reshape(weights.shape[2], weights.shape[3])
    else:
        weights = weights * scale
    bias = values[fold.bias].astype(np.float64) if fold.bias else 0.0
    weights_node = _constant(graph_def, linear.name + "/folded_weights", weights)
    bias_node = _constant(graph_def, fold.end.name + "/folded_bias", bias * scale + shift)
    linear.input[1] = weights_node.name
    end, name = fold.end, fold.end.name
    end.Clear()
    end.name, end.op = name, "BiasAdd"
    end.input.extend([linear.name, bias_node.name])
    end.attr["T"].type = tf.float32.as_datatype_enum
    end.attr["data_format"].s = b"NHWC"


def _constant(graph_def, name: str, value: np.ndarray):
    """Add a float32 Const node holding ``value`` to ``graph_def``."""
    node = graph_def.node.add()
    node.name, node.op = name, "Const"
    node.attr["dtype"].type = tf.float32.as_datatype_enum
    node.attr["value"].tensor.CopyFrom(tf.make_tensor_proto(np.asarray(value, np.float32)))
    return node
