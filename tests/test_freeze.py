"""Freezing a model: fvcli's frozen graph is the graph TensorFlow's public
convert_variables_to_constants_v2 makes (fvcli skips the concrete function that function
builds after it), for a TF-Hub SavedModel and for a Keras model with many outputs."""

import numpy as np
import pytest
import tensorflow as tf
from tensorflow.python.framework.convert_to_constants import convert_variables_to_constants_v2

from fvcli.config.model_names import DEFAULT_HANDLE
from fvcli.models import loading
from fvcli.models.graph import frozen_graph_def
from fvcli.models.keras_layers import keras_layer_function


def _outputs(graph_def, input_name: str, output_names: list[str], images) -> list[np.ndarray]:
    def run():
        return tf.compat.v1.import_graph_def(graph_def,
                                             input_map={input_name: tf.constant(images)},
                                             return_elements=output_names, name="")
    return [value.numpy() for value in tf.compat.v1.wrap_function(run, [])()]


def _assert_freezes_as_tensorflow_does(function, images):
    graph_def, names = frozen_graph_def(function)
    public = convert_variables_to_constants_v2(function, aggressive_inlining=True)
    assert names == [tensor.name for tensor in public.outputs]
    computing = {node.name: node.op for node in public.graph.as_graph_def().node
                 if node.op != "NoOp"}  # the public graph's control-only nodes
    assert {node.name: node.op for node in graph_def.node} == computing
    assert not any(node.op == "VarHandleOp" or "ReadVariableOp" in node.op
                   for node in graph_def.node)
    input_name = function.inputs[0].name
    ours = _outputs(graph_def, input_name, names, images)
    theirs = _outputs(public.graph.as_graph_def(), input_name, names, images)
    assert len(ours) == len(names)
    for got, expected in zip(ours, theirs):
        np.testing.assert_array_equal(got, expected)


@pytest.mark.slow  # builds a TF-Slim InceptionV1
def test_a_hub_module_freezes_as_tensorflow_freezes_it(hub_cache):
    loaded = loading._load_hub(DEFAULT_HANDLE)
    _assert_freezes_as_tensorflow_does(
        loaded.function, np.random.default_rng(4).random((2, 224, 224, 3), np.float32))


def _small_keras_function():
    import keras

    keras.utils.set_random_seed(2)
    image = keras.Input((None, None, 3))
    x = keras.layers.Conv2D(4, 3, name="conv")(image)
    x = keras.layers.BatchNormalization(name="bn")(x)
    x = keras.layers.ReLU(name="relu")(x)
    x = keras.layers.Dense(5, name="dense")(keras.layers.GlobalAveragePooling2D()(x))
    function, names = keras_layer_function(keras.Model(image, x), "small")
    assert names  # the layers come out beside the model's own output
    return function


def test_a_keras_model_with_many_outputs_freezes_as_tensorflow_freezes_it():
    _assert_freezes_as_tensorflow_does(_small_keras_function(),
                                       np.random.default_rng(1).random((2, 20, 20, 3),
                                                                       np.float32))


def test_tensorflows_public_freeze_serves_where_its_internals_moved(monkeypatch):
    from tensorflow.python.framework import convert_to_constants

    function = _small_keras_function()
    expected, expected_names = frozen_graph_def(function)

    real, calls = convert_to_constants._replace_variables_by_constants, []

    def moved_once(*args, **kwargs):
        # fvcli's call fails as a changed signature would; the public function's (which
        # calls the same helper) then goes through
        calls.append(kwargs)
        if len(calls) == 1:
            raise TypeError("_replace_variables_by_constants() got an unexpected keyword")
        return real(*args, **kwargs)
    monkeypatch.setattr(convert_to_constants, "_replace_variables_by_constants", moved_once)
    graph_def, names = frozen_graph_def(function)
    assert names == expected_names
    # the public function's graph: the same computing nodes, and its control-only ones
    computing = {node.name for node in graph_def.node if node.op != "NoOp"}
    assert computing == {node.name for node in expected.node}
    assert any(node.op == "NoOp" for node in graph_def.node)
    assert len(calls) == 2
