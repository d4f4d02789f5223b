"""Image parameterisations: the numbers Adam changes, and how they become an image.

Following Lucid: an image is held either as raw pixels or as a scaled Fourier
spectrum (which whitens the gradient), its colours optionally decorrelated with the
square root of ImageNet's colour covariance, and mapped into [0, 1] by a sigmoid.

MACO (Fel et al., "Unlocking Feature Visualization for Deeper Networks with MAgnitude
Constrained Optimization", 2023) holds only the spectrum's phase: its magnitude is fixed to
natural images' (:mod:`fvcli.engine.spectrum`), which keeps the image's energy where a
photograph has it, so deep networks cannot be answered with high-frequency noise.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from ..config.settings import ParamSpec
from ..images import rgb_floats
from .colours import COLOR_CORRELATION_NORMALIZED, decorrelated
from .spectrum import magnitude_at

INIT_STDDEV = 0.01
FFT_MAGIC_DIVISOR = 4.0
# MACO's phase is standardised before use, so only its steps relative to its spread
# matter: starting at this spread, Adam's default learning rate of 0.05 moves it as far
# per step as Xplique's NAdam with learning rate 1 moves its N(0, 1) phase.
MACO_PHASE_STDDEV = 0.05


class Parameterization(ParamSpec):
    """A :class:`ParamSpec` with its arithmetic: initial parameters and the map from
    parameters to images."""

    @classmethod
    def of(cls, spec: ParamSpec) -> "Parameterization":
        """The parameterisation a checked spec describes."""
        return spec if isinstance(spec, cls) else cls(**vars(spec))

    def shape(self) -> tuple[int, ...]:
        """Shape of one image's parameters."""
        if self.maco:
            return (self.channels, self.size, self.size // 2 + 1)  # the phase
        if self.fft:
            # real and imaginary parts first: unstacking them has a cheap gradient, where
            # slicing a last axis of two costs a strided-slice gradient every step
            return (2, self.channels, self.size, self.size // 2 + 1)
        return (self.size, self.size, self.channels)

    def initial(self, seeds) -> np.ndarray:
        """Starting parameters for one image per seed: N(0, 0.01) (a MACO phase:
        N(0, 0.05)), reproducible per seed."""
        spread = MACO_PHASE_STDDEV if self.maco else INIT_STDDEV
        return np.stack([np.random.default_rng(seed).normal(0.0, spread, self.shape())
                         for seed in seeds]).astype(np.float32)

    def spectrum_scale(self) -> np.ndarray:
        """Per-frequency scale 1 / max(f, 1/size)^decay * size (Lucid's fft_image)."""
        fy = np.fft.fftfreq(self.size)[:, None]
        fx = np.fft.rfftfreq(self.size)[None, :]
        frequencies = np.sqrt(fx * fx + fy * fy)
        scale = 1.0 / np.maximum(frequencies, 1.0 / self.size) ** self.decay_power
        return (scale * self.size).astype(np.float32)

    def to_image(self, params: tf.Tensor) -> tf.Tensor:
        """[batch, *shape()] parameters -> [batch, size, size, channels] images in [0, 1]."""
        if self.maco:
            return self._maco_image(params)
        mixes_colours = self.decorrelate and self.channels == 3
        if not self.fft:
            return tf.sigmoid(_mix_colours(params, axis=-1) if mixes_colours else params)
        # Scaling, colour mixing and the inverse FFT are all linear, and the first two act
        # on each frequency alike, so both are applied to the half spectrum, in real
        # arithmetic on the real and imaginary planes together: a fraction of the work of
        # mixing the colours of every pixel afterwards.
        spectrum = params * (self.spectrum_scale() / FFT_MAGIC_DIVISOR)
        if mixes_colours:
            spectrum = _mix_colours(spectrum, axis=2)
        real, imaginary = tf.unstack(spectrum, axis=1)
        planes = tf.signal.irfft2d(tf.complex(real, imaginary),
                                   fft_length=[self.size, self.size])
        return tf.sigmoid(tf.transpose(planes, [0, 2, 3, 1]))

    def magnitude(self) -> np.ndarray:
        """MACO's fixed [channels, size, size // 2 + 1] magnitude at this size."""
        magnitude = magnitude_at(self.spectrum, self.size)
        return magnitude if self.channels == 3 else magnitude[:1]

    def _maco_image(self, phase: tf.Tensor) -> tf.Tensor:
        """Phase -> image, as in MACO: the standardised phase on the fixed magnitude,
        inverse FFT, the image standardised, its colours mixed back, a sigmoid."""
        phase = _standardised(phase)
        magnitude = tf.constant(self.magnitude())
        planes = tf.signal.irfft2d(tf.complex(magnitude * tf.cos(phase),
                                              magnitude * tf.sin(phase)),
                                   fft_length=[self.size, self.size])
        image = _standardised(tf.transpose(planes, [0, 2, 3, 1]))
        if self.channels == 3:
            image = _mix_colours(image, axis=-1)
        return tf.sigmoid(image)

    def from_image(self, pixels: np.ndarray) -> np.ndarray:
        """The parameters whose image is ``pixels`` (any size, grey or RGB, uint8 or floats
        in [0, 1]), resized to this size: the inverse of :meth:`to_image`."""
        if self.maco:
            raise ValueError("MACO's magnitude is fixed, so it cannot hold a given image")
        image = rgb_floats(pixels)
        if self.channels == 1:
            image = image.mean(axis=-1, keepdims=True)
        if image.shape[:2] != (self.size, self.size):
            image = tf.image.resize(image[None], [self.size, self.size], antialias=True)[0]
            image = np.clip(np.asarray(image), 0.0, 1.0)
        edge = 0.25 / 255  # keeps the logit finite; rounds back to 0 and 255
        linear = np.log(np.clip(image, edge, 1 - edge) / (1 - np.clip(image, edge, 1 - edge)))
        if self.decorrelate and self.channels == 3:
            linear = decorrelated(linear)
        if not self.fft:
            return linear.astype(np.float32)
        planes = np.transpose(linear, [2, 0, 1]) * FFT_MAGIC_DIVISOR
        spectrum = np.fft.rfft2(planes) / self.spectrum_scale()
        return np.stack([spectrum.real, spectrum.imag]).astype(np.float32)


def _standardised(values: tf.Tensor) -> tf.Tensor:
    """Each image of the batch shifted and scaled to mean 0 and standard deviation 1."""
    axes = list(range(1, len(values.shape)))
    mean, variance = tf.nn.moments(values, axes=axes, keepdims=True)
    return (values - mean) * tf.math.rsqrt(variance + 1e-8)


def _mix_colours(values: tf.Tensor, axis: int) -> tf.Tensor:
    """Colour channels (``axis``, of 3) mixed by the decorrelation matrix: out_c = sum_k
    M[c, k] in_k. Written as scalar multiply-adds, not einsum or matmul: the bf16 rewrite
    turns those into bf16, which would quantise the image itself."""
    channels = tf.unstack(values, axis=axis)
    mixed = []
    for row in COLOR_CORRELATION_NORMALIZED:
        terms = [float(weight) * channel for weight, channel in zip(row, channels) if weight]
        mixed.append(tf.add_n(terms))
    return tf.stack(mixed, axis=axis)
