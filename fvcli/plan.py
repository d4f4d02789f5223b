"""Planning: checked job specs + a network -> jobs resolved into units; units into shards
and batches.

Resolving checks what needs the model (layer names, channel and class ranges,
``channels: all``, neuron positions) and fills in each job's units. A unit is one image to
render: one channel of a channel sweep, one class, or the single image of a weighted sum.
It is the unit of work: each has a seed and a fingerprint of its own, so it renders the
same image in any batch and any shard, and a finished one is recognised on disk
(:mod:`fvcli.store`). Shards split the units of a file by their estimated cost. Units of a
job are split into batches of equal size (the last one padded by repeating its final
unit), so every batch of a job has one shape and the renderer traces once per job shape,
never for a leftover partial batch.

The network is used through its layer table only; this module does not import TensorFlow.
"""

from __future__ import annotations

import hashlib
import json
import math
import zlib
from dataclasses import dataclass, field, replace

import numpy as np

from .config import CLASS_KINDS, JobFile, JobSpec, SpecError, Term, WrittenTerm, describe_terms


@dataclass
class PlannedJob:
    """A job resolved against a model: its terms name the model's layers, and its units
    are known."""

    spec: JobSpec
    terms: tuple[Term, ...]
    units: list["Unit"] = field(default_factory=list)
    model_fingerprint: str = ""
    precision: str = ""   # as it will run (auto resolved on the device); "" until known
    vector_sizes: tuple[int, ...] = ()  # per term: channels of its direction, else 1
    images_per_unit: int = 1            # images optimised together as one unit

    def image_weights(self, frame: int) -> tuple[float, ...]:
        """Per-term weight of image ``frame`` of a unit (all 1 unless a kind says else)."""
        return (1.0,) * len(self.terms)

    def image_seed(self, unit_seed_value: int, frame: int) -> int:
        """Seed of image ``frame`` of a unit: the unit's own for its first image."""
        if frame == 0:
            return unit_seed_value
        return zlib.crc32(f"{unit_seed_value}:{frame}".encode()) & 0x7FFFFFFF

    def image_settings(self) -> dict:
        """Every setting that changes a unit's image, and none that does not (batch size,
        device, output folder, the job's name or place in the file)."""
        settings = self.spec.settings
        return {"model": self.model_fingerprint,
                "objective": [vars(term) for term in self.terms],
                "size": settings.size, "steps": settings.steps,
                "learning_rate": settings.learning_rate,
                "param": settings.param.describe(), "transforms": settings.transforms.describe(),
                "regularizers": dict(settings.regularizers), "revive": settings.revive,
                "precision": self.precision or settings.precision}

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def settings(self):
        return self.spec.settings

    def describe(self, indices) -> str:
        return describe_terms(self.terms, indices)


@dataclass(frozen=True)
class Unit:
    """One image of a job."""

    job: PlannedJob
    number: int                  # position in the job, from 0
    indices: tuple[int, ...]     # channel or class per objective term
    seed: int

    @property
    def file_stem(self) -> str:
        """A file name a person can find: Mixed_4b_0011, class_0208, deepdream_Mixed_4c."""
        terms = self.job.terms
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

    vectors: tuple = ()  # per term: its direction (a float array), or None

    def images(self) -> list["ImageTarget"]:
        """What each image of this unit aims at."""
        job = self.job
        vectors = self.vectors or (None,) * len(job.terms)
        return [ImageTarget(indices=self.indices, weights=job.image_weights(frame),
                            vectors=vectors, seed=job.image_seed(self.seed, frame),
                            frame=frame)
                for frame in range(job.images_per_unit)]

    @property
    def fingerprint(self) -> str:
        """A digest of everything that makes this unit's image what it is."""
        identity = {**self.job.image_settings(), "indices": list(self.indices),
                    "seed": self.seed,
                    "vectors": [None if v is None else np.round(v, 6).tolist()
                                for v in self.vectors]}
        text = json.dumps(identity, sort_keys=True, default=list)
        return "sha256:" + hashlib.sha256(text.encode()).hexdigest()[:24]

    def record(self) -> dict:
        """What the manifest says about this unit's target."""
        terms = self.job.terms
        info = {"description": self.job.describe(self.indices), "seed": self.seed}
        if len(terms) == 1:
            term, index = terms[0], self.indices[0]
            info["layer"] = term.layer
            if term.kind in CLASS_KINDS:
                info["class"] = index
            elif term.kind != "deepdream":
                info["channel"] = index
        return info


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
    groups: np.ndarray           # [batch] int32: a unit's images share one; terms that
    frames: np.ndarray           # couple images see only their own group. [batch] int32

    @classmethod
    def of(cls, images: list[ImageTarget], groups: list[int], vector_sizes) -> "Targets":
        vectors = []
        for term, size in enumerate(vector_sizes):
            rows = [np.ones(size) if image.vectors[term] is None else image.vectors[term]
                    for image in images]
            vectors.append(np.asarray(rows, np.float32).reshape(len(images), size))
        return cls(indices=np.asarray([i.indices for i in images], np.int32),
                   weights=np.asarray([i.weights for i in images], np.float32),
                   vectors=tuple(vectors),
                   seeds=np.asarray([i.seed for i in images], np.int64),
                   groups=np.asarray(groups, np.int32),
                   frames=np.asarray([i.frame for i in images], np.int32))

    @classmethod
    def simple(cls, indices, seeds) -> "Targets":
        """One image per row of ``indices`` ([batch, terms]), none coupled."""
        indices = np.asarray(indices, np.int32)
        images = [ImageTarget(tuple(row), (1.0,) * indices.shape[1],
                              (None,) * indices.shape[1], int(seed), 0)
                  for row, seed in zip(indices, seeds)]
        return cls.of(images, list(range(len(images))), (1,) * indices.shape[1])


def batch_targets(units: list[Unit], images_per_batch: int) -> Targets:
    """The targets of a batch of units, padded to ``images_per_batch`` images by repeating
    the last image, each padding image in a group of its own (coupled to nothing)."""
    images, groups = [], []
    for position, unit in enumerate(units):
        for image in unit.images():
            images.append(image)
            groups.append(position)
    while len(images) < images_per_batch:
        images.append(images[-1])
        groups.append(images_per_batch + len(groups))
    return Targets.of(images, groups, units[0].job.vector_sizes)


def unit_seed(job_seed: int, indices: tuple[int, ...]) -> int:
    """A per-unit seed that depends only on the job seed and the unit's target, so a
    channel renders the same image whichever other channels its job lists."""
    target = ",".join(str(index) for index in indices)
    return zlib.crc32(f"{job_seed}:{target}".encode()) & 0x7FFFFFFF


# ----------------------------------------------------------------------------- resolving


def plan_job_file(job_file: JobFile, network) -> list[PlannedJob]:
    """Resolve every job of ``job_file`` against ``network``; raises SpecError on the first
    problem."""
    return [plan_job(job_file.path, spec, network) for spec in job_file.jobs]


def plan_job(path: str, spec: JobSpec, network) -> PlannedJob:
    """Resolve layer names and channel/class lists of one job and list its units."""
    from .models import ModelError  # the layer table's error; models imports TensorFlow

    resolved_terms, per_term = [], []
    for written in spec.written:
        line, key = written.where
        layer_line = written.lines.get("layer", line)
        term = written.term
        try:
            layer = network.layer(term.layer)
        except ModelError as error:
            raise SpecError(path, layer_line, f"{key}.layer", str(error)) from None
        _check_layer_kind(path, layer_line, key, term, layer)
        if term.position and layer.is_spatial:
            _check_position(path, written.lines.get("position", line), key,
                            term.position, network, layer, spec.settings.size)
        resolved_terms.append(replace(term, layer=layer.name))
        per_term.append(_resolve_indices(path, line, key, written, layer))
    job = PlannedJob(spec=spec, terms=tuple(resolved_terms),
                     model_fingerprint=getattr(network, "fingerprint", ""),
                     vector_sizes=(1,) * len(resolved_terms))
    if len(per_term) == 1:
        targets = [(index,) for index in per_term[0]]
    else:
        targets = [tuple(indices[0] for indices in per_term)]
    job.units = [Unit(job=job, number=n, indices=indices, seed=unit_seed(spec.seed, indices))
                 for n, indices in enumerate(targets)]
    return job


def _check_layer_kind(path, line, key, term: Term, layer) -> None:
    if term.kind != "deepdream" and term.kind not in CLASS_KINDS and not layer.is_spatial:
        raise SpecError(path, line, f"{key}.layer",
                        f"{layer.name} has no spatial map; use a convolutional layer")
    if term.kind == "deepdream" and not layer.is_spatial:
        raise SpecError(path, line, f"{key}.layer",
                        f"deepdream needs a convolutional layer, not {layer.name}")


def _resolve_indices(path, line, key, written: WrittenTerm, layer) -> list[int]:
    if written.indices is None:
        return [0]
    count = layer.channels
    what = "classes" if written.term.kind in CLASS_KINDS else "channels"
    if written.indices == "all":
        return list(range(count))
    seen = set()
    for index in written.indices:
        where = (path, written.lines.get(written.index_key, line), f"{key}.{written.index_key}")
        if index >= count:
            raise SpecError(*where, f"{index} is out of range; {layer.name} has {what} "
                            f"0-{count - 1}")
        if index in seen:
            raise SpecError(*where, f"{index} is listed twice; each is rendered once")
        seen.add(index)
    return list(written.indices)


def _check_position(path, line, key, position, network, layer, size):
    height, width = network.spatial_size(layer.name, size)
    y, x = position
    if y >= height or x >= width:
        raise SpecError(path, line, f"{key}.position",
                        f"[{y}, {x}] is outside {layer.name}'s {height}x{width} map at "
                        f"{size}px; expected y < {height} and x < {width}")


# ----------------------------------------------------------------------------- shards


@dataclass(frozen=True)
class Shard:
    """Part ``index`` (1 to ``count``) of a file's units."""

    index: int = 1
    count: int = 1

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"

    @classmethod
    def parse(cls, text: str) -> "Shard":
        """'2/8' -> Shard(2, 8); ValueError with a reason otherwise."""
        parts = text.split("/")
        if len(parts) != 2 or not all(part.strip().isdigit() for part in parts):
            raise ValueError(f"{text!r} is not I/N, e.g. 2/8")
        index, count = int(parts[0]), int(parts[1])
        if not 1 <= index <= count:
            raise ValueError(f"shard {index}/{count}: I must be from 1 to N")
        return cls(index, count)


def shard_units(units: list[Unit], shard: Shard, cost) -> list[Unit]:
    """The units of ``shard``: the file's units in order, cut into ``shard.count`` runs of
    about equal total ``cost(unit)``. A unit goes to the shard where the middle of its cost
    falls, so every unit is in exactly one shard and shards differ by at most one unit's
    cost. Runs keep a job's units together, so a shard traces few step functions."""
    if shard.count == 1:
        return list(units)
    costs = [max(float(cost(unit)), 1e-9) for unit in units]
    total = sum(costs)
    chosen, before = [], 0.0
    for unit, unit_cost in zip(units, costs):
        middle = (before + unit_cost / 2) / total
        if min(int(middle * shard.count), shard.count - 1) == shard.index - 1:
            chosen.append(unit)
        before += unit_cost
    return chosen


# ----------------------------------------------------------------------------- batches

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
