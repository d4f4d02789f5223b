"""Planning: jobs -> work units -> batches.

A unit is one image to render: one channel of a channel sweep, one class, or the single
image of a weighted sum. Units of a job are split into batches of equal size (the last
one padded by repeating its final unit), so every batch of a job has one shape and the
renderer traces once per job shape, never for a leftover partial batch.
"""

from __future__ import annotations

import math
import zlib
from dataclasses import dataclass

from .objectives import CLASS_KINDS
from .spec import Job


@dataclass(frozen=True)
class Unit:
    """One image of a job."""

    job: Job
    number: int                  # position in the job, from 0
    indices: tuple[int, ...]     # channel or class per objective term
    seed: int

    @property
    def file_stem(self) -> str:
        """A file name a person can find: Mixed_4b_0011, class_0208, deepdream_Mixed_4c."""
        terms = self.job.objective.terms
        if len(terms) > 1:
            return f"{self.job.name}_{self.number:04d}"
        term, index = terms[0], self.indices[0]
        layer = term.layer.replace("/", "_")
        suffix = "_neg" if term.negative else ""
        if term.kind in CLASS_KINDS:
            return f"class_{index:04d}{suffix}"
        if term.kind == "deepdream":
            return f"deepdream_{layer}{suffix}"
        if term.kind == "neuron" and term.position:
            return f"{layer}_{index:04d}_y{term.position[0]}x{term.position[1]}{suffix}"
        return f"{layer}_{index:04d}{suffix}"

    def record(self) -> dict:
        """What the manifest says about this unit's target."""
        terms = self.job.objective.terms
        info = {"description": self.job.objective.describe(self.indices), "seed": self.seed}
        if len(terms) == 1:
            term, index = terms[0], self.indices[0]
            info["layer"] = term.layer
            if term.kind in CLASS_KINDS:
                info["class"] = index
            elif term.kind != "deepdream":
                info["channel"] = index
        return info


def units_of(job: Job) -> list[Unit]:
    """The job's units in order, each with a seed of its own derived from the job seed."""
    return [Unit(job=job, number=n, indices=indices, seed=unit_seed(job.seed, n))
            for n, indices in enumerate(job.units)]


def unit_seed(job_seed: int, number: int) -> int:
    """A per-unit seed that depends only on the job seed and the unit's position."""
    return zlib.crc32(f"{job_seed}:{number}".encode()) & 0x7FFFFFFF


# An image in flight holds its activations, their pre-ReLU values and their gradients,
# plus the workspace of the convolutions: about this many times the forward activations
# (measured by `make bench` as peak RSS per image on InceptionV1 up to Mixed_4b).
MEMORY_PER_ACTIVATION_BYTE = 4
# Use at most this share of the free memory, leaving room for the model and the rest.
MEMORY_SHARE = 0.5
# Beyond these batches throughput stops rising (CPU: measured by `make bench`).
LARGEST_AUTO_BATCH = {"cpu": 32, "gpu": 256}


def balanced_batch_size(units: int, batch_size: int) -> int:
    """The smallest batch size that covers ``units`` in as many batches as ``batch_size``
    would: 20 units at batch 16 run as 2 x 10, not 16 + 4 padded to 16."""
    batches = math.ceil(units / batch_size)
    return math.ceil(units / batches)


def auto_batch_size(activation_bytes: int, available_bytes: int, device_kind: str) -> int:
    """The batch size ``batch_size: auto`` picks: as many images as fit in a share of the
    device's free memory, at most where throughput stops rising."""
    per_image = max(1, activation_bytes * MEMORY_PER_ACTIVATION_BYTE)
    fits = int(available_bytes * MEMORY_SHARE // per_image)
    return max(1, min(fits, LARGEST_AUTO_BATCH[device_kind]))


def batches_of(units: list[Unit], size: int) -> list[list[Unit]]:
    """Consecutive batches of ``size`` units; the caller pads the last one."""
    return [units[i:i + size] for i in range(0, len(units), size)]
