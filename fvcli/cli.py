"""The command line: parsing, reporting and exit codes; the work happens elsewhere.

Exit codes: 0 done, 2 bad usage or a bad job file (nothing was written), 1 a failure
while running.
"""

from __future__ import annotations

import os
import sys

import click

from . import __version__
from .config import SETTINGS

EXIT_FAILURE, EXIT_BAD_INPUT = 1, 2
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
        import tensorflow  # noqa: F401
        import tensorflow_hub  # noqa: F401
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


def _fail(message: str, code: int) -> None:
    click.echo(f"fvcli: error: {message}", err=True)
    sys.exit(code)


def _load_network(model, table_size=None):
    _quiet_tensorflow()
    from .models import ModelError, load_network

    try:
        return load_network(model, table_size=table_size)
    except ModelError as error:
        _fail(str(error), error.exit_code)


def _load_checked(job_files, model_option, overrides):
    """Read every job file, load the model(s), plan the jobs against them: a list of
    (job file, planned jobs, network, model spec)."""
    from .config import SpecError, load_job_file

    checked = []
    networks = {}
    try:
        files = [load_job_file(path, overrides) for path in job_files]
        _quiet_tensorflow()
        from .plan import plan_job_file

        for job_file in files:
            model = model_option or job_file.model
            key = repr(model)
            if key not in networks:
                networks[key] = _load_network(model)
            jobs = plan_job_file(job_file, networks[key])
            checked.append((job_file, jobs, networks[key], model))
    except SpecError as error:
        _fail(str(error), EXIT_BAD_INPUT)
    return checked


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="fvcli")
def main():
    """Render feature visualisations of image networks from YAML job files.

    \b
      fvcli layers                         what can I visualise? names, shapes, channels
      fvcli validate jobs.yaml             check a job file against the model, render nothing
      fvcli render jobs.yaml --out renders one folder per job: grid.png, units/, manifest.json
      fvcli model fetch                    download the default model for offline use

    The default model is InceptionV1 from TF-Hub; `--model demo` uses the small texture
    classifier built into fvcli, which needs no download. Exit codes: 0 done, 2 bad usage
    or job file (nothing written), 1 failure while running.
    """


@main.command()
@click.argument("job_files", nargs=-1, required=True, type=click.Path(dir_okay=False))
@click.option("--out", "-o", default="renders", show_default=True, type=click.Path(file_okay=False),
              help="Folder to write into; each job gets a subfolder named after it.")
@click.option("--model", help=MODEL_HELP)
@click.option("--steps", type=click.IntRange(1), help=SETTINGS["steps"].help)
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
@click.option("--quiet", "-q", is_flag=True, help="No progress output.")
def render(job_files, out, model, steps, size, batch_size, seed, precision, device, xla,
           quiet):
    """Render every job of JOB_FILES into OUT/<job name>/.

    Every job file is checked against the model and the device first; if any is wrong
    nothing is rendered. Each job writes grid.png (all its images, in order), units/
    (one PNG per channel or class, e.g. Mixed_4b_0011.png) and manifest.json (settings,
    model, precision, device, versions, and per image its objective before and after).
    """
    overrides = {"steps": steps, "size": size, "batch_size": batch_size, "seed": seed,
                 "precision": precision, "xla": xla}
    checked = _load_checked(job_files, model, overrides)
    render_device = _check_hardware(device, checked)
    from .models import resolve_model_spec
    from .runner import RendererCache, render_job

    try:
        for _job_file, jobs, network, model_spec in checked:
            record = {"source": network.description, "fingerprint": network.fingerprint,
                      "spec": resolve_model_spec(model_spec)}
            renderers = RendererCache(network, render_device)
            for job in jobs:
                folder = render_job(job, record, out, renderers, quiet=quiet)
                click.echo(os.path.join(folder, "grid.png"))
    except KeyboardInterrupt:
        _fail("interrupted; finished jobs are complete, the current one is not", 130)
    except Exception as error:  # one line for the user, not a traceback
        _fail(f"{type(error).__name__}: {str(error).splitlines()[0] if str(error) else ''}",
              EXIT_FAILURE)


def _check_hardware(device_name, checked):
    """The device to render on, after checking every job's precision against it."""
    from .hardware import HardwareError, resolve_device, resolve_precision

    try:
        device = resolve_device(device_name)
    except HardwareError as error:
        _fail(f"--device: {error}", EXIT_BAD_INPUT)
    for _job_file, jobs, _network, _model in checked:
        for job in jobs:
            try:
                resolve_precision(job.settings.precision, device)
            except HardwareError as error:
                _fail(f"{job.spec.file}:{job.spec.line}: {job.name}: precision: {error}",
                      EXIT_BAD_INPUT)
    return device


@main.command()
@click.argument("job_files", nargs=-1, required=True, type=click.Path(dir_okay=False))
@click.option("--model", help=MODEL_HELP)
def validate(job_files, model):
    """Check JOB_FILES against the model without rendering anything.

    Prints one line per job (name, objective, number of images) and exits 0, or prints
    the first problem as FILE:LINE: KEY: what is wrong, and exits 2.
    """
    for job_file, jobs, _network, _model in _load_checked(job_files, model, {}):
        for job in jobs:
            first = job.describe(job.units[0].indices)
            click.echo(f"{job_file.path}: {job.name}: {len(job.units)} image(s), "
                       f"{job.settings.steps} steps at {job.settings.size}px, first: {first}")
    click.echo("ok")


@main.command()
@click.option("--model", default="inception_v1", show_default=True, help=MODEL_HELP)
@click.option("--all", "show_all", is_flag=True,
              help="Also list layers inside others (e.g. the branches of Mixed_4b).")
@click.option("--size", type=click.IntRange(16, 2048),
              help="Image size for the shapes (default: the model's own input size, or 224).")
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
    from .models import DEFAULT_HANDLE, ModelError, fetch_to_cache

    try:
        folder = fetch_to_cache(handle or DEFAULT_HANDLE)
    except ModelError as error:
        _fail(str(error), error.exit_code)
    click.echo(folder)
