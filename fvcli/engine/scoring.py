"""Dataset examples: scoring the images of a folder on every unit of a job, to find those
that most and least activate each unit.

The folder is streamed: images are decoded a batch at a time, every unit of a job is
scored in the same forward pass, and per unit only running extremes are kept (the top
and bottom K, and the K closest to zero from above and from below: the maximum,
slightly positive, slightly negative and minimum examples of Olah et al.'s "Feature
Visualization"). 100 000 images never sit in
memory at once. A unit is scored on its layer's pre-activation where the layer has one,
since negative and slightly negative examples exist only before the ReLU.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import NamedTuple

import imageio.v3 as iio
import numpy as np
import tensorflow as tf

from ..config import CLASS_KINDS, DIRECTION_KINDS, UNIT_KINDS
from ..images import IMAGE_SUFFIXES, rgb_floats, to_uint8, unreadable_reason
from .objectives import COSSIM_FLOOR

KINDS = ("top", "slightly_positive", "slightly_negative", "bottom")
SUPPORTED = UNIT_KINDS + DIRECTION_KINDS + CLASS_KINDS  # kinds with a unit to score


def image_paths(folder: str):
    """Every image under ``folder``, recursively, in a stable order."""
    for root, folders, files in os.walk(folder):
        folders.sort()
        for name in sorted(files):
            if name.lower().endswith(IMAGE_SUFFIXES):
                yield os.path.join(root, name)


class Extremes:
    """Per unit, the running K examples of each kind: a score, an image number and the
    position of the unit's strongest response in the image (for crops)."""

    def __init__(self, unit_count: int, k: int, kinds: tuple[str, ...] = KINDS):
        self.k = k
        self.kinds = kinds  # all four, or fewer (scoring units needs only top and bottom)
        empty = lambda dtype, *shape: np.zeros((unit_count, 0, *shape), dtype)  # noqa: E731
        self.scores = {kind: empty(np.float64) for kind in kinds}
        self.images = {kind: empty(np.int64) for kind in kinds}
        self.positions = {kind: empty(np.float32, 2) for kind in kinds}

    def add(self, scores: np.ndarray, images: np.ndarray, highest: np.ndarray,
            lowest: np.ndarray) -> None:
        """Merge a batch: ``scores`` [batch, units], ``images`` [batch] numbers, and the
        [batch, units, 2] positions of each unit's highest and lowest response."""
        new_images = np.broadcast_to(images[None, :], scores.T.shape)
        for kind in self.kinds:
            positions = (lowest if kind in ("bottom", "slightly_negative") else highest)
            all_scores = np.concatenate([self.scores[kind], scores.T], axis=1)
            all_images = np.concatenate([self.images[kind], new_images], axis=1)
            all_positions = np.concatenate([self.positions[kind],
                                            np.transpose(positions, (1, 0, 2))], axis=1)
            order = np.argsort(_sort_key(kind, all_scores), axis=1, kind="stable")[:, :self.k]
            self.scores[kind] = np.take_along_axis(all_scores, order, axis=1)
            self.images[kind] = np.take_along_axis(all_images, order, axis=1)
            self.positions[kind] = np.take_along_axis(all_positions, order[..., None], axis=1)

    def of_unit(self, unit: int, kind: str):
        """(score, image number, position) of each kept example, in the kind's order."""
        keep = np.isfinite(_sort_key(kind, self.scores[kind][unit]))
        return [(float(score), int(image), tuple(position))
                for score, image, position, kept in zip(
                    self.scores[kind][unit], self.images[kind][unit],
                    self.positions[kind][unit], keep) if kept]


def _sort_key(kind: str, scores: np.ndarray) -> np.ndarray:
    """Smaller first; infinite where a score does not belong to the kind."""
    if kind == "top":
        return -scores
    if kind == "bottom":
        return scores
    if kind == "slightly_positive":
        return np.where(scores > 0, scores, np.inf)
    return np.where(scores < 0, -scores, np.inf)


class NoUnitToScore(ValueError):
    """A job without one unit per image that natural images can be scored on (deepdream,
    weighted sums, interpolations): each command says what it needs in its own words."""

    def __init__(self, job):
        self.job_name = job.name
        self.objective = " + ".join(term.kind for term in job.terms)
        super().__init__(f"{job.name} is {self.objective}, not one channel, neuron, "
                         "direction or class objective")


def check_scorable(job) -> None:
    """NoUnitToScore unless ``job`` has one objective term of a kind with a unit to score."""
    if len(job.terms) != 1 or job.terms[0].kind not in SUPPORTED:
        raise NoUnitToScore(job)


class Scored(NamedTuple):
    """What :meth:`UnitScorer.score` finds on a batch of images."""

    scores: np.ndarray   # [batch, units]: the unit's scalar (on the pre-activation)
    highest: np.ndarray  # [batch, units, 2]: where it responds most, as fractions of the side
    lowest: np.ndarray   # [batch, units, 2]: and least
    objective: np.ndarray | None  # [batch, units]: the objective's own scalar, if asked for
    pooled: list         # per layer asked for, [batch, channels]: its mean over positions


class UnitScorer:
    """Scores a batch of images on every unit of a job in one forward pass.

    With ``objective``, also each unit's value of the scalar its objective reports (what
    render maximises: the layer's activation, after its ReLU, for a positive term; minus the
    pre-activation for a negative one; with a direction's cosine power); with ``pooled``,
    the mean over positions of those layers' activations (computed in the same pass)."""

    def __init__(self, network, job, size: int, objective: bool = False,
                 pooled: tuple[str, ...] = ()):
        check_scorable(job)
        term = job.terms[0]
        layer = network.layer(term.layer)
        self.term = term
        self.spatial = layer.is_spatial
        pre = layer.has_pre_activation
        self.key = term.layer + "/pre" if pre else term.layer
        self.on_pre_activation = pre
        self.objective_key = (None if not objective else
                              self.key if term.negative else term.layer)
        plain = [name for name in (*pooled, self.objective_key)
                 if name is not None and not name.endswith("/pre")]
        if not pre:
            plain.append(term.layer)
        self.pooled = tuple(pooled)
        self._forward = network.forward(tuple(dict.fromkeys(plain)),
                                        (term.layer,) if pre else (), size)
        if term.kind == "direction":
            vectors = np.stack([unit.vectors[0] for unit in job.units], axis=1)
            self._project = tf.constant(vectors.astype(np.float32))
        else:
            picks = np.zeros((layer.channels, len(job.units)), np.float32)
            for column, unit in enumerate(job.units):
                picks[unit.indices[0], column] = 1.0
            self._project = tf.constant(picks)
        self.neuron, self.position = term.kind == "neuron", term.position
        self.softmax = term.kind == "probability"
        self.size = size
        self._maps = tf.function(self._unit_maps, autograph=False, input_signature=[
            tf.TensorSpec([None, size, size, network.input_channels], tf.float32)])
        self.channels = network.input_channels

    def _project_units(self, values):
        values = tf.cast(values, tf.float32)
        if self.softmax:
            values = tf.nn.softmax(values)
        return tf.tensordot(values, self._project, axes=[[-1], [0]])

    def _unit_maps(self, images):
        values = self._forward(images)
        maps = self._project_units(values[self.key])
        objective = maps if self.objective_key == self.key else (
            self._project_units(values[self.objective_key]) if self.objective_key else None)
        if objective is not None and self.term.kind == "direction" and self.term.cossim_pow:
            activation = tf.cast(values[self.objective_key], tf.float32)
            norms = (tf.norm(activation, axis=-1, keepdims=True)
                     * tf.norm(self._project, axis=0))
            objective *= tf.maximum(COSSIM_FLOOR, objective / (norms + 1e-4)) ** \
                self.term.cossim_pow
        pooled = [tf.reduce_mean(tf.cast(values[name], tf.float32), axis=[1, 2])
                  for name in self.pooled]
        return maps, objective, pooled

    def _scalar(self, maps: np.ndarray) -> np.ndarray:
        """[batch, units] of [batch, (height, width,) units] maps: a neuron's value at its
        position (the job's, or the centre, as when rendering), else the mean over positions."""
        if not self.spatial:
            return maps.astype(np.float64)
        if self.neuron:
            height, width = maps.shape[1:3]
            y, x = self.position or (height // 2, width // 2)
            return maps[:, min(y, height - 1), min(x, width - 1)].astype(np.float64)
        return maps.mean(axis=(1, 2)).astype(np.float64)

    def score(self, images: np.ndarray) -> Scored:
        """The units' scalars on ``images`` [batch, size, size, channels] (see Scored)."""
        maps, objective, pooled = self._maps(tf.constant(images))
        maps = maps.numpy()
        if objective is not None:
            objective = self._scalar(objective.numpy())
            if self.term.negative:
                objective = -objective
        pooled = [value.numpy().astype(np.float64) for value in pooled]
        scores = self._scalar(maps)
        if not self.spatial:
            centre = np.full(maps.shape + (2,), 0.5, np.float32)
            return Scored(scores, centre, centre, objective, pooled)
        batch, height, width, units = maps.shape
        flat = maps.reshape(batch, height * width, units)
        return Scored(scores, _positions(flat.argmax(1), height, width),
                      _positions(flat.argmin(1), height, width), objective, pooled)


def _positions(flat_index: np.ndarray, height: int, width: int) -> np.ndarray:
    rows, columns = np.divmod(flat_index, width)
    return np.stack([(rows + 0.5) / height, (columns + 0.5) / width], -1).astype(np.float32)


@dataclass
class ExampleRun:
    """The result of scoring a folder for one job."""

    extremes: Extremes
    paths: list[str] = field(default_factory=list)
    skipped: list[dict] = field(default_factory=list)
    objective_max: np.ndarray | None = None  # per unit, the largest objective scalar seen
    pooled_sum: list | None = None  # per pooled layer, [channels]: the sum over images

    def add(self, scored: Scored, numbers: list[int]) -> None:
        """Merge a batch of images (their numbers in ``paths``) that the scorer scored."""
        self.extremes.add(scored.scores, np.asarray(numbers), scored.highest, scored.lowest)
        if scored.objective is not None:
            batch_max = scored.objective.max(axis=0)
            self.objective_max = (batch_max if self.objective_max is None
                                  else np.maximum(self.objective_max, batch_max))
        if scored.pooled:
            sums = [layer.sum(axis=0) for layer in scored.pooled]
            self.pooled_sum = (sums if self.pooled_sum is None else
                               [total + part for total, part in zip(self.pooled_sum, sums)])

    def pooled_mean(self) -> list[np.ndarray]:
        """Per pooled layer, the folder's mean activation [channels]."""
        return [total / max(len(self.paths), 1) for total in self.pooled_sum or []]


def load_image(path: str, size: int, channels: int = 3, part: int = 0, parts: int = 1,
               gap: int = 0) -> np.ndarray:
    """An image file as [size, size, channels] floats in [0, 1] (grey for one channel);
    raises on anything unreadable. With ``parts``, the file is a row of that many equally
    wide images ``gap`` px apart (a diversity unit's PNG), and this is image ``part``."""
    image = rgb_floats(iio.imread(path))
    if image.ndim != 3 or min(image.shape[:2]) < 1:
        raise ValueError(f"not a single image (shape {image.shape})")
    if parts > 1:
        width = (image.shape[1] - (parts - 1) * gap) // parts
        image = image[:, part * (width + gap):part * (width + gap) + width]
    if channels == 1:
        image = image.mean(axis=-1, keepdims=True)
    if image.shape[:2] != (size, size):
        image = tf.image.resize(image[None], [size, size], antialias=True)[0].numpy()
    return np.clip(image, 0.0, 1.0).astype(np.float32)


def score_folder(scorer: UnitScorer, folder: str, unit_count: int, k: int, batch_size: int,
                 warn=None, kinds: tuple[str, ...] = KINDS, on_batch=None) -> ExampleRun:
    """Stream every image under ``folder`` through ``scorer``, keeping the extremes of
    ``kinds``; ``on_batch(images)`` hears of each batch scored (progress)."""
    run = ExampleRun(Extremes(unit_count, k, kinds))
    batch, numbers = [], []
    for path in image_paths(folder):
        try:
            batch.append(load_image(path, scorer.size, scorer.channels))
        except Exception as error:  # any decoder error means: skip this file
            reason = unreadable_reason(path, error)
            run.skipped.append({"image": os.path.relpath(path, folder), "reason": reason})
            if warn:
                warn(f"skipping {path}: {reason}")
            continue
        numbers.append(len(run.paths))
        run.paths.append(path)
        if len(batch) == batch_size:
            run.add(scorer.score(np.stack(batch)), numbers)
            if on_batch:
                on_batch(len(batch))
            batch, numbers = [], []
    if batch:
        run.add(scorer.score(np.stack(batch)), numbers)
        if on_batch:
            on_batch(len(batch))
    return run


def thumbnail(path: str, position, side: int) -> np.ndarray:
    """A ``side`` x ``side`` uint8 copy of the image at ``path``; with a ``position``
    (fractions of the image side), of the window of half the image around it."""
    image = rgb_floats(iio.imread(path))
    if position is not None:  # a window of half the image around the strongest response
        height, width = image.shape[:2]
        window = max(1, min(height, width) // 2)
        top = int(np.clip(position[0] * height - window / 2, 0, height - window))
        left = int(np.clip(position[1] * width - window / 2, 0, width - window))
        image = image[top:top + window, left:left + window]
    small = tf.image.resize(image[None], [side, side], antialias=True)[0]
    return to_uint8(small.numpy())
