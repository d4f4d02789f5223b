"""The command line: parsing, reporting and exit codes; the work happens elsewhere.

Exit codes: 0 done, 2 bad usage or a bad job file (nothing was written), 1 a failure
while running, 3 some units failed (NaN or infinite numbers), 75 stopped by SIGTERM and
130 by Ctrl-C (run again to finish).
TensorFlow is imported only by the commands that need a model (render, validate, layers,
model fetch); --help, collect, status and slurm answer without it.
"""

from __future__ import annotations

import os
import sys

import click

from .. import __version__
from ..config import SETTINGS

EXIT_FAILURE, EXIT_BAD_INPUT, EXIT_UNITS_FAILED = 1, 2, 3
MODEL_HELP = ("Model to use instead of the job file's: inception_v1 (TF-Hub, the default), "
              "demo (built in, offline), a TF-Hub handle (https://...), a SavedModel folder "
              "or a .keras file.")


class BatchSizeType(click.ParamType):
    """A whole number from 1 to 1024, or auto."""

    name = "N|auto"

    def convert(self, value, param, ctx):
        if value == "auto" or isinstance(value, int):
            return value
        try:
            number = int(value)
        except ValueError:
            number = 0
        if not 1 <= number <= 1024:
            self.fail(f"{value!r} is not a whole number from 1 to 1024 or auto", param, ctx)
        return number


def _quiet_tensorflow() -> None:
    """Import TensorFlow without its start-up chatter on stderr (CPU feature and CUDA
    notices), which is not for our users. Set TF_CPP_MIN_LOG_LEVEL to see it."""
    if "TF_CPP_MIN_LOG_LEVEL" in os.environ or "tensorflow" in sys.modules:
        return
    os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
    saved, devnull = os.dup(2), os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)
    try:
        import tensorflow
        import tensorflow_hub  # noqa: F401

        # Each job shape traces its own step once; TensorFlow's retracing warning counts
        # those as retraces and would alarm users of multi-job files for nothing.
        tensorflow.get_logger().setLevel("ERROR")
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


def _fail(message: str, code: int) -> None:
    click.echo(f"fvcli: error: {message}", err=True)
    sys.exit(code)


def _cannot_write(error: OSError, default_path: str) -> None:
    """One line for a failed write (disk full, no permission) naming the path; exit 1."""
    _fail(f"cannot write {error.filename or default_path}: {error.strerror}", EXIT_FAILURE)


def _load_network(model, table_size=None, where: str = "--model"):
    """The network, or one line naming ``where`` the model was given and exit."""
    _quiet_tensorflow()
    from ..models.errors import ModelError
    from ..models.loading import load_network

    try:
        return load_network(model, table_size=table_size)
    except ModelError as error:
        _fail(f"{where}: {error}", error.exit_code)


def _load_checked(job_files, model_option, overrides, all_errors: bool = False):
    """Read every job file, load the model(s), plan the jobs against them: a list of
    (job file, planned jobs, network, model spec). On bad input, print the first error
    (or, with ``all_errors``, every error of every file) and exit 2."""
    from ..config import SpecError, load_job_file

    checked, networks, errors = [], {}, []
    collect = errors if all_errors else None
    try:
        files = [load_job_file(path, overrides, collect) for path in job_files]
        _quiet_tensorflow()
        from ..sweep.plan import plan_job_file

        for job_file in files:
            model = model_option or job_file.model
            key = repr(model)
            if key not in networks:
                where = ("--model" if model_option else
                         f"{job_file.path}:{job_file.model_line}: model"
                         if job_file.model_line else f"{job_file.path}: model (the default)")
                networks[key] = _load_network(model, where=where)
            jobs = plan_job_file(job_file, networks[key], collect)
            checked.append((job_file, jobs, networks[key], model))
    except SpecError as error:
        errors.append(error)
    for error in sorted(errors, key=lambda error: (error.file, error.line)):
        click.echo(f"fvcli: error: {error}", err=True)
    if errors:
        sys.exit(EXIT_BAD_INPUT)
    return checked


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="fvcli")
def main():
    """Render feature visualisations of image networks from YAML job files.

    \b
      fvcli layers                         what can I visualise? names, shapes, channels
      fvcli validate jobs.yaml             check a job file against the model, render nothing
      fvcli render jobs.yaml --out renders one folder per job: grid.png, units/, manifest.json
      fvcli render jobs.yaml --shard 2/8   one eighth of the units (resumes what is done)
      fvcli status renders                 units done / total per job, time left
      fvcli collect renders                grids, manifests and renders/index.html
      fvcli slurm jobs.yaml --shards 64    an sbatch script for a Slurm array sweep
      fvcli model fetch                    download the default model for offline use

    The default model is InceptionV1 from TF-Hub; `--model demo` uses the small texture
    classifier built into fvcli, which needs no download. Exit codes: 0 done, 1 failure
    while running, 2 bad usage or job file (nothing written), 3 some units failed (NaN),
    75 stopped by SIGTERM and 130 by Ctrl-C (finished units kept; run again to finish).
    """


@main.command()
@click.argument("job_files", nargs=-1, required=True, type=click.Path(dir_okay=False))
@click.option("--out", "-o", default="renders", show_default=True, type=click.Path(file_okay=False),
              help="Folder to write into; each job gets a subfolder named after it.")
@click.option("--model", help=MODEL_HELP)
@click.option("--steps", type=click.IntRange(0), help=SETTINGS["steps"].help)
@click.option("--size", type=click.IntRange(16, 2048), help=SETTINGS["size"].help)
@click.option("--batch-size", type=BatchSizeType(),
              help=SETTINGS["batch_size"].help)
@click.option("--seed", type=click.IntRange(0), help=SETTINGS["seed"].help)
@click.option("--precision", type=click.Choice(["auto", "bf16", "fp16", "fp32"]),
              help=SETTINGS["precision"].help)
@click.option("--device", default="auto", show_default=True,
              help="Where to render: auto (first GPU if any, else CPU), cpu, gpu or gpu:N.")
@click.option("--xla/--no-xla", default=None,
              help=SETTINGS["xla"].help)
@click.option("--shard", metavar="I/N",
              help="Render only shard I of N (1 <= I <= N) of the units, split by estimated "
                   "cost. Under a Slurm array it is taken from SLURM_ARRAY_TASK_ID.")
@click.option("--force", is_flag=True,
              help="Render units again even when they are on disk with the same settings.")
@click.option("--quiet", "-q", is_flag=True, help="No progress output.")
def render(job_files, out, model, steps, size, batch_size, seed, precision, device, xla,
           shard, force, quiet):
    """Render every job of JOB_FILES into OUT/<job name>/.

    Every job file is checked against the model and the device first; if any is wrong
    nothing is rendered. Each unit (a channel, a class, ...) is written the moment it is
    rendered: units/<unit>.png and its record units/<unit>.json. When all units of a job
    are on disk, the job's grid.png and manifest.json and OUT/index.html are written.

    \b
    Resuming: units already on disk with the same settings are skipped, so running the
    same command again after a kill or a change renders only what is missing or changed.
    A run that finds another run of the same job files into OUT (and shard) still going
    exits 0 at once, which makes it safe to start from cron.

    \b
    Exit codes: 0 done (or already running), 1 failure while running, 2 bad usage or job
    file (nothing written), 3 some units failed (their numbers went NaN or infinite; the
    others are done), 75 stopped by SIGTERM (run again to finish), 130 stopped by Ctrl-C.
    Either stop keeps every finished unit and writes nothing partial.
    """
    overrides = {"steps": steps, "size": size, "batch_size": batch_size, "seed": seed,
                 "precision": precision, "xla": xla}
    from ..sweep.signals import StopSignals

    chosen_shard, shard_note = _shard(shard)
    lock = _run_lock(out, job_files, chosen_shard)
    try:
        with StopSignals() as stop:
            if os.path.isdir(out) and not lock.acquire(wait=False):
                _already_running(lock, job_files, out)
            checked = _load_checked(job_files, model, overrides)
            render_device = _check_hardware(device, checked)
            if not lock.acquire(wait=False):
                _already_running(lock, job_files, out)
            if shard_note and not quiet:
                click.echo(f"fvcli: {shard_note}", err=True)
            _render_checked(checked, render_device, out, chosen_shard, force, quiet, stop)
    except KeyboardInterrupt:  # a second Ctrl-C
        _fail("interrupted at once; the batch in flight is lost, everything before it is "
              "kept", 130)
    finally:
        lock.release()


def _render_checked(checked, device, out, shard, force, quiet, stop) -> None:
    from ..models.names import resolve_model_spec
    from ..engine.memory import OutOfMemory
    from ..engine.renderer import RendererCache
    from ..sweep.runner import SweepRunner

    label = f"shard {shard}" if shard.count > 1 else "render"
    done = shard_total = skipped = 0
    stopped, failed = False, []
    try:
        for _job_file, jobs, network, model_spec in checked:
            record = {"source": network.description, "fingerprint": network.fingerprint,
                      "spec": resolve_model_spec(model_spec)}
            runner = SweepRunner(RendererCache(network, device), out, record,
                                 should_stop=stop, quiet=quiet)
            report = runner.run(jobs, shard, force=force, label=label)
            done, shard_total = done + report.rendered, shard_total + report.shard_units
            skipped += report.skipped
            failed += report.failed
            for grid in report.grids:
                click.echo(grid)
            if report.stopped:
                stopped = True
                break
    except OSError as error:
        _cannot_write(error, out)
    except OutOfMemory as error:
        _fail(str(error), EXIT_FAILURE)
    except Exception as error:  # one line for the user, not a traceback
        _fail(f"{type(error).__name__}: {str(error).splitlines()[0] if str(error) else ''}",
              EXIT_FAILURE)
    if failed and not stopped:
        _fail(f"{len(failed)} unit(s) failed (NaN or infinite numbers): "
              f"{', '.join(failed[:5])}{' ...' if len(failed) > 5 else ''}; the others are "
              "done (see fvcli status)", EXIT_UNITS_FAILED)
    if stopped:
        _fail(f"stopped by {stop.name}: {label} rendered {done} units this run, "
              f"{skipped} were already done, of {shard_total}; nothing partial was written. "
              "Run the same command again to finish.", stop.exit_code)


def _shard(option: str | None):
    """The shard to render, from --shard or from a Slurm array's variables, and a line
    saying where it came from."""
    from ..sweep.shards import Shard

    if option:
        try:
            return Shard.parse(option), None
        except ValueError as error:
            _fail(f"--shard: {error}", EXIT_BAD_INPUT)
    task = os.environ.get("SLURM_ARRAY_TASK_ID")
    if task is None:
        return Shard(), None
    try:
        first = int(os.environ.get("SLURM_ARRAY_TASK_MIN", "0"))
        count = int(os.environ.get("SLURM_ARRAY_TASK_COUNT", "1"))
        shard = Shard(int(task) - first + 1, count)
        Shard.parse(str(shard))
    except ValueError:
        _fail(f"cannot read a shard from SLURM_ARRAY_TASK_ID={task}, SLURM_ARRAY_TASK_MIN="
              f"{os.environ.get('SLURM_ARRAY_TASK_MIN')}, SLURM_ARRAY_TASK_COUNT="
              f"{os.environ.get('SLURM_ARRAY_TASK_COUNT')}; use an array 0-(N-1) or --shard",
              EXIT_BAD_INPUT)
    return shard, (f"Slurm array task {task}: rendering shard {shard} (from "
                   "SLURM_ARRAY_TASK_ID, SLURM_ARRAY_TASK_MIN and SLURM_ARRAY_TASK_COUNT)")


def _run_lock(out: str, job_files, shard):
    """The lock a run of these job files into ``out`` holds: one per shard, so shards of a
    sweep run side by side and a second run of the same shard (cron) sees the first."""
    import hashlib

    from ..outputs.collect import STATE_FOLDER
    from ..outputs.locks import FileLock

    files = "\n".join(sorted(os.path.abspath(path) for path in job_files))
    digest = hashlib.sha1(files.encode()).hexdigest()[:12]
    name = f"render-{digest}-shard-{shard.index}-of-{shard.count}.lock"
    return FileLock(os.path.join(out, STATE_FOLDER, name))


def _already_running(lock, job_files, out) -> None:
    click.echo(f"fvcli: another run of {' '.join(job_files)} into {out} is still going "
               f"(host and pid: {lock.holder()}); nothing to do", err=True)
    sys.exit(0)


def _check_hardware(device_name, checked):
    """The device to render on, after checking every job's precision against it."""
    from ..engine.hardware import HardwareError, resolve_device, resolve_precision
    from ..engine.memory import memory_problem

    try:
        device = resolve_device(device_name)
    except HardwareError as error:
        _fail(f"--device: {error}", EXIT_BAD_INPUT)
    for _job_file, jobs, _network, _model in checked:
        for job in jobs:
            try:
                job.precision = resolve_precision(job.settings.precision, device)
            except HardwareError as error:
                _fail(f"{job.spec.file}:{job.spec.line}: {job.name}: precision: {error}",
                      EXIT_BAD_INPUT)
            too_big = memory_problem(job, _network, device)
            if too_big:
                _fail(f"{job.spec.file}:{job.spec.line}: {job.name}: {too_big}", EXIT_BAD_INPUT)
    return device


@main.command()
@click.argument("job_files", nargs=-1, required=True, type=click.Path(dir_okay=False))
@click.option("--model", help=MODEL_HELP)
@click.option("--estimate/--no-estimate", default=True, show_default=True,
              help="Say how long rendering would take on this machine (one process, default "
                   "device), from the work the plan holds and the speed earlier renders "
                   "recorded; where none is recorded, a few steps are timed first. Tracing "
                   "adds a few seconds per job shape.")
def validate(job_files, model, estimate):
    """Check JOB_FILES against the model without rendering anything.

    Prints one line per job (name, objective, number of images, and with --estimate the
    time it would take) and exits 0, or prints every problem it finds, one per line as
    FILE:LINE: KEY: what is wrong, and exits 2.
    """
    from ..engine.cost import job_flops
    from ..sweep.speed import format_duration

    checked = _load_checked(job_files, model, {}, all_errors=True)
    speeds = _speeds(checked) if estimate else {}
    total = 0.0
    for job_file, jobs, network, _model in checked:
        for job in jobs:
            first = job.describe(job.units[0].indices)
            line = (f"{job_file.path}: {job.name}: {len(job.units)} image(s), "
                    f"{job.settings.steps} steps at {job.settings.size}px, first: {first}")
            if id(job) in speeds:
                seconds = job_flops(job, network) / (speeds[id(job)]["gflop_per_s"] * 1e9)
                total += seconds
                line += f"; about {format_duration(seconds)}"
            click.echo(line)
    if speeds:
        used = {speed["label"]: None for speed in speeds.values()}
        click.echo(f"estimated time on this machine: about {format_duration(total)} "
                   f"({'; '.join(used)})")
    click.echo("ok")


def _speeds(checked) -> dict:
    """Per job (by id), the speed its time is estimated at: recorded by an earlier render on
    this machine with the same model, device and precision, else measured now on the job
    of that model and precision with the most work."""
    from ..engine.hardware import HardwareError, resolve_device, resolve_precision
    from ..engine.cost import job_flops
    from ..sweep.runner import measure_speed
    from ..sweep.speed import record_speed, recorded_speed, speed_key

    device = resolve_device("auto")
    groups: dict[str, list] = {}  # speed key -> [(job, network, precision)]
    for _job_file, jobs, network, _model in checked:
        for job in jobs:
            try:
                precision = resolve_precision(job.settings.precision, device)
            except HardwareError:
                continue
            key = speed_key(getattr(network, "fingerprint", ""), device.name, precision)
            groups.setdefault(key, []).append((job, network, precision))
    speeds = {}
    for key, members in groups.items():
        speed = recorded_speed(key)
        largest, network, precision = max(members,
                                           key=lambda member: job_flops(*member[:2]))
        if speed is None:
            click.echo(f"{largest.name}: no speed recorded for this model in {precision} "
                       f"on this machine; timing a few steps", err=True)
            measured = measure_speed(largest, network, device)
            record_speed(key, measured, "fvcli validate")
            speed = {"gflop_per_s": round(measured, 1), "how": "fvcli validate",
                     "when": "just now"}
        label = (f"{speed['gflop_per_s']:g} GFLOP/s in {precision} on "
                 f"{device.name.strip('/')}, measured by {speed['how']} {speed['when']}")
        speeds.update({id(job): {**speed, "label": label} for job, _, _ in members})
    return speeds


@main.command()
@click.option("--model", default="inception_v1", show_default=True, help=MODEL_HELP)
@click.option("--all", "show_all", is_flag=True,
              help="Also list layers inside others (e.g. the branches of Mixed_4b).")
@click.option("--size", type=click.IntRange(16, 2048), default=128, show_default=True,
              help="Image size the shapes are given at: the render size.")
def layers(model, show_all, size):
    """List the layers you can visualise: name, Distill alias, shape and channels."""
    network = _load_network(model, table_size=size)
    shown = network.layers if show_all else network.top_level_layers()
    width = max(len(layer.name) for layer in shown)
    click.echo(f"{network.description}")
    click.echo(f"{'layer':<{width}}  {'alias':<8}  {'shape':<16}  channels")
    for layer in shown:
        shape = "x".join(str(d) for d in layer.shape)
        click.echo(f"{layer.name:<{width}}  {layer.alias or '':<8}  {shape:<16}  "
                   f"{layer.channels}")


@main.group()
def model():
    """Manage models: download them for offline use."""


@model.command()
@click.argument("handle", required=False)
def fetch(handle):
    """Download a TF-Hub model (default: InceptionV1) into the TF-Hub cache.

    Run this on a machine with internet, then render on offline nodes with
    TFHUB_CACHE_DIR pointing at the same cache (copy it if they do not share a disk).
    """
    _quiet_tensorflow()
    from ..models.errors import ModelError
    from ..models.loading import fetch_to_cache
    from ..models.names import DEFAULT_HANDLE

    try:
        folder = fetch_to_cache(handle or DEFAULT_HANDLE)
    except ModelError as error:
        _fail(str(error), error.exit_code)
    click.echo(folder)


@main.command()
@click.argument("job_file", type=click.Path(dir_okay=False))
@click.option("--images", type=click.Path(exists=True, file_okay=False),
              help="Folder of images to score (searched recursively: jpg, jpeg, png, webp). "
                   "Default: the job's examples.images.")
@click.option("--top", type=click.IntRange(1, 100),
              help="Examples of each kind per unit (default 8, or the job's examples.top).")
@click.option("--crop/--no-crop", default=None,
              help="Show the part of each image around the unit's strongest response.")
@click.option("--out", "-o", default="renders", show_default=True,
              type=click.Path(file_okay=False), help="Output folder, as for render.")
@click.option("--model", help=MODEL_HELP)
@click.option("--batch-size", type=click.IntRange(1, 1024), default=32, show_default=True,
              help="Images scored at once.")
def examples(job_file, images, top, crop, out, model, batch_size):
    """Find the dataset examples of the units of JOB_FILE's jobs: the images of a folder
    that activate each unit most, slightly, slightly negatively and least.

    With --images, every job of the file is scored on that folder; without it, the jobs
    that name a folder with an examples: {images: DIR} key.

    Units of channel, neuron, direction and class jobs are scored on every image, in one
    forward pass per batch, on the layer's pre-activation where it has one (negative
    examples exist only there). Writes OUT/<job>/examples.json and a grid per unit,
    OUT/<job>/examples/<unit>.png, one row per kind. Unreadable images are skipped with
    a warning and listed in examples.json. The folder is streamed, so its size is not
    limited by memory.
    """
    ((_job_file, jobs, network, _model),) = _load_checked([job_file], model, {})
    from ..engine.scoring import UnitScorer, score_folder, thumbnail
    from ..outputs.examples import write_examples

    plans = []
    chosen = jobs if images else [job for job in jobs if job.spec.examples]
    if not chosen:
        _fail(f"{job_file}: no job has an examples: {{images: DIR}} key; pass --images DIR "
              "to score every job's units", EXIT_BAD_INPUT)
    for job in chosen:
        settings = job.spec.examples or {}
        folder = images or settings["images"]
        try:
            scorer = UnitScorer(network, job, network.native_size or job.settings.size)
        except ValueError as error:
            _fail(f"{job_file}:{job.spec.line}: {job.name}: {error}", EXIT_BAD_INPUT)
        plans.append((job, scorer, folder, top or settings.get("top", 8),
                      settings.get("crop", False) if crop is None else crop))
    warned = set()

    def warn(message: str) -> None:  # once per file, however many jobs read the folder
        if message not in warned:
            warned.add(message)
            click.echo(f"fvcli: warning: {message}", err=True)
    try:
        for job, scorer, folder, k, crop_images in plans:
            run = score_folder(scorer, folder, len(job.units), k, batch_size, warn)
            scored_on = "pre-activation" if scorer.on_pre_activation else "activation"
            path = write_examples(job, run, folder, os.path.join(out, job.name), crop_images,
                                  scored_on, thumbnail)
            click.echo(f"{path} ({len(run.paths)} images scored, {len(run.skipped)} skipped)")
        _show_in_index(out)
    except OSError as error:
        _cannot_write(error, out)


def _show_in_index(out: str) -> None:
    """Rewrite OUT/index.html (only) so rendered units show their new examples."""
    from ..outputs.collect import collect, job_names

    if job_names(out):
        collect(out, names=[])


@main.command("collect")
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
        _fail(f"{out_dir}: no such folder", EXIT_BAD_INPUT)
    if not job_names(out_dir):
        _fail(f"{out_dir}: no rendered jobs here (no <job>/job.json); render into it first",
              EXIT_BAD_INPUT)
    try:
        views = collect(out_dir)
    except OSError as error:
        _cannot_write(error, out_dir)
    for view in views:
        if view.done:
            click.echo(os.path.join(out_dir, view.name, "grid.png"))
    click.echo(os.path.join(out_dir, "index.html"))


@main.command()
@click.argument("target", type=click.Path(exists=True))
@click.option("--out", "-o", default="renders", show_default=True,
              type=click.Path(file_okay=False),
              help="With a job file: the folder it renders into.")
def status(target, out):
    """How far a sweep is: per job, units done / total, failed, and the render time left.

    TARGET is an output folder, or a job file whose jobs are looked up in --out. The time
    left is estimated from the units already rendered, for one worker; divide by the
    number of shards running side by side.
    """
    from ..outputs.collect import job_names, read_job
    from ..config import SpecError, load_job_file
    from ..sweep.status import status_table

    if os.path.isdir(target):
        out, names = target, job_names(target)
    else:
        try:
            names = [job.name for job in load_job_file(target).jobs]
        except SpecError as error:
            _fail(str(error), EXIT_BAD_INPUT)
    views = [view for view in (read_job(out, name) for name in names) if view is not None]
    if not views:
        _fail(f"{out}: nothing rendered here yet (no <job>/job.json)", EXIT_BAD_INPUT)
    for line in status_table(views):
        click.echo(line)


@main.command()
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
@click.option("--submit", is_flag=True, help="Run the script (sbatch) and print the job ids.")
def slurm(job_file, shards, out, partition, time_limit, gpus, cpus, mem, account, extra,
          submit):
    """Print an sbatch script that sweeps JOB_FILE over a Slurm array.

    The script submits SHARDS render tasks (each renders its shard of the units and
    resumes whatever is already on disk) and one collect task that runs after all of them
    and writes the grids, manifests and OUT/index.html. Save it, add your site's module
    loads, and run it with bash; or pass --submit.
    """
    import subprocess

    from ..config import SpecError, load_job_file
    from ..sweep.slurm import sbatch_script

    try:
        load_job_file(job_file)
    except SpecError as error:
        _fail(str(error), EXIT_BAD_INPUT)
    resources = {"partition": partition, "time": time_limit, "gpus": gpus,
                 "cpus_per_task": cpus, "mem": mem, "account": account}
    script = sbatch_script(job_file, out, shards, resources, extra)
    if not submit:
        click.echo(script, nl=False)
        return
    try:
        result = subprocess.run(["bash", "-s"], input=script, text=True, capture_output=True)
    except OSError as error:
        _fail(f"cannot run bash: {error.strerror}", EXIT_FAILURE)
    if result.returncode != 0:
        reason = (result.stderr.strip().splitlines() or ["no message"])[-1]
        _fail(f"sbatch failed: {reason}", EXIT_FAILURE)
    click.echo(result.stdout, nl=False)
