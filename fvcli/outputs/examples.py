"""Dataset examples on disk: ``examples.json`` and a grid per unit, one row per kind of
example (top, slightly positive, slightly negative, bottom), each under a label strip
drawn with a tiny built-in bitmap font (a PNG opened on its own says what its rows are,
with no font file or drawing library to ship)."""

from __future__ import annotations

import json
import os

import numpy as np

from .files import GRID_BACKGROUND, GRID_GAP, MISSING_TILE, make_row, write_atomic, write_png
from .records import EXAMPLES_FILE, EXAMPLES_FOLDER

THUMBNAIL = 64  # side of an example's tile

# Each kind's row label, and what a row that found no image says instead of leaving the
# reader to guess what its grey tiles mean.
ROW_LABELS = {"top": "TOP", "slightly_positive": "SLIGHTLY +",
              "slightly_negative": "SLIGHTLY -", "bottom": "BOTTOM"}
NO_EXAMPLES = "NONE"
LABEL_INK = 64  # dark grey text on the grid's white background
LABEL_PAD = 2   # px above and below a label's text

# A 3x5 pixel font with just the letters the labels use ('#' is ink).
GLYPHS = {
    "B": ("##.", "#.#", "##.", "#.#", "##."), "E": ("###", "#..", "##.", "#..", "###"),
    "G": ("###", "#..", "#.#", "#.#", "###"), "H": ("#.#", "#.#", "###", "#.#", "#.#"),
    "I": ("###", ".#.", ".#.", ".#.", "###"), "L": ("#..", "#..", "#..", "#..", "###"),
    "M": ("#.#", "###", "###", "#.#", "#.#"), "N": ("###", "#.#", "#.#", "#.#", "#.#"),
    "O": ("###", "#.#", "#.#", "#.#", "###"), "P": ("###", "#.#", "###", "#..", "#.."),
    "S": ("###", "#..", "###", "..#", "###"), "T": ("###", ".#.", ".#.", ".#.", ".#."),
    "Y": ("#.#", "#.#", ".#.", ".#.", ".#."), "+": ("...", ".#.", "###", ".#.", "..."),
    "-": ("...", "...", "###", "...", "..."), ":": ("...", ".#.", "...", ".#.", "..."),
    " ": ("...", "...", "...", "...", "..."),
}


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
        _write_rows(os.path.join(job_folder, entry["grid"]), rows, run.extremes.k,
                    [ROW_LABELS.get(kind, kind.upper()) for kind in run.extremes.kinds])
    record = {"images": os.path.abspath(folder), "scored_on": scored_on,
              "top": run.extremes.k, "crop": crop, "rows": list(run.extremes.kinds),
              "units": entries, "skipped": run.skipped}
    path = os.path.join(job_folder, EXAMPLES_FILE)
    write_atomic(path, (json.dumps(record, indent=2) + "\n").encode("utf8"))
    return path


def _write_rows(path: str, rows, k: int, labels: list[str]) -> None:
    """A PNG of ``rows`` of tiles, each filled up to ``k`` with grey tiles and under its
    label (``LABEL: NONE`` when it found no image)."""
    blank = np.full((THUMBNAIL, THUMBNAIL, 3), MISSING_TILE, np.uint8)
    texts = [label if row else f"{label}: {NO_EXAMPLES}" for row, label in zip(rows, labels)]
    width = k * THUMBNAIL + (k - 1) * GRID_GAP
    # One size for every label, so the rows line up: twice as large when the longest fits.
    scale = 2 if max(len(text) for text in texts) * 4 * 2 <= width else 1
    lines = [np.concatenate([label_strip(text, width, scale),
                             make_row([*row, *[blank] * (k - len(row))])])
             for row, text in zip(rows, texts)]
    write_png(path, make_row(lines, axis=0))


def label_strip(text: str, width: int, scale: int = 1) -> np.ndarray:
    """A white [height, width, 3] uint8 strip with ``text`` (letters of GLYPHS; others are
    left blank) in dark grey at its left, each font pixel ``scale`` px square, cut off
    where it does not fit ``width``."""
    glyph_rows = len(GLYPHS[" "])
    strip = np.full((glyph_rows * scale + 2 * LABEL_PAD, width, 3), GRID_BACKGROUND, np.uint8)
    for number, letter in enumerate(text.upper()):
        glyph = GLYPHS.get(letter, GLYPHS[" "])
        left = number * 4 * scale  # 3 px of letter, 1 of space
        for y, line in enumerate(glyph):
            for x, pixel in enumerate(line):
                column = left + x * scale
                if pixel == "#" and column + scale <= width:
                    top = LABEL_PAD + y * scale
                    strip[top:top + scale, column:column + scale] = LABEL_INK
    return strip
