"""fvcli collect, status and slurm: a sweep's output folder and its Slurm array. None of
them imports TensorFlow."""

from __future__ import annotations

import os

import click

from ..exit_codes import ExitCode
from ..outputs.records import GRID_FILE, INDEX_FILE
from .common import cannot_write, fail


@click.command("collect", short_help="Grids, manifests and index.html from what is on disk.")
@click.argument("out_dir", type=click.Path(file_okay=False))
def collect_command(out_dir):
    """Build each job's grid.png and manifest.json, and OUT_DIR/index.html, from the unit
    files that render runs (all shards of a sweep) left in OUT_DIR.

    A job shows the units of the job as it was last rendered; units not rendered yet are
    grey tiles in its grid and listed under "missing" in its manifest. Open
    OUT_DIR/index.html in a browser: a contact sheet per job and per layer, every image
    labelled with its unit and objective value. Renders run this themselves when a job
    is complete; run it by hand to see a sweep that is still going.
    """
    from ..outputs.collect import collect, job_names

    if not os.path.isdir(out_dir):
        fail(f"{out_dir}: no such folder", ExitCode.BAD_INPUT)
    if not job_names(out_dir):
        fail(f"{out_dir}: no rendered jobs here (no <job>/job.json); render into it first",
              ExitCode.BAD_INPUT)
    try:
        views = collect(out_dir)
    except OSError as error:
        cannot_write(error, out_dir)
    for view in views:
        if view.done:
            click.echo(os.path.join(out_dir, view.name, GRID_FILE))
    click.echo(os.path.join(out_dir, INDEX_FILE))


@click.command(short_help="Units done / total per job, failed, and the time left.")
@click.argument("target", type=click.Path(exists=True))
@click.option("--out", "-o", default="renders", show_default=True,
              type=click.Path(file_okay=False),
              help="With a job file: the folder it renders into.")
def status(target, out):
    """How far a sweep is: per job, units done / total, failed, dead, and the render time
    left.

    TARGET is an output folder, or a job file whose jobs are looked up in --out. Dead units
    are rendered but their objective never rose above its start: no image drives them
    (their records say "alive": false). The time left is estimated from the units already
    rendered, for one worker; divide by the number of shards running side by side.
    """
    from ..config import SpecError
    from ..sweep.status import status_table, views_of

    try:
        views = views_of(target, out)
    except SpecError as error:
        if not target.endswith((".yaml", ".yml")):
            # A log or a PNG given by mistake: its YAML error would only mislead.
            fail(f"{target} is a file, not an output folder, and does not read as a job "
                 "file; status takes the folder you rendered into, or a job file and its "
                 "--out", ExitCode.BAD_INPUT)
        fail(str(error), ExitCode.BAD_INPUT)
    if not views:
        folder = target if os.path.isdir(target) else out
        fail(f"{folder}: nothing rendered here yet (no <job>/job.json)", ExitCode.BAD_INPUT)
    for line in status_table(views):
        click.echo(line)


@click.command()
@click.argument("job_file", type=click.Path(exists=True, dir_okay=False))
@click.option("--shards", type=click.IntRange(1, 100_000), required=True,
              help="Number of array tasks; the units are split between them by cost.")
@click.option("--out", "-o", default="renders", show_default=True,
              type=click.Path(file_okay=False), help="Output folder, shared by all tasks.")
@click.option("--partition", help="sbatch --partition.")
@click.option("--time", "time_limit", help="sbatch --time per task, e.g. 4:00:00.")
@click.option("--gpus", help="sbatch --gpus per task.")
@click.option("--cpus", help="sbatch --cpus-per-task.")
@click.option("--mem", help="sbatch --mem per task, e.g. 16G.")
@click.option("--account", help="sbatch --account.")
@click.option("--extra", default="", help="More sbatch options, e.g. '--qos=long'.")
@click.option("--check/--no-check", default=True, show_default=True,
              help="Load the model and check the jobs against it as validate does (layers, "
                   "channels, files) before writing the script. --no-check, for a login "
                   "node that cannot load the model, checks the job file alone.")
@click.option("--submit", is_flag=True,
              help="Run the script (sbatch) and print the job ids; if it fails, nothing is "
                   "left submitted or on disk.")
def slurm(job_file, shards, out, partition, time_limit, gpus, cpus, mem, account, extra,
          check, submit):
    """Print an sbatch script that sweeps JOB_FILE over a Slurm array.

    The script submits SHARDS render tasks (each renders its shard of the units and
    resumes whatever is already on disk) and one collect task that runs after all of them
    and writes the grids, manifests and OUT/index.html. Save it, add your site's module
    loads, and run it with bash; or pass --submit.

    The job file is checked first, as validate checks it (without the device checks,
    which belong to the compute nodes): a bad file prints every problem and exits 2
    with no script.
    """
    import subprocess

    from ..sweep.slurm import sbatch_script

    units = _checked_unit_count(job_file) if check else _check_file_alone(job_file)
    if units is not None and shards > units:
        click.echo(f"fvcli: warning: --shards {shards} is more than the {units} units of "
                   f"{job_file}: at least {shards - units} array tasks will have nothing to "
                   f"render; --shards {units} is enough", err=True)
    resources = {"partition": partition, "time": time_limit, "gpus": gpus,
                 "cpus_per_task": cpus, "mem": mem, "account": account}
    script = sbatch_script(job_file, out, shards, resources, extra)
    if not submit:
        click.echo(script, nl=False)
        return
    try:
        result = subprocess.run(["bash", "-s"], input=script, text=True, capture_output=True)
    except OSError as error:
        fail(f"cannot run bash: {error.strerror}", ExitCode.FAILURE)
    if result.returncode != 0:
        # the script has already undone what it did (folders, a submitted array); say
        # why in one line, sbatch's reason and what was undone
        reason = "; ".join(line.strip() for line in result.stderr.splitlines() if line.strip())
        fail(f"sbatch failed: {reason or 'no message'}", ExitCode.FAILURE)
    click.echo(result.stdout, nl=False)


def _checked_unit_count(job_file: str) -> int:
    """The number of units of ``job_file``, planned against its model (every problem
    printed, exit 2 when there is one). Precisions and memory are not checked: they
    depend on the compute nodes' devices, not this one's."""
    from .common import prepare_or_fail

    prepared = prepare_or_fail([job_file], None, {}, "cpu", all_errors=True, renders=False,
                               model_hint="--no-check writes the script without loading "
                                          "the model")
    return sum(len(job.units) for job, _ in prepared.jobs)


def _check_file_alone(job_file: str) -> None:
    """Check ``job_file`` without its model (every problem printed, exit 2 when there is
    one); the units cannot be counted without the model, so return None."""
    from ..config import SpecError, load_job_file

    errors = []
    try:
        load_job_file(job_file, {}, errors)
    except SpecError as error:
        errors.append(error)
    for error in sorted(errors, key=lambda error: (error.file, error.line)):
        click.echo(f"fvcli: error: {error}", err=True)
    if errors:
        raise SystemExit(ExitCode.BAD_INPUT)
