"""What a network expects its input to look like, between fvcli's RGB image in [0, 1] and
the network: scaled, channels reversed (BGR), mean subtracted, divided by std.

The names are keras.applications' preprocessing modes: ``tf`` ([-1, 1]), ``torch``
(ImageNet mean and std of [0, 1] values), ``caffe`` (BGR, 0-255, ImageNet mean subtracted),
and ``none`` ([0, 1] as it is). Nothing here imports TensorFlow; the network applies it
inside the traced step.
"""

from __future__ import annotations

from dataclasses import dataclass

IMAGENET_MEAN_RGB = (0.485, 0.456, 0.406)
IMAGENET_STD_RGB = (0.229, 0.224, 0.225)
CAFFE_MEAN_BGR = (103.939, 116.779, 123.68)


@dataclass(frozen=True)
class Preprocess:
    """network input = ((image x scale), channels reversed if bgr, - mean) / std."""

    scale: float = 1.0
    mean: tuple[float, ...] = (0.0,)
    std: tuple[float, ...] = (1.0,)
    bgr: bool = False

    def describe(self) -> dict:
        return {"scale": self.scale, "mean": list(self.mean), "std": list(self.std),
                "bgr": self.bgr}


NAMED = {
    "none": Preprocess(),
    "tf": Preprocess(scale=2.0, mean=(1.0,)),
    "torch": Preprocess(mean=IMAGENET_MEAN_RGB, std=IMAGENET_STD_RGB),
    "caffe": Preprocess(scale=255.0, mean=CAFFE_MEAN_BGR, bgr=True),
}


def from_input_range(low: float, high: float) -> Preprocess:
    """The older ``input_range: [low, high]``: [0, 1] mapped linearly onto it."""
    return Preprocess(scale=high - low, mean=(-low,))


def from_spec(value) -> Preprocess:
    """A name (none, tf, torch, caffe) or a mapping {mean, std, scale, bgr}, already
    checked by the job-file reader."""
    if isinstance(value, Preprocess):
        return value
    if isinstance(value, str):
        return NAMED[value]
    return Preprocess(scale=float(value.get("scale", 1.0)),
                      mean=tuple(float(m) for m in _listed(value.get("mean", 0.0))),
                      std=tuple(float(s) for s in _listed(value.get("std", 1.0))),
                      bgr=bool(value.get("bgr", False)))


def _listed(value):
    return value if isinstance(value, (list, tuple)) else [value]
