"""The one error a job file can raise."""

from __future__ import annotations


class SpecError(Exception):
    """A job file is wrong; ``str()`` is the one line to show the user."""

    def __init__(self, file: str, line: int | None, key: str, problem: str):
        self.file, self.line = file, line or 0
        where = f"{file}:{line}" if line else file
        message = f"{where}: {key}: {problem}" if key else f"{where}: {problem}"
        # one line, whatever a hostile file put in its keys
        super().__init__(message.replace("\r", "\\r").replace("\n", "\\n"))
