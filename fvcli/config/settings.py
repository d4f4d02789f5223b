"""Render settings as checked data: the image's parameterisation, its transforms and the
rest of what is the same for every image of a job. The engine adds the arithmetic."""

from __future__ import annotations

from dataclasses import dataclass, field

from .schema import DEFAULTS


@dataclass(frozen=True)
class ParamSpec:
    """How a batch of ``size`` x ``size`` RGB images is parameterised."""

    size: int
    fft: bool = True
    decorrelate: bool = True
    decay_power: float = 1.0
    channels: int = 3  # 1 for a grayscale model (set when the job is planned)

    def describe(self) -> dict:
        described = {"fft": self.fft, "decorrelate": self.decorrelate,
                     "decay_power": self.decay_power}
        return described if self.channels == 3 else {**described, "channels": self.channels}


@dataclass(frozen=True)
class TransformSpec:
    """What each step does to the images before the network sees them. The transforms
    compose into one map per image onto a window of the render size: the network is fed
    images of the size it renders, whatever the padding and jitter."""

    pad: int = 0
    jitters: tuple[int, ...] = ()
    scales: tuple[float, ...] = (1.0,)
    rotate_degrees: int = 0

    @classmethod
    def standard(cls):
        """Lucid's standard transforms: pad 12, jitter 8, scale 0.90-1.10, rotate ±10, jitter 4."""
        scales = tuple(round(0.9 + 0.02 * i, 2) for i in range(11))
        return cls(pad=12, jitters=(8, 4), scales=scales, rotate_degrees=10)

    @property
    def is_identity(self) -> bool:
        return (self.pad == 0 and not any(self.jitters) and set(self.scales) == {1.0}
                and self.rotate_degrees == 0)

    def describe(self) -> list:
        parts = [{"pad": self.pad}] if self.pad else []
        parts += [{"jitter": j} for j in self.jitters]
        if set(self.scales) != {1.0}:
            parts.append({"scale": list(self.scales)})
        if self.rotate_degrees:
            parts.append({"rotate": self.rotate_degrees})
        return parts


@dataclass(frozen=True)
class RenderSettings:
    """Everything about a render that is the same for every image of a job; the defaults
    are the settings table's (:data:`fvcli.config.schema.SETTINGS`)."""

    size: int = DEFAULTS["size"]
    steps: int = DEFAULTS["steps"]
    learning_rate: float = DEFAULTS["learning_rate"]
    param: ParamSpec = field(default_factory=lambda: ParamSpec(DEFAULTS["size"]))
    transforms: TransformSpec = field(default_factory=TransformSpec.standard)
    regularizers: tuple[tuple[str, float], ...] = tuple(DEFAULTS["regularizers"].items())
    revive: bool = DEFAULTS["revive"]
    precision: str = DEFAULTS["precision"]  # auto, bf16, fp16 or fp32 (see engine/hardware)
    xla: bool = DEFAULTS["xla"]
