"""Planning: checked job specs + a network -> jobs resolved into units.

Resolving checks what needs the model (layer names, channel and class ranges,
``channels: all``, neuron positions, the precision on the device) and fills in each job's
units. A unit is what one image (or one strip: diversity samples, interpolation frames)
of a job shows: one channel of a channel sweep, one class, or the single image of a
weighted sum. It is the unit of work: each has a seed and a fingerprint of its own, so it
renders the same image in any batch and any shard, and a finished one is recognised on
disk (:mod:`fvcli.outputs.records`). :mod:`fvcli.sweep.shards` splits units into shards
and batches.

The network is used through its layer table only; this module does not import TensorFlow.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import zlib
from dataclasses import dataclass, field, replace

import numpy as np

from ..config import (CLASS_KINDS, DIRECTION_KINDS, GroupTerm, JobFile, JobSpec, SpecError, Term,
                     WrittenTerm, describe_terms)
from ..config.kinds import seed_name
from ..engine.targets import ImageTarget
from ..models.errors import ModelError

# Part of every unit's fingerprint. Raised when a change to how images are made changes
# them (2: the network sees a window of the render size), so that resuming a sweep
# re-renders units from an earlier renderer instead of mixing the two in one grid.
RENDERER_REVISION = 2


@dataclass
class PlannedJob:
    """A job resolved against a model: its terms name the model's layers, and its units
    are known."""

    spec: JobSpec
    terms: tuple[Term, ...]
    units: list["Unit"] = field(default_factory=list)
    model_fingerprint: str = ""
    vector_sizes: tuple[int, ...] = ()  # per term: channels of its direction, else 1
    group_terms: tuple[GroupTerm, ...] = ()  # layers resolved to the model's names

    @property
    def layers_read(self) -> tuple[str, ...]:
        """Every layer a step of this job reads: its terms', those of the terms that
        couple a unit's images, and the layer an accentuation stays close in. What its
        cost and its memory are reckoned to."""
        closeness = self.settings.closeness
        return tuple(dict.fromkeys([term.layer for term in (*self.terms, *self.group_terms)]
                                   + ([closeness[0]] if closeness else [])))

    @property
    def images_per_unit(self) -> int:
        """Images optimised together as one unit (diversity samples, interpolation frames)."""
        return self.spec.images_per_unit

    @property
    def written_images(self) -> int:
        """Images of a unit that are written: all but the uncoupled reference images."""
        return self.spec.images_per_unit - self.spec.reference_images

    def image_weights(self, frame: int) -> tuple[float, ...]:
        """Per-term weight of image ``frame`` of a unit: frame t of an interpolation weighs
        its ends 1 - t and t; otherwise every term weighs 1."""
        if self.spec.interpolate:
            t = frame / (self.images_per_unit - 1)
            return (1.0 - t, t)
        return (1.0,) * len(self.terms)

    def image_seed(self, unit_seed_value: int, frame: int) -> int:
        """Seed of image ``frame`` of a unit: the unit's own for its first image and for
        every frame of an interpolation (they start alike, so features stay in place)."""
        if frame == 0 or self.spec.interpolate:
            return unit_seed_value
        return zlib.crc32(f"{unit_seed_value}:{frame}".encode()) & 0x7FFFFFFF

    def image_settings(self) -> dict:
        """Every setting that changes a unit's image, and none that does not (batch size,
        device, output folder, the job's name or place in the file)."""
        settings = self.spec.settings
        return {"renderer": RENDERER_REVISION, "model": self.model_fingerprint,
                "objective": [vars(term) for term in self.terms],
                "size": settings.size, "steps": settings.steps,
                "learning_rate": settings.learning_rate,
                "param": settings.param.describe(), "transforms": settings.transforms.describe(),
                "regularizers": dict(settings.regularizers), "revive": settings.revive,
                "precision": settings.precision,
                "group_terms": [term.describe() for term in self.group_terms],
                "images": self.images_per_unit, "interpolate": self.spec.interpolate,
                "init": _file_digest(self.spec.init) if self.spec.init else None,
                # only where set, so that the units of jobs without them keep their
                # fingerprints
                **({"alpha": True} if settings.alpha else {}),
                **({"spectrum": _file_digest(settings.param.spectrum)}
                   if settings.param.spectrum else {}),
                **({"closeness": list(settings.closeness)} if settings.closeness else {})}

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def settings(self):
        return self.spec.settings

    def describe(self, indices) -> str:
        if self.spec.interpolate:
            ends = " -> ".join(term.describe(index) for term, index in zip(self.terms, indices))
            return f"{ends} in {self.images_per_unit} frames"
        text = describe_terms(self.terms, indices)
        return " ".join([text] + [term.describe() for term in self.group_terms])


@functools.lru_cache(maxsize=None)
def _file_digest(path: str) -> str:
    """sha256 of a file the fingerprint of every unit of a job includes, read once."""
    with open(path, "rb") as handle:
        return hashlib.sha256(handle.read()).hexdigest()[:16]


@dataclass(frozen=True)
class Unit:
    """One image of a job."""

    job: PlannedJob
    number: int                  # position in the job, from 0
    indices: tuple[int, ...]     # channel or class per objective term
    seed: int
    seed_image: str | None = None  # an accentuation's image to start from (absolute path)

    @property
    def file_stem(self) -> str:
        """A file name a person can find: Mixed_4b_0011, class_0208, deepdream_Mixed_4c,
        Mixed_4b_0011_on_cat (accentuated in the seed image cat.jpg)."""
        if self.seed_image:
            return f"{self._target_stem}_on_{seed_name(self.seed_image)}"
        return self._target_stem

    @property
    def _target_stem(self) -> str:
        terms = self.job.terms
        if self.job.spec.interpolate:
            return "_to_".join(_target_label(term, index)
                               for term, index in zip(terms, self.indices))
        if len(terms) > 1:
            return f"{self.job.name}_{self.number:04d}"
        term, index = terms[0], self.indices[0]
        if term.kind in DIRECTION_KINDS:
            return _target_label(term, index) + ("_neg" if term.negative else "")
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
        if self.seed_image:
            identity["seed_image"] = _file_digest(self.seed_image)
        text = json.dumps(identity, sort_keys=True, default=list)
        return "sha256:" + hashlib.sha256(text.encode()).hexdigest()[:24]

    def record(self) -> dict:
        """What the manifest says about this unit's target (and ``negative`` when its one
        term is minimised)."""
        terms = self.job.terms
        info = {"description": self.job.describe(self.indices), "seed": self.seed}
        if self.seed_image:
            info["description"] += f" in {os.path.basename(self.seed_image)}"
            info["seed_image"] = self.seed_image
        if self.job.spec.interpolate:
            info["frames"] = self.job.images_per_unit
            for end, term, index in zip(("from", "to"), terms, self.indices):
                info[end] = {"layer": term.layer,
                             ("direction" if term.takes_vector else "channel"): index}
        elif len(terms) == 1 and terms[0].takes_vector:
            info.update(layer=terms[0].layer, direction=self.indices[0])
        elif self.job.images_per_unit > 1:
            info["images"] = self.job.written_images
        if len(terms) == 1 and not terms[0].takes_vector:
            term, index = terms[0], self.indices[0]
            info["layer"] = term.layer
            if term.kind in CLASS_KINDS:
                info["class"] = index
            elif term.kind != "deepdream":
                info["channel"] = index
        if len(terms) == 1 and terms[0].negative:
            # its objective is minus the unit's value: pages show the unit's value, signed
            info["negative"] = True
        return info


def _target_label(term: Term, index: int) -> str:
    layer = term.layer.replace("/", "_")
    return f"{layer}_dir{index:04d}" if term.takes_vector else f"{layer}_{index:04d}"


def unit_seed(job_seed: int, indices: tuple[int, ...], seed_image: str | None = None) -> int:
    """A per-unit seed that depends only on the job seed and the unit's target (and seed
    image), so a channel renders the same image whichever other channels its job lists."""
    target = ",".join(str(index) for index in indices)
    if seed_image:
        target += ":" + seed_name(seed_image)
    return zlib.crc32(f"{job_seed}:{target}".encode()) & 0x7FFFFFFF


# ----------------------------------------------------------------------------- resolving


def plan_job_file(job_file: JobFile, network, precision_of,
                  errors: list | None = None) -> list[PlannedJob]:
    """Resolve every job of ``job_file`` against ``network``, and its precision with
    ``precision_of`` (the device's: requested -> the precision it runs in, ValueError with
    the reason if the device lacks it). Raises SpecError on the first problem, or, given an
    ``errors`` list, adds each bad job's error to it and goes on."""
    jobs = []
    for spec in job_file.jobs:
        try:
            jobs.append(plan_job(job_file.path, spec, network, precision_of))
        except SpecError as error:
            if errors is None:
                raise
            errors.append(error)
    return jobs


def plan_job(path: str, spec: JobSpec, network, precision_of) -> PlannedJob:
    """Resolve layer names, channel/class lists, directions and the precision of one job
    and list its units."""
    spec = _with_precision(path, spec, precision_of)
    resolved_terms, per_term, vectors, sizes = [], [], [], []
    for written in spec.written:
        line, key = written.where
        layer = _layer(path, written.lines.get("layer", line), f"{key}.layer", network,
                       written.term.layer)
        term = written.term
        _check_layer_kind(path, written.lines.get("layer", line), key, term, layer)
        # A wrong size was replaced by the default: the map's size at it says nothing.
        if term.position and layer.is_spatial and "size" not in spec.unchecked:
            _check_position(path, written.lines.get("position", line), key,
                            term.position, network, layer, spec.settings.size)
        resolved_terms.append(replace(term, layer=layer.name))
        if written.vectors is not None:
            vectors.append(_resolve_vectors(path, written, layer))
            per_term.append(list(range(len(vectors[-1]))))
            sizes.append(layer.channels)
        else:
            vectors.append(None)
            per_term.append(_resolve_indices(path, line, key, written, layer))
            sizes.append(1)
    groups = tuple(replace(group, layer=_layer(path, group.line, group.key, network,
                                               group.layer, spatial=True).name)
                   for group in spec.group_terms)
    if getattr(network, "input_channels", 3) == 1:
        spec = _grayscale(spec)
    if spec.accentuate:
        spec = _with_closeness(path, spec, network)
    job = PlannedJob(spec=spec, terms=tuple(resolved_terms),
                     model_fingerprint=getattr(network, "fingerprint", ""),
                     vector_sizes=tuple(sizes), group_terms=groups)
    seed_images = spec.accentuate.images if spec.accentuate else (None,)
    targets = [(indices, image) for indices in _unit_targets(path, spec, per_term)
               for image in seed_images]
    job.units = [Unit(job=job, number=n, indices=indices,
                      seed=unit_seed(spec.seed, indices, image), seed_image=image,
                      vectors=tuple(None if v is None else v[i]
                                    for v, i in zip(vectors, indices)))
                 for n, (indices, image) in enumerate(targets)]
    return job


def _with_closeness(path, spec: JobSpec, network) -> JobSpec:
    """An accentuation job with the layer it stays close to its seeds in resolved (the
    model's default when the file names none) and set in its settings."""
    accentuation = spec.accentuate
    if accentuation.layer is None:
        layer = network.layer(default_closeness_layer(network))
    else:
        layer = _layer(path, accentuation.line, f"{spec.name}: accentuate.layer", network,
                       accentuation.layer, spatial=True)
    closeness = (layer.name, accentuation.weight)
    return replace(spec, settings=replace(spec.settings, closeness=closeness),
                   resolved_settings={**spec.resolved_settings,
                                      "accentuate": {"layer": layer.name,
                                                     "weight": accentuation.weight,
                                                     "images": list(accentuation.images)}})


def default_closeness_layer(network) -> str:
    """The layer an accentuation stays close to its seed in when the job names none: the
    spatial layer a third of the way up the network's (on InceptionV1, Mixed_3b:
    mixed3a, the layer faccent uses), low enough to keep the seed's shapes, high enough
    to let their details change."""
    spatial = [layer.name for layer in network.top_level_layers() if layer.is_spatial]
    return spatial[(len(spatial) - 1) // 3]


def _with_precision(path, spec: JobSpec, precision_of) -> JobSpec:
    """The job with its precision as it will run (auto resolved on the device), before
    anything takes a fingerprint of it."""
    try:
        precision = precision_of(spec.settings.precision)
    except ValueError as error:
        raise SpecError(path, spec.line, f"{spec.name}: precision", str(error)) from None
    return replace(spec, settings=replace(spec.settings, precision=precision),
                   resolved_settings={**spec.resolved_settings, "precision": precision})


def _grayscale(spec: JobSpec) -> JobSpec:
    """The job for a model with one input channel: grey images, no colour decorrelation."""
    param = replace(spec.settings.param, channels=1, decorrelate=False)
    return replace(spec, settings=replace(spec.settings, param=param),
                   resolved_settings={**spec.resolved_settings,
                                      "param": param.describe()})


def _layer(path, line, key, network, name, spatial=False):
    try:
        layer = network.layer(name)
    except ModelError as error:
        raise SpecError(path, line, key, str(error)) from None
    if spatial and not layer.is_spatial:
        raise SpecError(path, line, key, f"{layer.name} has no spatial map; use a "
                        "convolutional layer")
    return layer


def _unit_targets(path, spec: JobSpec, per_term: list[list[int]]) -> list[tuple[int, ...]]:
    """Per unit, an index per term: one unit per index of a single term; the ends of
    interpolations paired (an end with one target pairs with every target of the other);
    one unit for a weighted sum."""
    if len(per_term) == 1:
        return [(index,) for index in per_term[0]]
    if spec.interpolate:
        first, second = per_term
        if len(first) != len(second) and 1 not in (len(first), len(second)):
            line, key = spec.written[1].where
            raise SpecError(path, line, key, f"'from' has {len(first)} targets and 'to' "
                            f"{len(second)}; give as many, or one on either side")
        count = max(len(first), len(second))
        return [(first[k if len(first) > 1 else 0], second[k if len(second) > 1 else 0])
                for k in range(count)]
    for written, indices in zip(spec.written, per_term):
        if len(indices) != 1:
            line, key = written.where
            raise SpecError(path, line, key, "a term of a weighted sum targets exactly one "
                            "channel, class or direction")
    return [tuple(indices[0] for indices in per_term)]


def _resolve_vectors(path, written: WrittenTerm, layer) -> list[np.ndarray]:
    source = written.vectors
    try:
        return source.resolve(layer.channels)
    except ValueError as error:
        raise SpecError(path, source.line, source.key, f"{error} ({layer.name})") from None


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
