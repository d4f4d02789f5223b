"""Objectives: what each image of a batch is optimised to maximise.

An objective is a weighted sum of terms (:class:`fvcli.config.Term`). A term names a kind
(channel, neuron, deepdream, logit, probability) and a layer; which channel or class it
targets is not part of it but an index passed in per image, so one traced step serves
every channel of a layer. Every term maps activations to one score per image.
"""

from __future__ import annotations

from dataclasses import dataclass

import tensorflow as tf

from .config import CLASS_KINDS, KINDS, LAYER_KINDS, UNIT_KINDS, Term, describe_terms

__all__ = ["CLASS_KINDS", "KINDS", "LAYER_KINDS", "UNIT_KINDS", "Objective", "Term",
           "term_value"]


def term_value(term: Term, tensor: tf.Tensor, index: tf.Tensor) -> tf.Tensor:
    """Unsigned, unweighted [batch] value of ``term`` on ``tensor``."""
    tensor = tf.cast(tensor, tf.float32)
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


@dataclass(frozen=True)
class Objective:
    """A weighted sum of terms, evaluated on a batch of images."""

    terms: tuple[Term, ...]

    def describe(self, indices) -> str:
        return describe_terms(self.terms, indices)

    def layers(self, network, revive: bool) -> tuple[tuple[str, ...], tuple[str, ...]]:
        """(layers whose activations are needed, layers whose pre-activations are needed)."""
        plain, pre = [], []
        for term in self.terms:
            has_pre = network.layer(term.layer).has_pre_activation
            if term.negative and has_pre:
                pre.append(term.layer)
            else:
                plain.append(term.layer)
                if revive and has_pre and term.kind in UNIT_KINDS:
                    pre.append(term.layer)
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
        pre-activation until it comes alive."""
        return self._sum(activations, targets, revive=True)

    def _sum(self, activations: dict, targets: dict, revive: bool) -> tf.Tensor:
        total = 0.0
        indices, weights = targets["indices"], targets["weights"]
        for i, term in enumerate(self.terms):
            index = indices[:, i]
            pre_key = term.tensor_key(use_pre_activation=True)
            if term.negative:
                key = pre_key if pre_key in activations else term.layer
                value = -term_value(term, activations[key], index)
            else:
                value = term_value(term, activations[term.layer], index)
                if revive and pre_key in activations:
                    pre_value = term_value(term, activations[pre_key], index)
                    value = tf.where(value > 0.0, value, pre_value)
            total += term.weight * weights[:, i] * value
        return total
