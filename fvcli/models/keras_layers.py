"""Keras models by their own layer names.

A Keras model knows its layers; rather than searching the traced graph for activations
(which finds ReLUs but not swish or GELU, and names them by trace scopes), fvcli asks for
the output of every layer that yields an image-shaped map and traces one function that
returns them all, in model order, followed by the model's own output.
"""

from __future__ import annotations

import tensorflow as tf

from .errors import ModelError


def keras_layer_function(model, label: str):
    """(a concrete function from images to [every image-shaped layer's output..., the
    model's output], those layers' names)."""
    import keras

    if len(model.inputs) != 1:
        raise ModelError(f"{label}: takes {len(model.inputs)} inputs; fvcli renders models "
                         "with one image input")
    layers = [layer for layer in model.layers if _image_output(layer, keras)]
    outputs = [layer.output for layer in layers] + [model.outputs[0]]
    everything = keras.Model(model.inputs, outputs)
    channels = model.inputs[0].shape[-1]
    call = tf.function(lambda images: everything(images, training=False))
    spec = tf.TensorSpec([None, None, None, channels], tf.float32)
    return call.get_concrete_function(spec), [layer.name for layer in layers]


def _image_output(layer, keras) -> bool:
    """True for a layer with one output of shape (batch, height, width, channels)."""
    if isinstance(layer, keras.layers.InputLayer):
        return False
    try:
        output = layer.output
    except (AttributeError, ValueError):  # a layer called more than once has no one output
        return False
    return not isinstance(output, (list, tuple)) and len(output.shape) == 4
