"""Writing results: unit PNGs, the job's grid, its manifest. Every write is atomic.

A file appears under its final name only when it is complete (written to a temporary
file beside it, then renamed), so an interrupted run never leaves a truncated PNG or
manifest that a resumed sweep or a reader would trust.
"""

from __future__ import annotations

import json
import math
import os
import socket
import struct
import tempfile
import zlib

import imageio.v3 as iio
import numpy as np

from ..images import to_uint8

GRID_GAP = 2
GRID_BACKGROUND = 255
MISSING_TILE = 224  # light grey where a unit of the grid is not rendered yet
TEMPORARY_PREFIX = ".tmp-"
TEMPORARY_SUFFIX = ".part"
_UMASK = os.umask(0)
os.umask(_UMASK)


def temporary_prefix() -> str:
    """Prefix of this process's temporary files: host and pid, so that a later run can
    tell a file left by a killed process from one another process is still writing."""
    return f"{TEMPORARY_PREFIX}{socket.gethostname()}-{os.getpid()}-"


def write_atomic(path: str, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file and a rename."""
    write_atomic_stream(path, lambda stream: stream.write(data))


def write_atomic_stream(path: str, write) -> None:
    """Call ``write(stream)`` on a temporary file beside ``path``, then rename it to
    ``path``: readers see the old file or the whole new one, never a part."""
    folder = os.path.dirname(path) or "."
    os.makedirs(folder, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=folder, prefix=temporary_prefix(),
                                         suffix=TEMPORARY_SUFFIX)
    try:
        os.fchmod(handle, 0o666 & ~_UMASK)  # as open() would make it, not mkstemp's 0600
        with os.fdopen(handle, "wb") as stream:
            write(stream)
        os.replace(temporary, path)
    except BaseException:
        if os.path.exists(temporary):
            os.unlink(temporary)
        raise


def create_atomic(path: str, data: bytes) -> bool:
    """Write ``data`` to ``path`` only if nothing is there yet: a complete temporary file is
    hard-linked into place, which fails if another process got there first (also on NFS).
    Returns False when the file already existed."""
    folder = os.path.dirname(path) or "."
    os.makedirs(folder, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=folder, prefix=temporary_prefix(),
                                         suffix=TEMPORARY_SUFFIX)
    try:
        os.fchmod(handle, 0o666 & ~_UMASK)
        with os.fdopen(handle, "wb") as stream:
            stream.write(data)
        os.link(temporary, path)
        return True
    except FileExistsError:
        return False
    finally:
        os.unlink(temporary)


def write_png(path: str, image: np.ndarray) -> None:
    """Write one image (floats in [0, 1] or uint8) as a PNG, atomically."""
    pixels = image if image.dtype == np.uint8 else to_uint8(image)
    if pixels.ndim == 3 and pixels.shape[-1] == 1:
        pixels = pixels[..., 0]  # a grayscale PNG
    write_atomic(path, iio.imwrite("<bytes>", pixels, extension=".png"))


def grid_shape(count: int) -> tuple[int, int]:
    """(rows, columns) of the most nearly square grid that holds ``count`` images."""
    columns = math.ceil(math.sqrt(count))
    return math.ceil(count / columns), columns


def write_png_strips(stream, width: int, height: int, strips) -> None:
    """Write an RGB PNG of ``width`` x ``height`` to ``stream`` from ``strips``, uint8
    arrays [rows, width, 3] from top to bottom, compressing as they come: a grid of
    10 000 tiles is never whole in memory."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    stream.write(b"\x89PNG\r\n\x1a\n")
    stream.write(chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)))
    compressor = zlib.compressobj(6)
    for strip in strips:
        rows = np.ascontiguousarray(strip, np.uint8).reshape(len(strip), width * 3)
        filtered = np.zeros((len(rows), width * 3 + 1), np.uint8)  # filter byte 0: none
        filtered[:, 1:] = rows
        data = compressor.compress(filtered.tobytes())
        if data:
            stream.write(chunk(b"IDAT", data))
    stream.write(chunk(b"IDAT", compressor.flush()))
    stream.write(chunk(b"IEND", b""))


def make_row(images, axis: int = 1) -> np.ndarray:
    """Equally sized uint8 images side by side (``axis`` 1) or one above the other
    (``axis`` 0), with a white gap; one image as it is."""
    if len(images) == 1:
        return images[0]
    gap_shape = list(images[0].shape)
    gap_shape[axis] = GRID_GAP
    gap = np.full(gap_shape, GRID_BACKGROUND, np.uint8)
    parts = [images[0]]
    for image in images[1:]:
        parts += [gap, image]
    return np.concatenate(parts, axis=axis)


def read_json(path: str) -> dict | None:
    """The JSON object in ``path``, or None when it is missing, unreadable or not an
    object (a record a killed process never finished is simply not there)."""
    try:
        with open(path, encoding="utf8") as handle:
            value = json.load(handle)
    except (OSError, ValueError):
        return None
    return value if isinstance(value, dict) else None


def write_json(path: str, record: dict) -> None:
    """Write ``record`` as indented JSON, atomically."""
    write_atomic(path, (json.dumps(record, indent=2, sort_keys=False) + "\n").encode("utf8"))
