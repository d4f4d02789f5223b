"""Where a run's time goes, phase by phase, on stderr: set FVCLI_TIMINGS=1.

``with phase("model load"): ...`` charges the time spent inside to that phase, less the
time of phases nested in it (each second is charged once), so the phases and the rest add
up to the run's wall time. At exit one line per phase is printed::

    fvcli: timing: model load 1.234 s

When FVCLI_TIMINGS is not 1 (the default), :func:`phase` hands back one shared do-nothing
context manager: off, a phase costs one function call, nothing else.
``make bench`` reads these lines from ``fvcli render`` run in a fresh process.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import sys
import time

ENABLED = os.environ.get("FVCLI_TIMINGS") == "1"
PREFIX = "fvcli: timing: "

_NOTHING = contextlib.nullcontext()
_totals: dict[str, float] = {}
_open: list[list] = []  # [name, start, seconds of nested phases] of the phases running
_started = time.perf_counter()


def phase(name: str):
    """A context manager that charges the time spent in it to phase ``name`` (when
    FVCLI_TIMINGS=1; otherwise it does nothing)."""
    return _Phase(name) if ENABLED else _NOTHING


class _Phase:
    def __init__(self, name: str):
        self.name = name

    def __enter__(self):
        _open.append([self.name, time.perf_counter(), 0.0])

    def __exit__(self, *_):
        name, start, nested = _open.pop()
        seconds = time.perf_counter() - start
        _totals[name] = _totals.get(name, 0.0) + seconds - nested
        if _open:
            _open[-1][2] += seconds


def report() -> list[str]:
    """The lines printed at exit: each phase's seconds, in the order phases first ended,
    then the time since fvcli was imported."""
    lines = [f"{PREFIX}{name} {seconds:.3f} s" for name, seconds in _totals.items()]
    return lines + [f"{PREFIX}since import {time.perf_counter() - _started:.3f} s"]


def parse(text: str) -> dict[str, float]:
    """Phase seconds from the lines of :func:`report` found in ``text`` (a run's stderr)."""
    phases = {}
    for line in text.splitlines():
        if line.startswith(PREFIX) and line.endswith(" s"):
            name, _, seconds = line[len(PREFIX):-2].rpartition(" ")
            phases[name] = float(seconds)
    return phases


def _print_report() -> None:
    for line in report():
        print(line, file=sys.stderr)


if ENABLED:
    atexit.register(_print_report)
