"""Feature accentuation's hold on the seed: how far each image has moved from its starting
image in one layer's activations, and how strongly that pulls it back.

After Hamblin et al., "Feature Accentuation" (2024): an image starts as a real image
(its seed) and is optimised for a unit, while a penalty keeps it near the seed in an
early layer, so the result shows what in *that* image drives the unit. The distance is
the mean over positions of the norm, across channels, of the activation difference,
over the same mean of the seed's own activation (so 1.0 means "as far as the seed is from
nothing"). Its gradient is balanced against the objective's: once the image first moves
(the step after the first, where the distance first has a gradient), the pull is scaled
per image to the objective gradient's norm at that step, times the weight. The balance
then stays fixed, so the pull does not grow or fade with the objective.
"""

from __future__ import annotations

import tensorflow as tf

EPSILON = 1e-8  # keeps the norm's gradient defined where the image is still its seed


class Closeness:
    """The penalty of images [batch, size, size, channels] for straying from their seeds
    in ``layer``; ``weight`` scales its balanced gradient."""

    def __init__(self, network, layer: str, weight: float, size: int, channels: int):
        self.layer = layer
        self.weight = weight
        self._forward = network.forward((layer,), (), size)
        self.shape = tuple(self.activations(tf.zeros([1, size, size, channels])).shape[1:])

    def activations(self, images: tf.Tensor) -> tf.Tensor:
        """The layer's activations of ``images``, in float32."""
        return tf.cast(self._forward(images)[self.layer], tf.float32)

    def distance(self, images: tf.Tensor, reference: tf.Tensor) -> tf.Tensor:
        """[batch] distance of each image from its seed, whose activations are
        ``reference``, relative to the seed's own activation."""
        difference = self.activations(images) - reference
        moved = tf.reduce_mean(tf.sqrt(tf.reduce_sum(tf.square(difference), -1) + EPSILON),
                               axis=[1, 2])
        own = tf.reduce_mean(tf.norm(reference, axis=-1), axis=[1, 2])
        return moved / (own + EPSILON)

    def pulled(self, gradient: tf.Tensor, pull: tf.Tensor, balance: tf.Tensor):
        """(the objective's ``gradient`` plus the seed's balanced ``pull``, the balance).
        ``balance`` [batch] is negative until set: it is set, per image, where the pull
        first has a gradient, to the objective gradient's norm over the pull's."""
        axes = list(range(1, len(gradient.shape)))
        gradient_norm = tf.norm(tf.reshape(gradient, [gradient.shape[0], -1]), axis=1)
        pull_norm = tf.norm(tf.reshape(pull, [pull.shape[0], -1]), axis=1)
        unset = (balance < 0) & (pull_norm > 0)
        balance = tf.where(unset, gradient_norm / tf.maximum(pull_norm, 1e-30), balance)
        scale = self.weight * tf.maximum(balance, 0.0)
        return gradient + tf.reshape(scale, [-1] + [1] * len(axes)) * pull, balance
