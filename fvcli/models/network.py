"""A frozen network and the pruned forward functions that renders differentiate.

The network's graph is pruned, for each render, down to exactly the tensors the objectives
ask for, so that rendering Mixed_4b never pays for Mixed_5c.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import tensorflow as tf

from ..config import LOGITS
from .errors import ModelError
from .flops import graph_flops
from .batchnorm import fold_batch_norms
from .graph import prune
from .layer_table import Layer
from .preprocess import Preprocess
from ..timings import phase

@dataclass
class Network:
    """A frozen network: its layer table, and pruned forward functions on demand."""

    description: str                # the handle or path it was loaded from (records)
    fingerprint: str
    graph_def: tf.compat.v1.GraphDef
    input_name: str
    native_size: int | None
    preprocess: Preprocess          # from fvcli's [0, 1] RGB to what the network expects
    layers: list[Layer]
    table_size: int = 224           # image size the layer table's shapes are given at
    input_channels: int = 3         # 3 (RGB) or 1 (grayscale)
    name: str = ""                  # as the user named it, for messages: demo, a path, ...
    layers_command: str = "fvcli layers"  # the command that lists its layers, as a hint
    fold_batch_norm: bool = True    # fold inference BatchNorm into convolutions when pruning
    _forward_cache: dict = field(default_factory=dict, repr=False)

    @property
    def logits(self) -> Layer:
        return self.layer(LOGITS)

    def top_level_layers(self) -> list[Layer]:
        """Layers that are not inside another layer's scope (Mixed_4b, not its branches)."""
        names = {layer.name for layer in self.layers}
        return [layer for layer in self.layers
                if not any(layer.name.startswith(other + "/") for other in names)]

    def layer(self, name: str) -> Layer:
        """Find a layer by exact name, Distill alias, or unique name suffix."""
        by_name = {layer.name: layer for layer in self.layers}
        if name in by_name:
            return by_name[name]
        for layer in self.layers:
            if layer.alias == name:
                return layer
        matches = [layer for layer in self.layers if layer.name.endswith("/" + name)
                   or layer.tensor.split(":")[0].endswith("/" + name)]
        if len(matches) == 1:
            return matches[0]
        if len(matches) > 1:
            raise ModelError(f"layer '{name}' is ambiguous: it matches "
                             + ", ".join(m.name for m in matches[:5]))
        close = [layer.name for layer in self.top_level_layers()
                 if name.lower()[:5] in layer.name.lower()][:6]
        hint = "; close: " + ", ".join(close) if close else ""
        raise ModelError(f"no layer '{name}' in {self.name or self.description} "
                         f"(see `{self.layers_command}`){hint}")

    def activation_bytes(self, layer_names, size: int) -> int:
        """Float32 bytes of one image's activations on the way to the deepest of
        ``layer_names`` at ``size`` px: every ReLU and concat output up to it. A rough
        measure of the memory an image costs, for choosing batch sizes."""
        deepest = max(self.layers.index(self.layer(name)) for name in layer_names)
        scale = (size / self.table_size) ** 2
        elements = 0.0
        for layer in self.layers[:deepest + 1]:
            if all(d > 0 for d in layer.shape):
                elements += math.prod(layer.shape) * (scale if layer.is_spatial else 1.0)
        return int(elements * 4)

    def forward_flops(self, layer_name: str, size: int) -> int:
        """Multiply-adds x 2 of the convolutions and matrix products from the image to
        ``layer_name`` for one ``size`` px image, read off the graph's static shapes. What a
        unit of that layer costs. Where the static shapes refuse the size (a head fixed to
        the model's own size), counted at the size the layer's Forward feeds (the model's
        own), or ModelError where it can be fed no size."""
        key = ("flops", layer_name, size)
        if key not in self._forward_cache:
            self._forward_cache[key] = self._forward_flops(layer_name, size)
        return self._forward_cache[key]

    def _forward_flops(self, layer_name: str, size: int) -> int:
        # Read off the frozen graph as it is: pruning and folding a Forward for a count
        # costs a tenth of a second of every render's start-up. Only a layer whose static
        # shapes refuse the size (ValueError), or leave a dimension unknown (TypeError), is
        # counted through its Forward, which runs the network to find where it is fed.
        output = self.layer(layer_name).tensor.split(":")[0]
        try:
            return graph_flops(self.graph_def, [output], self.input_name, size,
                               self.input_channels)
        except (ValueError, TypeError):
            return self.forward((layer_name,), (), size).flops()

    def spatial_size(self, layer_name: str, size: int) -> tuple[int, int]:
        """Height and width of a layer's map for ``size`` px images."""
        probe = self.forward((layer_name,), (), size)(
            tf.zeros([1, size, size, self.input_channels]))
        return tuple(probe[layer_name].shape[1:3])

    def forward(self, layer_names: tuple[str, ...], with_pre_activation: tuple[str, ...],
                size: int, evaluation_only: bool = False) -> "Forward":
        """A differentiable function from [batch, size, size, 3] images in [0, 1] to the
        named layers' activations (and, for ``with_pre_activation``, their pre-ReLU values).
        ``evaluation_only``: for values that are read and not differentiated, a Forward of
        the same layers at the same size with more pre-activations may serve (a render's
        evaluation shares its step's, unless MACO's views or group terms make them
        differ)."""
        key = (tuple(layer_names), tuple(with_pre_activation), size)
        if evaluation_only and key not in self._forward_cache:
            covering = self._covering_forward(*key)
            if covering is not None:
                return covering
        if key not in self._forward_cache:
            with phase("prune"):
                self._forward_cache[key] = Forward(self, layer_names, with_pre_activation, size)
        return self._forward_cache[key]

    def _covering_forward(self, layer_names, with_pre_activation, size: int):
        """A Forward already built at ``size`` for the same layers with more of their
        pre-activations, or None. Its values of the asked-for outputs are the same up to
        float32 rounding (the pre-activations lie on the way to their layers, and a layer
        may be computed as the ReLU of its pre-activation), and a second prune and
        BatchNorm fold would cost a tenth of a second of start-up. Not for a step:
        objectives revive units through any pre-activation they are given."""
        for forward in self._forward_cache.values():
            if (isinstance(forward, Forward) and forward.size == size
                    and forward.fetched_layers == set(layer_names)
                    and set(with_pre_activation) <= forward.fetched_pre_activations):
                return forward
        return None


class Forward:
    """Images in [0, 1] -> {layer name: activation, "<name>/pre": pre-activation}.

    Differentiate it with ``tf.gradients`` inside a ``tf.function``: the pruned network is
    an imported graph function, which a ``tf.GradientTape`` does not record."""

    def __init__(self, network: Network, layer_names, with_pre_activation, size: int):
        self.network = network
        self.fetched_layers = set(layer_names)
        self.fetched_pre_activations = set(with_pre_activation)
        # A layer wanted with its pre-activation, whose activation is the ReLU of it, is
        # computed from it: fetching both from the network costs two gradient paths.
        self._from_pre = [name for name in layer_names
                          if name in with_pre_activation and network.layer(name).relu_of_pre]
        self._outputs: list[tuple[str, tuple[str, ...]]] = []
        for name in layer_names:
            if name not in self._from_pre:
                self._outputs.append((name, (network.layer(name).tensor,)))
        for name in with_pre_activation:
            self._outputs.append((name + "/pre", network.layer(name).pre_activation))
        fetches = [tensor for _, tensors in self._outputs for tensor in tensors]
        graph_def = network.graph_def
        if network.fold_batch_norm:
            # Folded knowing the fetches: a convolution whose own output is fetched keeps
            # its weights, and the others lose their BatchNorm pass forward and backward
            # (no fetched value changes beyond float32 rounding).
            graph_def = fold_batch_norms(graph_def, network.input_name, fetches)
        self._pruned = prune(graph_def, network.input_name, fetches)
        self.size = size
        self._feed_size = size
        if not self._accepts(size):
            if network.native_size is None or not self._accepts(network.native_size):
                raise ModelError(f"{network.description} cannot compute "
                                 f"{', '.join(layer_names)} on {size}px images")
            self._feed_size = network.native_size

    def _accepts(self, size: int) -> bool:
        try:
            self._pruned(tf.zeros([1, size, size, self.network.input_channels]))
            return True
        except (tf.errors.InvalidArgumentError, ValueError):
            return False

    @property
    def feed_size(self) -> int:
        """The size the network is fed (the render size, or the model's fixed size)."""
        return self._feed_size

    @property
    def resizes(self) -> bool:
        """True when images are resized to the model's fixed input size before the network."""
        return self._feed_size != self.size

    def flops(self) -> int:
        """Multiply-adds x 2 of the convolutions and matrix products of one image, at the
        size it is fed."""
        return graph_flops(self._pruned.graph.as_graph_def(),
                           [tensor.op.name for tensor in self._pruned.outputs],
                           self.network.input_name, self._feed_size,
                           self.network.input_channels)

    def __call__(self, images: tf.Tensor) -> dict[str, tf.Tensor]:
        if images.shape[1] != self._feed_size:
            images = tf.image.resize(images, [self._feed_size, self._feed_size])
        values = self._pruned(_preprocessed(images, self.network.preprocess))
        result, position = {}, 0
        for name, tensors in self._outputs:
            parts = values[position:position + len(tensors)]
            position += len(tensors)
            result[name] = parts[0] if len(parts) == 1 else tf.concat(parts, axis=-1)
        for name in self._from_pre:
            result[name] = tf.nn.relu(result[name + "/pre"])
        return result


def _preprocessed(images: tf.Tensor, preprocess: Preprocess) -> tf.Tensor:
    """Images in [0, 1], RGB -> the network's input (see :mod:`fvcli.models.preprocess`)."""
    values = images * preprocess.scale
    if preprocess.bgr:
        values = values[..., ::-1]
    mean = tf.constant(preprocess.mean, values.dtype)
    std = tf.constant(preprocess.std, values.dtype)
    return (values - mean) / std


