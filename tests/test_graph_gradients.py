"""The gradients fvcli substitutes for a network's ops equal TensorFlow's own."""

import numpy as np
import pytest
import tensorflow as tf
from hypothesis import given, settings
from hypothesis import strategies as st

from fvcli.models.gradients import STRIDED_CONV_GRADIENT

pytestmark = pytest.mark.slow  # checks gradients over many convolutions

PADDINGS = ("SAME", "VALID", "EXPLICIT")


def _conv_input_gradient(images, kernel, stride, padding, override: bool):
    """d sum(conv(images) * weights) / d images, with or without fvcli's gradient."""
    explicit = {"explicit_paddings": [0, 0, 2, 1, 1, 3, 0, 0]} if padding == "EXPLICIT" else {}

    @tf.function
    def gradient(images):
        graph = tf.compat.v1.get_default_graph()
        overrides = {"Conv2D": STRIDED_CONV_GRADIENT} if override else {}
        with graph.gradient_override_map(overrides):
            output = tf.raw_ops.Conv2D(input=images, filter=kernel, strides=[1, stride, stride, 1],
                                       padding=padding, **explicit)
        weights = tf.cos(tf.range(tf.size(output), dtype=tf.float32))
        return tf.gradients(tf.reduce_sum(tf.reshape(output, [-1]) * weights), images)[0]

    return gradient(images).numpy()


@settings(max_examples=40, deadline=None)
@given(kernel_size=st.integers(1, 7), stride=st.integers(1, 4), padding=st.sampled_from(PADDINGS),
       size=st.integers(7, 20), channels=st.integers(1, 6), seed=st.integers(0, 1000))
def test_strided_convolution_gradient_is_tensorflows(kernel_size, stride, padding, size, channels,
                                                     seed):
    generator = np.random.default_rng(seed)
    images = tf.constant(generator.normal(size=[2, size, size + 1, channels]), tf.float32)
    kernel = tf.constant(generator.normal(size=[kernel_size, kernel_size, channels, 5]),
                         tf.float32)
    ours = _conv_input_gradient(images, kernel, stride, padding, override=True)
    theirs = _conv_input_gradient(images, kernel, stride, padding, override=False)
    np.testing.assert_allclose(ours, theirs, rtol=1e-4, atol=1e-4 * np.abs(theirs).max())
