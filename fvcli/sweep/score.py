"""Scoring units (``fvcli score``): which units of a job file are scored, rendering those
whose images are missing, one streaming pass over the folder per job, and the files it
leaves (a record per unit, each job's scores.json).

For each job with units in this run's shard: the folder is streamed once through the
job's network (every unit of the shard in one forward pass per batch), keeping per unit
its POOL most and least activating images, the largest value of its objective's scalar,
and the folder's mean activation at the layers the natural path looks at. That pass comes
first, so a folder that cannot score the job stops the run before anything is written.
Then the units' visualizations (units/<stem>.png) and negative renderings
(units/<stem>_neg.png, the same unit with the sign of its objective flipped: what render
writes for it with ``negative: true``) are rendered where missing, by the render
machinery. Last, a chunk of units at a time, only the kept images are read again, for the
judge's features and the activations of the layers below the unit, and each unit's
scores are computed and written.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, replace

import numpy as np

from ..config import SpecError
from ..engine.cost import unit_flops
from ..engine.renderer import RendererCache
from ..engine.scoring import (NoUnitToScore, Scored, UnitScorer, check_scorable, image_paths,
                              load_image, score_folder)
from ..engine.unit_scores import (ALPHA, K, PATH_THRESHOLD, PooledFeatures,
                                  default_judge_layer, minimum_images, mis_of_examples,
                                  mis_of_visualizations, natural_path, path_layers, pool_size)
from ..config.model_names import resolve_model_spec
from ..outputs.files import GRID_GAP
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
    scorer: "SignedScorer"   # the shard's units, at the size the folder is scored at; also
                             # their objective's scalar and the path layers' pooled activations
    judge: Judge
    judge_features: PooledFeatures
    path_layers: list[str]


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
    a job with ``negative: true``). The objective's scalar has that sign already."""

    def __init__(self, scorer: UnitScorer, negative: bool):
        self.scorer, self.negative = scorer, negative
        self.size, self.channels = scorer.size, scorer.channels
        self.on_pre_activation = scorer.on_pre_activation

    def score(self, images: np.ndarray) -> Scored:
        scored = self.scorer.score(images)
        if not self.negative:
            return scored
        return scored._replace(scores=-scored.scores, highest=scored.lowest,
                               lowest=scored.highest)


def plan_scores(prepared_file, judge: tuple | None, shard: Shard) -> list[ScoreTask]:
    """A task per job of the file with units in ``shard`` (cut as render cuts them, so
    ``score --shard I/N`` scores what ``render --shard I/N`` rendered). ``judge`` is
    (network, layer) from --judge, or None for each job's own model at its last spatial
    layer. SpecError when a job cannot be scored (whether or not it has units here)."""
    network = prepared_file.network
    costs = {id(job): unit_flops(job, network) for job in prepared_file.jobs}
    mine = shard_units([unit for job in prepared_file.jobs for unit in job.units], shard,
                       lambda unit: costs[id(unit.job)])
    judges = {}  # (network, layer, size) -> PooledFeatures, shared by the jobs

    def judge_features(chosen: Judge, size: int) -> PooledFeatures:
        key = (id(chosen.network), chosen.layer, size)
        if key not in judges:
            judges[key] = PooledFeatures(chosen.network, [chosen.layer], size)
        return judges[key]

    tasks = []
    for job in prepared_file.jobs:
        _check_scorable(prepared_file.job_file.path, job)
        units = [unit for unit in mine if unit.job is job]
        if not units:  # a shard without units of the job does not stream the folder for it
            continue
        size = network.native_size or job.settings.size  # as examples scores images
        below = tuple(path_layers(network, job.terms[0].layer))
        scorer = UnitScorer(network, replace(job, units=units), size, objective=True,
                            pooled=below)
        chosen = _judge(prepared_file, job, judge)
        tasks.append(ScoreTask(
            job=job, units=units, twin=negative_twin(job), network=network,
            scorer=SignedScorer(scorer, job.terms[0].negative), judge=chosen,
            judge_features=judge_features(chosen, chosen.network.native_size or size),
            path_layers=list(below)))
    return tasks


def _check_scorable(path: str, job: PlannedJob) -> None:
    """SpecError unless ``job`` has units that natural images can be scored on."""
    try:
        check_scorable(job)
    except NoUnitToScore as error:
        raise SpecError(path, job.spec.line, job.name, "score needs a job with one channel, "
                        "neuron, direction or class objective (with or without diversity); "
                        f"{job.name} is {error.objective}") from None
    if job.spec.accentuate:
        raise SpecError(path, job.spec.line, job.name, "score needs a unit's own "
                        "visualization, and an accentuation shows its unit in seed images; "
                        "score a job of the same units without accentuate")


def _judge(prepared_file, job: PlannedJob, judge: tuple | None) -> Judge:
    """The --judge (network, layer), or the job's own network at its last spatial layer."""
    if judge:
        return Judge(judge[0], judge[1], True)
    network = prepared_file.network
    try:
        return Judge(network, default_judge_layer(network), False)
    except ValueError as error:
        raise SpecError(prepared_file.job_file.path, job.spec.line, job.name,
                        str(error)) from None


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


@dataclass
class FolderPass:
    """What the streaming pass of a task found on the folder."""

    run: object        # the ExampleRun: paths, each unit's extremes, objective maxima, means
    pool: int          # top and bottom images kept per unit
    seconds: float


def stream_folder(task: ScoreTask, folder: str, batch_size: int, total_images: int,
                  quiet: bool, warn, should_stop=lambda: False) -> FolderPass:
    """Stream ``folder`` through ``task``'s units; ScoreError when too few of its images
    are readable to score them, ScoreStopped when ``should_stop`` says so."""
    import time

    started = time.perf_counter()
    progress = Progress(f"{task.job.name}: scoring images", total_images, quiet=quiet)

    def scored(count: int) -> None:
        progress.advance(count)
        if should_stop():
            raise ScoreStopped()

    run = score_folder(task.scorer, folder, len(task.units), pool_size(total_images),
                       batch_size, warn, kinds=("top", "bottom"), on_batch=scored)
    pool = pool_size(len(run.paths))
    if pool < K + 1:
        raise ScoreError(f"--images: {folder} has {len(run.paths)} readable images; scoring "
                         f"needs at least {minimum_images()} ({K} explanations and a query, "
                         "of the most and of the least activating)")
    seconds = time.perf_counter() - started
    progress.finish(f"{len(run.paths)} images through the network in {seconds:.1f} s "
                    f"({len(run.paths) / max(seconds, 1e-9):.0f} images/s)")
    return FolderPass(run, pool, seconds)


def score_task(task: ScoreTask, folder_pass: FolderPass, folder: str, out_dir: str) -> dict:
    """Score ``task``'s units from what the pass kept, writing a record per unit; write the
    job's scores.json when every unit of the job has one. Returns {"images", "scores_json"
    (path or None), "flagged", "skipped"}."""
    job, store, run = task.job, JobStore(out_dir, task.job.name), folder_pass.run
    settings = score_settings(task, folder, len(run.paths), folder_pass.pool)
    flagged = 0
    for numbers in _chunks(run, len(task.units), folder_pass.pool):
        chunk = _gather(task, run, numbers, folder_pass.pool, store)
        for number in numbers:
            unit = task.units[number]
            scores = unit_scores(task, chunk, number, run)
            flagged += scores["flagged"]
            write_unit_score(store.folder, unit_score_record(
                unit.record(), unit.file_stem, f"units/{unit.file_stem}.png", scores,
                settings, unit.fingerprint))
    path = collect_scores(store.folder, [(unit.file_stem, unit.fingerprint)
                                         for unit in job.units], settings, settings)
    return {"images": len(run.paths), "scores_json": path, "flagged": flagged,
            "skipped": len(run.skipped)}


def score_settings(task: ScoreTask, folder: str, images: int, pool: int) -> dict:
    """What a job's scores were computed with: scores.json's header, and part of every
    unit's record (units scored otherwise are not mixed into one scores.json)."""
    return {"images": images, "folder": os.path.abspath(folder),
            "scored_on": ("pre-activation" if task.scorer.on_pre_activation
                          else "activation"),
            "judge": task.judge.record(),
            "mis": {"alpha": ALPHA, "tasks": pool, "k": K},
            "natural_path": {"layers": task.path_layers, "threshold": PATH_THRESHOLD,
                             "of": PATH_DEFINITION}}


PATH_DEFINITION = ("cosine of the visualization's spatially pooled activations with the "
                   "top images' mean, both less the folder's mean, at the last layer")


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


@dataclass(frozen=True)
class Picture:
    """An image to read: a file, or image ``part`` of a row of ``parts`` in it."""

    path: str
    part: int = 0
    parts: int = 1

    def load(self, size: int, channels: int) -> np.ndarray:
        return load_image(self.path, size, channels, self.part, self.parts, GRID_GAP)


def _in_batches(pictures: list[Picture], size: int, channels: int, forward) -> list:
    """``forward`` of the pictures read FEATURE_BATCH at a time: per batch, its result."""
    return [forward(np.stack([picture.load(size, channels)
                              for picture in pictures[start:start + FEATURE_BATCH]]))
            for start in range(0, len(pictures), FEATURE_BATCH)]


def _judged(pictures: list[Picture], features: PooledFeatures) -> np.ndarray:
    """[len(pictures), d]: the judge's features of the pictures."""
    parts = _in_batches(pictures, features.size, features.channels,
                        lambda images: features(images)[0])
    return np.concatenate(parts) if parts else np.zeros((0, 0))


def _on_the_way(pictures: list[Picture], scorer: SignedScorer) -> tuple[list, np.ndarray]:
    """(per path layer [len(pictures), channels] pooled activations, [len(pictures),
    units] the objective's scalar) of the pictures, fed at the size the folder was."""
    parts = _in_batches(pictures, scorer.size, scorer.channels, scorer.score)
    layers = [np.concatenate([part.pooled[i] for part in parts])
              for i in range(len(scorer.scorer.pooled))]
    return layers, np.concatenate([part.objective for part in parts])


@dataclass
class Chunk:
    """What a chunk of units' scores are computed from."""

    tops: dict[int, list[int]]      # unit position -> its top image numbers, most first
    bottoms: dict[int, list[int]]
    judged: dict[int, np.ndarray]   # image number -> the judge's features of it
    on_the_way: dict[int, list]     # top image number -> per path layer, its activations
    shown: dict[int, dict]          # unit position -> its visualization's "judged",
                                    # "on_the_way" and "objective" rows, and "negative"
                                    # (the negative rendering's judged rows), where on disk


def _gather(task: ScoreTask, run, numbers: list[int], pool: int, store: JobStore) -> Chunk:
    """Read the kept images of units ``numbers`` (positions in task.units) and their
    visualizations, and featurise them, a batch at a time."""
    tops = {n: [image for _, image, _ in run.extremes.of_unit(n, "top")][:pool]
            for n in numbers}
    bottoms = {n: [image for _, image, _ in run.extremes.of_unit(n, "bottom")][:pool]
               for n in numbers}
    kept = sorted({image for n in numbers for image in tops[n] + bottoms[n]})
    kept_top = sorted({image for n in numbers for image in tops[n]})
    judged = _judged([Picture(run.paths[image]) for image in kept], task.judge_features)
    layers, _ = _on_the_way([Picture(run.paths[image]) for image in kept_top], task.scorer)
    return Chunk(tops=tops, bottoms=bottoms,
                 judged={image: judged[i] for i, image in enumerate(kept)},
                 on_the_way={image: [layer[i] for layer in layers]
                             for i, image in enumerate(kept_top)},
                 shown=_visualizations(task, numbers, store))


def _visualizations(task: ScoreTask, numbers: list[int], store: JobStore) -> dict:
    """Chunk.shown of units ``numbers``: their rendered images' judge features, pooled
    lower-layer activations and objective's scalar, and their negative renderings' judge
    features, each where it is on disk. A unit's PNG is a row of its written images."""
    images = task.job.written_images
    twins = {unit.number: unit for unit in task.twin.units}

    def pictures(unit) -> list[Picture]:
        if not store.is_done(unit.file_stem, unit.fingerprint):
            return []
        return [Picture(store.png_path(unit.file_stem), part, images) for part in range(images)]

    positives = {n: pictures(task.units[n]) for n in numbers}
    negatives = {n: pictures(twins[task.units[n].number]) for n in numbers}
    shown_positive = [picture for n in numbers for picture in positives[n]]
    shown = shown_positive + [picture for n in numbers for picture in negatives[n]]
    judged = _judged(shown, task.judge_features)
    layers, objective = (_on_the_way(shown_positive, task.scorer) if shown_positive
                         else ([], None))
    visualized, row = {}, 0
    for n in numbers:
        visualized[n] = {}
        if positives[n]:
            rows = slice(row, row + images)
            visualized[n] = {"judged": judged[rows],
                             "on_the_way": [layer[rows] for layer in layers],
                             "objective": objective[rows, n]}
            row += images
    for n in numbers:
        if negatives[n]:
            visualized[n]["negative"] = judged[row:row + images]
            row += images
    return visualized


def unit_scores(task: ScoreTask, chunk: Chunk, n: int, run) -> dict:
    """The scores of unit ``n`` (its position in task.units), as its record has them."""
    top = np.stack([chunk.judged[image] for image in chunk.tops[n]])
    bottom = np.stack([chunk.judged[image] for image in chunk.bottoms[n]])
    shown = chunk.shown[n]
    empty = top[:0]
    ratio = None
    maximum = run.objective_max[n]
    if "objective" in shown and maximum > 0:
        # the objective's scalar, the mean over the visualization's images, over its
        # largest value on the folder
        ratio = float(np.mean(shown["objective"])) / maximum
    path, per_layer = None, {}
    if task.path_layers and "on_the_way" in shown:
        path, per_layer = natural_path(
            shown["on_the_way"],
            [np.stack([chunk.on_the_way[image][i] for image in chunk.tops[n]])
             for i in range(len(task.path_layers))],
            run.pooled_mean(), task.path_layers)
    return {"activation_ratio": _rounded(ratio),
            "mis_examples": _rounded(mis_of_examples(top, bottom, task.units[n].seed)),
            "mis_visualization": _rounded(mis_of_visualizations(
                top, bottom, shown.get("judged", empty), shown.get("negative", empty))),
            "natural_path": _rounded(path),
            "natural_path_layers": {name: _rounded(value)
                                    for name, value in per_layer.items()},
            "flagged": bool(path is not None and path < PATH_THRESHOLD)}


def _rounded(value):
    return None if value is None else round(float(value), 6)
