"""ImageNet's colour correlation: images are optimised in a decorrelated colour space and
mixed back into RGB, so that each parameter moves one independent colour component."""

from __future__ import annotations

import numpy as np

# Square root of ImageNet's colour covariance (rows: R, G, B), from Lucid.
COLOR_CORRELATION_SQRT = np.array(
    [[0.26, 0.09, 0.02], [0.27, 0.00, -0.05], [0.27, -0.09, 0.03]], dtype=np.float32)
COLOR_CORRELATION_NORMALIZED = (
    COLOR_CORRELATION_SQRT / np.max(np.linalg.norm(COLOR_CORRELATION_SQRT, axis=0)))


def decorrelated(pixels: np.ndarray) -> np.ndarray:
    """[..., 3] RGB values -> the decorrelated components that mix back into them."""
    return pixels @ np.linalg.inv(COLOR_CORRELATION_NORMALIZED).T
