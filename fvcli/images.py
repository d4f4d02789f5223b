"""Conversions between the images fvcli computes (floats in [0, 1]) and the pixels files
hold (uint8, 16-bit, grey or with alpha). No TensorFlow."""

from __future__ import annotations

import os

import numpy as np

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp")  # what a folder of images is searched for
IMAGE_KINDS = ", ".join(suffix[1:] for suffix in IMAGE_SUFFIXES)  # "jpg, jpeg, png, webp"


def unreadable_reason(path: str, error: Exception) -> str:
    """Why the image file at ``path`` could not be read (``error`` is what the decoder
    raised), as the end of a one-line warning: decoders' own messages quote the file with
    stray backticks or speak of struct buffers, which say nothing to the user."""
    strerror = getattr(error, "strerror", None)
    if strerror:
        return strerror[:1].lower() + strerror[1:]
    try:
        if os.path.getsize(path) == 0:
            return "the file is empty"
    except OSError:
        pass
    text = str(error).strip()
    if not text or "Could not find a backend" in text or "unpack_from requires" in text:
        return "not an image file that can be decoded (damaged, or another format)"
    return f"cannot decode it ({text.splitlines()[0].replace('`', '')})"


def to_uint8(image: np.ndarray) -> np.ndarray:
    """[h, w, 3] floats in [0, 1] -> uint8."""
    return np.clip(np.round(image * 255.0), 0, 255).astype(np.uint8)


ALPHA_PERCENTILE = 99.0  # an attribution map's brightest 1 % is white


def attribution_to_uint8(attribution: np.ndarray) -> np.ndarray:
    """[h, w] accumulated |gradient| -> grey uint8: scaled so that its 99th percentile is
    255 (clipping the few hottest pixels, which would otherwise leave the rest black)."""
    top = float(np.percentile(attribution, ALPHA_PERCENTILE))
    scaled = attribution / top if top > 0 else np.zeros_like(attribution)
    return np.clip(np.round(scaled * 255.0), 0, 255).astype(np.uint8)


def rgb_floats(pixels: np.ndarray) -> np.ndarray:
    """[h, w] or [h, w, 1|3|4] pixels, integers or floats -> [h, w, 3] floats in [0, 1]."""
    image = np.asarray(pixels)
    scale = 255.0 if image.dtype == np.uint8 else (65535.0 if image.dtype == np.uint16 else 1.0)
    image = image.astype(np.float64) / scale
    if image.ndim == 2:
        image = image[..., None]
    if image.shape[-1] == 4:
        image = image[..., :3]
    if image.shape[-1] == 1:
        image = np.repeat(image, 3, axis=-1)
    return image
