"""What the commands share: failing with one line and an exit code, the model option, and
job files checked and planned, or every problem reported."""

from __future__ import annotations

import sys

import click

from ..config.schema import SETTINGS, Setting
from ..exit_codes import ExitCode

DEVICE_HELP = "Where to render: auto (first GPU if any, else CPU), cpu, gpu or gpu:N."
MODELS_TEXT = ("inception_v1 (TF-Hub, the default), demo (built in, offline), a TF-Hub handle "
               "(https://...), a SavedModel folder or a .keras file")
MODEL_HELP = f"Model to use instead of the job file's: {MODELS_TEXT}."


class WholeOrAuto(click.ParamType):
    """A whole number within a setting's range, or auto."""

    name = "N|auto"

    def __init__(self, setting: Setting):
        self.setting = setting

    def get_metavar(self, param, ctx=None) -> str:
        return f"[{self.setting.low:g}<=N<={self.setting.high:g}|auto]"

    def convert(self, value, param, ctx):
        if value == "auto" or isinstance(value, int):
            return value
        try:
            number = int(value)
        except ValueError:
            number = self.setting.low - 1
        if not self.setting.low <= number <= self.setting.high:
            self.fail(f"{value!r} is not a whole number {self.setting.range_text()}", param,
                      ctx)
        return number


def option_type(setting: Setting):
    """The click type of a setting of the table: its kind, within its range."""
    if setting.kind == "whole":
        return click.IntRange(setting.low, setting.high)
    if setting.kind == "number":
        return click.FloatRange(setting.low, setting.high)
    if setting.kind == "whole_or_auto":
        return WholeOrAuto(setting)
    if setting.kind == "choice":
        return click.Choice(setting.choices)
    raise ValueError(f"a {setting.kind} setting has no command-line option")


def setting_option(name: str):
    """An option that overrides setting ``name`` of every job: typed, bounded and
    described by the settings table; not given, the job files' values stand."""
    setting = SETTINGS[name]
    flag = "--" + name.replace("_", "-")
    if setting.kind == "boolean":
        return click.option(f"{flag}/--no-{flag[2:]}", name, default=None, help=setting.described)
    return click.option(flag, name, type=option_type(setting), help=setting.described)


def click_error_line(error: click.ClickException) -> str:
    """What click found wrong, in fvcli's words: ``--out: directory 'afile' is a file;
    give a folder`` rather than ``Invalid value for '--out' / '-o': ...``."""
    bad_value = isinstance(error, click.BadParameter) and \
        not isinstance(error, click.MissingParameter)
    message = error.message if bad_value else error.format_message()
    if ". (Did you mean" in message:
        message = message.replace(". (Did you mean", "; did you mean").rstrip(")")
    message = message.rstrip(".")
    message = message[:1].lower() + message[1:]
    param = getattr(error, "param", None)
    if bad_value:
        if isinstance(param, click.Option):
            where = max(param.opts, key=len)
        elif param is not None:
            where = param.human_readable_name
        else:
            where = error.param_hint if isinstance(error.param_hint, str) else None
        if isinstance(getattr(param, "type", None), click.Path):
            if message.endswith("is a file"):
                message += "; give a folder"
            elif message.endswith("is a directory"):
                message += "; give a file"
        return f"{where}: {message}" if where else message
    return message


def fail(message: str, code: ExitCode) -> None:
    """Print ``fvcli: error: message`` on stderr and exit with ``code``."""
    click.echo(f"fvcli: error: {message}", err=True)
    sys.exit(code)


def stopped(signal_name: str, message: str, code: ExitCode) -> None:
    """Print ``fvcli: stopped by SIGNAL: message`` on stderr and exit with ``code``: a stop
    the user (or the scheduler) asked for is not an error."""
    click.echo(f"fvcli: stopped by {signal_name}: {message}", err=True)
    sys.exit(code)


def cannot_write(error: OSError, default_path: str) -> None:
    """One line for a failed write (disk full, no permission) naming the path; exit 1."""
    fail(f"cannot write {error.filename or default_path}: {error.strerror}", ExitCode.FAILURE)


def model_failure(error, hint: str = "") -> None:
    """One line for a model that cannot be loaded: bad input (2) when the user named
    something that is not there, a failure (1) when it cannot be had here (offline);
    ``hint`` (what else the user can do) ends the line."""
    from ..models.errors import ModelUnavailable

    fail(f"{error}; {hint}" if hint else str(error),
         ExitCode.FAILURE if isinstance(error, ModelUnavailable) else ExitCode.BAD_INPUT)


def load_network_or_fail(model, table_size=None, where: str = "--model",
                         offline_hint: str = ""):
    """The network, or one line naming ``where`` the model was given and exit;
    ``offline_hint`` ends the line of a model that cannot be had here (offline)."""
    from ..models.errors import ModelError, ModelUnavailable
    from ..models.tensorflow_import import import_tensorflow_quietly

    import_tensorflow_quietly()
    from ..models.loading import load_network

    try:
        return load_network(model, table_size=table_size)
    except ModelError as error:
        model_failure(type(error)(f"{where}: {error}"),
                      offline_hint if isinstance(error, ModelUnavailable) else "")


def _report(errors: list, note_kind) -> None:
    """Print ``errors`` in file and line order, then the notes (``note_kind``) of checks
    left out, in the same order."""
    in_order = sorted(errors, key=lambda error: (error.file, error.line))
    for error in in_order:
        if not isinstance(error, note_kind):
            click.echo(f"fvcli: error: {error}", err=True)
    for note in in_order:
        if isinstance(note, note_kind):
            click.echo(f"fvcli: note: {note}", err=True)


def prepare_or_fail(job_files, model_option, overrides, device: str = "auto",
                    all_errors: bool = False, renders: bool = True, model_hint: str = ""):
    """Every job file read, its model loaded and its jobs planned for ``device``
    (:func:`fvcli.sweep.prepare.prepare_job_files`). On bad input, print the first error
    (or, with ``all_errors``, every error of every file in file and line order, then a
    note for each check left out because it depends on a wrong value), exit 2.
    ``model_hint`` ends the line of a model that cannot be loaded."""
    from ..config import SpecError
    from ..config.errors import CheckSkipped
    from ..engine.machine import HardwareError
    from ..models.errors import ModelError
    from ..sweep.prepare import OptionError, prepare_job_files

    errors = []
    prepared = None
    try:
        prepared = prepare_job_files(job_files, model_option, overrides, device,
                                     errors if all_errors else None, renders)
    except SpecError as error:
        errors.append(error)
    except ModelError as error:
        _report(errors, CheckSkipped)  # what the files hold is wrong too
        model_failure(error, model_hint)
    except HardwareError as error:  # the device asked for is not there
        _report(errors, CheckSkipped)
        fail(f"--device: {error}", ExitCode.BAD_INPUT)
    except OptionError as error:
        _report(errors, CheckSkipped)
        fail(f"{error.option}: {error}", ExitCode.BAD_INPUT)
    _report(errors, CheckSkipped)
    if errors:
        sys.exit(ExitCode.BAD_INPUT)
    return prepared
