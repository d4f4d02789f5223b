"""fvcli render: job files checked, then their units rendered into the output folder."""

from __future__ import annotations

import os
import sys

import click

from ..exit_codes import ExitCode, exit_codes_help
from ..outputs.locks import run_lock
from ..sweep.shards import shard_to_render
from .common import (DEVICE_HELP, MODEL_HELP, cannot_write, fail, prepare_or_fail,
                     setting_option, stopped)

RENDER_HELP = f"""Render every job of JOB_FILES into OUT/<job name>/.

Every job file is checked against the model and the device first; if any is wrong
nothing is rendered. Each unit (a channel, a class, ...) is written the moment it is
rendered: units/<unit>.png and its record units/<unit>.json. When all units of a job
are on disk, the job's grid.png and manifest.json and OUT/index.html are written.

Resuming: units already on disk with the same settings are skipped, so running the
same command again after a kill or a change renders only what is missing or changed.
A run that finds another run of the same job files into OUT (and shard) still going
exits {ExitCode.DONE:d} at once, which makes it safe to start from cron.

{exit_codes_help()}
"""


@click.command(help=RENDER_HELP, short_help="Render every job of job files into a folder.")
@click.argument("job_files", nargs=-1, required=True, type=click.Path(dir_okay=False))
@click.option("--out", "-o", default="renders", show_default=True, type=click.Path(file_okay=False),
              help="Folder to write into; each job gets a subfolder named after it.")
@click.option("--model", help=MODEL_HELP)
@setting_option("steps")
@setting_option("size")
@setting_option("batch_size")
@setting_option("seed")
@setting_option("precision")
@click.option("--device", default="auto", show_default=True, help=DEVICE_HELP)
@setting_option("xla")
@click.option("--shard", metavar="I/N",
              help="Render only shard I of N (1 <= I <= N) of the units, split by estimated "
                   "cost. Under a Slurm array it is taken from SLURM_ARRAY_TASK_ID.")
@click.option("--force", is_flag=True,
              help="Render units again even when they are on disk with the same settings.")
@click.option("--quiet", "-q", is_flag=True, help="No progress output.")
def render(job_files, out, model, steps, size, batch_size, seed, precision, device, xla,
           shard, force, quiet):
    overrides = {"steps": steps, "size": size, "batch_size": batch_size, "seed": seed,
                 "precision": precision, "xla": xla}
    from ..sweep.signals import StopSignals

    try:
        chosen_shard, shard_note = shard_to_render(shard, os.environ)
    except ValueError as error:
        fail(str(error), ExitCode.BAD_INPUT)
    lock = run_lock(out, job_files, chosen_shard)
    try:
        with StopSignals() as stop:
            if os.path.isdir(out) and not lock.acquire(wait=False):
                _already_running(lock, job_files, out)
            prepared = prepare_or_fail(job_files, model, overrides, device)
            _check_memory(prepared)
            if not lock.acquire(wait=False):
                _already_running(lock, job_files, out)
            if shard_note and not quiet:
                click.echo(f"fvcli: {shard_note}", err=True)
            _render(prepared, out, chosen_shard, force, quiet, stop)
    except KeyboardInterrupt:  # a second Ctrl-C
        stopped("a second Ctrl-C", "at once; the batch in flight is lost, every unit before "
                "it is kept", ExitCode.INTERRUPTED)
    finally:
        lock.release()


def _render(prepared, out, shard, force, quiet, stop) -> None:
    """Render, then map how the run ended to its exit code and last line."""
    from ..engine.memory import OutOfMemory
    from ..sweep.runner import render_prepared

    try:
        report = render_prepared(prepared, out, shard, force, quiet, stop, click.echo)
    except OSError as error:
        cannot_write(error, out)
    except OutOfMemory as error:
        fail(str(error), ExitCode.FAILURE)
    except Exception as error:  # one line for the user, not a traceback
        fail(f"{type(error).__name__}: {str(error).splitlines()[0] if str(error) else ''}",
             ExitCode.FAILURE)
    failed = report.failed
    if failed and not report.stopped:
        fail(f"{len(failed)} unit(s) failed (NaN or infinite numbers): "
             f"{', '.join(failed[:5])}{' ...' if len(failed) > 5 else ''}; the others are "
             "done (see fvcli status)", ExitCode.UNITS_FAILED)
    if report.stopped:
        of = f"of shard {shard}" if shard.count > 1 else "of the run"
        stopped(stop.name, f"{report.rendered + report.skipped} of {report.shard_size} units "
                f"{of} are done ({report.rendered} rendered now, {report.skipped} before); "
                "nothing partial was written. Run the same command again to finish.",
                ExitCode.INTERRUPTED if stop.interrupted else ExitCode.STOPPED)


def _already_running(lock, job_files, out) -> None:
    click.echo(f"fvcli: another run of {' '.join(job_files)} into {out} is still going "
               f"(host and pid: {lock.holder()}); nothing to do", err=True)
    sys.exit(ExitCode.DONE)


def _check_memory(prepared) -> None:
    """Exit 2 with one line if a batch of some job cannot fit in the device's memory."""
    from ..config import SpecError
    from ..sweep.prepare import check_memory

    try:
        check_memory(prepared)
    except SpecError as error:
        fail(str(error), ExitCode.BAD_INPUT)
