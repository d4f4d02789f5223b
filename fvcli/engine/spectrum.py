"""The Fourier magnitude of natural images, which MACO holds fixed.

A spectrum is the mean magnitude of the 2-D real FFT of images, per decorrelated colour
component (:mod:`fvcli.engine.colours`): an array of shape [3, N, N // 2 + 1]. Each image
is cut to its central square, resized to N px, decorrelated, centred and windowed (a Hann
window, so that the square's edges do not add a cross of purely horizontal and vertical
frequencies) before its FFT. Only the spectrum's shape matters: MACO standardises the
image it makes, so its overall scale is irrelevant.

``fvcli spectrum`` computes one from a folder of images. fvcli's own
(``natural_spectrum.npy``) was computed so from public-domain and CC0 photographs; the
README says which and how to make it again.
"""

from __future__ import annotations

import functools
import os

import numpy as np
import tensorflow as tf

from ..images import rgb_floats
from .colours import decorrelated

NATURAL_SPECTRUM = os.path.join(os.path.dirname(__file__), "natural_spectrum.npy")
SPECTRUM_SIZE = 256  # side of the images a spectrum is computed at, by default


class SpectrumAverage:
    """The running mean magnitude of images added one at a time, at ``size`` px."""

    def __init__(self, size: int = SPECTRUM_SIZE):
        self.size = size
        self.images = 0
        self._sum = np.zeros((3, size, size // 2 + 1), np.float64)
        window = np.hanning(size)
        self._window = np.outer(window, window)[None]

    def add(self, pixels: np.ndarray) -> None:
        """Add one image (any size, grey or RGB, uint8 or floats in [0, 1])."""
        planes = np.transpose(decorrelated(self._square(rgb_floats(pixels))), [2, 0, 1])
        planes = planes - planes.mean(axis=(1, 2), keepdims=True)
        self._sum += np.abs(np.fft.rfft2(planes * self._window))
        self.images += 1

    def result(self) -> np.ndarray:
        """The mean magnitude, float32 [3, size, size // 2 + 1]."""
        if not self.images:
            raise ValueError("no images were added")
        return (self._sum / self.images).astype(np.float32)

    def _square(self, image: np.ndarray) -> np.ndarray:
        height, width = image.shape[:2]
        side = min(height, width)
        top, left = (height - side) // 2, (width - side) // 2
        square = image[top:top + side, left:left + side]
        resized = tf.image.resize(square[None], [self.size, self.size], antialias=True)[0]
        return np.clip(resized.numpy(), 0.0, 1.0)


@functools.lru_cache(maxsize=8)
def magnitude_at(path: str | None, size: int) -> np.ndarray:
    """The spectrum in ``path`` (fvcli's own when None) resampled to ``size`` px images:
    [3, size, size // 2 + 1] float32. Resampling keeps each frequency in cycles per pixel,
    so an image of any size has the spectrum's texture at the same scale of pixels. Plain
    numpy: it is called while the step is traced."""
    magnitude = np.load(path or NATURAL_SPECTRUM, allow_pickle=False).astype(np.float32)
    if magnitude.shape[1] == size:
        return magnitude
    source = magnitude.shape[1]
    # linear interpolation at each wanted frequency, first down the rows (whose
    # frequencies fftfreq orders 0 .. 0.5, -0.5 .. 0: shifted to run upwards), then along
    # the rows (rfftfreq: 0 .. 0.5 already)
    rows_from = np.fft.fftshift(np.fft.fftfreq(source))
    shifted = np.fft.fftshift(magnitude, axes=1)
    rows = np.apply_along_axis(lambda column: np.interp(np.fft.fftfreq(size), rows_from,
                                                        column), 1, shifted)
    columns = np.apply_along_axis(lambda row: np.interp(np.fft.rfftfreq(size),
                                                        np.fft.rfftfreq(source), row), 2, rows)
    return columns.astype(np.float32)
