"""Running checked jobs: batches through the renderer, results to files."""

from __future__ import annotations

import os
import platform
import time

import numpy as np
import tensorflow as tf

from . import __version__
from .hardware import Device, available_memory
from .output import make_grid, to_uint8, write_json, write_png
from .progress import Progress
from .objectives import Objective
from .plan import PlannedJob, auto_batch_size, balanced_batch_size, batches_of
from .render import Renderer


class RendererCache:
    """One renderer per (objective, settings, batch size) on one device: jobs of the same
    shape share a traced step instead of tracing again."""

    def __init__(self, network, device: Device):
        self.network = network
        self.device = device
        self._renderers: dict = {}

    def get(self, job: PlannedJob, batch_size: int) -> Renderer:
        key = (job.terms, job.settings, batch_size)
        if key not in self._renderers:
            self._renderers[key] = Renderer(self.network, Objective(job.terms), job.settings,
                                            batch_size, self.device)
        return self._renderers[key]


def batch_size_of(job: PlannedJob, network, device: Device) -> tuple[int, str | None]:
    """The batch size ``job`` renders with, and for ``batch_size: auto`` a line saying how
    it was chosen."""
    if job.spec.batch_size != "auto":
        return balanced_batch_size(len(job.units), job.spec.batch_size), None
    seen_size = job.settings.transforms.output_size(job.settings.size)
    layers = [term.layer for term in job.terms]
    per_image = network.activation_bytes(layers, seen_size)
    available = available_memory(device)
    chosen = auto_batch_size(per_image, available, device.kind)
    note = (f"batch_size auto -> {chosen} (about {per_image / 2**20:.0f} MiB of "
            f"activations per image at {seen_size}px; {available / 2**30:.1f} GiB free on "
            f"{device.name.strip('/')})")
    return balanced_batch_size(len(job.units), chosen), note


def render_job(job: PlannedJob, model_record: dict, out_dir: str,
               renderers: RendererCache, quiet: bool = False) -> str:
    """Render every unit of ``job``; write its PNGs, grid and manifest; return its folder."""
    folder = os.path.join(out_dir, job.name)
    units = job.units
    batch_size, note = batch_size_of(job, renderers.network, renderers.device)
    renderer = renderers.get(job, batch_size)
    progress = Progress(job.name, len(units) * job.settings.steps, quiet=quiet)
    if note:
        progress.say(note)
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
               manifest(job, model_record, records, time.perf_counter() - started, renderer))
    progress.finish(f"{len(units)} images in {time.perf_counter() - started:.1f}s -> {folder}")
    return folder


def manifest(job: PlannedJob, model_record: dict, units: list[dict], seconds: float,
             renderer: Renderer) -> dict:
    """The record of one job: resolved settings, model, versions, how it ran, and every
    unit."""
    return {
        "job": {"name": job.name, "file": os.path.abspath(job.spec.file),
                "line": job.spec.line,
                "objective": [_term_record(term) for term in job.terms],
                **job.spec.raw},
        "model": model_record,
        "versions": {"fvcli": __version__, "tensorflow": tf.__version__,
                     "numpy": np.__version__, "python": platform.python_version()},
        "seed": job.spec.seed,
        "precision": renderer.precision,
        "device": renderer.device.name,
        "batch_size": renderer.batch_size,
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
