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
    FILE:LINE: KEY: what is wrong, and exits 2.
    """
    prepared = prepare_or_fail(job_files, model, {}, device, all_errors=True)
    speeds = _speeds(prepared) if estimate else {}
    from ..sweep.pricing import estimated_seconds  # imports TensorFlow, loaded quietly by now
    from ..sweep.progress import format_duration

    total = 0.0
    for file in prepared.files:
        for job in file.jobs:
            first = job.describe(job.units[0].indices)
            line = (f"{file.job_file.path}: {job.name}: {len(job.units)} image(s), "
                    f"{job.settings.steps} steps at {job.settings.size}px, first: {first}")
            if id(job) in speeds:
                seconds = estimated_seconds(job, file.network, speeds[id(job)])
                total += seconds
                line += f"; about {format_duration(seconds)}"
            click.echo(line)
    if speeds:
        used = {speed["label"]: None for speed in speeds.values()}
        click.echo(f"estimated time on this machine: about {format_duration(total)} "
                   f"({'; '.join(used)})")
    click.echo("ok")


def _speeds(prepared) -> dict:
    from ..sweep.pricing import job_speeds

    return job_speeds(prepared, say=lambda message: click.echo(message, err=True))
