"""Job files: YAML -> checked job specs. Every error names the file, line and key.

This checks a file on its own (syntax, known keys, types, ranges of plain numbers) and
needs no model and no TensorFlow. What needs the model (layer names, channel and class
ranges, ``channels: all``) is checked when the specs are planned against it
(:mod:`fvcli.sweep.plan`). Both happen before anything is rendered, so a bad file never leaves
half-written output.
"""

from __future__ import annotations

import difflib
import math
import os
import re
from dataclasses import dataclass, field, replace

from .checker import Checker
from .errors import CheckSkipped
from . import kinds
from .schema import (CLASS_KINDS, DEFAULTS, DIRECTION_KINDS, JOB_KINDS, KINDS, LAYER_KINDS, LOGITS,
                     REGULARIZERS, SETTING_KEYS, SETTINGS, UNIT_KINDS, Setting)
from .settings import ParamSpec, RenderSettings, TransformSpec
from .terms import Term
from .yaml_lines import Located, plain, read_text, read_yaml
from .model_names import NAMED_MODELS, layers_command, resolve_model_spec

INDEX_KEYS = ("channels", "channel", "classes", "class")
TERM_KEYS = ("objective", "layer", "channels", "channel", "classes", "class", "position",
             "negative", "sign", "weight", "vector", "vectors", "cossim_pow")
INTERPOLATION_KEYS = ("from", "to", "frames", "alignment")
END_KEYS = ("layer", "channel", "channels", "vector", "vectors", "cossim_pow", "negative")
JOB_KEYS = ("name", "diversity", "init", "accentuate", "examples") + TERM_KEYS + INTERPOLATION_KEYS + SETTING_KEYS
TOP_KEYS = ("model", "defaults", "jobs")
PREPROCESS_NAMES = ("none", "tf", "torch", "caffe")
CROP_KEYS = ("crops", "crop_box", "noise", "view")
NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


@dataclass
class WrittenTerm:
    """A term as written: the layer and the channels/classes are still names and numbers."""

    term: Term
    indices: list | str | None     # channel or class numbers, "all", or None (deepdream)
    where: tuple[int, str]         # line and key path of the term, for errors
    lines: dict = field(default_factory=dict)  # line of each key of the term
    index_key: str | None = None   # as written: channels, channel, classes or class
    vectors: kinds.VectorSource | None = None  # a direction's vectors


@dataclass
class JobSpec:
    """One job of a file as written and checked: its terms (layers still by the names the
    file gives), its settings, and where it stands in the file."""

    name: str
    file: str
    line: int
    written: list[WrittenTerm]
    settings: RenderSettings = field(default_factory=RenderSettings)
    batch_size: int | str = DEFAULTS["batch_size"]  # or "auto": from the device's memory
    seed: int = 0
    resolved_settings: dict = field(default_factory=dict)  # every setting, defaults filled in
    group_terms: tuple = ()      # terms coupling a unit's images (diversity, alignment)
    images_per_unit: int = 1     # images optimised together as one unit
    interpolate: bool = False    # the two terms are the ends of an interpolation
    reference_images: int = 0    # images per unit rendered without coupling, not written
    init: str | None = None      # image to start from
    accentuate: kinds.Accentuation | None = None  # a unit per target and seed image
    examples: dict | None = None  # dataset examples: {images: folder, top: K, crop: bool}
    # Keys found wrong and replaced by their defaults so that the rest could be checked:
    # what depends on them (a neuron's position on the size) is not checked.
    unchecked: frozenset = frozenset()

    @property
    def terms(self) -> tuple[Term, ...]:
        return tuple(written.term for written in self.written)


@dataclass
class JobFile:
    """A job file as read and checked: its jobs, and the model it names."""

    path: str
    model: object
    jobs: list[JobSpec]
    model_line: int | None = None  # where the file names its model, for errors
    model_ok: bool = True  # False when the model key is wrong: the jobs cannot be planned


def load_job_file(path: str, overrides: dict | None = None,
                  errors: list | None = None) -> JobFile:
    """Read and check a job file on its own; ``overrides`` (from the command line) replace
    settings of every job. Every key is checked on its own. Raises the first SpecError in
    line order; or, given an ``errors`` list, adds every problem to it (and a CheckSkipped
    note for each check left out because it depends on a value found wrong) and returns
    the jobs that can still be checked against the model: those whose objective reads
    right, with wrong settings replaced by their defaults."""
    check = Checker(path)
    job_file = check.attempt(_job_file, check, overrides or {})
    if errors is None:
        found = [error for error in check.errors if not isinstance(error, CheckSkipped)]
        if found:
            raise min(found, key=lambda error: error.line)
        return job_file
    errors.extend(check.errors)
    return job_file or JobFile(path=path, model=None, jobs=[], model_ok=False)


def _job_file(check: Checker, overrides: dict) -> JobFile:
    """The file's jobs, model and defaults, each checked on its own; SpecError only when
    the file as a whole cannot be read as a job file."""
    root = read_yaml(check.path, read_text(check.path))
    top = check.mapping(root, "", TOP_KEYS)
    defaults, wrong_defaults = _defaults(check, top.get("defaults", Located({}, root.line)))
    model_node = top.get("model")
    model, model_ok = _model(check, model_node)
    named = resolve_model_spec(model) if model_ok else {}
    if "hub" in named or os.path.exists(str(named.get("path", ""))):  # a hint that works
        check.layers_command = layers_command(model)
    if "jobs" not in top:
        check.fail(root, "jobs", "missing; the file needs a 'jobs:' list of jobs to render")
    jobs_node = top["jobs"]
    if not isinstance(jobs_node.value, list) or not jobs_node.value:
        check.fail(jobs_node, "jobs", "expected a non-empty list of jobs")
    jobs = _jobs(check, jobs_node.value, defaults, wrong_defaults, overrides)
    return JobFile(path=check.path, model=model, jobs=jobs,
                   model_line=model_node.line if model_node else None, model_ok=model_ok)


def _jobs(check: Checker, job_nodes: list, defaults: dict, wrong_defaults: set,
          overrides: dict) -> list[JobSpec]:
    """Every job, checked on its own, and their names unique; the jobs whose objective
    reads right, to be checked against the model."""
    jobs, names = [], set()
    for position, job_node in enumerate(job_nodes):
        key = f"jobs[{position}]"
        job = check.attempt(_job, check, job_node, key, defaults, wrong_defaults, overrides)
        name = _given_name(job_node) if job is None else (
            None if "name" in job.unchecked else job.name)
        if name is not None:
            if name in names:
                check.attempt(check.fail, job_node, f"{key}.name", f"'{name}' is used "
                              "by an earlier job; job names must be unique")
            names.add(name)
        if job is not None:
            jobs.append(job)
    return jobs


def _model(check: Checker, node: Located | None) -> tuple[object, bool]:
    """(the model the file names, whether that reads right); InceptionV1 when it names
    none."""
    if node is None:
        return "inception_v1", True
    before = len(check.errors)
    check.attempt(_check_model, check, node)
    return _model_from_file(check, plain(node)), not check.found_since(before)


def _given_name(node: Located) -> str | None:
    """The name a job gives itself, if it is a right one: names are unique whether or not
    the rest of the job is right."""
    given = node.value.get("name") if isinstance(node.value, dict) else None
    if given is not None and isinstance(given.value, str) and NAME_PATTERN.match(given.value):
        return given.value
    return None


def _defaults(check: Checker, node: Located) -> tuple[dict, set]:
    """(the settings of ``defaults:`` that are right, the names of those that are wrong),
    each checked once, as ``defaults.KEY``. Jobs fall back to the built-in default of a
    wrong one, so that it is reported once and their other keys are still checked."""
    spec = check.attempt(check.mapping, node, "defaults", SETTING_KEYS, otherwise={})
    _, _, wrong = _settings(check, spec, "defaults", node, {})
    return {name: value for name, value in spec.items() if name not in wrong}, wrong


def _model_from_file(check: Checker, value):
    """The model as the file names it, with a relative path taken from the job file's
    folder, as every path in a job file is (``--model`` stays relative to the current
    directory: it is not read from here)."""
    if isinstance(value, str):
        if value in NAMED_MODELS or "://" in value:
            return value
        return kinds.from_job_file(check, value)
    if isinstance(value, dict) and isinstance(value.get("path"), str):
        return {**value, "path": kinds.from_job_file(check, value["path"])}
    return value


def _check_model(check: Checker, node: Located):
    if isinstance(node.value, str):
        return
    spec = check.mapping(node, "model", ("hub", "path", "input_range", "preprocess"))
    if ("hub" in spec) == ("path" in spec):
        check.fail(node, "model", "give exactly one of 'hub: HANDLE' or 'path: DIR_OR_FILE'")
    if "input_range" in spec:
        bounds = plain(spec["input_range"])
        if not (isinstance(bounds, list) and len(bounds) == 2
                and all(_finite_number(b) for b in bounds) and bounds[0] < bounds[1]):
            check.fail(spec["input_range"], "model.input_range",
                       f"expected [low, high] with low < high, e.g. [0, 1], got {bounds!r}")
    if "preprocess" in spec:
        if "input_range" in spec:
            check.fail(spec["preprocess"], "model.preprocess", "give preprocess or "
                       "input_range, not both")
        _check_preprocess(check, spec["preprocess"])


def _check_preprocess(check: Checker, node: Located) -> None:
    """none | tf | torch | caffe, or {mean, std, scale, bgr}."""
    key = "model.preprocess"
    if isinstance(node.value, str):
        check.choice(node, key, PREPROCESS_NAMES)
        return
    spec = check.mapping(node, key, ("mean", "std", "scale", "bgr"))
    for name in ("mean", "std"):
        if name in spec:
            values = plain(spec[name])
            values = values if isinstance(values, list) else [values]
            if len(values) not in (1, 3) or not all(_finite_number(v) for v in values) or (
                    name == "std" and not all(v > 0 for v in values)):
                check.fail(spec[name], f"{key}.{name}", "expected a number or three (R, G, "
                           f"B){', each > 0' if name == 'std' else ''}, got {values!r}")
    if "scale" in spec:
        check.number(spec["scale"], f"{key}.scale", 1e-6, 1e6)
    if "bgr" in spec:
        check.boolean(spec["bgr"], f"{key}.bgr")


def _job(check: Checker, node: Located, key: str, defaults: dict, wrong_defaults: set,
         overrides: dict) -> JobSpec | None:
    """One job, each key checked on its own: a wrong value is recorded and replaced by its
    default so that the other keys are still checked. None when its objective cannot be
    read (noted: nothing of it can be checked against the model then)."""
    spec = check.mapping(node, key, JOB_KEYS)
    own = {name: value for name, value in spec.items() if name in SETTING_KEYS}
    merged = {**defaults, **own}
    settings, resolved, wrong = _settings(check, merged, key, node, overrides)
    unchecked = set(wrong) | (set(wrong_defaults) - set(own))
    if spec.get("objective") is not None and spec["objective"].value != "interpolate":
        for name in INTERPOLATION_KEYS:
            if name in spec:
                check.attempt(check.fail, spec[name], f"{key}.{name}", "only interpolate "
                              f"objectives take '{name}'")
    objective = check.attempt(_objective, check, node, key, spec)
    written, extras = objective if objective else (None, {})
    if written is None:
        check.skipped(node, key, "its layers, channels and the rest of its objective are "
                      "checked once the errors above in its objective are fixed")
    if "diversity" in spec:
        extras.update(check.attempt(_diversity, check, spec, key, written, otherwise={}))
    for starts in ("init", "accentuate"):
        if starts in spec and settings.param.maco:
            check.attempt(check.fail, spec[starts], f"{key}.{starts}", "param maco holds "
                          "natural images' magnitude, so it cannot start from an image; use "
                          "param fft (the default) or pixel")
    if "init" in spec:
        extras["init"] = check.attempt(kinds.init_image, check, spec["init"], f"{key}.init")
    if "accentuate" in spec:
        extras["accentuate"] = check.attempt(_accentuation, check, spec, key, written)
        if "alpha" not in merged and overrides.get("alpha") is None:  # on unless set
            settings = replace(settings, alpha=True)
            resolved["alpha"] = True
    if "examples" in spec:
        extras["examples"] = check.attempt(kinds.examples, check, spec["examples"],
                                           f"{key}.examples")
    name = check.attempt(_name, check, spec, key, written)
    if written is None:
        return None
    if name is None:
        unchecked.add("name")
    if "size" in unchecked and any(term.term.position for term in written):
        check.skipped(node, key, "its neuron position is checked against the layer's map "
                      "once its size is fixed")
    return JobSpec(name=name or key, file=check.path, line=node.line, written=written,
                   settings=settings, batch_size=resolved["batch_size"], seed=resolved["seed"],
                   resolved_settings=resolved, unchecked=frozenset(unchecked), **extras)


def _objective(check: Checker, node: Located, key: str, spec: dict):
    """(the job's terms as written, what an interpolation needs besides them); Wrong (its
    errors recorded) when any of it is wrong."""
    if "objective" not in spec:
        check.fail(node, f"{key}.objective", f"missing; one of {', '.join(JOB_KINDS)}, "
                   "or a list of weighted terms")
    start = len(check.errors)
    if spec["objective"].value == "interpolate":
        objective = _interpolation(check, node, key, spec)
    else:
        objective = _terms(check, node, key, spec), {}
    check.settle(start)
    return objective


def _diversity(check: Checker, spec: dict, key: str, written: list | None) -> dict:
    """What ``diversity:`` adds to a job of one objective (``written``; None when it could
    not be read)."""
    if written is not None and len(written) != 1:
        check.attempt(check.fail, spec["diversity"], f"{key}.diversity", "diversity works on "
                      "a job with one objective, not a weighted sum or an interpolation")
    group = kinds.diversity(check, spec["diversity"], f"{key}.diversity")
    return dict(group_terms=(group,), images_per_unit=group.count + 1, reference_images=1)


def _accentuation(check: Checker, spec: dict, key: str, written: list[WrittenTerm] | None):
    """``accentuate:`` on a job of one channel, neuron or direction term (``written``;
    None when it could not be read), alone."""
    node = spec["accentuate"]
    if written is not None and (len(written) != 1
                                or written[0].term.kind not in UNIT_KINDS + DIRECTION_KINDS):
        check.fail(node, f"{key}.accentuate", "accentuation works on a channel, neuron or "
                   "direction job with one objective")
    for other in ("diversity", "init"):
        if other in spec:
            check.fail(node, f"{key}.accentuate", f"accentuation starts from its own seed "
                       f"images; it does not combine with {other}")
    return kinds.accentuation(check, node, f"{key}.accentuate")


def _terms(check: Checker, node: Located, key: str, spec: dict) -> list[WrittenTerm]:
    """The terms of a single objective or of a weighted sum, each checked on its own."""
    objective_node = spec["objective"]
    if not isinstance(objective_node.value, list):
        return [_term(check, node, key, spec, single_unit=False)]
    if not objective_node.value:
        check.fail(objective_node, f"{key}.objective", "the list of terms is empty")
    return [check.attempt(_listed_term, check, term_node, f"{key}.objective[{i}]")
            for i, term_node in enumerate(objective_node.value)]


def _listed_term(check: Checker, node: Located, key: str) -> WrittenTerm:
    """A term of a weighted sum."""
    return _term(check, node, key, check.mapping(node, key, TERM_KEYS), single_unit=True)


def _interpolation(check: Checker, node: Located, key: str, spec: dict):
    """``from`` and ``to`` (each {layer, channel(s)} or {layer, vector(s)}), ``frames`` and
    ``alignment`` -> the two end terms, and what the job needs besides."""
    written = [check.attempt(_end, check, node, key, spec, end) for end in ("from", "to")]
    frames = (check.attempt(check.integer, spec["frames"], f"{key}.frames", 2, 256)
              if "frames" in spec else 6)
    alignment = None
    if written[0] is not None:  # the alignment's layer defaults to the first end's
        alignment = check.attempt(kinds.alignment, check, spec.get("alignment"),
                                  f"{key}.alignment", written[0].term.layer, node.line)
    return written, dict(group_terms=(alignment,), images_per_unit=frames, interpolate=True)


def _end(check: Checker, node: Located, key: str, spec: dict, end: str) -> WrittenTerm:
    """One end of an interpolation: ``from`` or ``to``."""
    if end not in spec:
        check.fail(node, f"{key}.{end}", "missing; e.g. {layer: Mixed_4b, channel: 11} "
                   "or {layer: Mixed_4b, vector: {random: {seed: 1}}}")
    located = spec[end]
    end_spec = dict(check.mapping(located, f"{key}.{end}", END_KEYS))
    direction = "vector" in end_spec or "vectors" in end_spec
    end_spec["objective"] = Located("direction" if direction else "channel", located.line)
    return _term(check, located, f"{key}.{end}", end_spec, single_unit=False)


def _name(check: Checker, spec: dict, key: str, written: list[WrittenTerm] | None):
    """The job's name: as given, or from its first term (None when that could not be
    read)."""
    if "name" not in spec:
        if written is None:
            return None
        first = written[0].term
        return f"{first.kind}-{first.layer}".replace("/", "_")
    name = spec["name"].value
    if not isinstance(name, str) or not NAME_PATTERN.match(name):
        check.fail(spec["name"], f"{key}.name", f"{name!r} cannot name a folder; use letters, "
                   "digits, '.', '_' and '-', starting with a letter or digit")
    return name


def _term(check: Checker, node: Located, key: str, spec: dict, single_unit: bool) -> WrittenTerm:
    """One term: its kind first (every other key's check depends on it), then each key
    on its own; Wrong (its errors recorded) when any is wrong."""
    kind = _kind(check, node, key, spec, single_unit)
    start = len(check.errors)
    negative = check.attempt(_negative, check, spec, key, otherwise=False)
    weight = (check.attempt(check.number, spec["weight"], f"{key}.weight", low=-1e6,
                            high=1e6) if "weight" in spec else 1.0)
    layer = check.attempt(_term_layer, check, node, key, spec, kind)
    position = check.attempt(_position, check, spec, key, kind)
    cossim_pow = check.attempt(_cossim_pow, check, spec, key, kind)
    vectors = check.attempt(_vectors, check, node, key, spec, kind)
    indices = check.attempt(_indices, check, node, key, spec, kind, single_unit)
    check.settle(start)
    term = Term(kind=kind, layer=layer, weight=weight, negative=negative, position=position,
                cossim_pow=cossim_pow)
    return WrittenTerm(term=term, indices=indices[0], where=(node.line, key),
                       lines={name: value.line for name, value in spec.items()},
                       index_key=indices[1], vectors=vectors)


def _kind(check: Checker, node: Located, key: str, spec: dict, single_unit: bool) -> str:
    kind_node = spec.get("objective")
    if kind_node is None:
        check.fail(node, f"{key}.objective", f"missing; one of {', '.join(KINDS)}")
    kind = kind_node.value
    if kind not in KINDS:
        allowed = JOB_KINDS if not single_unit else KINDS
        close = difflib.get_close_matches(str(kind), allowed, n=1)
        hint = f"did you mean '{close[0]}'? " if close else ""
        check.fail(kind_node, f"{key}.objective",
                   f"unknown objective {kind!r}; {hint}expected one of {', '.join(allowed)}")
    return kind


def _negative(check: Checker, spec: dict, key: str) -> bool:
    """``negative: true`` or ``sign: negative``."""
    negative = False
    if "negative" in spec:
        negative = check.boolean(spec["negative"], f"{key}.negative")
    if "sign" in spec:
        if spec["sign"].value not in ("positive", "negative"):
            check.fail(spec["sign"], f"{key}.sign", "expected 'positive' or 'negative'")
        negative = negative or spec["sign"].value == "negative"
    return negative


def _term_layer(check: Checker, node: Located, key: str, spec: dict, kind: str) -> str:
    if kind in CLASS_KINDS:
        if "layer" in spec and spec["layer"].value != LOGITS:
            check.fail(spec["layer"], f"{key}.layer", f"{kind} objectives use the logits; "
                       "leave 'layer' out")
        return LOGITS
    if "layer" not in spec:
        check.fail(node, f"{key}.layer", f"missing; a {kind} objective needs a layer "
                   f"(see `{check.layers_command}`)")
    return str(spec["layer"].value)


def _position(check: Checker, spec: dict, key: str, kind: str) -> tuple | None:
    if "position" not in spec:
        return None
    if kind != "neuron":
        check.fail(spec["position"], f"{key}.position", "only neuron objectives take "
                   "a position")
    value = plain(spec["position"])
    if not (isinstance(value, list) and len(value) == 2
            and all(isinstance(v, int) and not isinstance(v, bool) and v >= 0
                    for v in value)):
        check.fail(spec["position"], f"{key}.position",
                   f"expected [y, x] with whole numbers >= 0, got {value!r}")
    return tuple(value)


def _cossim_pow(check: Checker, spec: dict, key: str, kind: str) -> float:
    if "cossim_pow" not in spec:
        return 0.0
    if kind != "direction":
        check.fail(spec["cossim_pow"], f"{key}.cossim_pow", "only direction objectives "
                   "take cossim_pow")
    return check.number(spec["cossim_pow"], f"{key}.cossim_pow", 0.0)


def _vectors(check: Checker, node: Located, key: str, spec: dict, kind: str):
    if kind in DIRECTION_KINDS:
        return kinds.direction_vectors(check, spec, key, node)
    if "vector" in spec or "vectors" in spec:
        name = "vector" if "vector" in spec else "vectors"
        check.fail(spec[name], f"{key}.{name}", f"only direction objectives take '{name}'")
    return None


def _indices(check, node, key, spec, kind, single_unit):
    """(channel or class numbers as written: a list of ints or "all", and the key that gave
    them); (None, None) for deepdream."""
    if kind in LAYER_KINDS + DIRECTION_KINDS:
        for extra in INDEX_KEYS:
            if extra in spec:
                what = ("uses the whole layer; leave it out" if kind in LAYER_KINDS else
                        "takes 'vector' or 'vectors', not channels")
                check.fail(spec[extra], f"{key}.{extra}", f"a {kind} objective {what}")
        return None, None
    names = ("channels", "channel") if kind in UNIT_KINDS else ("classes", "class")
    given = [name for name in names if name in spec]
    wrong = [n for n in INDEX_KEYS if n in spec and n not in names]
    if wrong:
        check.fail(spec[wrong[0]], f"{key}.{wrong[0]}", f"a {kind} objective takes "
                   f"'{names[0]}', not '{wrong[0]}'")
    if not given:
        check.fail(node, f"{key}.{names[0]}", f"missing; which {names[0]} to render, "
                   "e.g. 3, [1, 5], '0-15' or all")
    if len(given) > 1:
        check.fail(spec[given[1]], f"{key}.{given[1]}", f"give either '{names[0]}' or "
                   f"'{names[1]}', not both")
    located = spec[given[0]]
    written = plain(located)
    indices = parse_indices(written)
    if indices is None:
        check.fail(located, f"{key}.{given[0]}", f"cannot read {written!r}; expected "
                   "a number, a list of numbers, a range like '0-15', or all")
    if single_unit and (indices == "all" or len(indices) != 1):
        check.fail(located, f"{key}.{given[0]}", "a term of a weighted sum targets exactly "
                   "one channel or class")
    return indices, given[0]


def parse_indices(value):
    """3 -> [3]; [1, '4-6'] -> [1, 4, 5, 6]; '0-3' -> [0, 1, 2, 3]; 'all' -> 'all'."""
    if value == "all":
        return "all"
    items = value if isinstance(value, list) else [value]
    result = []
    for item in items:
        if isinstance(item, bool):
            return None
        if isinstance(item, int):
            result.append(item)
            continue
        for part in str(item).split(","):
            match = re.fullmatch(r"\s*(\d+)\s*(?:-\s*(\d+)\s*)?", part)
            if not match:
                return None
            start, end = int(match.group(1)), int(match.group(2) or match.group(1))
            if end < start:
                return None
            result.extend(range(start, end + 1))
    return result or None


def _settings(check: Checker, merged: dict, key: str, node: Located, overrides: dict):
    """(RenderSettings, every setting as resolved: defaults filled in, ``overrides`` from
    the command line applied, structured values as the manifest shows them, and the names
    of the settings found wrong). Each setting is checked on its own; a wrong one is
    recorded and replaced by its default, so that the others are still checked."""
    resolved = {name: plain(merged[name]) if name in merged else DEFAULTS[name]
                for name in SETTING_KEYS}
    wrong = set()
    for name, setting in SETTINGS.items():
        if name in merged and setting.kind != "structured":
            start = len(check.errors)
            resolved[name] = check.attempt(_setting, check, merged[name], f"{key}.{name}",
                                           setting, otherwise=DEFAULTS[name])
            if check.found_since(start):
                wrong.add(name)
    for name, value in overrides.items():
        if value is not None:
            resolved[name] = value

    def structured(name, read, *args):
        """Setting ``name`` read by ``read``; when wrong, its default read instead."""
        start = len(check.errors)
        value = check.attempt(read, check, merged.get(name, node), f"{key}.{name}",
                              resolved[name], *args)
        if not check.found_since(start):
            return value
        wrong.add(name)
        resolved[name] = DEFAULTS[name]
        return read(check, node, f"{key}.{name}", DEFAULTS[name], *args)

    param = structured("param", _param, resolved["size"])
    if param.maco and "transforms" not in merged and "transforms" not in overrides:
        resolved["transforms"] = "maco"  # MACO is made for crops of its canvas
    if param.maco and "alpha" not in merged and overrides.get("alpha") is None:
        resolved["alpha"] = True
    transforms = structured("transforms", _transforms)
    regs = structured("regularizers", _regularizers)
    resolved.update(param=param.describe(), transforms=transforms.describe(),
                    regularizers=dict(regs))
    settings = RenderSettings(size=resolved["size"], steps=resolved["steps"],
                              learning_rate=resolved["learning_rate"], param=param,
                              transforms=transforms, regularizers=tuple(regs.items()),
                              revive=resolved["revive"], precision=resolved["precision"],
                              xla=resolved["xla"], alpha=resolved["alpha"])
    return settings, resolved, wrong


def _setting(check: Checker, located: Located, key: str, setting: Setting):
    """A plain setting's value, checked against its kind and range in the table."""
    if setting.kind == "whole_or_auto" and located.value == "auto":
        return "auto"
    if setting.kind == "whole_or_auto" and isinstance(located.value, str):
        check.fail(located, key, f"expected a whole number {setting.range_text()}, "
                   f"got {located.value!r}")
    if setting.kind in ("whole", "whole_or_auto"):
        return check.integer(located, key, setting.low, setting.high)
    if setting.kind == "number":
        return check.number(located, key, setting.low, setting.high)
    if setting.kind == "choice":
        return check.choice(located, key, setting.choices)
    return check.boolean(located, key)


def _param(check, located, key, value, size) -> ParamSpec:
    if value in ("fft", "pixel"):
        return ParamSpec(size, fft=value == "fft")
    if value == "maco" or (isinstance(value, dict) and "maco" in value):
        return _maco(check, located, key, value, size)
    if not isinstance(value, dict):
        check.fail(located, key, f"expected fft, pixel, maco, or a mapping like "
                   f"{{fft: true, decorrelate: true, decay_power: 1.0}}, got {value!r}")
    for name in value:
        if name not in ("fft", "decorrelate", "decay_power"):
            check.fail(located, f"{key}.{name}", "unknown key; known keys: fft, decorrelate, "
                       "decay_power")
    if not all(isinstance(value[name], bool) for name in ("fft", "decorrelate") if name in value):
        check.fail(located, key, "fft and decorrelate are true or false")
    given = dict(value)  # what is not given keeps ParamSpec's default
    if "decay_power" in given:
        decay = given["decay_power"]
        if not _finite_number(decay) or not 0 <= decay <= 10:
            check.fail(located, f"{key}.decay_power", f"expected a number from 0 to 10, got "
                       f"{decay!r}")
        given["decay_power"] = float(decay)
    return ParamSpec(size, **given)


def _maco(check, located, key, value, size) -> ParamSpec:
    """``maco``, or ``{maco: {spectrum: FILE}}`` with FILE from `fvcli spectrum`."""
    options = value["maco"] if isinstance(value, dict) else None
    if isinstance(value, dict) and len(value) > 1:
        check.fail(located, key, "maco takes no other keys beside it; give "
                   "{maco: {spectrum: FILE}}")
    if options is None:
        return ParamSpec(size, maco=True)
    if not (isinstance(options, dict) and set(options) <= {"spectrum"}):
        check.fail(located, f"{key}.maco", f"expected {{spectrum: FILE}} (a magnitude from "
                   f"`fvcli spectrum`), got {options!r}")
    if "spectrum" not in options:
        return ParamSpec(size, maco=True)
    return ParamSpec(size, maco=True,
                     spectrum=kinds.spectrum_file(check, located, f"{key}.maco.spectrum",
                                                  options["spectrum"]))


def _transforms(check, located, key, value) -> TransformSpec:
    if value == "standard":
        return TransformSpec.standard()
    if value == "maco":
        return TransformSpec.maco()
    if value in ("none", None, []):
        return TransformSpec()
    if not isinstance(value, list):
        check.fail(located, key, f"expected standard, maco, none, or a list like [{{pad: 12}}, "
                   f"{{jitter: 8}}, {{scale: [0.9, 1.1]}}, {{rotate: 10}}], got {value!r}")
    if any(isinstance(item, dict) and set(item) & set(CROP_KEYS) for item in value):
        return _crops(check, located, key, value)
    pad, jitters, scales, rotate = 0, [], [1.0], 0
    for item in value:
        if not (isinstance(item, dict) and len(item) == 1):
            check.fail(located, key, f"each transform is one of {{pad: N}}, {{jitter: N}}, "
                       f"{{scale: [low, high]}}, {{rotate: DEGREES}}; got {item!r}")
        (name, amount), = item.items()
        if name in ("pad", "jitter", "rotate"):
            if isinstance(amount, bool) or not isinstance(amount, int) or not 0 <= amount <= 180:
                check.fail(located, f"{key}.{name}", f"expected a whole number of "
                           f"{'degrees' if name == 'rotate' else 'pixels'}, got {amount!r}")
            if name == "pad":
                pad += amount
            elif name == "jitter":
                jitters.append(amount)
            else:
                rotate = amount
        elif name == "scale":
            if not (isinstance(amount, list) and len(amount) == 2 and
                    all(_finite_number(a) and 0 < a <= 10 for a in amount)
                    and amount[0] <= amount[1]):
                check.fail(located, f"{key}.scale", f"expected [low, high] with "
                           f"0 < low <= high <= 10, got {amount!r}")
            count = max(1, int(round((amount[1] - amount[0]) / 0.02)) + 1)
            scales = [round(amount[0] + (amount[1] - amount[0]) * i / max(1, count - 1), 4)
                      for i in range(count)]
        else:
            check.fail(located, key, f"unknown transform {name!r}; expected pad, jitter, "
                       "scale or rotate")
    return TransformSpec(pad=pad, jitters=tuple(jitters), scales=tuple(scales),
                      rotate_degrees=rotate)


def _crops(check, located, key, value) -> TransformSpec:
    """A list of {crops: N}, {crop_box: [from, to]}, {noise: STD}, {view: PX}: MACO's views,
    with what is not given as in ``transforms: maco``."""
    given = {}
    for item in value:
        if not (isinstance(item, dict) and len(item) == 1 and set(item) <= set(CROP_KEYS)):
            check.fail(located, key, f"crops do not mix with pad, jitter, scale or rotate; "
                       f"each item is one of {{crops: N}}, {{crop_box: [from, to]}}, "
                       f"{{noise: STD}}, {{view: PX}}; got {item!r}")
        given.update(item)
    preset = TransformSpec.maco()
    crops = given.get("crops", preset.crops)
    if isinstance(crops, bool) or not isinstance(crops, int) or not 1 <= crops <= 64:
        check.fail(located, f"{key}.crops", f"expected a whole number from 1 to 64, got "
                   f"{crops!r}")
    box = given.get("crop_box", list(preset.crop_box))
    if not (isinstance(box, list) and len(box) == 2
            and all(_finite_number(b) and 0.01 <= b <= 1 for b in box)):
        check.fail(located, f"{key}.crop_box", "expected [from, to]: the crops' side as a "
                   f"share of the canvas's at the first and last step, each from 0.01 to 1, "
                   f"got {box!r}")
    noise = given.get("noise", preset.noise)
    if not _finite_number(noise) or not 0 <= noise <= 1:
        check.fail(located, f"{key}.noise", f"expected a standard deviation from 0 to 1, got "
                   f"{noise!r}")
    view = given.get("view")
    if view is not None and (isinstance(view, bool) or not isinstance(view, int)
                             or not 16 <= view <= 2048):
        check.fail(located, f"{key}.view", f"expected a whole number of pixels from 16 to "
                   f"2048, got {view!r}")
    return TransformSpec(crops=crops, crop_box=(float(box[0]), float(box[1])),
                         noise=float(noise), view=view)


def _regularizers(check, located, key, value) -> dict:
    if not isinstance(value, dict):
        check.fail(located, key, f"expected a mapping like {{l1: 0.0, tv: 0.0, blur: 0.0}}, "
                   f"got {value!r}")
    weights = {}
    for name, weight in value.items():
        if name not in REGULARIZERS:
            check.fail(located, f"{key}.{name}", "unknown regulariser; known: "
                       f"{', '.join(REGULARIZERS)}")
        if not _finite_number(weight) or not 0 <= weight <= 1e6:
            check.fail(located, f"{key}.{name}", f"expected a weight from 0 to 1e6, got "
                       f"{weight!r}")
        weights[name] = float(weight)
    return weights


def _finite_number(value) -> bool:
    return (isinstance(value, (int, float)) and not isinstance(value, bool)
            and math.isfinite(value))
