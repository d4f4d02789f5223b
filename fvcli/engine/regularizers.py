"""Penalties on the image itself, per image, each scaled by its weight.

Means rather than sums, so a weight means the same at any image size.
"""

from __future__ import annotations

import tensorflow as tf


def l1(images: tf.Tensor) -> tf.Tensor:
    """Mean distance of the pixels from grey: pushes towards sparse, muted images."""
    return tf.reduce_mean(tf.abs(images - 0.5), axis=[1, 2, 3])


def total_variation(images: tf.Tensor) -> tf.Tensor:
    """Mean absolute difference of neighbouring pixels: penalises high frequencies."""
    dy = tf.abs(images[:, 1:, :, :] - images[:, :-1, :, :])
    dx = tf.abs(images[:, :, 1:, :] - images[:, :, :-1, :])
    return tf.reduce_mean(dy, axis=[1, 2, 3]) + tf.reduce_mean(dx, axis=[1, 2, 3])


def blur(images: tf.Tensor) -> tf.Tensor:
    """Mean squared distance from a 3x3 box-blurred copy (held constant), as in Lucid."""
    kernel = tf.ones([3, 3, 1, 1]) / 9.0
    kernel = tf.tile(kernel, [1, 1, images.shape[-1], 1])
    blurred = tf.stop_gradient(tf.nn.depthwise_conv2d(images, kernel, [1, 1, 1, 1], "SAME"))
    return tf.reduce_mean(tf.square(images - blurred), axis=[1, 2, 3])


_FUNCTIONS = {"l1": l1, "tv": total_variation, "blur": blur}


def penalty(images: tf.Tensor, weights: dict[str, float]) -> tf.Tensor:
    """[batch] weighted sum of the regularisers whose weight is not zero."""
    total = tf.zeros(tf.shape(images)[:1])
    for name, weight in weights.items():
        if weight:
            total += weight * _FUNCTIONS[name](images)
    return total
