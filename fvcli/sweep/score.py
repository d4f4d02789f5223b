"""Scoring units (``fvcli score``): which units of a job file are scored, rendering those
whose images are missing, one streaming pass over the folder per job, and the files it
leaves (a record per unit, each job's scores.json).

For each job: its units' visualizations (units/<stem>.png) and negative renderings
(units/<stem>_neg.png, the same unit with the sign of its objective flipped: what render
writes for it with ``negative: true``) are rendered where missing, by the render
machinery, for this run's shard only. Then the folder is streamed once through the
job's network (every unit of the shard in one forward pass per batch), keeping per unit
its POOL most and least activating images; only those are read again, in chunks of
units, for the judge's features and the activations of the layers below the unit.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, replace

import numpy as np

from ..config import SpecError
from ..engine.cost import unit_flops
from ..engine.renderer import RendererCache
from ..engine.scoring import UnitScorer, image_paths, load_image, score_folder
from ..engine.unit_scores import (ALPHA, K, PATH_THRESHOLD, PooledFeatures,
                                  default_judge_layer, minimum_images, mis_of_examples,
                                  mis_of_visualizations, natural_path, path_layers, pool_size)
from ..models.names import resolve_model_spec
from ..outputs.scores import collect_scores, unit_score_record, write_unit_score
from ..outputs.store import JobStore
from .plan import PlannedJob, Unit
from .progress import Progress
from .runner import SweepRunner
from .shards import Shard, shard_units

KEPT_PER_CHUNK = 2048  # at most this many kept images are featurised together (a chunk of
                       # units whose top and bottom images they are): features, not pixels
FEATURE_BATCH = 32     # images read and featurised at once


class ScoreStopped(Exception):
    """A signal asked the scoring to stop; nothing of the job being scored was written."""


class ScoreError(Exception):
    """The folder cannot score a job (too few readable images)."""


@dataclass
class Judge:
    """The network whose pooled features at ``layer`` say how alike two images look."""

    network: object
    layer: str
    named: bool  # named with --judge (else the job's own model at its last spatial layer)

    def record(self) -> dict:
        return {"model": self.network.description, "layer": self.layer,
                "default": not self.named}


@dataclass
class ScoreTask:
    """One job's units of this run's shard, to be scored on a folder."""

    job: PlannedJob          # the job as planned (every unit)
    units: list[Unit]        # those of this shard
    twin: PlannedJob         # the same units with the objective's sign flipped
    network: object
    scorer: "SignedScorer"   # the shard's units at the size examples scores images at
    vis_scorer: "SignedScorer"  # the same at the render size, for the visualizations
    judge: Judge
    judge_features: PooledFeatures
    path_layers: list[str]
    path_features: PooledFeatures | None


def count_images(folder: str) -> int:
    """Image files under ``folder`` (readable or not)."""
    return sum(1 for _ in image_paths(folder))


def negative_twin(job: PlannedJob) -> PlannedJob:
    """``job`` with the sign of its objective flipped: the units render has for a job that
    says ``negative: true`` (stems ``<stem>_neg``, fingerprints of their own)."""
    twin = replace(job, terms=tuple(replace(term, negative=not term.negative)
                                    for term in job.terms), units=[])
    twin.units = [Unit(job=twin, number=unit.number, indices=unit.indices, seed=unit.seed,
                       vectors=unit.vectors) for unit in job.units]
    return twin


class SignedScorer:
    """A UnitScorer whose scores have the sign of the job's objective, so that a unit's
    top images are those its visualization was made to resemble (the least activating for
    a job with ``negative: true``)."""

    def __init__(self, scorer: UnitScorer, negative: bool):
        self.scorer, self.sign = scorer, -1.0 if negative else 1.0
        self.size, self.channels = scorer.size, scorer.channels
        self.on_pre_activation = scorer.on_pre_activation

    def score(self, images: np.ndarray):
        scores, highest, lowest = self.scorer.score(images)
        if self.sign > 0:
            return scores, highest, lowest
        return -scores, lowest, highest


def plan_scores(prepared_file, judge: tuple | None, shard: Shard) -> list[ScoreTask]:
    """A task per job of the file, with the units of ``shard`` (cut as render cuts them,
    so ``score --shard I/N`` scores what ``render --shard I/N`` rendered). ``judge`` is
    (network, layer) from --judge, or None for each job's own model at its last spatial
    layer. SpecError when a job cannot be scored."""
    path, network = prepared_file.job_file.path, prepared_file.network
    costs = {id(job): unit_flops(job, network) for job in prepared_file.jobs}
    mine = shard_units([unit for job in prepared_file.jobs for unit in job.units], shard,
                       lambda unit: costs[id(unit.job)])
    tasks, features = [], {}

    def pooled(network, layers, size):
        key = (id(network), tuple(layers), size)
        if key not in features:
            features[key] = PooledFeatures(network, layers, size)
        return features[key]

    for job in prepared_file.jobs:
        if job.spec.accentuate:
            raise SpecError(path, job.spec.line, job.name, "score needs a unit's own "
                            "visualization, and an accentuation shows its unit in seed "
                            "images; score a job of the same units without accentuate")
        units = [unit for unit in mine if unit.job is job]
        view = replace(job, units=units)
        size = network.native_size or job.settings.size
        negative = job.terms[0].negative
        try:
            scorer = SignedScorer(UnitScorer(network, view, size), negative)
            vis_scorer = (scorer if job.settings.size == size else
                          SignedScorer(UnitScorer(network, view, job.settings.size), negative))
            chosen = (Judge(judge[0], judge[1], True) if judge
                      else Judge(network, default_judge_layer(network), False))
        except ValueError as error:
            raise SpecError(path, job.spec.line, job.name,
                            str(error).replace("dataset examples need", "score needs")) from None
        below = path_layers(network, job.terms[0].layer)
        tasks.append(ScoreTask(
            job=job, units=units, twin=negative_twin(job), network=network, scorer=scorer,
            vis_scorer=vis_scorer, judge=chosen,
            judge_features=pooled(chosen.network, [chosen.layer],
                                  chosen.network.native_size or size),
            path_layers=below, path_features=pooled(network, below, size) if below else None))
    return tasks


def render_missing(prepared_file, tasks: list[ScoreTask], out_dir: str, shard: Shard, device,
                   quiet: bool, should_stop):
    """Render what scoring needs and is not on disk: this shard's units (as render does,
    collecting jobs that end complete) and their negative renderings. Returns the
    RunReports (the positive run's first)."""
    file = prepared_file
    record = {"source": file.network.description, "fingerprint": file.network.fingerprint,
              "spec": resolve_model_spec(file.model)}
    runner = SweepRunner(RendererCache(file.network, device), out_dir, record,
                         should_stop=should_stop, quiet=quiet)
    reports = [runner.run(file.jobs, shard)]
    if reports[0].stopped:
        return reports
    for task in tasks:
        mine = {unit.number for unit in task.units}
        twins = [unit for unit in task.twin.units if unit.number in mine]
        report = runner.render_unlisted(task.twin, twins, task.job.name,
                                        f"{task.job.name}: negative renderings")
        reports.append(report)
        if report.stopped:
            break
    return reports


def score_task(task: ScoreTask, folder: str, out_dir: str, batch_size: int, total_images: int,
               quiet: bool, warn, should_stop=lambda: False) -> dict:
    """Score ``task``'s units on ``folder`` and write a record per unit; write the job's
    scores.json when every unit of the job has one. Returns {"images", "seconds",
    "scores_json" (path or None), "flagged"}."""
    import time

    job, store = task.job, JobStore(out_dir, task.job.name)
    started = time.perf_counter()
    progress = Progress(f"{job.name}: scoring images", total_images, quiet=quiet)

    def scored(count: int) -> None:
        progress.advance(count)
        if should_stop():
            raise ScoreStopped()

    run = score_folder(task.scorer, folder, len(task.units), pool_size(total_images),
                       batch_size, warn, kinds=("top", "bottom"), on_batch=scored)
    images = len(run.paths)
    pool = pool_size(images)
    if pool < K + 1:
        raise ScoreError(f"--images: {folder} has {images} readable images; scoring needs at "
                         f"least {minimum_images()} ({K} explanations and a query, of the "
                         "most and of the least activating)")
    pass_seconds = time.perf_counter() - started
    settings = score_settings(task, folder, images, pool)
    flagged = 0
    for numbers in _chunks(run, len(task.units), pool):
        for number, scores in zip(numbers, _score_chunk(task, run, numbers, pool, store)):
            unit = task.units[number]
            flagged += bool(scores["flagged"])
            write_unit_score(store.folder, unit_score_record(
                unit.record(), unit.file_stem, f"units/{unit.file_stem}.png", scores,
                settings, unit.fingerprint))
    path = collect_scores(store.folder, [(unit.file_stem, unit.fingerprint)
                                         for unit in job.units], settings, settings)
    seconds = time.perf_counter() - started
    progress.finish(f"{len(task.units)} units scored on {images} images in {seconds:.1f} s "
                    f"({images / max(pass_seconds, 1e-9):.0f} images/s through the network)")
    return {"images": images, "seconds": seconds, "pass_seconds": pass_seconds,
            "scores_json": path, "flagged": flagged, "skipped": len(run.skipped)}


def score_settings(task: ScoreTask, folder: str, images: int, pool: int) -> dict:
    """What a job's scores were computed with: scores.json's header, and part of every
    unit's record (units scored otherwise are not mixed into one scores.json)."""
    return {"images": images, "folder": os.path.abspath(folder),
            "scored_on": ("pre-activation" if task.scorer.on_pre_activation
                          else "activation"),
            "judge": task.judge.record(),
            "mis": {"alpha": ALPHA, "tasks": pool, "k": K},
            "natural_path": {"layers": task.path_layers, "threshold": PATH_THRESHOLD,
                             "of": "visualization-to-top over top-to-top mean cosine of "
                                   "spatially pooled activations; the minimum over layers"}}


def _chunks(run, unit_count: int, pool: int) -> list[list[int]]:
    """Consecutive units whose kept images number at most KEPT_PER_CHUNK together."""
    chunks, current, kept = [], [], set()
    for number in range(unit_count):
        images = {image for kind in ("top", "bottom")
                  for _, image, _ in run.extremes.of_unit(number, kind)[:pool]}
        if current and len(kept | images) > KEPT_PER_CHUNK:
            chunks.append(current)
            current, kept = [], set()
        current.append(number)
        kept |= images
    return chunks + ([current] if current else [])


def _load(paths: list[str], size: int, channels: int) -> np.ndarray:
    if not paths:
        return np.zeros((0, size, size, channels), np.float32)
    return np.stack([load_image(path, size, channels) for path in paths])


def _featurised(paths: list[str], features: PooledFeatures) -> list[np.ndarray]:
    """Per layer of ``features``, [len(paths), channels]: the images are read a batch at a
    time, so only their features are ever held together."""
    parts = [features(_load(paths[start:start + FEATURE_BATCH], features.size,
                            features.channels))
             for start in range(0, len(paths), FEATURE_BATCH)]
    if not parts:
        return features(_load([], features.size, features.channels))
    return [np.concatenate(layer) for layer in zip(*parts)]


def _score_chunk(task: ScoreTask, run, numbers: list[int], pool: int, store: JobStore):
    """Scores of the units ``numbers`` (positions in task.units)."""
    tops = {n: [image for _, image, _ in run.extremes.of_unit(n, "top")][:pool] for n in numbers}
    bottoms = {n: [image for _, image, _ in run.extremes.of_unit(n, "bottom")][:pool]
               for n in numbers}
    maxima = {n: run.extremes.of_unit(n, "top")[0][0] for n in numbers}
    kept = sorted({image for n in numbers for image in tops[n] + bottoms[n]})
    row_of = {image: row for row, image in enumerate(kept)}
    # the unit's visualization and its negative rendering, where they are on disk
    positives, negatives = {}, {}
    twins = {unit.number: unit for unit in task.twin.units}
    for n in numbers:
        unit = task.units[n]
        twin = twins[unit.number]
        if store.is_done(unit.file_stem, unit.fingerprint):
            positives[n] = store.png_path(unit.file_stem)
        if store.is_done(twin.file_stem, twin.fingerprint):
            negatives[n] = store.png_path(twin.file_stem)
    shown = list(positives.values()) + list(negatives.values())
    vis_row = {path: row for row, path in enumerate(shown)}

    kept_paths = [run.paths[image] for image in kept]
    judged = _featurised(kept_paths, task.judge_features)[0]
    judged_shown = _featurised(shown, task.judge_features)[0]

    path_features, path_shown = [], []
    if task.path_layers:
        path_features = _featurised(kept_paths, task.path_features)
        path_shown = _featurised(list(positives.values()), task.path_features)

    # the objective's own scalar on each visualization, fed at the size it was rendered at
    activation = {}
    if positives:
        size = task.job.settings.size
        shown_positive = list(positives.items())
        for start in range(0, len(shown_positive), FEATURE_BATCH):
            part = shown_positive[start:start + FEATURE_BATCH]
            scores = task.vis_scorer.score(_load([path for _, path in part], size,
                                                 task.scorer.channels))[0]
            for row, (n, _) in enumerate(part):
                activation[n] = float(scores[row, n])

    for n in numbers:
        top = judged[[row_of[image] for image in tops[n]]]
        bottom = judged[[row_of[image] for image in bottoms[n]]]
        positive = judged_shown[[vis_row[positives[n]]]] if n in positives else top[:0]
        negative = judged_shown[[vis_row[negatives[n]]]] if n in negatives else top[:0]
        ratio = None
        if n in activation and maxima[n] > 0:
            ratio = activation[n] / maxima[n]
        path, per_layer = None, {}
        if path_features and n in positives:
            row = list(positives).index(n)
            path, per_layer = natural_path(
                [layer[[row]] for layer in path_shown],
                [layer[[row_of[image] for image in tops[n]]] for layer in path_features],
                task.path_layers)
        yield {"activation_ratio": _rounded(ratio),
               "mis_examples": _rounded(mis_of_examples(top, bottom, task.units[n].seed)),
               "mis_visualization": _rounded(mis_of_visualizations(top, bottom, positive,
                                                                   negative)),
               "natural_path": _rounded(path),
               "natural_path_layers": {name: _rounded(value)
                                       for name, value in per_layer.items()},
               "flagged": bool(path is not None and path < PATH_THRESHOLD)}


def _rounded(value):
    return None if value is None else round(float(value), 6)

