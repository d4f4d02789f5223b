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

import imageio.v3 as iio
import numpy as np
import tensorflow as tf

from ..config import CLASS_KINDS, DIRECTION_KINDS, UNIT_KINDS
from ..images import IMAGE_SUFFIXES, rgb_floats, to_uint8

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


class UnitScorer:
    """Scores a batch of images on every unit of a job in one forward pass."""

    def __init__(self, network, job, size: int):
        term = job.terms[0]
        if len(job.terms) != 1 or term.kind not in SUPPORTED or job.images_per_unit != 1:
            raise ValueError(f"dataset examples need a job with one channel, neuron, "
                             f"direction or class objective; {job.name} is "
                             f"{' + '.join(t.kind for t in job.terms)}")
        layer = network.layer(term.layer)
        self.spatial = layer.is_spatial
        pre = layer.has_pre_activation
        self.key = term.layer + "/pre" if pre else term.layer
        self.on_pre_activation = pre
        self._forward = network.forward(() if pre else (term.layer,),
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

    def _unit_maps(self, images):
        values = tf.cast(self._forward(images)[self.key], tf.float32)
        if self.softmax:
            values = tf.nn.softmax(values)
        return tf.tensordot(values, self._project, axes=[[-1], [0]])

    def score(self, images: np.ndarray):
        """(scores [batch, units], highest and lowest positions [batch, units, 2] as
        fractions of the image side)."""
        maps = self._maps(tf.constant(images)).numpy()
        if not self.spatial:
            centre = np.full(maps.shape + (2,), 0.5, np.float32)
            return maps.astype(np.float64), centre, centre
        batch, height, width, units = maps.shape
        if self.neuron:  # one position: the job's, or the centre (as when rendering)
            y, x = self.position or (height // 2, width // 2)
            scores = maps[:, min(y, height - 1), min(x, width - 1)]
        else:
            scores = maps.mean(axis=(1, 2))
        flat = maps.reshape(batch, height * width, units)
        return (scores.astype(np.float64), _positions(flat.argmax(1), height, width),
                _positions(flat.argmin(1), height, width))


def _positions(flat_index: np.ndarray, height: int, width: int) -> np.ndarray:
    rows, columns = np.divmod(flat_index, width)
    return np.stack([(rows + 0.5) / height, (columns + 0.5) / width], -1).astype(np.float32)


@dataclass
class ExampleRun:
    """The result of scoring a folder for one job."""

    extremes: Extremes
    paths: list[str] = field(default_factory=list)
    skipped: list[dict] = field(default_factory=list)


def load_image(path: str, size: int, channels: int = 3) -> np.ndarray:
    """An image file as [size, size, channels] floats in [0, 1] (grey for one channel);
    raises on anything unreadable."""
    image = rgb_floats(iio.imread(path))
    if image.ndim != 3 or min(image.shape[:2]) < 1:
        raise ValueError(f"not a single image (shape {image.shape})")
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
            reason = str(error).splitlines()[0] if str(error) else type(error).__name__
            run.skipped.append({"image": os.path.relpath(path, folder), "reason": reason})
            if warn:
                warn(f"skipping {path}: {reason}")
            continue
        numbers.append(len(run.paths))
        run.paths.append(path)
        if len(batch) == batch_size:
            run.extremes.add(*_scored(scorer, batch, numbers))
            if on_batch:
                on_batch(len(batch))
            batch, numbers = [], []
    if batch:
        run.extremes.add(*_scored(scorer, batch, numbers))
        if on_batch:
            on_batch(len(batch))
    return run


def _scored(scorer: UnitScorer, batch, numbers):
    scores, highest, lowest = scorer.score(np.stack(batch))
    return scores, np.asarray(numbers), highest, lowest


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
