"""fvcli spectrum: the mean Fourier magnitude of a folder of images, for MACO."""

from __future__ import annotations

import io
import os

import click

from ..exit_codes import ExitCode
from ..images import IMAGE_KINDS, IMAGE_SUFFIXES, unreadable_reason
from .common import cannot_write, fail

PROGRESS_EVERY = 500  # images between progress lines


@click.command(short_help="The Fourier magnitude of a folder of images, for param: maco.")
@click.argument("folder", type=click.Path(exists=True, file_okay=False))
@click.option("--out", "-o", default="spectrum.npy", show_default=True,
              type=click.Path(dir_okay=False), help="The .npy file to write.")
@click.option("--size", type=click.IntRange(16, 1024), default=256, show_default=True,
              help="Side, in pixels, of the square each image is resized to first.")
def spectrum(folder, out, size):
    """Compute the mean Fourier magnitude of the images under FOLDER (searched
    recursively: {suffixes}), for jobs with param: {{maco: {{spectrum: FILE}}}}.

    Each image is cut to its central square, resized to --size pixels, its colours
    decorrelated as fvcli's images are, centred and windowed, and the magnitude of its 2-D
    Fourier transform added to the mean. Writes a float32 array of shape
    [3, size, size/2 + 1]; MACO resamples it to any canvas. Unreadable images are skipped
    with a warning. The folder is streamed, so its size is not limited by memory.

    fvcli ships a spectrum made so from a few public-domain photographs; one from your
    own data (a few thousand ImageNet images, say) gives MACO that data's look.
    """
    import imageio.v3 as iio
    import numpy as np

    from ..models.tensorflow_import import import_tensorflow_quietly

    import_tensorflow_quietly()  # before the engine imports it with its start-up chatter
    from ..engine.scoring import image_paths
    from ..engine.spectrum import SpectrumAverage
    from ..outputs.files import write_atomic

    average = SpectrumAverage(size)
    for path in image_paths(folder):
        try:
            average.add(iio.imread(path))
        except Exception as error:  # any decoder error means: skip this file
            click.echo(f"fvcli: warning: skipping {path}: {unreadable_reason(path, error)}",
                       err=True)
            continue
        if average.images % PROGRESS_EVERY == 0:
            click.echo(f"{average.images} images", err=True)
    if not average.images:
        fail(f"{folder}: no readable images (looked for "
             f"{', '.join(IMAGE_SUFFIXES)}); nothing written", ExitCode.BAD_INPUT)
    buffer = io.BytesIO()
    np.save(buffer, average.result())
    try:
        write_atomic(os.path.abspath(out), buffer.getvalue())
    except OSError as error:
        cannot_write(error, out)
    click.echo(f"{out} (the mean magnitude of {average.images} images at {size}px)")


spectrum.help = spectrum.help.format(
    suffixes=IMAGE_KINDS)
