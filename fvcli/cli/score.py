"""fvcli score: how well each unit's visualization and dataset examples explain it."""

from __future__ import annotations

import os

import click

from ..config.schema import EXAMPLES_BATCH
from ..exit_codes import ExitCode, exit_codes_help
from ..images import IMAGE_KINDS
from .common import (DEVICE_HELP, MODEL_HELP, MODELS_TEXT, cannot_write, fail,
                     load_network_or_fail, option_type, prepare_or_fail, setting_option,
                     stopped)


SCORE_HELP = f"""Score every unit of JOB_FILE's jobs on a folder of natural images: how
strongly its visualization drives it, how well its dataset examples and its
visualizations predict what it does on natural images (a machine 2AFC task, after
Zimmermann, Klindt & Brendel's MIS), and whether its visualization reaches it the way
natural images do (after Geirhos et al., "Don't trust your eyes").

Writes OUT/<job>/scores.json and a record per unit, OUT/<job>/scores/<unit>.json. Per unit:

\b
  activation_ratio   the scalar the objective reports (post-ReLU for a positive
                     term) on the visualization (units/<unit>.png, resized to the size
                     the folder is fed at; a diversity unit's mean) over its largest
                     value on the folder; null when that is not positive
  mis_examples       MIS with natural explanations: 9 of the unit's 20 most and least
                     activating images as explanations, one of the others as query
  mis_visualization  the same queries, with the visualization and the negative
                     rendering (units/<unit>_neg.png) as explanations
  natural_path       at the spatial layer directly below the unit: cosine of the
                     visualization's pooled activations with the top images' mean,
                     both less the folder's mean (the 3 layers below are reported)
  flagged            natural_path below 0.35

MIS values are in [0, 1] (0.5: chance) and are NOT comparable to published MIS values:
the judge is a network's pooled features, not DreamSim, and alpha is not fitted to
people. A model judging its own units is partial: compare models under one --judge.
See README, "Scoring units".

Units of channel, neuron, direction and class jobs (with or without diversity) are
scored. The folder is streamed first (a folder with too few readable images stops the
run before anything is written); then visualizations and negative renderings are
rendered where missing, exactly as `fvcli render` would (same settings, same files, so
either reuses the other's): --steps, --size, --seed and
--precision are render's, so give those you rendered with. The folder is streamed: one
forward pass per batch scores every unit of a job, and only each unit's 20 most and least
activating images are read again. --shard I/N scores the units render's --shard I/N
renders; the shard that finds every unit of a job scored writes its scores.json.

{exit_codes_help()}
"""


@click.command(help=SCORE_HELP, short_help="Score units: MIS, activation ratio, natural path.")
@click.argument("job_file", type=click.Path(dir_okay=False))
@click.option("--images", required=True, metavar="FOLDER",
              help=f"Folder of natural images (searched recursively: {IMAGE_KINDS}); at "
                   "least 20, for 9 explanations and a query of each side.")
@click.option("--out", "-o", default="renders", show_default=True,
              type=click.Path(file_okay=False),
              help="Output folder, as for render: visualizations are read from and "
                   "rendered into it, scores written to OUT/<job>/.")
@click.option("--judge", metavar="MODEL:LAYER",
              help="The network whose pooled features at LAYER judge how alike two images "
                   f"are; MODEL is anything --model takes ({MODELS_TEXT}). Default: the "
                   "job's own model at its last spatial layer before the logits "
                   "(InceptionV1: Mixed_5c).")
@click.option("--shard", metavar="I/N",
              help="Score only shard I of N of the units (the same units render's --shard "
                   "I/N renders). Under a Slurm array it is taken from SLURM_ARRAY_TASK_ID.")
@click.option("--model", help=MODEL_HELP)
@click.option("--batch-size", type=option_type(EXAMPLES_BATCH), default=EXAMPLES_BATCH.default,
              show_default=True, help=EXAMPLES_BATCH.help + " (natural images per forward "
                                                            "pass).")
@setting_option("steps")
@setting_option("size")
@setting_option("seed")
@setting_option("precision")
@click.option("--device", default="auto", show_default=True, help=DEVICE_HELP)
@click.option("--quiet", "-q", is_flag=True, help="No progress output.")
def score(job_file, images, out, judge, shard, model, batch_size, steps, size, seed,
          precision, device, quiet):
    from ..models.tensorflow_import import import_tensorflow_quietly
    from ..sweep.shards import shard_to_render

    judge_model, judge_layer = _judge_option(judge)
    import_tensorflow_quietly()  # before the engine imports it with its start-up chatter
    count = _images_or_fail(images)
    try:
        chosen_shard, shard_note = shard_to_render(shard, os.environ)
    except ValueError as error:
        fail(str(error), ExitCode.BAD_INPUT)
    overrides = {"steps": steps, "size": size, "seed": seed, "precision": precision}
    prepared = prepare_or_fail([job_file], model, overrides, device)
    (prepared_file,) = prepared.files
    judge_pair = None
    if judge_model:
        network = load_network_or_fail(judge_model, where="--judge")
        from ..models.errors import ModelError

        try:
            judge_pair = (network, network.layer(judge_layer).name)
        except ModelError as error:
            fail(f"--judge: {error}", ExitCode.BAD_INPUT)
    from ..config import SpecError
    from ..sweep.score import plan_scores

    try:
        tasks = plan_scores(prepared_file, judge_pair, chosen_shard)
    except SpecError as error:
        fail(str(error), ExitCode.BAD_INPUT)
    if shard_note and not quiet:
        click.echo(f"fvcli: {shard_note}", err=True)
    _run(prepared, prepared_file, tasks, job_file, images, count, out, chosen_shard,
         batch_size, quiet)


def _judge_option(judge: str | None) -> tuple[str | None, str | None]:
    """(model, layer) of --judge MODEL:LAYER (split at the last colon, so handles and
    paths may hold colons), or (None, None); exit 2 when it is not of that form."""
    if judge is None:
        return None, None
    model, _, layer = judge.rpartition(":")
    if not model or not layer.strip() or layer.startswith("/"):
        fail(f"--judge: {judge!r} is not MODEL:LAYER; e.g. demo:conv4, "
             "inception_v1:Mixed_5c or resnet50.keras:conv5_block3_out", ExitCode.BAD_INPUT)
    return model, layer.strip()


def _images_or_fail(folder: str) -> int:
    """The number of image files in ``folder``; exit 2 when it is missing or too small."""
    from ..engine.unit_scores import minimum_images
    from ..sweep.score import count_images

    if not os.path.isdir(folder):
        fail(f"--images: {folder} is not a folder; give a folder of natural images "
             f"({IMAGE_KINDS}, searched recursively)", ExitCode.BAD_INPUT)
    count = count_images(folder)
    if count < minimum_images():
        fail(f"--images: {folder} holds {count} image files ({IMAGE_KINDS}, searched "
             f"recursively); scoring needs at least {minimum_images()}", ExitCode.BAD_INPUT)
    return count


def _run(prepared, prepared_file, tasks, job_file, images, count, out, shard, batch_size,
         quiet) -> None:
    """Stream the folder for every task (bad input stops here, before anything is
    written), render what is missing, score every task, and map how it ended to an exit
    code."""
    from ..engine.memory import OutOfMemory
    from ..outputs.locks import run_lock
    from ..sweep.score import (ScoreError, ScoreStopped, render_missing, score_task,
                               stream_folder)
    from ..sweep.signals import StopSignals

    lock = run_lock(out, [job_file], shard)  # the lock render takes: never both at once
    warned = set()

    def warn(message: str) -> None:
        if message not in warned:
            warned.add(message)
            click.echo(f"fvcli: warning: {message}", err=True)
    try:
        with StopSignals() as stop:
            passes = [stream_folder(task, images, batch_size, count, quiet, warn, stop)
                      for task in tasks]
            if not lock.acquire(wait=False):
                fail(f"another render or score of {job_file} into {out} (shard {shard}) is "
                     f"still going (host and pid: {lock.holder()}); run again when it ends",
                     ExitCode.FAILURE)
            reports = render_missing(prepared_file, tasks, out, shard, prepared.device, quiet,
                                     stop)
            if any(report.stopped for report in reports):
                _stopped(stop)
            failed = [name for report in reports for name in report.failed]
            if failed:
                warn(f"{len(failed)} rendering(s) failed (NaN or infinite numbers): "
                     f"{', '.join(failed[:5])}; their units' visualization scores are null")
            for task, folder_pass in zip(tasks, passes):
                done = score_task(task, folder_pass, images, out)
                where = done["scores_json"] or (
                    f"{os.path.join(out, task.job.name, 'scores')}/ ({len(task.units)} units "
                    f"of {len(task.job.units)}; scores.json when every shard is done)")
                click.echo(f"{where} ({done['images']} images scored, {done['skipped']} "
                           f"skipped, {done['flagged']} units flagged)")
            _refresh_index(out)
    except ScoreStopped:
        _stopped(stop)
    except ScoreError as error:
        fail(str(error), ExitCode.BAD_INPUT)
    except OSError as error:
        cannot_write(error, out)
    except OutOfMemory as error:
        fail(str(error), ExitCode.FAILURE)
    except KeyboardInterrupt:
        stopped("a second Ctrl-C", "at once; scores already written are kept",
                ExitCode.INTERRUPTED)
    finally:
        lock.release()


def _refresh_index(out: str) -> None:
    """Rewrite index.html and the job, layer and unit pages (not grids or manifests), so
    they show the scores just written."""
    from ..outputs.collect import collect, job_names

    if job_names(out):
        collect(out, names=[])


def _stopped(stop) -> None:
    stopped(stop.name, "renderings and scores finished so far are kept, nothing partial "
            "was written; run the same command again to finish",
            ExitCode.INTERRUPTED if stop.interrupted else ExitCode.STOPPED)
