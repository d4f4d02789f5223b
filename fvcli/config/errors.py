"""The one error a job file can raise."""

from __future__ import annotations


class SpecError(Exception):
    """A job file is wrong; ``str()`` is the one line to show the user."""

    def __init__(self, file: str, line: int | None, key: str, problem: str):
        self.file, self.line = file, line or 0
        where = f"{file}:{line}" if line else file
        message = f"{where}: {key}: {problem}" if key else f"{where}: {problem}"
        super().__init__(one_line(message))


class CheckSkipped(SpecError):
    """Not a problem itself: a check left out because a value it depends on is wrong.
    ``str()`` is the one line that says which, shown as a note beside the errors."""


def one_line(text: str) -> str:
    """``text`` with every character a terminal or log might break a line at, or not show
    (newlines, form feeds, Unicode line separators, other control characters), written as
    its Python escape: one line, whatever a hostile file put in its keys."""
    return "".join(char if char.isprintable() else repr(char)[1:-1] for char in text)
