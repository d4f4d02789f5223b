"""The error a model raises when it cannot be loaded or lacks what was asked of it."""

from __future__ import annotations


class ModelError(Exception):
    """A model cannot be loaded or does not have what was asked of it (one-line message).

    ``exit_code`` is 2 when the user named something wrong, 1 when the environment failed
    (e.g. no network to download from)."""

    def __init__(self, message: str, exit_code: int = 2):
        super().__init__(message)
        self.exit_code = exit_code
