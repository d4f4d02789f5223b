"""The job keys of the kinds beyond single units: directions, interpolations,
diversity, a starting image and accentuation. Each reads its keys into plain data; what needs the model
(a vector's length, a layer's name) is checked when the job is planned."""

from __future__ import annotations

import math
import os
from dataclasses import dataclass

import numpy as np

from ..images import unreadable_reason
from .checker import Checker
from .schema import EXAMPLES_TOP
from .terms import GroupTerm
from .yaml_lines import Located, plain

DIVERSITY_KEYS = ("count", "weight", "layer")
ALIGNMENT_KEYS = ("layer", "weight", "decay")
EXAMPLES_KEYS = ("images", "top", "crop")
ACCENTUATE_KEYS = ("images", "layer", "weight")
# How strongly an accentuation is held to its seed, against the objective. On the demo
# model this keeps the accentuated texture recognisably the seed (see the README).
ACCENTUATE_WEIGHT = 1.0
DEFAULT_ALIGNMENT = {"weight": 1.0, "decay": 2.0}


@dataclass(frozen=True)
class VectorSource:
    """Where a direction term's vectors come from: given arrays (inline or a .npy file), or
    ``random_count`` unit-norm Gaussian vectors of the layer's width from ``random_seed``."""

    arrays: tuple = ()
    random_seed: int | None = None
    random_count: int = 1
    line: int = 0
    key: str = ""

    def resolve(self, channels: int) -> list[np.ndarray]:
        """The vectors for a layer of ``channels`` channels; ValueError says what is wrong."""
        if self.random_seed is not None:
            rng = np.random.default_rng(self.random_seed)
            vectors = rng.normal(size=(self.random_count, channels))
            return [row / np.linalg.norm(row) for row in vectors]
        for array in self.arrays:
            if array.shape != (channels,):
                raise ValueError(f"a vector of {array.shape[0]} numbers for a layer of "
                                 f"{channels} channels; give {channels} numbers")
        return [np.asarray(array, np.float64) for array in self.arrays]


def base_folder(check: Checker) -> str:
    """Paths in a job file are relative to the file's folder."""
    return os.path.dirname(os.path.abspath(check.path))


def from_job_file(check: Checker, path: str) -> str:
    """``path`` as written in the job file, found from the file's folder (not from the
    current directory, so a file means the same wherever fvcli is run from). Errors name
    this path, so that a user sees where fvcli looked."""
    return os.path.normpath(os.path.join(base_folder(check), path))


def direction_vectors(check: Checker, spec: dict, key: str, node: Located) -> VectorSource:
    """``vector:`` (a list, a .npy file or {random: {seed: N}}) or ``vectors:`` (a .npy of
    shape [n, channels], or {random: {seed: N, count: n}})."""
    given = [name for name in ("vector", "vectors") if name in spec]
    if len(given) != 1:
        where = spec[given[1]] if len(given) > 1 else node
        check.fail(where, f"{key}.vector", "a direction needs exactly one of 'vector' (a list "
                   "of numbers, a .npy file or {random: {seed: 3}}) or 'vectors' (a .npy of "
                   "shape [n, channels])")
    name = given[0]
    located = spec[name]
    value = plain(located)
    where = dict(line=located.line, key=f"{key}.{name}")
    if isinstance(value, dict):
        seed, count = _random_seed(check, located, f"{key}.{name}", name == "vectors")
        return VectorSource(random_seed=seed, random_count=count, **where)
    if isinstance(value, list):
        if name == "vectors":
            check.fail(located, f"{key}.vectors", "expected a .npy file of shape [n, channels]")
        return VectorSource(arrays=(_finite_vector(check, located, f"{key}.vector",
                                                   np.asarray(value, dtype=object)),), **where)
    if isinstance(value, str):
        arrays = _load_npy(check, located, f"{key}.{name}", value, rows=name == "vectors")
        return VectorSource(arrays=tuple(arrays), **where)
    check.fail(located, f"{key}.{name}", f"expected a list of numbers, a .npy file or "
               f"{{random: {{seed: 3}}}}, got {value!r}")


def _random_seed(check: Checker, located: Located, key: str, allow_count: bool):
    value = plain(located)
    random = value.get("random") if isinstance(value, dict) and len(value) == 1 else None
    allowed = {"seed", "count"} if allow_count else {"seed"}
    if not isinstance(random, dict) or not set(random) <= allowed or "seed" not in random:
        example = "{random: {seed: 3, count: 8}}" if allow_count else "{random: {seed: 3}}"
        check.fail(located, key, f"expected {example}, got {value!r}")
    seed, count = random["seed"], random.get("count", 1)
    for name, number, low in (("seed", seed, 0), ("count", count, 1)):
        if isinstance(number, bool) or not isinstance(number, int) or number < low:
            check.fail(located, f"{key}.random.{name}",
                       f"expected a whole number >= {low}, got {number!r}")
    return seed, count


def _finite_vector(check: Checker, located: Located, key: str, array) -> np.ndarray:
    if array.ndim != 1 or not len(array) or not all(
            isinstance(x, (int, float)) and not isinstance(x, bool) for x in array):
        check.fail(located, key, "expected a list of numbers, one per channel of the layer")
    vector = array.astype(np.float64)
    if not np.all(np.isfinite(vector)) or not np.any(vector):
        check.fail(located, key, "a direction needs finite numbers, not all zero")
    return vector


def _load_npy(check: Checker, located: Located, key: str, path: str, rows: bool):
    full = from_job_file(check, path)
    try:
        array = np.load(full, allow_pickle=False)
    except (OSError, ValueError) as error:
        check.fail(located, key, f"cannot read {full} as a .npy array: "
                   f"{getattr(error, 'strerror', None) or error}")
    wanted = 2 if rows else 1
    if array.ndim != wanted or not np.issubdtype(array.dtype, np.number):
        shape = "[n, channels]" if rows else "[channels] (use 'vectors' for [n, channels])"
        check.fail(located, key, f"{path} holds an array of shape {list(array.shape)}; "
                   f"expected numbers of shape {shape}")
    vectors = array if rows else array[None]
    return [_finite_vector(check, located, key, np.asarray(row.tolist(), dtype=object))
            for row in vectors]


def diversity(check: Checker, located: Located, key: str) -> GroupTerm:
    """``diversity: {count, weight, layer}`` -> the group term (its count is the unit's
    number of images)."""
    spec = check.mapping(located, key, DIVERSITY_KEYS)
    for name in ("count", "layer"):
        if name not in spec:
            check.fail(located, f"{key}.{name}", "missing; e.g. {count: 4, weight: 10, "
                       "layer: Mixed_5b}")
    count = check.integer(spec["count"], f"{key}.count", 2, 64)
    weight = _finite(check, spec["weight"], f"{key}.weight") if "weight" in spec else 10.0
    return GroupTerm(kind="diversity", layer=str(spec["layer"].value), weight=weight,
                     count=count, line=spec["layer"].line, key=f"{key}.layer")


def alignment(check: Checker, located: Located | None, key: str, default_layer: str,
              line: int) -> GroupTerm:
    """``alignment: {layer, weight, decay}`` of an interpolation (all optional)."""
    spec = check.mapping(located, key, ALIGNMENT_KEYS) if located else {}
    weight = (_finite(check, spec["weight"], f"{key}.weight") if "weight" in spec
              else DEFAULT_ALIGNMENT["weight"])
    decay = (check.number(spec["decay"], f"{key}.decay", 1.0) if "decay" in spec
             else DEFAULT_ALIGNMENT["decay"])
    layer = str(spec["layer"].value) if "layer" in spec else default_layer
    return GroupTerm(kind="alignment", layer=layer, weight=weight, decay=decay,
                     line=spec["layer"].line if "layer" in spec else line,
                     key=f"{key}.layer")


def _finite(check: Checker, located: Located, key: str) -> float:
    value = check.number(located, key, 0.0)
    if not math.isfinite(value):
        check.fail(located, key, f"expected a finite number, got {located.value!r}")
    return value


def init_image(check: Checker, located: Located, key: str) -> str:
    """``init: path/to/image.png``: the absolute path of a readable image."""
    value = located.value
    if not isinstance(value, str) or not value:
        check.fail(located, key, f"expected the path of an image, got {value!r}")
    return _readable_image(check, located, key, value)


def _readable_image(check: Checker, located: Located, key: str, value: str) -> str:
    """The absolute path of image ``value`` (relative to the job file), checked readable."""
    import imageio.v3 as iio

    path = from_job_file(check, value)
    try:
        pixels = iio.imread(path)
    except Exception as error:  # imageio raises many kinds; all mean "not an image"
        check.fail(located, key, f"cannot read {path} as an image: "
                   f"{unreadable_reason(path, error)}")
    if pixels.ndim not in (2, 3):
        check.fail(located, key, f"{path} is not a single image (shape {pixels.shape})")
    return path


def examples(check: Checker, located: Located, key: str) -> dict:
    """``examples: {images: DIR, top: K, crop: false}`` for ``fvcli examples``."""
    spec = check.mapping(located, key, EXAMPLES_KEYS)
    if "images" not in spec:
        check.fail(located, f"{key}.images", "missing; the folder of images to score")
    top = (check.attempt(check.integer, spec["top"], f"{key}.top", EXAMPLES_TOP.low,
                         EXAMPLES_TOP.high) if "top" in spec else EXAMPLES_TOP.default)
    crop = (check.attempt(check.boolean, spec["crop"], f"{key}.crop") if "crop" in spec
            else False)
    folder = spec["images"].value
    if not isinstance(folder, str):
        check.fail(spec["images"], f"{key}.images", f"expected a folder, got {folder!r}")
    path = from_job_file(check, folder)
    if not os.path.isdir(path):
        check.fail(spec["images"], f"{key}.images", f"{path} is not a folder")
    return {"images": path, "top": top, "crop": crop}


def spectrum_file(check: Checker, located: Located, key: str, value) -> str:
    """``spectrum: FILE``: the absolute path of a magnitude spectrum that `fvcli spectrum`
    wrote: a .npy of shape [3, N, N // 2 + 1], finite and not negative."""
    if not isinstance(value, str) or not value:
        check.fail(located, key, f"expected the path of a .npy file from `fvcli spectrum`, "
                   f"got {value!r}")
    path = from_job_file(check, value)
    try:
        magnitude = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as error:
        reason = getattr(error, "strerror", None) or str(error).splitlines()[0]
        check.fail(located, key, f"cannot read {path} as a .npy spectrum: {reason}")
    shape = getattr(magnitude, "shape", ())
    if not (len(shape) == 3 and shape[0] == 3 and shape[1] >= 8
            and shape[2] == shape[1] // 2 + 1):
        check.fail(located, key, f"{value} has shape {shape}; a spectrum from `fvcli "
                   f"spectrum` has shape [3, N, N/2 + 1]")
    if not (np.issubdtype(magnitude.dtype, np.floating) and np.isfinite(magnitude).all()
            and (magnitude >= 0).all() and magnitude.any()):
        check.fail(located, key, f"{value} is not a magnitude spectrum: expected finite, "
                   f"non-negative numbers, not all zero")
    return path


@dataclass(frozen=True)
class Accentuation:
    """``accentuate: {images, layer, weight}``: start each unit from a seed image and hold
    it near the seed in ``layer``'s activations (None: the model's default, chosen when
    the job is planned) with ``weight``."""

    images: tuple[str, ...]  # absolute paths, one unit per target and image
    layer: str | None
    weight: float
    line: int

    @property
    def names(self) -> tuple[str, ...]:
        """Each image's name in file names: its file name without the suffix."""
        return tuple(seed_name(path) for path in self.images)


def seed_name(path: str) -> str:
    """The part of a unit's file name that names its seed image."""
    stem = os.path.splitext(os.path.basename(path))[0]
    return "".join(c if c.isalnum() or c in "._-" else "_" for c in stem)


def accentuation(check: Checker, located: Located, key: str) -> Accentuation:
    """``accentuate: {images: [PATH, ...] or FOLDER, layer: L, weight: W}``."""
    from ..images import IMAGE_SUFFIXES

    spec = check.mapping(located, key, ACCENTUATE_KEYS)
    if "images" not in spec:
        check.fail(located, f"{key}.images", "missing; a list of images or a folder of them")
    images_node = spec["images"]
    value = plain(images_node)
    folder = from_job_file(check, value) if isinstance(value, str) else None
    if folder and os.path.isdir(folder):
        names = sorted(name for name in os.listdir(folder)
                       if name.lower().endswith(IMAGE_SUFFIXES))
        if not names:
            check.fail(images_node, f"{key}.images", f"{folder} holds no images "
                       f"({', '.join(IMAGE_SUFFIXES)})")
        value = [os.path.join(folder, name) for name in names]
    if not (isinstance(value, list) and value and all(isinstance(v, str) for v in value)):
        check.fail(images_node, f"{key}.images", f"expected a list of image paths or a "
                   f"folder, got {plain(images_node)!r}")
    paths = tuple(_readable_image(check, images_node, f"{key}.images", path)
                  for path in value)
    names = [seed_name(path) for path in paths]
    twice = sorted({name for name in names if names.count(name) > 1})
    if twice:
        check.fail(images_node, f"{key}.images", f"two images are both called "
                   f"'{twice[0]}'; each seed image needs its own name")
    layer = None
    if "layer" in spec:
        layer = plain(spec["layer"])
        if not isinstance(layer, str) or not layer:
            check.fail(spec["layer"], f"{key}.layer", f"expected a layer name, got {layer!r}")
    weight = (check.number(spec["weight"], f"{key}.weight", 0.0, 1000.0) if "weight" in spec
              else ACCENTUATE_WEIGHT)
    return Accentuation(images=paths, layer=layer, weight=float(weight), line=located.line)
