"""Checks of YAML values that fail with the file, line and key filled in.

A job file is checked key by key: each key's check runs through :meth:`Checker.attempt`,
which records its error and lets the next key be checked, so that one pass finds every
problem of a file. What depends on a value found wrong is left out, and a note says so.
"""

from __future__ import annotations

import difflib
import math

from .errors import CheckSkipped, SpecError
from .yaml_lines import Located


class Wrong(Exception):
    """What was being read holds a wrong value, whose error is recorded already: what
    depends on it cannot be checked."""


class Checker:
    """Helpers that raise SpecError with the file, line and key filled in, and the list
    of problems found so far in the file (``errors``: SpecErrors, and CheckSkipped notes)."""

    def __init__(self, path: str):
        self.path = path
        self.errors: list[SpecError] = []
        # the command that lists the layers of the file's model, for hints
        self.layers_command = "fvcli layers"

    def fail(self, located: Located, key: str, problem: str):
        """Raise the SpecError of ``key`` at ``located``'s line: ``problem``."""
        raise SpecError(self.path, located.line if located else None, key, problem)

    def attempt(self, check, *args, otherwise=None, **kwargs):
        """``check(*args, **kwargs)``; or, when it finds a problem (SpecError, recorded
        here, or Wrong, recorded inside), ``otherwise``, so that checking goes on with the
        next key."""
        try:
            return check(*args, **kwargs)
        except SpecError as error:
            self.errors.append(error)
            return otherwise
        except Wrong:
            return otherwise

    def found_since(self, count: int) -> bool:
        """Whether a problem was recorded since there were ``count``."""
        return len(self.errors) > count

    def settle(self, count: int) -> None:
        """Raise Wrong if a problem was recorded since there were ``count``: what was read
        since cannot be used."""
        if self.found_since(count):
            raise Wrong()

    def skipped(self, located: Located, key: str, what: str) -> None:
        """Record that ``what`` of ``key`` is not checked, because it depends on a value
        found wrong."""
        self.errors.append(CheckSkipped(self.path, located.line if located else None, key,
                                        what))

    def mapping(self, located: Located, key: str, allowed) -> dict:
        """The mapping at ``located``, whose keys must be among ``allowed``: each unknown
        one is recorded (with a "did you mean") and left out, and the known ones are
        returned to be checked."""
        if not isinstance(located.value, dict):
            self.fail(located, key,
                      f"expected a mapping of keys, got {kind_of(located.value)}")
        for name in located.value:
            if name not in allowed:
                close = difflib.get_close_matches(str(name), allowed, n=1)
                hint = f"; did you mean '{close[0]}'?" if close else \
                    f"; known keys: {', '.join(allowed)}"
                self.attempt(self.fail, located.value[name],
                             f"{key}.{name}" if key else str(name), f"unknown key{hint}")
        return {name: value for name, value in located.value.items() if name in allowed}

    def integer(self, located: Located, key: str, low: int, high: int | None = None) -> int:
        """A whole number from ``low`` to ``high`` (no upper bound when None)."""
        value = located.value
        if isinstance(value, bool) or not isinstance(value, int):
            self.fail(located, key, f"expected a whole number, got {value!r}")
        if value < low or (high is not None and value > high):
            bound = f"from {low} to {high}" if high is not None else f"of at least {low}"
            self.fail(located, key, f"{value} is out of range; expected a whole number {bound}")
        return value

    def number(self, located: Located, key: str, low: float = 0.0,
               high: float = 1e9) -> float:
        """A finite number from ``low`` to ``high``."""
        value = located.value
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            self.fail(located, key, f"expected a number, got {value!r}")
        if not math.isfinite(value):
            self.fail(located, key, f"expected a finite number, got {value}")
        if value < low or value > high:
            self.fail(located, key, f"{value} is out of range; expected a number from {low:g} "
                      f"to {high:g}")
        return float(value)

    def choice(self, located: Located, key: str, choices: tuple[str, ...]) -> str:
        """One of ``choices``."""
        if located.value not in choices:
            self.fail(located, key, f"expected one of {', '.join(choices)}, "
                      f"got {located.value!r}")
        return located.value

    def boolean(self, located: Located, key: str) -> bool:
        """true or false."""
        if not isinstance(located.value, bool):
            self.fail(located, key, f"expected true or false, got {located.value!r}")
        return located.value


def kind_of(value) -> str:
    """How an error names a value of the wrong kind: 'a mapping', 'a list', or the value."""
    return {dict: "a mapping", list: "a list", str: f"'{value}'"}.get(type(value), repr(value))
