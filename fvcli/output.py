"""Writing results: unit PNGs, the job's grid, its manifest. Every write is atomic.

A file appears under its final name only when it is complete (written to a temporary
file beside it, then renamed), so an interrupted run never leaves a truncated PNG or
manifest that a resumed sweep or a reader would trust.
"""

from __future__ import annotations

import json
import math
import os
import tempfile

import imageio.v3 as iio
import numpy as np

GRID_GAP = 2
GRID_BACKGROUND = 255


def write_atomic(path: str, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file and a rename."""
    folder = os.path.dirname(path) or "."
    os.makedirs(folder, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=folder, prefix=".tmp-", suffix=".part")
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(data)
        os.replace(temporary, path)
    except BaseException:
        if os.path.exists(temporary):
            os.unlink(temporary)
        raise


def to_uint8(image: np.ndarray) -> np.ndarray:
    """[h, w, 3] floats in [0, 1] -> uint8."""
    return np.clip(np.round(image * 255.0), 0, 255).astype(np.uint8)


def write_png(path: str, image: np.ndarray) -> None:
    """Write one image (floats in [0, 1] or uint8) as a PNG, atomically."""
    pixels = image if image.dtype == np.uint8 else to_uint8(image)
    write_atomic(path, iio.imwrite("<bytes>", pixels, extension=".png"))


def grid_shape(count: int) -> tuple[int, int]:
    """(rows, columns) of the most nearly square grid that holds ``count`` images."""
    columns = math.ceil(math.sqrt(count))
    return math.ceil(count / columns), columns


def make_grid(images: list[np.ndarray]) -> np.ndarray:
    """Tile equally sized uint8 images row by row, with a white gap between them."""
    rows, columns = grid_shape(len(images))
    height, width = images[0].shape[:2]
    grid = np.full((rows * height + (rows - 1) * GRID_GAP,
                    columns * width + (columns - 1) * GRID_GAP, 3), GRID_BACKGROUND, np.uint8)
    for n, image in enumerate(images):
        row, column = divmod(n, columns)
        top, left = row * (height + GRID_GAP), column * (width + GRID_GAP)
        grid[top:top + height, left:left + width] = image
    return grid


def write_json(path: str, record: dict) -> None:
    """Write ``record`` as indented JSON, atomically."""
    write_atomic(path, (json.dumps(record, indent=2, sort_keys=False) + "\n").encode("utf8"))
