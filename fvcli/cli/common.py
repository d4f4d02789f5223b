"""What the commands share: failing with one line and an exit code, the model option, and
job files checked and planned, or every problem reported."""

from __future__ import annotations

import sys

import click

from ..exit_codes import ExitCode

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


def fail(message: str, code: ExitCode) -> None:
    """Print ``fvcli: error: message`` on stderr and exit with ``code``."""
    click.echo(f"fvcli: error: {message}", err=True)
    sys.exit(code)


def cannot_write(error: OSError, default_path: str) -> None:
    """One line for a failed write (disk full, no permission) naming the path; exit 1."""
    fail(f"cannot write {error.filename or default_path}: {error.strerror}", ExitCode.FAILURE)


def model_failure(error) -> None:
    """One line for a model that cannot be loaded: bad input (2) when the user named
    something that is not there, a failure (1) when it cannot be had here (offline)."""
    from ..models.errors import ModelUnavailable

    fail(str(error), ExitCode.FAILURE if isinstance(error, ModelUnavailable)
         else ExitCode.BAD_INPUT)


def load_network_or_fail(model, table_size=None, where: str = "--model"):
    """The network, or one line naming ``where`` the model was given and exit."""
    from ..models.errors import ModelError
    from ..models.tensorflow_import import import_tensorflow_quietly

    import_tensorflow_quietly()
    from ..models.loading import load_network

    try:
        return load_network(model, table_size=table_size)
    except ModelError as error:
        model_failure(type(error)(f"{where}: {error}"))


def prepare_or_fail(job_files, model_option, overrides, all_errors: bool = False):
    """Every job file read, its model loaded and its jobs planned
    (:func:`fvcli.sweep.prepare.prepare_job_files`). On bad input, print the first error
    (or, with ``all_errors``, every error of every file) in file and line order, exit 2."""
    from ..config import SpecError
    from ..models.errors import ModelError
    from ..sweep.prepare import prepare_job_files

    errors = []
    prepared = []
    try:
        prepared = prepare_job_files(job_files, model_option, overrides,
                                     errors if all_errors else None)
    except SpecError as error:
        errors.append(error)
    except ModelError as error:
        model_failure(error)
    for error in sorted(errors, key=lambda error: (error.file, error.line)):
        click.echo(f"fvcli: error: {error}", err=True)
    if errors:
        sys.exit(ExitCode.BAD_INPUT)
    return prepared
