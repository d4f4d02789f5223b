"""Objective terms as data: what a job asks to maximise, before any tensor exists."""

from __future__ import annotations

from dataclasses import dataclass

from .schema import LOGITS


@dataclass(frozen=True)
class Term:
    """One part of an objective; the targeted channel or class comes per image."""

    kind: str
    layer: str = LOGITS
    weight: float = 1.0
    negative: bool = False
    position: tuple[int, int] | None = None  # neuron only: (y, x); centre when None

    @property
    def takes_index(self) -> bool:
        return self.kind not in ("deepdream", "direction")

    @property
    def takes_vector(self) -> bool:
        return self.kind == "direction"

    def tensor_key(self, use_pre_activation: bool) -> str:
        return self.layer + "/pre" if use_pre_activation else self.layer

    def describe(self, index: int | None) -> str:
        """One line a person reads, e.g. "-channel Mixed_4b:11 (pre-ReLU)"."""
        sign = "-" if self.negative else ""
        weight = f"{self.weight:g} * " if self.weight != 1.0 else ""
        target = self.layer if index is None or not self.takes_index else f"{self.layer}:{index}"
        where = f" at y={self.position[0]}, x={self.position[1]}" if self.position else ""
        note = " (pre-ReLU)" if self.negative and self.layer != LOGITS else ""
        return f"{weight}{sign}{self.kind} {target}{where}{note}"


def describe_terms(terms: tuple[Term, ...], indices) -> str:
    """The objective of one unit as a person reads it: its terms joined by ' + '."""
    return " + ".join(term.describe(index) for term, index in zip(terms, indices))
