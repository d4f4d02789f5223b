"""The command line. Each command parses its options, calls the package to do the work
and maps what went wrong to one line on stderr and an exit code (:mod:`fvcli.exit_codes`).

TensorFlow is imported only by the commands that need a model or images (render, validate,
layers, examples, score, spectrum, model fetch); --help, collect, status and slurm answer
without it.
"""

from __future__ import annotations

import atexit
import os
import sys

import click

from .. import __version__
from ..exit_codes import ExitCode, exit_codes_help
from .common import click_error_line
from .examples import examples
from .layers import layers, model_group
from .render import render
from .score import score
from .spectrum import spectrum
from .sweeps import collect_command, slurm, status
from .validate import validate

MAIN_HELP = f"""Render feature visualisations of image networks from YAML job files.

\b
  fvcli layers                            what can I visualise? names, shapes, channels
  fvcli validate jobs.yaml                check job files against the model, render nothing
  fvcli render jobs.yaml --out DIR        a folder per job: grid.png, units/, manifest.json
  fvcli render jobs.yaml --shard 2/8      one eighth of the units (resumes what is done)
  fvcli status DIR                        units done / total per job, dead, time left
  fvcli collect DIR                       grids, manifests and DIR/index.html
  fvcli slurm jobs.yaml --shards 64       an sbatch script for a Slurm array sweep
  fvcli examples jobs.yaml --images IMGS  the images that drive each unit most and least
  fvcli score jobs.yaml --images IMGS     how well each unit's pictures explain it (MIS)
  fvcli spectrum IMGS --out spec.npy      natural images' spectrum, for param: maco
  fvcli model fetch                       download the default model for offline use

The default model is InceptionV1 from TF-Hub; `--model demo` uses the small texture
classifier built into fvcli, which needs no download.

{exit_codes_help()}
"""


class FvcliGroup(click.Group):
    """The main group: click's own errors (a bad option value, a missing argument) end in
    the same ``fvcli: error: ...`` line as fvcli's, after click's usage line, and a Ctrl-C
    before a command installs its own handler is a stop, not an error."""

    def main(self, args=None, prog_name=None, complete_var=None, standalone_mode=True,
             **extra):
        if not standalone_mode:
            return super().main(args, prog_name, complete_var, False, **extra)
        try:
            code = super().main(args, prog_name, complete_var, False, **extra)
        except click.UsageError as error:
            if error.ctx is not None:
                help_option = max(error.ctx.command.get_help_option_names(error.ctx), key=len)
                click.echo(f"{error.ctx.get_usage()}\nTry '{error.ctx.command_path} "
                           f"{help_option}' for help.\n", err=True)
            click.echo(f"fvcli: error: {click_error_line(error)}", err=True)
            sys.exit(error.exit_code)
        except click.ClickException as error:
            click.echo(f"fvcli: error: {click_error_line(error)}", err=True)
            sys.exit(error.exit_code)
        except click.Abort:  # Ctrl-C while loading, before a render can stop cleanly
            click.echo("fvcli: stopped by Ctrl-C; nothing was written", err=True)
            sys.exit(ExitCode.INTERRUPTED)
        # Commands return None; --help and --version end in click's Exit, returned as its code.
        sys.exit(code if isinstance(code, int) else ExitCode.DONE)


@click.group(cls=FvcliGroup, help=MAIN_HELP,
             context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="fvcli")
def main():
    pass


for command in (render, validate, layers, model_group, examples, score, spectrum,
                collect_command, status, slurm):
    main.add_command(command)


def run() -> None:
    """The ``fvcli`` program: :func:`main`, then an exit that skips the interpreter's
    teardown. Once TensorFlow is loaded, tearing down its modules and objects takes a
    second or more (as long as a small render's rendering), for nothing: every file is
    written and closed when a command returns. Exit handlers still run and the standard
    streams are flushed; tests call :func:`main`, which exits as usual."""
    try:
        main()
        code = 0
    except SystemExit as done:
        code = done.code
    if code is not None and not isinstance(code, int):  # sys.exit("message"), as Python
        print(code, file=sys.stderr)
        code = 1
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # a closed pipe: nothing more to say
            pass
    os._exit(code or 0)
