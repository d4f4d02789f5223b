"""Job files: YAML -> checked job specs. Every error names the file, line and key.

This checks a file on its own (syntax, known keys, types, ranges of plain numbers) and
needs no model and no TensorFlow. What needs the model (layer names, channel and class
ranges, ``channels: all``) is checked when the specs are planned against it
(:mod:`fvcli.plan`). Both happen before anything is rendered, so a bad file never leaves
half-written output.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, field

from .errors import SpecError
from .schema import (CLASS_KINDS, DEFAULTS, KINDS, LAYER_KINDS, LOGITS, PRECISIONS,
                     SETTING_KEYS, UNIT_KINDS)
from .settings import ParamSpec, RenderSettings, TransformSpec
from .terms import Term
from .yaml_lines import Located, plain, read_yaml

INDEX_KEYS = ("channels", "channel", "classes", "class")
TERM_KEYS = ("objective", "layer", "channels", "channel", "classes", "class", "position",
             "negative", "sign", "weight")
JOB_KEYS = ("name",) + TERM_KEYS + SETTING_KEYS
TOP_KEYS = ("model", "defaults", "jobs")
NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


@dataclass
class WrittenTerm:
    """A term as written: the layer and the channels/classes are still names and numbers."""

    term: Term
    indices: list | str | None     # channel or class numbers, "all", or None (deepdream)
    where: tuple[int, str]         # line and key path of the term, for errors
    lines: dict = field(default_factory=dict)  # line of each key of the term
    index_key: str | None = None   # as written: channels, channel, classes or class


@dataclass
class JobSpec:
    """One job of a file as written and checked: its terms (layers still by the names the
    file gives), its settings, and where it stands in the file."""

    name: str
    file: str
    line: int
    written: list[WrittenTerm]
    settings: RenderSettings = field(default_factory=RenderSettings)
    batch_size: int | str = DEFAULTS["batch_size"]  # or "auto": chosen from the device's memory when rendering
    seed: int = 0
    raw: dict = field(default_factory=dict)      # settings as resolved, for the manifest

    @property
    def terms(self) -> tuple[Term, ...]:
        return tuple(written.term for written in self.written)


@dataclass
class JobFile:
    path: str
    model: object
    jobs: list[JobSpec]


# ----------------------------------------------------------------------------- checking


class _Checker:
    """Helpers that raise SpecError with the file, line and key filled in."""

    def __init__(self, path: str):
        self.path = path

    def fail(self, located: Located, key: str, problem: str):
        raise SpecError(self.path, located.line if located else None, key, problem)

    def mapping(self, located: Located, key: str, allowed) -> dict:
        if not isinstance(located.value, dict):
            self.fail(located, key, f"expected a mapping of keys, got {_kind(located.value)}")
        for name in located.value:
            if name not in allowed:
                close = difflib.get_close_matches(str(name), allowed, n=1)
                hint = f"; did you mean '{close[0]}'?" if close else \
                    f"; known keys: {', '.join(allowed)}"
                self.fail(located.value[name], f"{key}.{name}" if key else str(name),
                          f"unknown key{hint}")
        return located.value

    def integer(self, located: Located, key: str, low: int, high: int | None = None) -> int:
        value = located.value
        if isinstance(value, bool) or not isinstance(value, int):
            self.fail(located, key, f"expected a whole number, got {value!r}")
        if value < low or (high is not None and value > high):
            bound = f"from {low} to {high}" if high is not None else f"of at least {low}"
            self.fail(located, key, f"{value} is out of range; expected a whole number {bound}")
        return value

    def number(self, located: Located, key: str, low: float = 0.0) -> float:
        value = located.value
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            self.fail(located, key, f"expected a number, got {value!r}")
        if value < low:
            self.fail(located, key, f"{value} is too small; expected a number >= {low}")
        return float(value)

    def choice(self, located: Located, key: str, choices: tuple[str, ...]) -> str:
        if located.value not in choices:
            self.fail(located, key, f"expected one of {', '.join(choices)}, "
                      f"got {located.value!r}")
        return located.value

    def boolean(self, located: Located, key: str) -> bool:
        if not isinstance(located.value, bool):
            self.fail(located, key, f"expected true or false, got {located.value!r}")
        return located.value


def _kind(value) -> str:
    return {dict: "a mapping", list: "a list", str: f"'{value}'"}.get(type(value), repr(value))


def load_job_file(path: str, overrides: dict | None = None) -> JobFile:
    """Read and check a job file on its own; ``overrides`` (from the command line) replace
    settings of every job."""
    try:
        with open(path, encoding="utf8") as handle:
            text = handle.read()
    except OSError as error:
        raise SpecError(path, None, "", f"cannot read the file: {error.strerror}") from None
    check = _Checker(path)
    root = read_yaml(path, text)
    top = check.mapping(root, "", TOP_KEYS)
    if "jobs" not in top:
        check.fail(root, "jobs", "missing; the file needs a 'jobs:' list of jobs to render")
    jobs_node = top["jobs"]
    if not isinstance(jobs_node.value, list) or not jobs_node.value:
        check.fail(jobs_node, "jobs", "expected a non-empty list of jobs")
    defaults_node = top.get("defaults", Located({}, root.line))
    defaults = check.mapping(defaults_node, "defaults", SETTING_KEYS)
    model = plain(top["model"]) if "model" in top else "inception_v1"
    if "model" in top:
        _check_model(check, top["model"])
    jobs, names = [], set()
    for position, job_node in enumerate(jobs_node.value):
        job = _job(check, job_node, f"jobs[{position}]", defaults, overrides or {})
        if job.name in names:
            check.fail(job_node, f"jobs[{position}].name",
                       f"'{job.name}' is used by an earlier job; job names must be unique")
        names.add(job.name)
        jobs.append(job)
    return JobFile(path=path, model=model, jobs=jobs)


def _check_model(check: _Checker, node: Located):
    if isinstance(node.value, str):
        return
    spec = check.mapping(node, "model", ("hub", "path", "input_range"))
    if ("hub" in spec) == ("path" in spec):
        check.fail(node, "model", "give exactly one of 'hub: HANDLE' or 'path: DIR_OR_FILE'")
    if "input_range" in spec:
        bounds = plain(spec["input_range"])
        if not (isinstance(bounds, list) and len(bounds) == 2
                and all(isinstance(b, (int, float)) for b in bounds) and bounds[0] < bounds[1]):
            check.fail(spec["input_range"], "model.input_range",
                       f"expected [low, high] with low < high, e.g. [0, 1], got {bounds!r}")


def _job(check: _Checker, node: Located, key: str, defaults: dict, overrides: dict) -> JobSpec:
    spec = check.mapping(node, key, JOB_KEYS)
    merged = {**defaults, **{k: v for k, v in spec.items() if k in SETTING_KEYS}}
    settings, raw = _settings(check, merged, key, node, overrides)
    if "objective" not in spec:
        check.fail(node, f"{key}.objective", f"missing; one of {', '.join(KINDS)}, "
                   "or a list of weighted terms")
    objective_node = spec["objective"]
    if isinstance(objective_node.value, list):
        written = [_term(check, term_node, f"{key}.objective[{i}]",
                         check.mapping(term_node, f"{key}.objective[{i}]", TERM_KEYS),
                         single_unit=True)
                   for i, term_node in enumerate(objective_node.value)]
        if not written:
            check.fail(objective_node, f"{key}.objective", "the list of terms is empty")
    else:
        written = [_term(check, node, key, spec, single_unit=False)]
    name = _name(check, spec, key, written)
    return JobSpec(name=name, file=check.path, line=node.line, written=written,
                   settings=settings, batch_size=raw["batch_size"], seed=raw["seed"], raw=raw)


def _name(check: _Checker, spec: dict, key: str, written: list[WrittenTerm]) -> str:
    if "name" not in spec:
        first = written[0].term
        return f"{first.kind}-{first.layer}".replace("/", "_")
    name = spec["name"].value
    if not isinstance(name, str) or not NAME_PATTERN.match(name):
        check.fail(spec["name"], f"{key}.name", f"{name!r} cannot name a folder; use letters, "
                   "digits, '.', '_' and '-', starting with a letter or digit")
    return name


def _term(check: _Checker, node: Located, key: str, spec: dict, single_unit: bool) -> WrittenTerm:
    kind_node = spec.get("objective")
    if kind_node is None:
        check.fail(node, f"{key}.objective", f"missing; one of {', '.join(KINDS)}")
    kind = kind_node.value
    if kind not in KINDS:
        close = difflib.get_close_matches(str(kind), KINDS, n=1)
        hint = f"did you mean '{close[0]}'? " if close else ""
        check.fail(kind_node, f"{key}.objective",
                   f"unknown objective {kind!r}; {hint}expected one of {', '.join(KINDS)}")
    negative = False
    if "negative" in spec:
        negative = check.boolean(spec["negative"], f"{key}.negative")
    if "sign" in spec:
        if spec["sign"].value not in ("positive", "negative"):
            check.fail(spec["sign"], f"{key}.sign", "expected 'positive' or 'negative'")
        negative = negative or spec["sign"].value == "negative"
    weight = check.number(spec["weight"], f"{key}.weight", low=-1e9) if "weight" in spec else 1.0
    layer = LOGITS
    if kind in CLASS_KINDS:
        if "layer" in spec and spec["layer"].value != LOGITS:
            check.fail(spec["layer"], f"{key}.layer", f"{kind} objectives use the logits; "
                       "leave 'layer' out")
    else:
        if "layer" not in spec:
            check.fail(node, f"{key}.layer", f"missing; a {kind} objective needs a layer "
                       "(see `fvcli layers`)")
        layer = str(spec["layer"].value)
    position = None
    if "position" in spec:
        if kind != "neuron":
            check.fail(spec["position"], f"{key}.position", "only neuron objectives take "
                       "a position")
        value = plain(spec["position"])
        if not (isinstance(value, list) and len(value) == 2
                and all(isinstance(v, int) and not isinstance(v, bool) and v >= 0
                        for v in value)):
            check.fail(spec["position"], f"{key}.position",
                       f"expected [y, x] with whole numbers >= 0, got {value!r}")
        position = tuple(value)
    term = Term(kind=kind, layer=layer, weight=weight, negative=negative, position=position)
    indices, index_key = _indices(check, node, key, spec, kind, single_unit)
    return WrittenTerm(term=term, indices=indices, where=(node.line, key),
                       lines={name: value.line for name, value in spec.items()},
                       index_key=index_key)


def _indices(check, node, key, spec, kind, single_unit):
    """(channel or class numbers as written: a list of ints or "all", and the key that gave
    them); (None, None) for deepdream."""
    if kind in LAYER_KINDS:
        for extra in INDEX_KEYS:
            if extra in spec:
                check.fail(spec[extra], f"{key}.{extra}", f"a {kind} objective uses the "
                           "whole layer; leave it out")
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


def _settings(check: _Checker, merged: dict, key: str, node: Located, overrides: dict):
    raw = {name: plain(merged[name]) if name in merged else DEFAULTS[name]
           for name in SETTING_KEYS}

    def where(name):
        return merged.get(name, node)

    checks = {
        "size": lambda at, name: check.integer(at, name, 16, 2048),
        "steps": lambda at, name: check.integer(at, name, 1),
        "batch_size": lambda at, name: _batch_size(check, at, name),
        "seed": lambda at, name: check.integer(at, name, 0),
        "learning_rate": lambda at, name: check.number(at, name, 1e-9),
        "revive": check.boolean,
        "precision": lambda at, name: check.choice(at, name, PRECISIONS),
        "xla": check.boolean,
    }
    for name, checked in checks.items():
        raw[name] = checked(where(name), f"{key}.{name}") if name in merged else DEFAULTS[name]
    for name, value in overrides.items():
        if value is not None:
            raw[name] = value
    param = _param(check, where("param"), f"{key}.param", raw["param"], raw["size"])
    transforms = _transforms(check, where("transforms"), f"{key}.transforms", raw["transforms"])
    regs = _regularizers(check, where("regularizers"), f"{key}.regularizers",
                         raw["regularizers"])
    raw.update(param=param.describe(), transforms=transforms.describe(), regularizers=dict(regs))
    settings = RenderSettings(size=raw["size"], steps=raw["steps"],
                              learning_rate=raw["learning_rate"], param=param,
                              transforms=transforms, regularizers=tuple(regs.items()),
                              revive=raw["revive"], precision=raw["precision"],
                              xla=raw["xla"])
    return settings, raw


def _batch_size(check, located, key) -> int | str:
    if located.value == "auto":
        return "auto"
    if isinstance(located.value, str):
        check.fail(located, key, f"expected a whole number from 1 to 1024 or auto, "
                   f"got {located.value!r}")
    return check.integer(located, key, 1, 1024)


def _param(check, located, key, value, size) -> ParamSpec:
    if value in ("fft", "pixel"):
        return ParamSpec(size, fft=value == "fft")
    if not isinstance(value, dict):
        check.fail(located, key, f"expected fft, pixel, or a mapping like "
                   f"{{fft: true, decorrelate: true, decay_power: 1.0}}, got {value!r}")
    for name in value:
        if name not in ("fft", "decorrelate", "decay_power"):
            check.fail(located, f"{key}.{name}", "unknown key; known keys: fft, decorrelate, "
                       "decay_power")
    fft, decorrelate = value.get("fft", True), value.get("decorrelate", True)
    decay = value.get("decay_power", 1.0)
    if not isinstance(fft, bool) or not isinstance(decorrelate, bool):
        check.fail(located, key, "fft and decorrelate are true or false")
    if isinstance(decay, bool) or not isinstance(decay, (int, float)) or decay < 0:
        check.fail(located, f"{key}.decay_power", f"expected a number >= 0, got {decay!r}")
    return ParamSpec(size, fft=fft, decorrelate=decorrelate, decay_power=float(decay))


def _transforms(check, located, key, value) -> TransformSpec:
    if value == "standard":
        return TransformSpec.standard()
    if value in ("none", None, []):
        return TransformSpec()
    if not isinstance(value, list):
        check.fail(located, key, f"expected standard, none, or a list like [{{pad: 12}}, "
                   f"{{jitter: 8}}, {{scale: [0.9, 1.1]}}, {{rotate: 10}}], got {value!r}")
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
                    all(isinstance(a, (int, float)) and a > 0 for a in amount)
                    and amount[0] <= amount[1]):
                check.fail(located, f"{key}.scale", f"expected [low, high] with "
                           f"0 < low <= high, got {amount!r}")
            count = max(1, int(round((amount[1] - amount[0]) / 0.02)) + 1)
            scales = [round(amount[0] + (amount[1] - amount[0]) * i / max(1, count - 1), 4)
                      for i in range(count)]
        else:
            check.fail(located, key, f"unknown transform {name!r}; expected pad, jitter, "
                       "scale or rotate")
    return TransformSpec(pad=pad, jitters=tuple(jitters), scales=tuple(scales),
                      rotate_degrees=rotate)


def _regularizers(check, located, key, value) -> dict:
    if not isinstance(value, dict):
        check.fail(located, key, f"expected a mapping like {{l1: 0.0, tv: 0.0, blur: 0.0}}, "
                   f"got {value!r}")
    weights = {}
    for name, weight in value.items():
        if name not in ("l1", "tv", "blur"):
            check.fail(located, f"{key}.{name}", "unknown regulariser; known: l1, tv, blur")
        if isinstance(weight, bool) or not isinstance(weight, (int, float)) or weight < 0:
            check.fail(located, f"{key}.{name}", f"expected a weight >= 0, got {weight!r}")
        weights[name] = float(weight)
    return weights
