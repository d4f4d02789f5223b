"""Render settings as checked data: the image's parameterisation, its transforms and the
rest of what is the same for every image of a job. The engine adds the arithmetic."""

from __future__ import annotations

from dataclasses import dataclass, field

from .schema import DEFAULTS

# MACO's views. Xplique draws 32 crops a step from half the canvas down to a twentieth,
# noise 0.08; Horama 6 crops of a quarter, noise 0.05. On the demo model (a 128 px canvas
# seen at 64 px, 128 steps), 8 crops from the whole canvas to half of it made 7 of 8
# channels' images win on their own channel, and 0.5 -> 0.05 only 3 of 8; 16 crops won
# 8 of 8 at twice the time.
MACO_CROPS = 8
MACO_CROP_BOX = (1.0, 0.5)
MACO_NOISE = 0.05
DEFAULT_VIEW = 224  # crops are fed at this size to a model without a fixed input size


@dataclass(frozen=True)
class ParamSpec:
    """How a batch of ``size`` x ``size`` RGB images is parameterised."""

    size: int
    fft: bool = True
    decorrelate: bool = True
    decay_power: float = 1.0
    channels: int = 3  # 1 for a grayscale model (set when the job is planned)
    # MACO: the spectrum's magnitude is fixed (natural images'), only its phase is optimised
    maco: bool = False
    spectrum: str | None = None  # a magnitude file of `fvcli spectrum`; None: fvcli's own

    def describe(self) -> dict:
        if self.maco:
            described = {"maco": {"spectrum": self.spectrum or "natural"}}
        else:
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
    # MACO's views instead: random square crops of the canvas, each resized to ``view``
    # px, their sides a share of the canvas's going from crop_box[0] to crop_box[1] over
    # the steps, with Gaussian noise of std ``noise`` added
    crops: int = 0
    crop_box: tuple[float, float] = (1.0, 1.0)
    noise: float = 0.0
    view: int | None = None  # None: the model's input size, else 224, at most the canvas

    @classmethod
    def standard(cls):
        """Lucid's standard transforms: pad 12, jitter 8, scale 0.90-1.10, rotate ±10, jitter 4."""
        scales = tuple(round(0.9 + 0.02 * i, 2) for i in range(11))
        return cls(pad=12, jitters=(8, 4), scales=scales, rotate_degrees=10)

    @classmethod
    def maco(cls):
        """MACO's views: 8 crops a step, from the whole canvas to half of it, noise 0.05."""
        return cls(crops=MACO_CROPS, crop_box=MACO_CROP_BOX, noise=MACO_NOISE)

    @property
    def is_identity(self) -> bool:
        return (self.pad == 0 and not any(self.jitters) and set(self.scales) == {1.0}
                and self.rotate_degrees == 0 and not self.crops)

    @property
    def views(self) -> int:
        """Images the network sees per rendered image and step."""
        return self.crops or 1

    def view_size(self, size: int, native_size: int | None) -> int:
        """Side of the images the network is fed in training: the render size, or for
        crops their ``view`` (by default the model's input size, else 224), at most the
        canvas."""
        if not self.crops:
            return size
        return min(size, self.view or native_size or DEFAULT_VIEW)

    def describe(self) -> list:
        if self.crops:
            parts = [{"crops": self.crops}, {"crop_box": list(self.crop_box)},
                     {"noise": self.noise}]
            return parts + ([{"view": self.view}] if self.view else [])
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
    alpha: bool = DEFAULTS["alpha"]  # also write where the image mattered to the objective
    # (layer, weight): hold each image near its starting image in that layer's activations
    # (feature accentuation); set when an accentuation job is planned
    closeness: tuple[str, float] | None = None
