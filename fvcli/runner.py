"""Running checked jobs: batches through the renderer, results to files."""

from __future__ import annotations

import os
import platform
import time

import numpy as np
import tensorflow as tf

from . import __version__
from .output import make_grid, to_uint8, write_json, write_png
from .progress import Progress
from .render import Renderer
from .spec import Job
from .sweep import batch_size_for, batches_of, units_of


class RendererCache:
    """One renderer per (objective, settings, batch size): jobs of the same shape share
    a traced step instead of tracing again."""

    def __init__(self, network):
        self.network = network
        self._renderers: dict = {}

    def get(self, job: Job, batch_size: int) -> Renderer:
        key = (job.objective.terms, job.settings, batch_size)
        if key not in self._renderers:
            self._renderers[key] = Renderer(self.network, job.objective, job.settings,
                                            batch_size)
        return self._renderers[key]


def render_job(job: Job, model_record: dict, out_dir: str,
               renderers: RendererCache, quiet: bool = False) -> str:
    """Render every unit of ``job``; write its PNGs, grid and manifest; return its folder."""
    folder = os.path.join(out_dir, job.name)
    units = units_of(job)
    batch_size = batch_size_for(job)
    renderer = renderers.get(job, batch_size)
    progress = Progress(job.name, len(units) * job.settings.steps, quiet=quiet)
    records, images = [], []
    started = time.perf_counter()
    for batch in batches_of(units, batch_size):
        padded = batch + [batch[-1]] * (batch_size - len(batch))
        real_images = len(batch)  # padding images are not progress

        def advance(steps: int, images: int = real_images) -> None:
            progress.advance(steps * images)

        result = renderer.render([unit.indices for unit in padded],
                                 [unit.seed for unit in padded], on_steps=advance)
        for position, unit in enumerate(batch):
            pixels = to_uint8(result.images[position])
            png = os.path.join("units", unit.file_stem + ".png")
            write_png(os.path.join(folder, png), pixels)
            images.append(pixels)
            records.append({**unit.record(), "png": png,
                            "objective_start": float(result.objective_start[position]),
                            "objective_end": float(result.objective_end[position]),
                            "seconds": round(result.seconds / len(batch), 3)})
    write_png(os.path.join(folder, "grid.png"), make_grid(images))
    write_json(os.path.join(folder, "manifest.json"),
               manifest(job, model_record, records, time.perf_counter() - started))
    progress.finish(f"{len(units)} images in {time.perf_counter() - started:.1f}s -> {folder}")
    return folder


def manifest(job: Job, model_record: dict, units: list[dict], seconds: float) -> dict:
    """The record of one job: resolved settings, model, versions, and every unit."""
    return {
        "job": {"name": job.name, "file": os.path.abspath(job.file), "line": job.line,
                "objective": [_term_record(term) for term in job.objective.terms],
                **job.raw},
        "model": model_record,
        "versions": {"fvcli": __version__, "tensorflow": tf.__version__,
                     "numpy": np.__version__, "python": platform.python_version()},
        "seed": job.seed,
        "precision": "fp32",
        "grid": "grid.png",
        "seconds": round(seconds, 3),
        "units": units,
    }


def _term_record(term) -> dict:
    record = {"kind": term.kind, "layer": term.layer, "weight": term.weight,
              "negative": term.negative}
    if term.position:
        record["position"] = list(term.position)
    return record
