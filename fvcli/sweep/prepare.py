"""Before anything renders: job files read and checked, their models loaded, the device
chosen, and their jobs planned against the models and the device (precision, memory).

Everything that can be wrong with the input is found here, so that a bad file never
leaves half-written output.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from ..config import JobFile, SpecError, load_job_file
from ..config.errors import CheckSkipped
from ..models.errors import ModelError, ModelUnavailable
from ..models.tensorflow_import import import_tensorflow_quietly
from ..timings import phase
from .plan import PlannedJob, plan_job_file


class OptionError(ValueError):
    """A command-line option's value cannot be used here (``--precision fp16`` on a CPU):
    the option is to blame, not the job files it overrides; ``str()`` is the one line,
    ``option`` the flag."""

    def __init__(self, option: str, message: str):
        super().__init__(message)
        self.option = option


@dataclass
class PreparedFile:
    """A job file with its jobs planned against the network they render on."""

    job_file: JobFile
    jobs: list[PlannedJob]
    network: object
    model: object  # the model as the file or --model gave it (a name, handle, path or mapping)


@dataclass
class Prepared:
    """Job files prepared for one device."""

    files: list[PreparedFile]
    device: object  # fvcli.engine.hardware.Device
    # what this process spent importing TensorFlow, choosing the device and loading the
    # models: the start-up a render of the same files pays before its first step
    startup_seconds: float = 0.0

    @property
    def jobs(self):
        """(job, network) of every job of every file, in order."""
        return [(job, file.network) for file in self.files for job in file.jobs]


def prepare_job_files(job_files, model_option, overrides: dict, device_name: str = "auto",
                      errors: list | None = None, renders: bool = True) -> Prepared:
    """Read every job file, choose the device, load the model(s) (once each), plan the jobs
    against them with their precision resolved on the device (with ``renders`` False, for
    commands that only score images, precisions are left as written and not checked).

    Raises the first SpecError, or, given an ``errors`` list, adds every error of every
    file to it and goes on (a file's model that cannot be loaded is one of them, and its
    jobs are left unplanned, with a note). A device that is not there raises
    HardwareError, a --precision it lacks OptionError. A model that cannot be loaded raises
    ModelError (or ModelUnavailable) naming where it was given: ``--model``, or the file
    and line."""
    files = [load_job_file(path, overrides, errors) for path in job_files]
    started = time.perf_counter()
    import_tensorflow_quietly()  # only now: a bad file is reported without waiting for it
    from ..engine.hardware import resolve_device, resolve_precision
    from ..models.loading import load_network

    device = resolve_device(device_name)
    if renders and overrides.get("precision") is not None:
        # Checked once here, or every job would blame its own line for the option's value.
        try:
            resolve_precision(overrides["precision"], device)
        except ValueError as error:
            raise OptionError("--precision", str(error)) from None

    def precision_of(requested: str) -> str:
        return resolve_precision(requested, device) if renders else requested

    prepared, networks = [], {}
    for job_file in files:
        model = model_option or job_file.model
        if not model_option and not job_file.model_ok:
            _not_planned(job_file, errors, "its model is fixed")
            continue
        key = repr(model)
        if key not in networks:
            try:
                networks[key] = load_network(model)
            except ModelError as error:
                if errors is None or model_option or isinstance(error, ModelUnavailable):
                    raise type(error)(f"{_model_origin(job_file, model_option)}: {error}") \
                        from None
                errors.append(SpecError(job_file.path, job_file.model_line, "model",
                                        str(error)))
                _not_planned(job_file, errors, "its model loads")
                continue
        with phase("planning"):
            jobs = plan_job_file(job_file, networks[key], precision_of, errors)
        prepared.append(PreparedFile(job_file, jobs, networks[key], model))
    return Prepared(prepared, device, time.perf_counter() - started)


def _not_planned(job_file: JobFile, errors: list, until: str) -> None:
    """Note that the jobs of ``job_file`` are not checked against a model: its own is
    wrong."""
    if job_file.jobs:
        errors.append(CheckSkipped(job_file.path, job_file.model_line, "model",
                                   f"its jobs' layers and channels are checked once {until}"))


def _model_origin(job_file: JobFile, model_option) -> str:
    """Where the model of ``job_file`` was named, for errors."""
    if model_option:
        return "--model"
    if job_file.model_line:
        return f"{job_file.path}:{job_file.model_line}: model"
    return f"{job_file.path}: model (the default)"


def check_memory(prepared: Prepared) -> None:
    """Check that a batch of every job fits in the device's memory (by the estimate that
    ``batch_size: auto`` uses); SpecError names the job's file and line otherwise."""
    from ..engine.memory import memory_problem

    for job, network in prepared.jobs:
        with phase("planning"):
            too_big = memory_problem(job, network, prepared.device)
        if too_big:
            raise SpecError(job.spec.file, job.spec.line, job.name, too_big)
