"""fvcli validate: job files checked against their models, and priced, without rendering."""

from __future__ import annotations

import click

from .common import DEVICE_HELP, MODEL_HELP, prepare_or_fail


@click.command(short_help="Check job files against the model and device; price them.")
@click.argument("job_files", nargs=-1, required=True, type=click.Path(dir_okay=False))
@click.option("--model", help=MODEL_HELP)
@click.option("--device", default="auto", show_default=True, help=DEVICE_HELP)
@click.option("--estimate/--no-estimate", default=True, show_default=True,
              help="Say how long rendering would take on this machine (one process, on "
                   "--device), from the work the plan holds and the speed earlier renders "
                   "recorded; where none is recorded, a few steps are timed first. Tracing "
                   "adds a few seconds per job shape.")
def validate(job_files, model, device, estimate):
    """Check JOB_FILES against the model and the device without rendering anything.

    Prints one line per job (name, objective, number of images, and with --estimate the
    time it would take) and exits 0, or prints every problem it finds, one per line as
    FILE:LINE: KEY: what is wrong, in line order, then a note for each check it left out
    because it depends on a wrong value, and exits 2.
    """
    from ..sweep.progress import format_duration

    prepared = prepare_or_fail(job_files, model, {}, device, all_errors=True)
    times = _estimate(prepared) if estimate else None
    for file in prepared.files:
        for job in file.jobs:
            first = job.describe(job.units[0].indices)
            line = (f"{file.job_file.path}: {job.name}: {len(job.units)} image(s), "
                    f"{job.settings.steps} steps at {job.settings.size}px, first: {first}")
            if times:
                line += f"; about {format_duration(times.seconds[id(job)])}"
            click.echo(line)
    if times:
        click.echo(f"estimated time on this machine: about {format_duration(times.total)} "
                   f"(start-up {times.startup:.1f} s, {times.traces} step trace(s) "
                   f"{times.trace_total:.1f} s, the rest rendering; {'; '.join(times.speeds)})")
    click.echo("ok")


def _estimate(prepared):
    from ..sweep.pricing import estimate  # imports TensorFlow, loaded quietly by now

    return estimate(prepared, say=lambda message: click.echo(message, err=True))
