"""The records fvcli leaves in an output folder, in one place: their file names, what each
holds, and the rule that says a unit is done.

    <out>/.fvcli/                   locks and logs of fvcli itself
    <out>/index.html                every job and layer, and _index/ their pages, a page
                                    per unit (index_html, unit_pages) and fvcli.css, the
                                    style they all link to
    <out>/<job>/job.json            the job as planned: settings, model, versions, every unit
                                    with its fingerprint and cost (:func:`plan_record`)
    <out>/<job>/units/<stem>.png    a rendered unit
    <out>/<job>/units/<stem>.json   its record (:func:`done_record`, :func:`failed_record`)
    <out>/<job>/units/<stem>.alpha.png  where its image mattered to the objective (grey),
                                    when the job asks for alpha
    <out>/<job>/units/<stem>.seed.png   an accentuation's seed image, as it started
    <out>/<job>/manifest.json       job.json's header, how the job ran and every rendered
                                    unit's record in the job's order (:func:`manifest_header`)
    <out>/<job>/grid.png            every unit in order
    <out>/<job>/examples.json       dataset examples, and examples/<stem>.png (a grid each)

A unit is done when its record names the fingerprint the unit has now, says it is done,
and its PNG is there (:func:`unit_state`). Nothing here imports TensorFlow.
"""

from __future__ import annotations

import os

import numpy as np

STATE_FOLDER = ".fvcli"
INDEX_FILE = "index.html"
PAGES_FOLDER = "_index"  # cannot clash with a job: job names start with a letter or digit
PLAN_FILE = "job.json"
MANIFEST_FILE = "manifest.json"
GRID_FILE = "grid.png"
UNITS_FOLDER = "units"
EXAMPLES_FILE = "examples.json"
EXAMPLES_FOLDER = "examples"

DONE, FAILED = "done", "failed"
FAILURE_REASON = "the objective or its gradient became NaN or infinite"

# Dead is judged only on renders of at least this many steps: in shorter ones live units
# may not have risen yet (on the demo model, 5 of 8 conv3 channels at 1 step, 2 at 4
# steps; none at 16 or more).
ALIVE_JUDGED_FROM_STEPS = 32
# A unit is alive when its objective ended above its start by more than the larger of
# these: an absolute floor, and a fraction of the start's size (so a unit that starts
# high must move with it; abs() keeps this right for objectives that start below zero).
# On the demo model (64 px, 128 steps, revive on) the units that stay dead end 5e-06
# (conv2 ch 0) and 8.4e-05 (conv4 ch 0) above a start of exactly 0, while the weakest
# live channel rises by 0.03 and most by 0.3-50: the floor sits 10x above the dead
# ones. A probability objective lives in [0, 1], where 0.001 is still a real rise.
# The rule reads the unit alone: records are written the moment a unit ends, by
# whichever shard rendered it, before the job's other units exist to compare with.
ALIVE_FLOOR = 1e-3
ALIVE_FRACTION = 0.01
DEAD_MEANING = "no image drives this unit here"


def unit_png(stem: str) -> str:
    """A unit's PNG, relative to its job folder."""
    return f"{UNITS_FOLDER}/{stem}.png"


def unit_alpha_png(stem: str) -> str:
    """A unit's attribution map, relative to its job folder."""
    return f"{UNITS_FOLDER}/{stem}.alpha.png"


def unit_seed_png(stem: str) -> str:
    """An accentuated unit's seed image as the optimisation started, relative to its job
    folder."""
    return f"{UNITS_FOLDER}/{stem}.seed.png"


def unit_record_file(stem: str) -> str:
    """A unit's record, relative to its job folder."""
    return f"{UNITS_FOLDER}/{stem}.json"


def plan_entry(unit, cost: float) -> dict:
    """A unit as job.json lists it: its file stem, fingerprint, cost in FLOPs and target."""
    return {"stem": unit.file_stem, "fingerprint": unit.fingerprint, "cost": cost,
            **unit.record()}


def plan_record(job, objective: list[dict], model: dict, versions: dict,
                entries: list[dict], input_size: int) -> dict:
    """job.json of ``job`` (a planned job): the job as resolved, its ``objective`` terms as
    the manifest shows them, the model and the versions it renders with, the side of the
    images the network is fed in training, and every unit's entry (:func:`plan_entry`) in
    the job's order."""
    return {
        "job": {"name": job.name, "file": os.path.abspath(job.spec.file),
                "line": job.spec.line, "objective": objective, **job.spec.resolved_settings},
        "model": model,
        "versions": versions,
        "seed": job.spec.seed,
        "precision": job.settings.precision,
        # each step's transforms map an image onto a window of this side (or crop it to
        # this side), which the network is fed (in a job whose terms carry resized_to, the
        # model's fixed size after, for every term: one pass serves them all)
        "network_input_size": input_size,
        "units": entries,
    }


def done_record(unit, starts, ends, seconds: float, precision: str, device: str,
                batch_size: int, distance: dict | None = None) -> dict:
    """The record of a rendered unit: its target, the objective at the start and the end
    of each of its images (``starts``, ``ends``: written images first, then any uncoupled
    reference image) and their mean over the written ones, and how it ran. With diversity,
    also the objective its reference image reached without it; with accentuation, its
    seed's PNG and its ``distance`` from the seed. ``alive`` (:func:`is_alive`) says
    whether the objective rose at all; it is left out when the job has fewer than
    :data:`ALIVE_JUDGED_FROM_STEPS` steps, too few to tell."""
    written = unit.job.written_images
    record = {**unit.record(), "stem": unit.file_stem, "png": unit_png(unit.file_stem),
              "objective_start": float(np.mean(starts[:written])),
              "objective_end": float(np.mean(ends[:written])),
              "seconds": round(seconds, 3), "fingerprint": unit.fingerprint,
              "status": DONE, "precision": precision, "device": device,
              "batch_size": batch_size}
    if unit.job.settings.steps >= ALIVE_JUDGED_FROM_STEPS:
        record["alive"] = is_alive(record["objective_start"], record["objective_end"])
    if unit.job.settings.alpha:
        record["alpha_png"] = unit_alpha_png(unit.file_stem)
    if unit.seed_image:
        record["seed_png"] = unit_seed_png(unit.file_stem)
        record["distance"] = distance
    if written > 1:
        record["images"] = [{"frame": image.frame, "seed": image.seed,
                             "objective_start": float(start), "objective_end": float(end)}
                            for image, start, end in zip(unit.images(), starts, ends[:written])]
    if written < len(ends):
        reference = float(ends[written])
        record["objective_without_diversity"] = reference
        record["diversity_weakened"] = bool(reference > 0 and
                                            record["objective_end"] < 0.5 * reference)
    return record


def is_alive(start: float, end: float) -> bool:
    """Whether an objective that went from ``start`` to ``end`` rose meaningfully: by more
    than :data:`ALIVE_FLOOR` and more than :data:`ALIVE_FRACTION` of ``|start|``. False for
    NaN."""
    return bool(end - start > max(ALIVE_FLOOR, ALIVE_FRACTION * abs(start)))


def failed_record(unit, step: int) -> dict:
    """The record of a unit whose numbers went NaN or infinite at ``step``: no PNG, the
    reason; a rerun renders it again."""
    return {**unit.record(), "stem": unit.file_stem, "fingerprint": unit.fingerprint,
            "status": FAILED, "step": step, "reason": FAILURE_REASON}


def unit_state(record: dict | None, fingerprint: str, png_exists) -> str | None:
    """DONE, FAILED, or None (not rendered with this fingerprint, or its PNG is gone).
    ``png_exists()`` is asked only when it matters."""
    if record is None or record.get("fingerprint") != fingerprint:
        return None  # never rendered, or rendered by an earlier version of the job
    status = record.get("status", DONE)
    if status == DONE:
        return DONE if png_exists() else None
    return FAILED if status == FAILED else None


def render_seconds(record: dict) -> float:
    """Seconds a rendered unit took (its share of its batch)."""
    return float(record.get("seconds", 0.0))


def planned_cost(entry: dict) -> float:
    """A unit's cost in FLOPs, as job.json lists it."""
    return float(entry.get("cost", 1.0))


def manifest_header(plan: dict, records: list[dict], complete: bool, missing: list[str],
                    failed: list[tuple[str, dict]]) -> dict:
    """manifest.json without its units: job.json's header, the device and batch size the
    first unit ran with, whether every unit is done, the render seconds, the stems of the
    units ``missing`` and the ``failed`` ones (stem, record) with their step and reason."""
    header = {key: value for key, value in plan.items() if key != "units"}
    first = records[0] if records else {}
    header.update(device=first.get("device"), batch_size=first.get("batch_size"),
                  grid=GRID_FILE, complete=complete,
                  seconds=round(sum(render_seconds(record) for record in records), 3),
                  missing=missing,
                  failed=[{"stem": stem, "step": record.get("step"),
                           "reason": record.get("reason")} for stem, record in failed])
    return header
