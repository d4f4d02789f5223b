"""Records on disk -> each job's grid.png and manifest.json, and the folder's index.html.

Collect reads what the shards of a sweep left (:mod:`fvcli.outputs.jobs`) and never imports
TensorFlow. A job shows exactly the units of its ``job.json`` (the job as it now stands);
records of units that an earlier version of the job had are ignored. Grids and manifests
are written streaming, a row of tiles and a record at a time, so a job of 10 000 units
never holds 10 000 images in memory. A lock keeps two collects (two shards finishing at
once) from writing the same files.
"""

from __future__ import annotations

import json
import os

import imageio.v3 as iio
import numpy as np

from .locks import FileLock
from .files import (GRID_BACKGROUND, GRID_GAP, MISSING_TILE, grid_shape, write_atomic_stream,
                     write_png_strips)
from .index_html import write_index
from .jobs import JobView, UnitView, job_names, read_job
from .records import GRID_FILE, MANIFEST_FILE, STATE_FOLDER, manifest_header
from .store import JobStore


def collect_lock(out_dir: str) -> FileLock:
    """The lock that keeps two collects of ``out_dir`` from writing the same files."""
    return FileLock(os.path.join(out_dir, STATE_FOLDER, "collect.lock"))


def collect(out_dir: str, names: list[str] | None = None) -> list[JobView]:
    """Write grid.png and manifest.json of the named jobs (default: every job folder) and
    the folder's index.html; return every job's view."""
    with collect_lock(out_dir):
        wanted = set(job_names(out_dir) if names is None else names)
        views = [view for view in (read_job(out_dir, name) for name in job_names(out_dir))
                 if view is not None]
        for view in views:
            if view.name in wanted:
                write_manifest(view)
                write_grid(view)
        write_index(out_dir, views)
    return views


def write_manifest(view: JobView) -> None:
    """manifest.json: the job as planned, how it ran, and each rendered unit's record in
    the job's order; units not rendered yet are listed under "missing"."""
    records = [unit.record for unit in view.units if unit.done]
    header = manifest_header(
        view.plan, records, view.complete,
        missing=[unit.plan["stem"] for unit in view.units if not unit.done and not unit.failed],
        failed=[(unit.plan["stem"], unit.record) for unit in view.units if unit.failed])

    def write(stream):
        opening = json.dumps(header, indent=2)[:-2]  # without the closing "\n}"
        stream.write((opening + ',\n  "units": [').encode("utf8"))
        for n, record in enumerate(records):
            stream.write(((",\n    " if n else "\n    ") + json.dumps(record)).encode("utf8"))
        stream.write(b"\n  ]\n}\n")

    write_atomic_stream(os.path.join(view.store.folder, MANIFEST_FILE), write)


def write_grid(view: JobView) -> None:
    """grid.png: every unit of the job in order, row by row in a near-square grid, with a
    light grey tile where a unit is not rendered yet."""
    done = [unit for unit in view.units if unit.done]
    if not done:
        return
    height, width = iio.imread(view.store.png_path(done[0].plan["stem"])).shape[:2]
    # Units of several images (diversity, interpolation) are strips: one per row.
    rows, columns = (len(view.units), 1) if width > height else grid_shape(len(view.units))
    total_width = columns * width + (columns - 1) * GRID_GAP

    def strips():
        for row in range(rows):
            if row:
                yield np.full((GRID_GAP, total_width, 3), GRID_BACKGROUND, np.uint8)
            strip = np.full((height, total_width, 3), GRID_BACKGROUND, np.uint8)
            for column, unit in enumerate(view.units[row * columns:(row + 1) * columns]):
                left = column * (width + GRID_GAP)
                strip[:, left:left + width] = _tile(view.store, unit, height, width)
            yield strip

    path = os.path.join(view.store.folder, GRID_FILE)
    write_atomic_stream(path, lambda stream: write_png_strips(
        stream, total_width, rows * height + (rows - 1) * GRID_GAP, strips()))


def _tile(store: JobStore, unit: UnitView, height: int, width: int) -> np.ndarray:
    if unit.done:
        image = iio.imread(store.png_path(unit.plan["stem"]))
        if image.ndim == 2:  # a grayscale model's unit
            image = np.repeat(image[..., None], 3, axis=-1)
        if image.shape[:2] == (height, width):
            return image[..., :3]
    return np.full((height, width, 3), MISSING_TILE, np.uint8)
