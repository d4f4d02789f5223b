"""Load a network and reach its inner layers.

Every source (a TF-Hub handle, a SavedModel folder, a ``.keras`` file, the built-in
demo model) ends as one concrete function from images to outputs. Its variables are
frozen into constants, its graph is searched for layer tensors (ReLUs and concats of
ReLU branches), and for each render it is pruned down to exactly the tensors that
the objectives ask for, so that rendering Mixed_4b never pays for Mixed_5c.
"""

from __future__ import annotations

import hashlib
import math
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import tensorflow as tf
from tensorflow.python.framework.convert_to_constants import convert_variables_to_constants_v2

from ..config import LOGITS
from .gradients import GRADIENT_OVERRIDES
from .keras_layers import keras_layer_function
from .preprocess import NAMED as NAMED_PREPROCESS
from .preprocess import Preprocess, from_input_range
from .preprocess import from_spec as preprocess_from_spec

DEFAULT_HANDLE = "https://tfhub.dev/google/imagenet/inception_v1/classification/5"
DEMO_MODEL_DIR = Path(__file__).parent / "demo_model"

# Named models a job file or --model may use instead of a handle or a path.
NAMED_MODELS = {"inception_v1": {"hub": DEFAULT_HANDLE}, "demo": {"path": str(DEMO_MODEL_DIR)}}

# Distill / Lucid layer names of InceptionV1 -> TF-Slim names of the TF-Hub model.
INCEPTION_V1_ALIASES = {
    "conv2d0": "Conv2d_1a_7x7", "conv2d1": "Conv2d_2b_1x1", "conv2d2": "Conv2d_2c_3x3",
    "mixed3a": "Mixed_3b", "mixed3b": "Mixed_3c",
    "mixed4a": "Mixed_4b", "mixed4b": "Mixed_4c", "mixed4c": "Mixed_4d",
    "mixed4d": "Mixed_4e", "mixed4e": "Mixed_4f",
    "mixed5a": "Mixed_5b", "mixed5b": "Mixed_5c",
}
_ACTIVATION_OPS = {"Relu", "Relu6", "Elu", "Selu", "LeakyRelu"}
_RELU_OPS = {"Relu", "Relu6"}


class ModelError(Exception):
    """A model cannot be loaded or does not have what was asked of it (one-line message).

    ``exit_code`` is 2 when the user named something wrong, 1 when the environment failed
    (e.g. no network to download from)."""

    def __init__(self, message: str, exit_code: int = 2):
        super().__init__(message)
        self.exit_code = exit_code


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


@dataclass
class Network:
    """A frozen network: its layer table, and pruned forward functions on demand."""

    description: str
    fingerprint: str
    graph_def: tf.compat.v1.GraphDef
    input_name: str
    native_size: int | None
    preprocess: Preprocess          # from fvcli's [0, 1] RGB to what the network expects
    layers: list[Layer]
    table_size: int = 224           # image size the layer table's shapes are given at
    input_channels: int = 3         # 3 (RGB) or 1 (grayscale)
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
        raise ModelError(f"no layer '{name}' in {self.description} (see `fvcli layers`){hint}")

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
        ``layer_name`` for one ``size`` px image (or the model's own size, where it resizes
        to it), read off the graph's static shapes. What a unit of that layer costs."""
        key = ("flops", layer_name, size)
        if key not in self._forward_cache:
            self._forward_cache[key] = self.forward((layer_name,), (), size).flops()
        return self._forward_cache[key]

    def spatial_size(self, layer_name: str, size: int) -> tuple[int, int]:
        """Height and width of a layer's map for ``size`` px images."""
        probe = self.forward((layer_name,), (), size)(
            tf.zeros([1, size, size, self.input_channels]))
        return tuple(probe[layer_name].shape[1:3])

    def forward(self, layer_names: tuple[str, ...], with_pre_activation: tuple[str, ...],
                size: int) -> "Forward":
        """A differentiable function from [batch, size, size, 3] images in [0, 1] to the
        named layers' activations (and, for ``with_pre_activation``, their pre-ReLU values)."""
        key = (tuple(layer_names), tuple(with_pre_activation), size)
        if key not in self._forward_cache:
            self._forward_cache[key] = Forward(self, layer_names, with_pre_activation, size)
        return self._forward_cache[key]


class Forward:
    """Images in [0, 1] -> {layer name: activation, "<name>/pre": pre-activation}.

    Differentiate it with ``tf.gradients`` inside a ``tf.function``: the pruned network is
    an imported graph function, which a ``tf.GradientTape`` does not record."""

    def __init__(self, network: Network, layer_names, with_pre_activation, size: int):
        self.network = network
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
        self._pruned = _prune(network.graph_def, network.input_name, fetches)
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
        """Multiply-adds x 2 of the convolutions and matrix products of one image."""
        wanted = _sub_graph(self._pruned.graph.as_graph_def(),
                            [tensor.op.name for tensor in self._pruned.outputs])
        keep = {node.name for node in wanted.node}
        with tf.Graph().as_default() as fixed:
            images = tf.compat.v1.placeholder(
                tf.float32, [1, self._feed_size, self._feed_size, self.network.input_channels])
            tf.graph_util.import_graph_def(
                wanted, input_map={self.network.input_name + ":0": images}, name="")
        total = 0
        for op in fixed.get_operations():
            if op.name not in keep or op.type not in ("Conv2D", "MatMul"):
                continue
            out, kernel = op.outputs[0].shape, op.inputs[1].shape
            if op.type == "Conv2D":
                total += 2 * out[1] * out[2] * out[3] * kernel[0] * kernel[1] * kernel[2]
            else:
                total += 2 * out[-1] * kernel[0]
        return int(total)

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
    """Images in [0, 1], RGB -> the network's input (see :mod:`fvcli.preprocess`)."""
    values = images * preprocess.scale
    if preprocess.bgr:
        values = values[..., ::-1]
    mean = tf.constant(preprocess.mean, values.dtype)
    std = tf.constant(preprocess.std, values.dtype)
    return (values - mean) / std


def _prune(graph_def, input_name: str, fetches: list[str]) -> Callable:
    """Import ``graph_def`` with a size-free input and prune it to ``fetches``."""
    relaxed = _relax_input(graph_def, input_name)
    for node in relaxed.node:
        if node.op in GRADIENT_OVERRIDES:
            node.attr["_gradient_op_type"].s = GRADIENT_OVERRIDES[node.op].encode()
        elif ("_gradient_op_type" in node.attr
              and node.attr["_gradient_op_type"].s.startswith(b"CustomGradient")):
            # A tf.custom_gradient (Keras' swish and GELU) names a Python closure over
            # tensors of the graph it was traced in, unusable in this imported copy;
            # without it, the gradient comes from the ops' own gradients, the same maths.
            del node.attr["_gradient_op_type"]

    def import_graph():
        tf.compat.v1.import_graph_def(relaxed, name="")

    wrapped = tf.compat.v1.wrap_function(import_graph, [])
    graph = wrapped.graph
    return wrapped.prune(graph.get_tensor_by_name(input_name + ":0"),
                         [graph.get_tensor_by_name(name) for name in fetches])


def _sub_graph(graph_def, output_names: list[str]):
    """The part of ``graph_def`` that ``output_names`` depend on."""
    nodes = {node.name: node for node in graph_def.node}
    keep, todo = set(), list(output_names)
    while todo:
        name = todo.pop()
        if name in keep or name not in nodes:
            continue
        keep.add(name)
        todo.extend(source.lstrip("^").split(":")[0] for source in nodes[name].input)
    sub = tf.compat.v1.GraphDef()
    sub.node.extend(node for node in graph_def.node if node.name in keep)
    sub.library.CopyFrom(graph_def.library)
    sub.versions.CopyFrom(graph_def.versions)
    return sub


def _without_grouped_conv_calls(graph_def):
    """Replace each call of a nested function that only runs a depthwise Conv2D (Keras
    wraps such grouped convolutions, which TensorFlow's CPU kernels lack, in an XLA
    function: ConvNeXt has them) by the equivalent DepthwiseConv2dNative node, which
    runs on CPUs and has a gradient in an imported graph."""
    library = {function.signature.name: function for function in graph_def.library.function}
    nodes = {node.name: node for node in graph_def.node}
    added = []
    for node in graph_def.node:
        function = library.get(node.attr["f"].func.name) if "f" in node.attr else None
        if node.op not in ("StatefulPartitionedCall", "PartitionedCall") or function is None:
            continue
        convolutions = [inner for inner in function.node_def if inner.op == "Conv2D"]
        if len(convolutions) != 1:
            continue
        arguments = [argument.name for argument in function.signature.input_arg]
        inner_nodes = {inner.name: inner for inner in function.node_def}
        source, kernel = (_function_argument(reference, inner_nodes)
                          for reference in convolutions[0].input[:2])
        if source not in arguments or kernel not in arguments:
            continue
        kernel_node = nodes.get(node.input[arguments.index(kernel)].split(":")[0])
        while kernel_node is not None and kernel_node.op == "Identity":  # left by inlining
            kernel_node = nodes.get(kernel_node.input[0].split(":")[0])
        if kernel_node is None or kernel_node.op != "Const":
            continue
        weights = tf.make_ndarray(kernel_node.attr["value"].tensor)
        if weights.shape[2] != 1:  # grouped, but not one input channel per group
            continue
        height, width, _, outputs = weights.shape
        groups = outputs  # Keras' depthwise convolutions: one output per input channel
        filter_node = tf.compat.v1.NodeDef(name=node.name + "/depthwise_filter", op="Const")
        depthwise = weights.reshape(height, width, groups, outputs // groups)
        filter_node.attr["value"].tensor.CopyFrom(tf.make_tensor_proto(depthwise))
        filter_node.attr["dtype"].type = kernel_node.attr["dtype"].type
        added.append(filter_node)
        attributes = {name: convolutions[0].attr[name]
                      for name in ("T", "strides", "padding", "data_format", "dilations")}
        source_input = node.input[arguments.index(source)]
        node.Clear()
        node.name, node.op = filter_node.name[:-len("/depthwise_filter")], "DepthwiseConv2dNative"
        node.input.extend([source_input, filter_node.name])
        for name, value in attributes.items():
            node.attr[name].CopyFrom(value)
    graph_def.node.extend(added)
    return graph_def


def _function_argument(reference: str, inner_nodes: dict) -> str:
    """The function argument a node input inside a function body comes from, following
    Identity nodes ("convolution/ReadVariableOp:output:0" -> its argument's name)."""
    name = reference.split(":")[0]
    while name in inner_nodes and inner_nodes[name].op == "Identity":
        name = inner_nodes[name].input[0].split(":")[0]
    return name


def _relax_input(graph_def, input_name: str):
    """Copy of ``graph_def`` whose input takes any spatial size (DESIGN.md §3)."""
    relaxed = tf.compat.v1.GraphDef()
    relaxed.CopyFrom(graph_def)
    for node in relaxed.node:
        if "_output_shapes" in node.attr:
            del node.attr["_output_shapes"]
        if node.name == input_name:
            channels = node.attr["shape"].shape.dim[-1].size
            shape = tf.TensorShape([None, None, None, channels])
            node.attr["shape"].shape.CopyFrom(shape.as_proto())
    return relaxed


# ----------------------------------------------------------------------------- loading


def resolve_model_spec(spec) -> dict:
    """Normalise a model spec (name, handle, path or mapping) to {"hub": ..} or {"path": ..}."""
    if isinstance(spec, dict):
        return dict(spec)
    text = str(spec)
    if text in NAMED_MODELS:
        return dict(NAMED_MODELS[text])
    if "://" in text:
        return {"hub": text}
    return {"path": text}


def model_label(spec: dict) -> str:
    """What a person would call this model: the handle or the path."""
    return spec.get("hub") or spec.get("path")


def load_network(spec, table_size: int | None = None) -> Network:
    """Load a model (see :func:`resolve_model_spec`) and build its layer table, with
    shapes at ``table_size`` px (default: the model's own input size, or 224)."""
    spec = resolve_model_spec(spec)
    # The loaded object owns the variables: keep it alive until they are frozen.
    if "hub" in spec:
        loaded = _load_hub(spec["hub"])
    elif "path" in spec:
        loaded = _load_path(spec["path"])
    else:
        raise ModelError("a model needs 'hub: HANDLE' or 'path: SAVEDMODEL_OR_KERAS_FILE'")
    # Inlined: a nested function call in the graph (Keras wraps some ops in one) has no
    # gradient once the graph is imported elsewhere.
    frozen = convert_variables_to_constants_v2(loaded.function, aggressive_inlining=True)
    graph_def = _without_grouped_conv_calls(frozen.graph.as_graph_def())
    input_node, channels, native = _image_input(graph_def, model_label(spec))
    table_size = table_size or native or 224
    graph = _import_at_size(graph_def, input_node.name, table_size)
    logits = _logits_tensor(frozen.outputs[-1])
    if loaded.layer_names is not None:
        tensors = [tensor.name for tensor in frozen.outputs[:-1]]
        layers = _named_layer_table(graph, loaded.layer_names, tensors)
    else:
        layers = _layer_table(graph)
    layers.append(Layer(name=LOGITS, tensor=logits, pre_activation=(),
                        shape=(int(graph.get_tensor_by_name(logits).shape[-1]),)))
    return Network(description=model_label(spec), fingerprint=_fingerprint(loaded.fingerprint),
                   graph_def=graph_def, input_name=input_node.name, native_size=native,
                   preprocess=model_preprocess(spec), layers=layers, table_size=table_size,
                   input_channels=channels)


def model_preprocess(spec: dict) -> Preprocess:
    """The model's preprocessing: its ``preprocess``, its ``input_range``, or [0, 1]."""
    if "preprocess" in spec:
        return preprocess_from_spec(spec["preprocess"])
    if "input_range" in spec:
        return from_input_range(*spec["input_range"])
    return NAMED_PREPROCESS["none"]


def _image_input(graph_def, label: str):
    """The input placeholder, its channels and its fixed size (or None); ModelError for
    anything but one [batch, height, width, 1 or 3] image input."""
    inputs = [node for node in graph_def.node if node.op == "Placeholder"]
    if len(inputs) != 1:
        raise ModelError(f"{label}: takes {len(inputs)} inputs; fvcli renders models with "
                         "one image input")
    dims = [d.size for d in inputs[0].attr["shape"].shape.dim]
    if len(dims) != 4 or dims[-1] not in (1, 3):
        shape = "x".join("?" if d < 0 else str(d) for d in dims) or "unknown"
        raise ModelError(f"{label}: its input has shape {shape}; fvcli renders images of "
                         "shape batch x height x width x 3 (RGB) or x 1 (grayscale), "
                         "channels last")
    return inputs[0], dims[-1], (dims[1] if dims[1] > 0 else None)


def fetch_to_cache(handle: str) -> str:
    """Make sure ``handle`` is in the TF-Hub cache (downloading it if needed); return its
    folder."""
    import tensorflow_hub as hub

    try:
        return hub.resolve(handle)
    except Exception as error:  # urllib and tf.errors both surface here; all mean "no model"
        cache = os.environ.get("TFHUB_CACHE_DIR", "the default TF-Hub cache")
        raise ModelError(
            f"cannot load {handle}: it is not in {cache} and the network is unreachable "
            f"({type(error).__name__}). Run `fvcli model fetch` on a connected machine and "
            f"point TFHUB_CACHE_DIR at that cache, or pass --model PATH to a local SavedModel",
            exit_code=1) from None


@dataclass
class Loaded:
    """A model as loaded: the object that owns its variables, the function to freeze, the
    file to fingerprint, and for Keras models the names of the layers the function
    returns (before its last output, the model's own)."""

    owner: object
    function: object
    fingerprint: str
    layer_names: list[str] | None = None


def _load_hub(handle: str) -> Loaded:
    import tensorflow_hub as hub

    module_dir = fetch_to_cache(handle)
    loaded = hub.load(handle)
    return Loaded(loaded, _serving_function(loaded, handle),
                  os.path.join(module_dir, "saved_model.pb"))


def _load_path(path: str):
    if not os.path.exists(path):
        raise ModelError(f"model path {path} does not exist")
    if path.endswith((".keras", ".h5")):
        import keras

        try:
            model = keras.models.load_model(path, compile=False)
        except Exception as error:  # Keras raises many kinds for a file it cannot read
            raise ModelError(f"{path} is not a Keras model file it can read: "
                             f"{_first_line(error)}") from None
        function, names = keras_layer_function(model, path)
        return Loaded(model, function, path, names)
    try:
        loaded = tf.saved_model.load(path)
    except Exception as error:  # a folder that is not a SavedModel, or a damaged one
        raise ModelError(f"cannot load {path} as a TF2 SavedModel (damaged, or not one; "
                         f"a Keras model ends in .keras or .h5): {_first_line(error)}") from None
    return Loaded(loaded, _serving_function(loaded, path), os.path.join(path, "saved_model.pb"))


def _first_line(error: Exception) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


def _serving_function(loaded, label: str):
    signatures = getattr(loaded, "signatures", {})
    if "serving_default" in signatures:
        return signatures["serving_default"]
    if signatures:
        return next(iter(signatures.values()))
    raise ModelError(f"{label} has no serving signature to call")


def _logits_tensor(output) -> str:
    """The model's output tensor; if it ends in a softmax, the softmax's input."""
    tensor = _through_identities(output)
    if tensor.op.type == "Softmax":
        tensor = tensor.op.inputs[0]
    return tensor.name


def _through_identities(tensor):
    while tensor.op.type in ("Identity", "IdentityN") and tensor.op.inputs:
        tensor = tensor.op.inputs[0]
    return tensor


def _fingerprint(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as model_file:
        for block in iter(lambda: model_file.read(1 << 20), b""):
            digest.update(block)
    return "sha256:" + digest.hexdigest()[:16]


def _import_at_size(graph_def, input_name: str, size: int) -> tf.Graph:
    """The graph imported with a [1, size, size, channels] input, so that its tensors carry
    their shapes at that size (or at the model's own size, if the graph fixes it)."""
    relaxed = _relax_input(graph_def, input_name)
    for node in relaxed.node:
        if node.name == input_name:
            channels = node.attr["shape"].shape.dim[-1].size
            node.attr["shape"].shape.CopyFrom(tf.TensorShape([1, size, size, channels]).as_proto())
    graph = tf.Graph()
    with graph.as_default():
        try:
            tf.compat.v1.import_graph_def(relaxed, name="")
        except ValueError:  # a fixed-size op (e.g. a 7x7 valid pool) rejects this size
            graph = tf.Graph()
            with graph.as_default():
                tf.compat.v1.import_graph_def(graph_def, name="")
    return graph


def _named_layer_table(graph: tf.Graph, names: list[str], tensors: list[str]) -> list[Layer]:
    """A Keras model's layers, by their own names, in model order."""
    layers = []
    for name, tensor_name in zip(names, tensors):
        tensor = graph.get_tensor_by_name(tensor_name)
        source = _through_identities(tensor)
        layers.append(Layer(name=name, tensor=tensor_name, shape=_shape(tensor),
                            pre_activation=_pre_activation(source.op),
                            relu_of_pre=_is_relu_of_pre(source.op)))
    return layers


def _shape(tensor) -> tuple:
    return tuple(d if d is not None else -1 for d in tensor.shape.as_list()[1:])


def _layer_table(graph: tf.Graph) -> list[Layer]:
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
