"""A network's layer table: the tensors objectives can target, found in its graph.

A Keras model names its layers; any other graph (TF-Hub, plain SavedModels) is searched for
activations (ReLUs and the products that make swish, GELU, hard-swish and sigmoid gates)
and concatenations of activation branches, one per scope, named by their scopes (TF-Slim's
``Mixed_4b``). Each layer records the tensors of its pre-activation, where it has one.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import tensorflow as tf

from .graph import through_identities
from ..config.model_names import INCEPTION_V1_ALIASES

_ACTIVATION_OPS = {"Relu", "Relu6", "Elu", "Selu", "LeakyRelu"}
_RELU_OPS = {"Relu", "Relu6"}


@dataclass(frozen=True)
class Layer:
    """One tensor of the network that objectives can target."""

    name: str                       # short name, e.g. "Mixed_4b" or "logits"
    tensor: str                     # graph tensor, e.g. ".../Mixed_4b/concat:0"
    pre_activation: tuple[str, ...]  # tensors whose channel concat is the pre-ReLU value
    shape: tuple                    # (height, width, channels) at the table's image size
    alias: str | None = None
    relu_of_pre: bool = False       # the activation is exactly relu(pre-activation)

    @property
    def channels(self) -> int:
        return int(self.shape[-1])

    @property
    def is_spatial(self) -> bool:
        return len(self.shape) == 3

    @property
    def has_pre_activation(self) -> bool:
        return bool(self.pre_activation)


def named_layer_table(graph: tf.Graph, names: list[str], tensors: list[str]) -> list[Layer]:
    """A Keras model's layers, by their own names, in model order."""
    layers = []
    for name, tensor_name in zip(names, tensors):
        tensor = graph.get_tensor_by_name(tensor_name)
        source = through_identities(tensor)
        layers.append(Layer(name=name, tensor=tensor_name, shape=_shape(tensor),
                            pre_activation=_pre_activation(source.op),
                            relu_of_pre=_is_relu_of_pre(source.op)))
    return layers


def _shape(tensor) -> tuple:
    return tuple(d if d is not None else -1 for d in tensor.shape.as_list()[1:])


def find_layers(graph: tf.Graph) -> list[Layer]:
    """A graph's layers where it has no names of its own: activations (ReLUs, and the
    products that make swish, GELU, hard-swish and sigmoid gates) and concats of
    activations, one per scope, named by their scopes (TF-Slim's Mixed_4b, ...)."""
    by_scope: dict[str, object] = {}
    for op in graph.get_operations():
        output = op.outputs[0] if op.outputs else None
        if output is None or output.shape.rank != 4:
            continue
        if op.type in _ACTIVATION_OPS or _is_gated_product(op) or (
                op.type == "ConcatV2" and _is_activation_concat(op)):
            scope = op.name.rsplit("/", 1)[0] if "/" in op.name else op.name
            by_scope.pop(scope, None)  # the last activation of a scope is its output
            by_scope[scope] = op
    candidates, scopes = list(by_scope.values()), list(by_scope)
    prefix = _common_scope(scopes + [op.name for op in candidates])
    names = _without_trace_suffix([scope[len(prefix):] if scope != prefix.rstrip("/")
                                   else op.name[len(prefix):]
                                   for op, scope in zip(candidates, scopes)])
    alias_of = {slim: alias for alias, slim in INCEPTION_V1_ALIASES.items()}
    return [Layer(name=name or op.name, tensor=op.outputs[0].name,
                  pre_activation=_pre_activation(op), shape=_shape(op.outputs[0]),
                  alias=alias_of.get(name), relu_of_pre=_is_relu_of_pre(op))
            for op, name in zip(candidates, names)]


_GATES = {"Sigmoid", "Erf", "Erfc", "Tanh", "Relu6"}
_ARITHMETIC = {"Mul", "AddV2", "Add", "RealDiv", "Identity", "Cast", "Reshape", "ExpandDims"}


def _is_gated_product(op, depth: int = 3) -> bool:
    """A product one of whose factors comes (within a few arithmetic ops) from a sigmoid,
    erf, tanh or relu6: swish / SiLU, GELU, hard-swish, squeeze-and-excitation gates."""
    if op.type != "Mul":
        return False

    def gated(tensor, left: int) -> bool:
        source = tensor.op
        if source.type in _GATES:
            return True
        return left > 0 and source.type in _ARITHMETIC and any(
            gated(t, left - 1) for t in source.inputs)
    return any(gated(tensor, depth - 1) for tensor in op.inputs)


def _without_trace_suffix(names: list[str]) -> list[str]:
    """Names as the model gave them: without the scope an op opens for itself inside a
    layer ("block_gelu_1/Gelu"), and, as tracing a Keras model suffixes every scope with
    "_1", without one trailing "_N" when all names have one and they stay distinct."""
    names = [re.sub(r"/[A-Z][A-Za-z]*$", "", name) for name in names]
    stripped = [re.sub(r"_\d+$", "", name) for name in names]
    if all(a != b for a, b in zip(names, stripped)) and len(set(stripped)) == len(stripped):
        return stripped
    return names


def _is_activation_concat(op) -> bool:
    inputs = [tensor.op for tensor in op.inputs[:-1]]
    return bool(inputs) and all(_is_activation(source) for source in inputs)


def _is_activation(op) -> bool:
    if op.type in _ACTIVATION_OPS:
        return True
    if op.type in ("MaxPool", "ConcatV2", "Identity"):
        return all(_is_activation(tensor.op) for tensor in op.inputs[:1])
    return False


def _pre_activation(op) -> tuple[str, ...]:
    """Tensors whose channel concat is the value before the ReLU(s) producing ``op``."""
    if op.type in _RELU_OPS:
        return (op.inputs[0].name,)
    if op.type == "ConcatV2":
        parts = []
        for tensor in op.inputs[:-1]:
            parts.append(tensor.op.inputs[0].name if tensor.op.type in _RELU_OPS else tensor.name)
        return tuple(parts)
    return ()


def _is_relu_of_pre(op) -> bool:
    """Whether ``op``'s value is the ReLU of its pre-activation: a ReLU, or a concat of
    ReLUs (not ReLU6, which also clips at 6)."""
    if op.type == "Relu":
        return True
    return op.type == "ConcatV2" and all(tensor.op.type == "Relu" for tensor in op.inputs[:-1])


def _common_scope(names: list[str]) -> str:
    """Longest shared leading scope ("a/b/") of ``names``."""
    if not names:
        return ""
    split = [name.split("/")[:-1] for name in names]
    common = []
    for parts in zip(*split):
        if len(set(parts)) != 1:
            break
        common.append(parts[0])
    return "/".join(common) + "/" if common else ""
