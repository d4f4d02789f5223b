"""The errors a model raises when it cannot be loaded or lacks what was asked of it."""

from __future__ import annotations


class ModelError(Exception):
    """The user named a model, or something of a model, that is not there or cannot be
    used; ``str()`` is the one line to show."""


class ModelUnavailable(ModelError):
    """A model that may well be right cannot be had here (no network to download it from,
    and it is not cached); ``str()`` is the one line to show."""
