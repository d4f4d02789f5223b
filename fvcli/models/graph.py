"""Surgery on a frozen graph: freezing a function into one, a size-free input, pruning to
the tensors wanted, the part of a graph some tensors need, and rewrites of ops an imported
graph cannot differentiate."""

from __future__ import annotations

from typing import Callable

import tensorflow as tf

from .gradients import GRADIENT_OVERRIDES


def frozen_graph_def(function) -> tuple[tf.compat.v1.GraphDef, list[str]]:
    """``function`` (a concrete function) as one graph: its variables turned into constants
    and the functions it calls inlined (a nested call has no gradient once the graph is
    imported elsewhere), cut to what its outputs are computed from (data edges only, as
    every graph fvcli imports); and the names of its outputs in that graph, in order.

    TensorFlow's public convert_variables_to_constants_v2 makes the same graph and then
    builds a concrete function of it, which fvcli does not use and which is most of the
    freeze of InceptionV1 (0.76 of 0.80 s); its own two steps before that are called here,
    and the public function where a TensorFlow version lacks them or calls them otherwise."""
    from tensorflow.python.framework import convert_to_constants

    names = [tensor.name for tensor in function.outputs]
    try:
        data = convert_to_constants._FunctionConverterDataInEager(
            func=function, lower_control_flow=True, aggressive_inlining=True)
        graph_def, _ = convert_to_constants._replace_variables_by_constants(
            converter_data=data)
    except (AttributeError, TypeError):  # internals that moved: the public function
        frozen = convert_to_constants.convert_variables_to_constants_v2(
            function, aggressive_inlining=True)
        return frozen.graph.as_graph_def(), [tensor.name for tensor in frozen.outputs]
    frozen = sub_graph(graph_def, [name.split(":")[0] for name in names])
    for node in frozen.node:
        # colocation hints (the variables' reads with their variables) name nodes a pruned
        # copy may lack, which an import refuses; the public function drops them too
        if "_class" in node.attr:
            del node.attr["_class"]
    return frozen, names


def prune(graph_def, input_name: str, fetches: list[str]) -> Callable:
    """Import ``graph_def`` with a size-free input and prune it to ``fetches``."""
    relaxed = relax_input(graph_def, input_name)
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


def sub_graph(graph_def, output_names: list[str]):
    """The part of ``graph_def`` whose values ``output_names`` are computed from. Data
    edges only: a frozen graph's control edges merely ordered variable reads, and a Keras
    model's outputs wait on a NoOp that waits on every op of the model."""
    nodes = {node.name: node for node in graph_def.node}
    keep, todo = set(), list(output_names)
    while todo:
        name = todo.pop()
        if name in keep or name not in nodes:
            continue
        keep.add(name)
        todo.extend(source.split(":")[0] for source in nodes[name].input
                    if not source.startswith("^"))
    sub = tf.compat.v1.GraphDef()
    for node in graph_def.node:
        if node.name in keep:
            copy = sub.node.add()
            copy.CopyFrom(node)
            del copy.input[:]
            copy.input.extend(source for source in node.input if not source.startswith("^"))
    sub.library.CopyFrom(graph_def.library)
    sub.versions.CopyFrom(graph_def.versions)
    return sub


def without_grouped_conv_calls(graph_def):
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


def relax_input(graph_def, input_name: str):
    """Copy of ``graph_def`` whose input takes any spatial size: a serving signature fixes
    one (TF-Hub's InceptionV1: 224), and the recorded output shapes would pin it again."""
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


def through_identities(tensor):
    """The tensor that ``tensor`` passes on unchanged through Identity ops."""
    while tensor.op.type in ("Identity", "IdentityN") and tensor.op.inputs:
        tensor = tensor.op.inputs[0]
    return tensor


def import_at_size(graph_def, input_name: str, size: int) -> tf.Graph:
    """The graph imported with a [1, size, size, channels] input, so that its tensors carry
    their shapes at that size (or at the model's own size, if the graph fixes it)."""
    relaxed = relax_input(graph_def, input_name)
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


