"""Objectives: what each image of a batch is optimised to maximise.

An objective is a weighted sum of terms (:class:`fvcli.config.Term`). A term names a kind
(channel, neuron, deepdream, logit, probability) and a layer; which channel or class it
targets is not part of it but an index passed in per image, so one traced step serves
every channel of a layer. Every term maps activations to one score per image.
"""

from __future__ import annotations

from dataclasses import dataclass

import tensorflow as tf

from ..config import CLASS_KINDS, KINDS, LAYER_KINDS, UNIT_KINDS, GroupTerm, Term, describe_terms

__all__ = ["CLASS_KINDS", "KINDS", "LAYER_KINDS", "UNIT_KINDS", "Objective", "Term",
           "GroupTerm", "term_value", "group_penalty"]
REVIVABLE_KINDS = UNIT_KINDS + ("direction",)  # kinds that follow a dead unit's pre-activation
COSSIM_FLOOR = 0.1   # Lucid's: a direction's cosine is floored so its power stays defined
ALIGNMENT_REACH = 4  # alignment compares frames up to this far apart (Lucid's)


def term_value(term: Term, tensor: tf.Tensor, index: tf.Tensor,
               vector: tf.Tensor | None = None) -> tf.Tensor:
    """Unsigned, unweighted [batch] value of ``term`` on ``tensor``; ``index`` is each
    image's channel or class, ``vector`` ([batch, channels]) each image's direction."""
    tensor = tf.cast(tensor, tf.float32)
    if term.kind == "direction":
        return _direction(tensor, vector, term.cossim_pow)
    if term.kind == "channel":
        return tf.gather(tf.reduce_mean(tensor, axis=[1, 2]), index, batch_dims=1)
    if term.kind == "neuron":
        y, x = term.position or (tensor.shape[1] // 2, tensor.shape[2] // 2)
        y, x = min(y, tensor.shape[1] - 1), min(x, tensor.shape[2] - 1)
        return tf.gather(tensor[:, y, x, :], index, batch_dims=1)
    if term.kind == "deepdream":
        return tf.reduce_mean(tf.square(tensor), axis=[1, 2, 3])
    if term.kind == "logit":
        return tf.gather(tensor, index, batch_dims=1)
    if term.kind == "probability":
        return tf.gather(tf.nn.softmax(tensor), index, batch_dims=1)
    raise ValueError(f"unknown objective kind {term.kind}")


def _direction(tensor: tf.Tensor, vector: tf.Tensor, cossim_pow: float) -> tf.Tensor:
    """Mean over positions of z . d, times cos(z, d) ** cossim_pow (Lucid's form)."""
    direction = vector[:, None, None, :]
    dots = tf.reduce_sum(tensor * direction, axis=-1)
    if cossim_pow:
        norms = tf.norm(tensor, axis=-1) * tf.norm(direction, axis=-1)
        cosines = tf.maximum(COSSIM_FLOOR, dots / (norms + 1e-4))
        dots *= cosines ** cossim_pow
    return tf.reduce_mean(dots, axis=[1, 2])


def group_penalty(term: GroupTerm, tensor: tf.Tensor, frames: tf.Tensor,
                  per_unit: int) -> tf.Tensor:
    """[batch] penalty of each image from the other images of its own unit only. A batch
    holds whole units of ``per_unit`` consecutive images. Each unit is computed on its own
    slice, with ops of the same shapes whatever the batch: a batch-wide matrix product
    would round differently with other batch mates, and diversity's dynamics amplify such
    differences into visibly different images."""
    tensor = tf.cast(tensor, tf.float32)
    penalty = _diversity if term.kind == "diversity" else _alignment
    parts = [penalty(term, tensor[start:start + per_unit], frames[start:start + per_unit])
             for start in range(0, tensor.shape[0], per_unit)]
    return tf.concat(parts, axis=0)


def _diversity(term: GroupTerm, unit: tf.Tensor, frames: tf.Tensor) -> tf.Tensor:
    """Sum over the unit's other images of the cosine between flattened Gram matrices,
    divided by the number of images (Lucid's diversity)."""
    images, channels = unit.shape[0], unit.shape[-1]
    flat = tf.reshape(unit, [images, -1, channels])
    grams = tf.reshape(tf.matmul(flat, flat, transpose_a=True), [images, channels * channels])
    grams = tf.math.l2_normalize(grams, axis=1, epsilon=1e-10)
    cosines = tf.matmul(grams, grams, transpose_b=True)
    coupled = frames < term.count  # the unit's uncoupled reference image stays out
    mask = _others(images) & coupled[:, None] & coupled[None, :]
    return tf.reduce_sum(cosines * tf.cast(mask, tf.float32), axis=1) / term.count


def _alignment(term: GroupTerm, unit: tf.Tensor, frames: tf.Tensor) -> tf.Tensor:
    """Half the mean squared activation difference to the frames up to four apart,
    weighted 1 / decay ** distance (Lucid's alignment), so neighbouring frames keep
    their features in the same places."""
    flat = tf.reshape(unit, [unit.shape[0], -1])
    squares = tf.reduce_sum(flat * flat, axis=1)
    distances = (squares[:, None] + squares[None, :]
                 - 2.0 * tf.matmul(flat, flat, transpose_b=True)) / flat.shape[1]
    gaps = tf.abs(frames[:, None] - frames[None, :])
    near = _others(unit.shape[0]) & (gaps >= 1) & (gaps <= ALIGNMENT_REACH)
    weights = tf.cast(near, tf.float32) * tf.pow(term.decay, -tf.cast(gaps, tf.float32))
    return 0.5 * tf.reduce_sum(tf.maximum(distances, 0.0) * weights, axis=1)


def _others(images: int) -> tf.Tensor:
    """[images, images]: True off the diagonal."""
    return tf.logical_not(tf.eye(images, dtype=tf.bool))


@dataclass(frozen=True)
class Objective:
    """A weighted sum of terms, evaluated on a batch of images."""

    terms: tuple[Term, ...]
    group_terms: tuple[GroupTerm, ...] = ()
    images_per_unit: int = 1  # a batch holds whole units of this many consecutive images

    def describe(self, indices) -> str:
        return describe_terms(self.terms, indices)

    def layers(self, network, revive: bool, groups: bool = True
               ) -> tuple[tuple[str, ...], tuple[str, ...]]:
        """(layers whose activations are needed, layers whose pre-activations are needed);
        ``groups``: also those of the terms that couple images (needed for training only)."""
        plain, pre = [], []
        for term in self.terms:
            has_pre = network.layer(term.layer).has_pre_activation
            if term.negative and has_pre:
                pre.append(term.layer)
            else:
                plain.append(term.layer)
                if revive and has_pre and term.kind in REVIVABLE_KINDS:
                    pre.append(term.layer)
        if groups:
            plain += [term.layer for term in self.group_terms]
        return tuple(dict.fromkeys(plain)), tuple(dict.fromkeys(pre))

    def vector_sizes(self, network) -> tuple[int, ...]:
        """Per term, the length of the per-image vector it takes (1 if it takes none)."""
        return tuple(network.layer(term.layer).channels if term.takes_vector else 1
                     for term in self.terms)

    def score(self, activations: dict, targets: dict) -> tf.Tensor:
        """[batch] objective: the weighted, signed sum of the terms (what is reported)."""
        return self._sum(activations, targets, revive=False)

    def training_score(self, activations: dict, targets: dict) -> tf.Tensor:
        """[batch] score whose gradient is followed: as :meth:`score`, except that a
        unit that is still zero (a dead ReLU, which has no gradient) is scored by its
        pre-activation until it comes alive, and the terms that couple a unit's images
        are subtracted."""
        total = self._sum(activations, targets, revive=True)
        for term in self.group_terms:
            total -= term.weight * group_penalty(term, activations[term.layer],
                                                 targets["frames"], self.images_per_unit)
        return total

    def _sum(self, activations: dict, targets: dict, revive: bool) -> tf.Tensor:
        total = 0.0
        indices, weights = targets["indices"], targets["weights"]
        for i, term in enumerate(self.terms):
            index, vector = indices[:, i], targets["vectors"][i]
            pre_key = term.tensor_key(use_pre_activation=True)
            if term.negative:
                key = pre_key if pre_key in activations else term.layer
                value = -term_value(term, activations[key], index, vector)
            else:
                value = term_value(term, activations[term.layer], index, vector)
                if revive and pre_key in activations:
                    pre_value = term_value(term, activations[pre_key], index, vector)
                    value = tf.where(value > 0.0, value, pre_value)
            total += term.weight * weights[:, i] * value
        return total
