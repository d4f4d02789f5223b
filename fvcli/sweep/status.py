"""How far a sweep is: per job, units done, failed, dead (done, but their objective never
rose: no image drives them) and missing, and the time left estimated from the units' own
timings. Reads the output folder only; no TensorFlow."""

from __future__ import annotations

import os

from ..config import load_job_file
from ..outputs.collect import job_names, read_job
from ..outputs.records import planned_cost, render_seconds
from .progress import format_duration


def views_of(target: str, out_dir: str) -> list:
    """The jobs to report on: every job of ``target`` when it is an output folder, or the
    jobs of the job file ``target`` as they stand in ``out_dir`` (SpecError if the file is
    bad); those with nothing on disk are left out."""
    if os.path.isdir(target):
        out_dir, names = target, job_names(target)
    else:
        names = [job.name for job in load_job_file(target).jobs]
    return [view for view in (read_job(out_dir, name) for name in names) if view is not None]


def status_table(views) -> list[str]:
    """Lines of a table, one per job and a total, for ``fvcli status``: units done / total,
    failed, dead (counted among the done) and the time left."""
    rate = _seconds_per_cost(views)
    width = max([len(view.name) for view in views] + [3])
    lines = [f"{'job':<{width}}  {'done':>13}  {'failed':>6}  {'dead':>6}  left (one worker)"]
    for view in views:
        lines.append(f"{view.name:<{width}}  {_count(view.done, len(view.units))}  "
                     f"{view.failed:>6}  {view.dead:>6}  {_left(view.units, rate)}")
    units = [unit for view in views for unit in view.units]
    done = sum(unit.done for unit in units)
    failed = sum(unit.failed for unit in units)
    dead = sum(unit.dead for unit in units)
    lines.append(f"{'all':<{width}}  {_count(done, len(units))}  {failed:>6}  {dead:>6}  "
                 f"{_left(units, rate)}")
    return lines


def _count(done: int, total: int) -> str:
    return f"{f'{done} / {total}':>13}"


def _seconds_per_cost(views) -> float | None:
    """Render seconds per unit of estimated cost, measured on the units already done."""
    seconds = cost = 0.0
    for view in views:
        for unit in view.units:
            if unit.done:
                seconds += render_seconds(unit.record)
                cost += planned_cost(unit.plan)
    return seconds / cost if cost and seconds else None


def _left(units, rate: float | None) -> str:
    remaining = [unit for unit in units if not unit.done]
    if not remaining:
        return "done"
    if rate is None:
        return "unknown (nothing rendered yet)"
    return "~" + format_duration(rate * sum(planned_cost(unit.plan) for unit in remaining))
