"""Dataset examples on disk: ``examples.json`` and a grid per unit, one row per kind of
example (top, slightly positive, slightly negative, bottom)."""

from __future__ import annotations

import json
import os

import numpy as np

from .files import MISSING_TILE, make_row, write_atomic, write_png
from .records import EXAMPLES_FILE, EXAMPLES_FOLDER

THUMBNAIL = 64  # side of an example's tile


def write_examples(job, run, folder: str, job_folder: str, crop: bool, scored_on: str,
                   thumbnail) -> str:
    """examples.json and examples/<unit>.png (a row per kind) in ``job_folder``, for the
    units of ``job`` (a planned job) as ``run`` (an ExampleRun of ``folder``) found them.
    ``thumbnail(path, position or None, side)`` makes each image's tile."""
    entries = []
    for number, unit in enumerate(job.units):
        entry = {key: value for key, value in unit.record().items()
                 if key in ("layer", "channel", "class", "direction", "description")}
        rows = []
        for kind in run.extremes.kinds:
            found = run.extremes.of_unit(number, kind)
            entry[kind] = [{"image": os.path.relpath(run.paths[image], folder),
                            "score": score} for score, image, _ in found]
            rows.append([thumbnail(run.paths[image], position if crop else None, THUMBNAIL)
                         for _, image, position in found])
        entry["grid"] = f"{EXAMPLES_FOLDER}/{unit.file_stem}.png"
        entries.append(entry)
        _write_rows(os.path.join(job_folder, entry["grid"]), rows, run.extremes.k)
    record = {"images": os.path.abspath(folder), "scored_on": scored_on,
              "top": run.extremes.k, "crop": crop, "rows": list(run.extremes.kinds),
              "units": entries, "skipped": run.skipped}
    path = os.path.join(job_folder, EXAMPLES_FILE)
    write_atomic(path, (json.dumps(record, indent=2) + "\n").encode("utf8"))
    return path


def _write_rows(path: str, rows, k: int) -> None:
    """A PNG of ``rows`` of tiles, each filled up to ``k`` with grey tiles."""
    blank = np.full((THUMBNAIL, THUMBNAIL, 3), MISSING_TILE, np.uint8)
    lines = [make_row([*row, *[blank] * (k - len(row))]) for row in rows]
    write_png(path, make_row(lines, axis=0))
