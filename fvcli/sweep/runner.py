"""Running a plan, or one shard of it, through the renderer into the store.

Units already on disk with their current fingerprint are skipped (unless forced); the rest
are rendered in batches, and each unit is written the moment its batch ends. A job whose
units are all on disk when the run ends is collected (grid, manifest, index) by this run.
"""

from __future__ import annotations

import math
import os
import platform
import time
from dataclasses import dataclass, field

import numpy as np
import tensorflow as tf

from .. import __version__
from ..engine.cost import batch_speed, unit_flops
from ..engine.memory import OutOfMemory, batch_size_of, out_of_memory_message
from ..engine.param import Parameterization
from ..engine.renderer import Renderer, RendererCache, RenderStopped, \
    job_objective, step_forward
from ..engine.targets import batch_targets
from ..images import attribution_to_uint8, to_uint8
from ..config.model_names import resolve_model_spec
from ..outputs.collect import collect, read_job
from ..outputs.files import make_row
from ..outputs.records import (FAILURE_REASON, GRID_FILE, done_record, failed_record,
                               plan_entry, plan_record, unit_alpha_png, unit_seed_png)
from ..outputs.store import JobStore
from .plan import PlannedJob, Unit
from .progress import Progress, format_duration
from .shards import Shard, balanced_batch_size, batches_of, shard_units
from .speed import record_speed, speed_key
from ..timings import phase

# validate's measure of a speed no render has recorded yet
CALIBRATION_STEPS = 16
CALIBRATION_IMAGES = 8  # at most: a job's own batch may be sized for a bigger machine


@dataclass
class RunReport:
    """What a run did: units rendered and skipped in its shard, and the grids it wrote."""

    shard_size: int = 0  # units in the run's shard
    rendered: int = 0
    skipped: int = 0
    failed: list[str] = field(default_factory=list)  # job/unit of units that went NaN
    dead: list[str] = field(default_factory=list)  # job/unit of units that stayed dead
    stopped: bool = False
    grids: list[str] = field(default_factory=list)

    def add(self, other: "RunReport") -> None:
        """Count ``other``'s run (of another job file) into this one."""
        self.shard_size += other.shard_size
        self.rendered += other.rendered
        self.skipped += other.skipped
        self.failed += other.failed
        self.dead += other.dead
        self.stopped = self.stopped or other.stopped
        self.grids += other.grids


def render_prepared(prepared, out_dir: str, shard: Shard, force: bool, quiet: bool,
                    should_stop, on_grid) -> RunReport:
    """Render ``shard`` of the units of every prepared job file into ``out_dir`` on the
    device they were prepared for, one file after another, until done or stopped;
    ``on_grid(path)`` hears of each job grid written. Returns what the run did."""
    total = RunReport()
    for file in prepared.files:
        record = {"source": file.network.description, "fingerprint": file.network.fingerprint,
                  "spec": resolve_model_spec(file.model)}
        runner = SweepRunner(RendererCache(file.network, prepared.device), out_dir, record,
                             should_stop=should_stop, quiet=quiet)
        report = runner.run(file.jobs, shard, force=force)
        total.add(report)
        for grid in report.grids:
            on_grid(grid)
        if report.stopped:
            break
    return total


class SweepRunner:
    """Renders the units of planned jobs into ``out_dir``, one shard at a time."""

    def __init__(self, renderers: RendererCache, out_dir: str, model_record: dict,
                 should_stop=None, quiet: bool = False):
        self.renderers = renderers
        self.network = renderers.network
        self.out_dir = out_dir
        self.model_record = model_record
        self.should_stop = should_stop or (lambda: False)
        self.quiet = quiet

    def run(self, jobs: list[PlannedJob], shard: Shard = Shard(), force: bool = False
            ) -> RunReport:
        """Render this shard's units that are not on disk yet (all of them with
        ``force``); collect the jobs that are then complete."""
        label = shard.label
        with phase("planning"):
            costs = {id(job): unit_flops(job, self.network) for job in jobs}
            plans = {id(job): plan_of(job, self.model_record, costs[id(job)], self.network)
                     for job in jobs}
        mine = shard_units([unit for job in jobs for unit in job.units], shard,
                           lambda unit: costs[id(unit.job)])
        report = RunReport(shard_size=len(mine))
        todo = []
        for job in jobs:
            with phase("writes"):
                store = JobStore(self.out_dir, job.name)
                store.remove_stale_temporaries()
                store.write_plan(plans[id(job)])
                units = [unit for unit in mine if unit.job is job]
                missing = [unit for unit in units
                           if force or not store.is_done(unit.file_stem, unit.fingerprint)]
            report.skipped += len(units) - len(missing)
            if missing:
                todo.append((job, store, missing))
        progress = Progress(label, sum(len(units) * job.images_per_unit * job.settings.steps
                                       for job, _, units in todo),
                            quiet=self.quiet,
                            unit_count=sum(len(units) for _, _, units in todo))
        if report.skipped:
            progress.say(f"{label}: {report.skipped} of {len(mine)} units already rendered "
                         "with the same settings; skipping them (--force renders them again)")
        dead = []  # (job, stems, units rendered) per job
        try:
            for job, store, units in todo:
                failed, stems = self._render_units(job, store, units, progress)
                report.failed += failed
                dead += [(job.name, stems, len(units) - len(failed))] if stems else []
        except RenderStopped:
            report.stopped = True
        report.rendered = progress.units_done - len(report.failed)
        report.dead = [f"{name}/{stem}" for name, stems, _ in dead for stem in stems]
        elapsed = format_duration(time.perf_counter() - progress.started)
        if report.stopped:
            return report
        failures = f", {len(report.failed)} failed" if report.failed else ""
        progress.finish(f"rendered {report.rendered} units{failures} in {elapsed}")
        warn_dead(progress, dead)
        complete = [job.name for job in jobs
                    if (view := read_job(self.out_dir, job.name)) and view.finished]
        if complete:
            with phase("collect"):
                collect(self.out_dir, complete)
            report.grids = [os.path.join(self.out_dir, name, GRID_FILE) for name in complete]
        return report

    def render_unlisted(self, job: PlannedJob, units: list[Unit], folder_name: str,
                        label: str) -> RunReport:
        """Render those of ``units`` (of ``job``) that are not on disk into the folder of
        job ``folder_name``, without writing its job.json or collecting it: units that no
        job lists, such as the negative renderings ``fvcli score`` needs, named as render
        would name them (``<stem>_neg``) so that a later run finds them."""
        store = JobStore(self.out_dir, folder_name)
        missing = [unit for unit in units if not store.is_done(unit.file_stem, unit.fingerprint)]
        report = RunReport(shard_size=len(units), skipped=len(units) - len(missing))
        if not missing:
            return report
        progress = Progress(label, len(missing) * job.images_per_unit * job.settings.steps,
                            quiet=self.quiet, unit_count=len(missing))
        try:
            report.failed, stems = self._render_units(job, store, missing, progress)
        except RenderStopped:
            report.stopped = True
            return report
        report.rendered = progress.units_done - len(report.failed)
        report.dead = [f"{folder_name}/{stem}" for stem in stems]
        progress.finish(f"rendered {report.rendered} units in "
                        f"{format_duration(time.perf_counter() - progress.started)}")
        warn_dead(progress, [(folder_name, stems, report.rendered)] if stems else [])
        return report

    def _render_units(self, job: PlannedJob, store: JobStore, units: list[Unit],
                      progress: Progress) -> tuple[list[str], list[str]]:
        """Render and store ``units``; return the names (job/stem) of those that failed
        and the stems of those that stayed dead."""
        batch_size, note = batch_size_of(job, self.network, self.renderers.device)
        units_per_batch = balanced_batch_size(len(units),
                                              max(1, batch_size // job.images_per_unit))
        if note:
            progress.say(f"{job.name}: {note}")
        initial = initial_parameters(job)
        weakened, failed, dead = 0, [], []
        for batch in batches_of(units, units_per_batch):
            for part, result, renderer in self._render_batch(job, batch, units_per_batch,
                                                             progress, initial):
                for position, unit in enumerate(part):
                    record = self._store_unit(job, store, unit, result, renderer, position,
                                              len(part), progress)
                    if record is None:
                        failed.append(f"{job.name}/{unit.file_stem}")
                        continue
                    weakened += bool(record.get("diversity_weakened"))
                    dead += [unit.file_stem] if record.get("alive") is False else []
                progress.units_finished(len(part))
        if weakened:
            weight = job.group_terms[0].weight
            progress.warn(f"{job.name}: with diversity, {weakened} of {len(units)} "
                          "units ended below half the objective they reach without it; "
                          f"try a smaller diversity weight than {weight:g}")
        return failed, dead

    def _render_batch(self, job: PlannedJob, batch: list[Unit], capacity: int,
                      progress: Progress, initial):
        """[(units, result, renderer)] of one batch rendered by the renderer for
        ``capacity`` units. If memory runs out, the batch is tried once more in two halves
        (a second trace); if that fails too, OutOfMemory says why."""
        try:
            return [self._render(job, batch, capacity, progress, initial)]
        except (tf.errors.ResourceExhaustedError, MemoryError):
            images = capacity * job.images_per_unit
            if capacity == 1:
                raise OutOfMemory(out_of_memory_message(job, self.network, images,
                                                        self.renderers.device)) from None
        half = math.ceil(capacity / 2)
        progress.warn(f"{job.name}: out of memory with a batch of {images} images; trying "
                      f"{half * job.images_per_unit} at a time")
        try:
            return [self._render(job, part, half, progress, initial)
                    for part in batches_of(batch, half)]
        except (tf.errors.ResourceExhaustedError, MemoryError):
            raise OutOfMemory(out_of_memory_message(
                job, self.network, half * job.images_per_unit, self.renderers.device)) from None

    def _render(self, job: PlannedJob, units: list[Unit], capacity: int, progress: Progress,
                initial):
        with phase("trace"):
            renderer = self.renderers.get(job, capacity * job.images_per_unit)

        def advance(steps: int, images: int = len(units) * job.images_per_unit) -> None:
            progress.advance(steps * images)  # padding images are not progress

        if job.spec.accentuate:
            initial = seed_parameters(job, units, renderer.batch_size)
        with phase("steps"):
            result = renderer.render(batch_targets(units, renderer.batch_size),
                                     on_steps=advance, should_stop=self.should_stop,
                                     initial=initial)
        if result.timed_steps:
            key = speed_key(getattr(self.network, "fingerprint", ""), renderer.device.name,
                            renderer.precision)
            with phase("writes"):
                record_speed(key, batch_speed(job, self.network,
                                              renderer.batch_size * result.timed_steps,
                                              result.steps_seconds), "a render",
                             **trace_record(result, renderer))
        return units, result, renderer

    def _store_unit(self, job, store, unit, result, renderer, position, batch_units, progress):
        """Write one rendered unit, or its failure; returns its record (None if it failed)."""
        per_unit = job.images_per_unit
        rows = slice(position * per_unit, (position + 1) * per_unit)
        steps = [int(step) for step in result.failed_step[rows] if step >= 0]
        if steps:
            store.save_failure(unit.file_stem, failed_record(unit, min(steps)))
            progress.warn(f"{job.name}: {unit.file_stem} failed: {FAILURE_REASON} at step "
                          f"{min(steps)}; the other units go on")
            return None
        record = unit_record(unit, result, rows, renderer, batch_units)
        written = rows.start, rows.start + job.written_images
        companions = {}
        if result.attribution is not None:
            companions[unit_alpha_png(unit.file_stem)] = make_row(
                [attribution_to_uint8(image) for image in result.attribution[slice(*written)]])
        if result.start_images is not None:
            companions[unit_seed_png(unit.file_stem)] = make_row(
                to_uint8(result.start_images[slice(*written)]))
        with phase("writes"):
            store.save(unit.file_stem, make_row(to_uint8(result.images[slice(*written)])),
                       record, companions)
        return record


DEAD_SHOWN = 3  # stems a dead-units line names before "and N more"


def warn_dead(progress: Progress, dead: list[tuple[str, list[str], int]]) -> None:
    """One line per job whose units stayed dead, after the run's last line where the
    progress bar no longer hides it: ``dead`` is [(job, stems, units rendered)]."""
    for name, stems, rendered in dead:
        shown = ", ".join(stems[:DEAD_SHOWN])
        more = f" and {len(stems) - DEAD_SHOWN} more" if len(stems) > DEAD_SHOWN else ""
        progress.warn(f"{name}: {len(stems)} of {rendered} units stayed dead ({shown}{more}): "
                      "their objective never rose above its start and their images are "
                      "flat; no image drives them here (records: \"alive\": false)")


def initial_parameters(job: PlannedJob):
    """The parameters of the job's ``init`` image, or None to start from noise."""
    if not job.spec.init:
        return None
    import imageio.v3 as iio

    pixels = np.asarray(iio.imread(job.spec.init))
    return Parameterization.of(job.settings.param).from_image(pixels)


def seed_parameters(job: PlannedJob, units: list[Unit], batch_size: int) -> np.ndarray:
    """[batch, ...] parameters of each unit's seed image (an accentuation's start), padded
    as :func:`fvcli.engine.targets.batch_targets` pads its targets: with the last unit.
    Each is read when its batch starts: a few milliseconds against the batch's steps."""
    import imageio.v3 as iio

    param = Parameterization.of(job.settings.param)
    padded = units + [units[-1]] * (batch_size // job.images_per_unit - len(units))
    return np.stack([param.from_image(np.asarray(iio.imread(unit.seed_image)))
                     for unit in padded for _ in range(job.images_per_unit)])


def unit_record(unit: Unit, result, rows: slice, renderer: Renderer, batch_units: int) -> dict:
    """The record of a rendered unit, from the rows of its batch's result that are its
    images; its seconds are its share of the batch's ``batch_units`` units."""
    distance = None
    if result.distance is not None:
        distance = {"layer": renderer.closeness.layer,
                    "relative": float(np.mean(result.distance[rows])),
                    "pixels_rms": float(np.mean(result.pixel_distance[rows]))}
    return done_record(unit, result.objective_start[rows], result.objective_end[rows],
                       result.seconds / batch_units, renderer.precision, renderer.device.name,
                       renderer.batch_size, distance)


def plan_of(job: PlannedJob, model_record: dict, cost: float, network) -> dict:
    """job.json of ``job``: the job as planned (resolved settings, model, versions, how each
    layer is reached) and every unit with its fingerprint and estimated ``cost``."""
    versions = {"fvcli": __version__, "tensorflow": tf.__version__, "numpy": np.__version__,
                "python": platform.python_version()}
    # the forward function the job's renderer will step with (the network keeps it for
    # the renderer): the size the transforms feed it, and whether it is resized after
    forward = step_forward(network, job_objective(job), job.settings)
    resized_to = forward.feed_size if forward.resizes else None
    return plan_record(job, [_term_record(term, network, resized_to) for term in job.terms],
                       model_record, versions, [plan_entry(unit, cost) for unit in job.units],
                       forward.size)


def _term_record(term, network, resized_to: int | None) -> dict:
    """A term as the manifest shows it, with how its layer is reached: whether it has a
    pre-activation (else negative objectives and revival use the layer's own value), and
    the size images are resized to when the job's network pass needs the model's fixed
    input size (one of the job's layers does: all are read from that one pass)."""
    record = {"kind": term.kind, "layer": term.layer, "weight": term.weight,
              "negative": term.negative,
              "pre_activation": network.layer(term.layer).has_pre_activation}
    if resized_to:
        record["resized_to"] = resized_to
    if term.position:
        record["position"] = list(term.position)
    return record


def trace_record(result, renderer) -> dict:
    """The trace time a batch measured, as record_speed takes it: nothing unless the
    batch traced its step; then the batch's time beyond its steps (the trace, the first
    step, the evaluations before and after), as the process's first trace or a later one."""
    if not result.traced or not result.timed_steps:
        return {}
    step = result.steps_seconds / result.timed_steps
    return _trace_entry(renderer, max(result.seconds - result.steps_seconds - step, 0.0))


def _trace_entry(renderer, seconds: float) -> dict:
    """A trace time as record_speed takes it: the process's first trace pays TensorFlow's
    one-time set-up, so it is kept apart from later ones."""
    return {"first_trace_seconds" if renderer.first_trace else "trace_seconds": seconds}


def measure_speed(job: PlannedJob, network, device) -> tuple[float, dict]:
    """GFLOP/s of a few steps of up to 8 images of ``job``, after the step is traced, and
    the trace time measured on the way (as :func:`trace_record` gives it)."""
    batch_size, _ = batch_size_of(job, network, device)
    images = min(batch_size, CALIBRATION_IMAGES)
    unit_count = balanced_batch_size(len(job.units), max(1, images // job.images_per_unit))
    renderer = RendererCache(network, device).get(job, unit_count * job.images_per_unit,
                                                  steps=CALIBRATION_STEPS)
    traced = renderer.first_trace is None
    trace = renderer.warm_up()
    result = renderer.render(batch_targets(job.units[:unit_count], renderer.batch_size))
    traces = _trace_entry(renderer, trace) if traced else {}
    return batch_speed(job, network, renderer.batch_size * result.timed_steps,
                       result.steps_seconds), traces
