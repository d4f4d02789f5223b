"""Objective terms as data: what a job asks to maximise, before any tensor exists."""

from __future__ import annotations

from dataclasses import dataclass, field

from .schema import LOGITS


@dataclass(frozen=True)
class Term:
    """One part of an objective; the targeted channel or class comes per image."""

    kind: str
    layer: str = LOGITS
    weight: float = 1.0
    negative: bool = False
    position: tuple[int, int] | None = None  # neuron only: (y, x); centre when None
    cossim_pow: float = 0.0                  # direction only: times cos(z, d) ** cossim_pow

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
        if self.kind == "direction":
            target = f"{self.layer} #{index}"
        elif index is None or not self.takes_index:
            target = self.layer
        else:
            target = f"{self.layer}:{index}"
        where = f" at y={self.position[0]}, x={self.position[1]}" if self.position else ""
        note = " (pre-ReLU)" if self.negative and self.layer != LOGITS else ""
        return f"{weight}{sign}{self.kind} {target}{where}{note}"


@dataclass(frozen=True)
class GroupTerm:
    """A term that couples the images of one unit (and never those of another unit):
    diversity (the Gram-matrix cosine between a unit's images) or alignment (the distance
    between neighbouring frames of an interpolation). Subtracted, times its weight."""

    kind: str            # "diversity" or "alignment"
    layer: str
    weight: float
    count: int = 0       # diversity: the unit's images it spreads apart
    decay: float = 2.0   # alignment: frames d apart count 1 / decay ** d
    line: int = field(default=0, compare=False)  # where the job file names the layer
    key: str = field(default="", compare=False)

    def describe(self) -> str:
        if self.kind == "diversity":
            return (f"- {self.weight:g} * diversity {self.layer} "
                    f"(Gram cosine between {self.count} images)")
        return (f"- {self.weight:g} * alignment {self.layer} "
                f"(neighbouring frames, decay {self.decay:g})")


def describe_terms(terms: tuple[Term, ...], indices) -> str:
    """The objective of one unit as a person reads it: its terms joined by ' + '."""
    return " + ".join(term.describe(index) for term, index in zip(terms, indices))
