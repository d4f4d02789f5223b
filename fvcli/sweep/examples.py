"""Dataset examples of a job file's units: which jobs are scored on which folder, the
scoring of each folder, and the files it leaves (``examples.json``, a grid per unit, the
index updated)."""

from __future__ import annotations

import os
from dataclasses import dataclass

from ..config import SpecError
from ..config.schema import EXAMPLES_TOP
from ..engine.scoring import NoUnitToScore, UnitScorer, image_paths, score_folder, thumbnail
from ..images import IMAGE_KINDS
from ..outputs.collect import collect, job_names
from ..outputs.examples import write_examples


class NoImages(Exception):
    """A folder to score has no image, or none that can be read; ``str()`` is the one
    line to show the user."""


@dataclass
class ExamplesTask:
    """One job's units, to be scored on one folder."""

    job: object   # a planned job
    scorer: UnitScorer
    folder: str
    top: int
    crop: bool
    where: str  # how the user named the folder, for errors: --images or the file's key


def plan_examples(prepared_file, images: str | None, top: int | None,
                  crop: bool | None) -> list[ExamplesTask]:
    """The jobs to score: with ``images``, every job of the file on that folder; without,
    the jobs whose ``examples:`` key names a folder. ``top`` and ``crop`` override the
    jobs' own. SpecError when there is nothing to score or a job cannot be scored;
    NoImages when a folder holds no image file."""
    path, network = prepared_file.job_file.path, prepared_file.network
    chosen = (prepared_file.jobs if images
              else [job for job in prepared_file.jobs if job.spec.examples])
    if not chosen:
        raise SpecError(path, None, "", "no job has an examples: {images: DIR} key; pass "
                        "--images DIR to score every job's units")
    tasks = []
    for job in chosen:
        settings = job.spec.examples or {}
        try:
            scorer = UnitScorer(network, job, network.native_size or job.settings.size)
        except NoUnitToScore as error:
            raise SpecError(path, job.spec.line, job.name, "dataset examples need a job with "
                            "one channel, neuron, direction or class objective; "
                            f"{job.name} is {error.objective}") from None
        if job.images_per_unit != 1:
            raise SpecError(path, job.spec.line, job.name, "dataset examples of a diversity "
                            "job are those of its units without diversity: give them a job "
                            "of the same units without diversity")
        where = "--images" if images else f"{path}:{job.spec.line}: {job.name}: examples.images"
        tasks.append(ExamplesTask(job, scorer, images or settings["images"],
                                  top or settings.get("top", EXAMPLES_TOP.default),
                                  settings.get("crop", False) if crop is None else crop, where))
    for task in tasks:  # before any scoring: an empty folder is known at once
        if next(image_paths(task.folder), None) is None:
            suffixes = IMAGE_KINDS
            raise NoImages(f"{task.where}: no image files ({suffixes}) in {task.folder} or "
                           "its subfolders; point it at a folder of images")
    return tasks


def find_examples(tasks: list[ExamplesTask], out_dir: str, batch_size: int, warn,
                  on_written) -> None:
    """Score each task's folder, ``batch_size`` images at a time, and write what it found
    under ``out_dir/<job>/``; ``on_written(path, run)`` hears of each examples.json.
    ``warn`` hears of each unreadable image, once however many jobs read its folder.
    Every folder is scored before anything is written, so a folder none of whose images
    can be read raises NoImages with every earlier examples.json left as it was."""
    warned = set()

    def warn_once(message: str) -> None:
        if message not in warned:
            warned.add(message)
            warn(message)

    runs = []
    for task in tasks:
        run = score_folder(task.scorer, task.folder, len(task.job.units), task.top, batch_size,
                           warn_once)
        if not run.paths:
            first = run.skipped[0]
            raise NoImages(f"{task.where}: none of the image files in {task.folder} could "
                           f"be read ({len(run.skipped)} skipped; first: {first['image']}: "
                           f"{first['reason']}); nothing written")
        runs.append(run)
    for task, run in zip(tasks, runs):
        scored_on = "pre-activation" if task.scorer.on_pre_activation else "activation"
        path = write_examples(task.job, run, task.folder, os.path.join(out_dir, task.job.name),
                              task.crop, scored_on, thumbnail)
        on_written(path, run)
    if job_names(out_dir):
        collect(out_dir, names=[])  # only index.html, so rendered units show their examples
