"""What the images of a batch aim at, as arrays: the traced step's tensor inputs.

Per term an index, a weight and a vector per image, plus each image's seed and its frame
within its unit. Passing them as tensors lets one trace serve every channel, direction,
class and interpolation frame of a sweep.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class ImageTarget:
    """One image of a unit: per term its index, weight and direction, its seed, and its
    number within the unit (a diversity sample or an interpolation frame)."""

    indices: tuple[int, ...]
    weights: tuple[float, ...]
    vectors: tuple
    seed: int
    frame: int


@dataclass
class Targets:
    """The images of a batch as arrays, batch first: what the traced step takes as tensors,
    so that one trace serves any channels, directions and weights."""

    indices: np.ndarray          # [batch, terms] int32
    weights: np.ndarray          # [batch, terms] float32
    vectors: tuple               # per term: [batch, channels or 1] float32
    seeds: np.ndarray            # [batch] int64
    frames: np.ndarray           # [batch] int32: each image's number within its unit

    @classmethod
    def of(cls, images: list[ImageTarget], vector_sizes) -> "Targets":
        """The targets of ``images``; a unit's images come one after the other."""
        vectors = []
        for term, size in enumerate(vector_sizes):
            rows = [np.ones(size) if image.vectors[term] is None else image.vectors[term]
                    for image in images]
            vectors.append(np.asarray(rows, np.float32).reshape(len(images), size))
        return cls(indices=np.asarray([i.indices for i in images], np.int32),
                   weights=np.asarray([i.weights for i in images], np.float32),
                   vectors=tuple(vectors),
                   seeds=np.asarray([i.seed for i in images], np.int64),
                   frames=np.asarray([i.frame for i in images], np.int32))

    @classmethod
    def simple(cls, indices, seeds) -> "Targets":
        """One image per row of ``indices`` ([batch, terms]), each a unit of its own."""
        indices = np.asarray(indices, np.int32)
        images = [ImageTarget(tuple(row), (1.0,) * indices.shape[1],
                              (None,) * indices.shape[1], int(seed), 0)
                  for row, seed in zip(indices, seeds)]
        return cls.of(images, (1,) * indices.shape[1])


def batch_targets(units, images_per_batch: int) -> Targets:
    """The targets of a batch of units, padded to ``images_per_batch`` images by repeating
    the last unit (padding is whole units, so units stay aligned in the batch)."""
    images = [image for unit in units for image in unit.images()]
    while len(images) < images_per_batch:
        images.extend(units[-1].images())
    return Targets.of(images, units[0].job.vector_sizes)
