"""Before anything renders: job files read and checked, their models loaded, their jobs
planned against the models, and checked against the machine (precision, memory).

Everything that can be wrong with the input is found here, so that a bad file never
leaves half-written output.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..config import JobFile, SpecError, load_job_file
from ..models.errors import ModelError
from ..models.tensorflow_import import import_tensorflow_quietly
from .plan import PlannedJob, plan_job_file


@dataclass
class PreparedFile:
    """A job file with its jobs planned against the network they render on."""

    job_file: JobFile
    jobs: list[PlannedJob]
    network: object
    model: object  # the model as the file or --model gave it (a name, handle, path or mapping)


def prepare_job_files(job_files, model_option, overrides: dict,
                      errors: list | None = None) -> list[PreparedFile]:
    """Read every job file, load the model(s) (once each), plan the jobs against them.

    Raises the first SpecError, or, given an ``errors`` list, adds every error of every
    file to it and goes on. A model that cannot be loaded raises ModelError (or
    ModelUnavailable) naming where it was given: ``--model``, or the file and line."""
    prepared, networks = [], {}
    files = [load_job_file(path, overrides, errors) for path in job_files]
    import_tensorflow_quietly()  # only now: a bad file is reported without waiting for it
    from ..models.loading import load_network

    for job_file in files:
        model = model_option or job_file.model
        key = repr(model)
        if key not in networks:
            try:
                networks[key] = load_network(model)
            except ModelError as error:
                raise type(error)(f"{_model_origin(job_file, model_option)}: {error}") from None
        jobs = plan_job_file(job_file, networks[key], errors)
        prepared.append(PreparedFile(job_file, jobs, networks[key], model))
    return prepared


def _model_origin(job_file: JobFile, model_option) -> str:
    """Where the model of ``job_file`` was named, for errors."""
    if model_option:
        return "--model"
    if job_file.model_line:
        return f"{job_file.path}:{job_file.model_line}: model"
    return f"{job_file.path}: model (the default)"


def check_machine(prepared: list[PreparedFile], device) -> None:
    """Resolve each job's precision on ``device`` and check that a batch fits in its
    memory; SpecError names the job's file and line otherwise."""
    from ..engine.hardware import HardwareError, resolve_precision
    from ..engine.memory import memory_problem

    for file in prepared:
        for job in file.jobs:
            try:
                job.precision = resolve_precision(job.settings.precision, device)
            except HardwareError as error:
                raise SpecError(job.spec.file, job.spec.line, f"{job.name}: precision",
                                str(error)) from None
            too_big = memory_problem(job, file.network, device)
            if too_big:
                raise SpecError(job.spec.file, job.spec.line, job.name, too_big)
