"""fvcli examples: the images of a folder that most and least activate each unit."""

from __future__ import annotations

import click

from ..exit_codes import ExitCode
from ..config.schema import EXAMPLES_BATCH, EXAMPLES_TOP
from ..images import IMAGE_KINDS
from .common import MODEL_HELP, cannot_write, fail, option_type, prepare_or_fail


@click.command(short_help="Images of a folder that activate each unit most and least.")
@click.argument("job_file", type=click.Path(dir_okay=False))
@click.option("--images", type=click.Path(exists=True, file_okay=False),
              help="Folder of images to score (searched recursively: "
                   f"{IMAGE_KINDS}). Default: the job's "
                   "examples.images.")
@click.option("--top", type=option_type(EXAMPLES_TOP),
              help=f"{EXAMPLES_TOP.help} (default: the job's examples.top, else "
                   f"{EXAMPLES_TOP.default}).")
@click.option("--crop/--no-crop", default=None,
              help="Show the part of each image around the unit's strongest response.")
@click.option("--out", "-o", default="renders", show_default=True,
              type=click.Path(file_okay=False), help="Output folder, as for render.")
@click.option("--model", help=MODEL_HELP)
@click.option("--batch-size", type=option_type(EXAMPLES_BATCH), default=EXAMPLES_BATCH.default,
              help=EXAMPLES_BATCH.described)
def examples(job_file, images, top, crop, out, model, batch_size):
    """Find the dataset examples of the units of JOB_FILE's jobs: the images of a folder
    that activate each unit most, slightly, slightly negatively and least.

    With --images, every job of the file is scored on that folder; without it, the jobs
    that name a folder with an examples: {images: DIR} key.

    Units of channel, neuron, direction and class jobs are scored on every image, in one
    forward pass per batch, on the layer's pre-activation where it has one (negative
    examples exist only there). Writes OUT/<job>/examples.json and a grid per unit,
    OUT/<job>/examples/<unit>.png, one row per kind. Unreadable images are skipped with
    a warning and listed in examples.json; a folder with no image, or none that can be
    read, is an error (exit 2) and leaves every examples.json as it was. The folder is
    streamed, so its size is not limited by memory.
    """
    (prepared,) = prepare_or_fail([job_file], model, {}, renders=False).files
    from ..config import SpecError
    from ..sweep.examples import NoImages, find_examples, plan_examples

    try:
        tasks = plan_examples(prepared, images, top, crop)
    except (SpecError, NoImages) as error:
        fail(str(error), ExitCode.BAD_INPUT)

    def written(path, run) -> None:
        click.echo(f"{path} ({len(run.paths)} images scored, {len(run.skipped)} skipped)")
    try:
        find_examples(tasks, out, batch_size,
                      warn=lambda message: click.echo(f"fvcli: warning: {message}", err=True),
                      on_written=written)
    except NoImages as error:
        fail(str(error), ExitCode.BAD_INPUT)
    except OSError as error:
        cannot_write(error, out)
