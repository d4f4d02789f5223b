"""Where rendering time goes, on a full-width, random-weight InceptionV1 in TF-Slim's layout,
with a BatchNorm after every convolution as the TF-Hub module has (no download).

Times fvcli's real rendering path (128 px, Mixed_4b, 64 steps) at several batch sizes in
float32 and bfloat16, with the cores each case keeps busy, next to a plain-TF floor at the
same batches (what batching gains the network without fvcli), the full network, the FLOPs
of a step against the machine's own conv2d speed, a real 64-channel sweep, and the price of a unit
on every Mixed layer and the logits, from which it estimates the wall time of
configs/inception_v1/all-mixed.yaml, and the same render on the BatchNorm network folded,
unfolded and on a BatchNorm-free copy, and where a 1-step render's start-up goes in a fresh
process. Prints one JSON line per measurement, then tables.
`make bench`; `make bench BENCH_ARGS=--quick` for a one-minute smoke run;
`make bench BENCH_ARGS=--startup` for the start-up alone.
"""

from __future__ import annotations

import argparse
import collections
import dataclasses
import glob
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import warnings

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
# tensorflow-hub's import of pkg_resources warns on every run; fvcli's command line hides it
warnings.filterwarnings("ignore", message="pkg_resources is deprecated")
sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests"))  # its models

import tensorflow as tf  # noqa: E402

tf.get_logger().setLevel("ERROR")  # each case builds its own renderer: no retracing warnings

from fvcli.engine.hardware import (native_precision, precision_scope, resolve_device,  # noqa: E402
                            resolve_precision)
from fvcli.models.loading import load_network  # noqa: E402
from fvcli.engine.objectives import Objective, Term  # noqa: E402
from fvcli.engine.param import Parameterization  # noqa: E402
from fvcli.engine.renderer import Renderer, RenderSettings  # noqa: E402
from fvcli.engine.renderer import RendererCache  # noqa: E402
from fvcli.sweep.runner import SweepRunner  # noqa: E402
from support.slim_inception import install_in_hub_cache, save_slim_inception  # noqa: E402
from fvcli.config import DEFAULTS, load_job_file  # noqa: E402
from fvcli.sweep.plan import plan_job_file  # noqa: E402
from fvcli.engine.cost import job_flops, layer_step_flops  # noqa: E402
from fvcli.sweep.progress import format_duration  # noqa: E402
from fvcli.engine.machine import cpu_name  # noqa: E402
from fvcli.engine.transforms import Transforms  # noqa: E402
from fvcli import timings  # noqa: E402

LAYER, SIZE = "Mixed_4b", 128
MIXED_LAYERS = ("Mixed_3b", "Mixed_3c", "Mixed_4b", "Mixed_4c", "Mixed_4d", "Mixed_4e",
                "Mixed_4f", "Mixed_5b", "Mixed_5c")
DEFAULT_BATCH = DEFAULTS["batch_size"]  # a job's batch_size when it gives none
UNIT_STEPS = DEFAULTS["steps"]          # a job's steps when it gives none
ALL_MIXED = os.path.join(os.path.dirname(__file__), "..", "configs", "inception_v1",
                         "all-mixed.yaml")
PRECISIONS = ("fp32", "bf16")
DEFAULT, PIXEL = "default (fft, decorrelate, standard transforms)", "pixel, no transforms"
FLOOR = "plain TF floor (pixel)"
MACO = "maco (phase only, 8 crops a step)"
# the same default render of Mixed_4b on three networks
FOLDED, UNFOLDED = "BatchNorm network, folded (what fvcli runs)", "BatchNorm network, unfolded"
NO_BATCH_NORM = "BatchNorm-free network"
STRUCTURES = (FOLDED, UNFOLDED, NO_BATCH_NORM)
# the floor's rate has levelled off by batch 32; a batch of 64 would double its cases' time
FLOOR_MAX_BATCH = 32


class PeakMemory:
    """Samples this process's resident memory while a measurement runs."""

    def __enter__(self):
        self.peak, self._running = _rss_bytes(), True
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *_):
        self._running = False
        self._thread.join()

    def _sample(self):
        while self._running:
            self.peak = max(self.peak, _rss_bytes())
            time.sleep(0.05)

    @property
    def mib(self) -> float:
        return round(self.peak / 2**20, 1)


class CoresBusy:
    """How many cores the process kept busy, on average, inside the ``with``: its CPU
    seconds (user and system, every thread) over the wall seconds."""

    def __enter__(self):
        self._cpu, self._wall = _cpu_seconds(), time.perf_counter()
        self.cores = 0.0
        return self

    def __exit__(self, *_):
        wall = time.perf_counter() - self._wall
        self.cores = round((_cpu_seconds() - self._cpu) / wall, 2) if wall > 0 else 0.0


def _cpu_seconds() -> float:
    times = os.times()
    return times.user + times.system


def _rss_bytes() -> int:
    with open("/proc/self/status", encoding="utf-8") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return 0


def settings_for(pipeline: str, precision: str, steps: int) -> RenderSettings:
    if pipeline == MACO:
        return RenderSettings(size=SIZE, steps=steps, precision=precision,
                              param=Parameterization(SIZE, maco=True),
                              transforms=Transforms.maco())
    pixel = pipeline == PIXEL
    return RenderSettings(size=SIZE, steps=steps, precision=precision,
                          param=Parameterization(SIZE, fft=not pixel, decorrelate=not pixel),
                          transforms=Transforms() if pixel else Transforms.standard())


class RenderCase:
    """One throughput line: a renderer for ``batch`` channels, built and warmed up
    (traced and optimised) once, then timed as often as asked."""

    def __init__(self, network, pipeline: str, precision: str, batch: int, steps: int,
                 layer: str = LAYER):
        term = Term("logit") if layer == "logits" else Term("channel", layer)
        self.renderer = Renderer(network, Objective((term,)),
                                 settings_for(pipeline, precision, steps), batch)
        self.channels = [[c % network.layer(layer).channels] for c in range(batch)]
        self.row = {"measure": "throughput", "pipeline": pipeline, "precision": precision,
                    "layer": layer, "batch": batch, "size": SIZE, "steps": steps, "runs": []}
        with PeakMemory() as memory:
            self.row["warm_up_s"] = round(self.renderer.warm_up(), 2)
        self.row["peak_rss_mib"] = memory.mib

    def run(self) -> None:
        batch = self.row["batch"]
        seeds = [len(self.row["runs"]) * batch + i for i in range(batch)]
        with PeakMemory() as memory, CoresBusy() as busy:
            result = self.renderer.render(self.channels, seeds)
        # steady state, as a long render runs: steps after the first, without the
        # evaluations before and after
        self.row["runs"].append(round(batch * result.timed_steps / result.steps_seconds, 1))
        self.row["cores_busy"] = max(self.row.get("cores_busy", 0), busy.cores)
        self.row["peak_rss_mib"] = max(self.row["peak_rss_mib"], memory.mib)
        self.row["mean_objective_end"] = round(float(result.objective_end.mean()), 3)

    def result(self) -> dict:
        """The row, with the best run as the rate: on a shared machine the fastest run
        is the one least disturbed by neighbours."""
        return {**self.row, "image_steps_per_s": max(self.row["runs"]),
                "traces": self.renderer.traces}


class FloorCase:
    """The same work without fvcli: one tf.function per step doing forward to Mixed_4b,
    gradient and Adam update on pixel images."""

    def __init__(self, network, precision: str, batch: int, steps: int):
        forward = network.forward((LAYER,), (), SIZE)
        channels = tf.range(batch)

        @tf.function
        def step(images, first, second, t):
            loss = -tf.reduce_sum(tf.gather(tf.reduce_mean(forward(images)[LAYER], [1, 2]),
                                            channels, batch_dims=1))
            gradient = tf.gradients(loss, images)[0]
            first = 0.9 * first + 0.1 * gradient
            second = 0.999 * second + 0.001 * tf.square(gradient)
            rate = 0.05 * tf.sqrt(1 - 0.999 ** t) / (1 - 0.9 ** t)
            return images - rate * first / (tf.sqrt(second) + 1e-8), first, second

        self.step, self.precision = step, precision
        self.row = {"measure": "throughput", "pipeline": FLOOR, "precision": precision,
                    "layer": LAYER, "batch": batch, "size": SIZE, "steps": steps, "runs": [],
                    "warm_up_s": None, "peak_rss_mib": None}
        with precision_scope(precision):
            self.images = tf.random.uniform([batch, SIZE, SIZE, 3])
            self.step(self.images, self.images, self.images, tf.constant(1.0))  # optimise

    def run(self) -> None:
        batch, steps = self.row["batch"], self.row["steps"]
        with precision_scope(self.precision), CoresBusy() as busy:
            images = self.images
            first, second = tf.zeros_like(images), tf.zeros_like(images)
            for t in range(steps):
                images, first, second = self.step(images, first, second, tf.constant(t + 1.0))
                if t == 0:  # steady state, as for fvcli's renders: steps after the first
                    _ = images.numpy()
                    started = time.perf_counter()
            _ = images.numpy()
        self.row["runs"].append(round(batch * (steps - 1) / (time.perf_counter() - started), 1))
        self.row["cores_busy"] = max(self.row.get("cores_busy", 0), busy.cores)

    def result(self) -> dict:
        return {**self.row, "image_steps_per_s": max(self.row["runs"]), "traces": 1}


def throughput(network, precision: str, batches: list[int], steps: int,
               repeat_batches: tuple[int, ...]) -> list[dict]:
    """Every throughput line of one precision. Cases run interleaved, and the ones the
    targets compare (batch 1 and 8, the floor) run again in reverse order, so that a slow
    spell of the machine does not fall on one side of a ratio."""
    cases = [RenderCase(network, DEFAULT, precision, batch, steps) for batch in batches]
    cases += [RenderCase(network, PIXEL, precision, batch, steps) for batch in (1, 8)]
    # the floor at several batches: what batching gains the same network without fvcli
    cases += [FloorCase(network, precision, batch, steps) for batch in batches
              if batch <= FLOOR_MAX_BATCH]
    # MACO feeds the network 8 crops per image and step: a quarter of the steps
    cases += [RenderCase(network, MACO, precision, batch, max(steps // 4, 8)) for batch in (1, 8)]
    # the full network is 4x the work: fewer steps keep the bench under 10 minutes
    cases.append(RenderCase(network, DEFAULT, precision, 8, 16, layer="logits"))
    for case in cases:
        case.run()
    for case in reversed(cases):
        if case.row["batch"] in repeat_batches and case.row["layer"] == LAYER:
            case.run()
    return [case.result() for case in cases]


def batch_norm_costs(network, free_network, precision: str, steps: int) -> list[dict]:
    """Batch 8 of the default pipeline on the BatchNorm network folded (as fvcli runs it)
    and unfolded, and on the same convolutions without BatchNorm: what the BatchNorm costs
    and how much of it folding takes back. Run twice, the second time in reverse order."""
    unfolded = dataclasses.replace(network, fold_batch_norm=False, _forward_cache={})
    cases = []
    for label, model in zip(STRUCTURES, (network, unfolded, free_network)):
        case = RenderCase(model, DEFAULT, precision, 8, steps)
        case.row.update(measure="model structure", pipeline=label)
        cases.append(case)
    for case in cases + cases[::-1]:
        case.run()
    return [case.result() for case in cases]


def conv_reference(precision: str) -> dict:
    """GFLOP/s of one large 3x3 conv2d: what this machine's convolutions can reach."""
    dtype = tf.bfloat16 if precision == "bf16" else tf.float32
    images = tf.cast(tf.random.uniform([16, 56, 56, 256]), dtype)
    kernel = tf.cast(tf.random.uniform([3, 3, 256, 256]), dtype)
    conv = tf.function(lambda x, k: tf.nn.conv2d(x, k, 1, "SAME"))
    conv(images, kernel).numpy()
    runs = []
    for _ in range(5):
        started = time.perf_counter()
        conv(images, kernel).numpy()
        runs.append(time.perf_counter() - started)
    flops = 2 * 16 * 56 * 56 * 3 * 3 * 256 * 256
    return {"measure": "conv2d reference", "precision": precision,
            "shape": "3x3x256x256 on 16x56x56",
            "gflops_per_s": round(flops / statistics.median(runs) / 1e9, 1)}


# profiler events that hold others, or wait on them, rather than compute
OP_CONTAINERS = ("ExecutorState::Process", "ParallelFor", "ExecutorState::ProcessAsync::Start",
                 "ExecutorState::ProcessAsync::Done", "BlockUntilReady")


def op_profile(network, precision: str, batch: int, steps: int) -> dict:
    """Share of op time per op type in a default-pipeline render, from the TF profiler."""
    from tensorflow.tsl.profiler.protobuf import xplane_pb2

    renderer = Renderer(network, Objective((Term("channel", LAYER),)),
                        settings_for(DEFAULT, precision, steps), batch)
    renderer.warm_up()
    channels = [[c] for c in range(batch)]
    with tempfile.TemporaryDirectory() as logdir:
        tf.profiler.experimental.start(logdir)
        renderer.render(channels, list(range(batch)))
        tf.profiler.experimental.stop()
        space = xplane_pb2.XSpace()
        with open(glob.glob(f"{logdir}/**/*.xplane.pb", recursive=True)[0], "rb") as file:
            space.ParseFromString(file.read())
    totals = collections.Counter()
    for plane in space.planes:
        for line in plane.lines:
            if not line.name.startswith("tf_Compute"):
                continue
            for event in line.events:
                name = plane.event_metadata[event.metadata_id].name
                if name in OP_CONTAINERS:
                    continue
                name = "XLA (resampling, Adam)" if "ExecuteAsyncOnStream" in name else name
                totals[name.split(":")[-1]] += event.duration_ps
    total = sum(totals.values()) or 1
    shares = {name: round(100 * ps / total, 1) for name, ps in totals.most_common(20)}
    conv = sum(ps for name, ps in totals.items() if "Conv" in name)
    return {"measure": "op time shares %", "precision": precision, "batch": batch,
            "convolutions": round(100 * conv / total, 1), "top": shares}


def per_layer(network, precision: str, steps: int) -> list[dict]:
    """The default pipeline at the default batch on every Mixed layer and the logits: what a
    unit of each costs, the prices of a sweep."""
    rows = []
    for layer in MIXED_LAYERS + ("logits",):
        case = RenderCase(network, DEFAULT, precision, DEFAULT_BATCH, steps, layer=layer)
        case.run()
        rate = case.result()["image_steps_per_s"]
        rows.append({"measure": "per layer", "layer": layer, "precision": precision,
                     "batch": DEFAULT_BATCH, "size": SIZE, "steps": steps,
                     "gflop_per_image_step": round(layer_step_flops(network, layer, SIZE) / 1e9,
                                                   3),
                     "image_steps_per_s": rate,
                     "seconds_per_unit": round(UNIT_STEPS / rate, 2)})
    return rows


def all_mixed_estimate(network, layer_rows: list[dict]) -> dict:
    """How long configs/inception_v1/all-mixed.yaml takes on this machine in one process:
    each job's images x steps at its layer's measured rate; and, for comparison, what
    `fvcli validate` estimates from FLOPs at Mixed_4b's speed alone."""
    rates = {row["layer"]: row["image_steps_per_s"] for row in layer_rows}
    mixed_4b = next(row for row in layer_rows if row["layer"] == LAYER)
    gflop_per_s = mixed_4b["image_steps_per_s"] * mixed_4b["gflop_per_image_step"]
    cpu = resolve_device("cpu")
    jobs = plan_job_file(load_job_file(ALL_MIXED), network,
                         lambda requested: resolve_precision(requested, cpu))
    by_layer = sum(len(job.units) * job.settings.steps / rates[job.terms[0].layer]
                   for job in jobs)
    by_flops = sum(job_flops(job, network) for job in jobs) / (gflop_per_s * 1e9)
    return {"measure": "all-mixed estimate", "precision": layer_rows[0]["precision"],
            "units": sum(len(job.units) for job in jobs),
            "hours_from_layer_rates": round(by_layer / 3600, 2),
            "hours_from_flops_at_mixed_4b": round(by_flops / 3600, 2)}


def sweep(network, out: str, channels: int, steps: int) -> dict:
    """A real job through the CLI's path: `channels` channels of Mixed_4b, default batch,
    auto precision, PNGs and manifest written."""
    job_path = os.path.join(out, "sweep.yaml")
    with open(job_path, "w", encoding="utf-8") as file:
        file.write(f"jobs:\n  - name: sweep\n    objective: channel\n    layer: {LAYER}\n"
                   f"    channels: 0-{channels - 1}\n    size: {SIZE}\n    steps: {steps}\n")
    device = resolve_device("cpu")
    (job,) = plan_job_file(load_job_file(job_path), network,
                           lambda requested: resolve_precision(requested, device))
    renderers = RendererCache(network, device)
    started = time.perf_counter()
    with PeakMemory() as memory:
        SweepRunner(renderers, out, {"source": "bench"}, quiet=True).run([job])
    seconds = time.perf_counter() - started
    with open(os.path.join(out, job.name, "manifest.json"), encoding="utf-8") as file:
        manifest = json.load(file)
    (renderer,) = renderers._renderers.values()
    return {"measure": "sweep", "layer": LAYER, "channels": channels, "steps": steps,
            "batch": manifest["batch_size"], "precision": manifest["precision"],
            "wall_s": round(seconds, 1),
            "image_steps_per_s": round(channels * steps / seconds, 1),
            "batches": -(-channels // manifest["batch_size"]), "traces": renderer.traces,
            "peak_rss_mib": memory.mib}


def score_rate(network, out: str, images: int, channels: int = 64) -> dict:
    """`fvcli score`'s own work (no rendering: the visualization scores stay null) on a
    folder of `images` 224 px textures: `channels` units of Mixed_4b scored in one streaming
    pass, then the judge's (Mixed_5c) and the lower layers' features of their kept images."""
    import imageio.v3 as iio
    import numpy as np
    from fvcli.sweep.prepare import PreparedFile
    import time

    from fvcli.sweep.score import plan_scores, score_task, stream_folder
    from fvcli.sweep.shards import Shard
    from support.demo_net import texture

    folder = os.path.join(out, "images")
    os.makedirs(folder)
    rng = np.random.default_rng(0)
    for number in range(images):
        pixels = np.round(texture(number % 6, 224, rng) * 255).astype(np.uint8)
        iio.imwrite(os.path.join(folder, f"{number:05d}.png"), pixels)
    job_path = os.path.join(out, "score.yaml")
    with open(job_path, "w", encoding="utf-8") as file:
        file.write(f"jobs:\n  - {{name: score, objective: channel, layer: {LAYER}, "
                   f"channels: 0-{channels - 1}, size: {SIZE}}}\n")
    device = resolve_device("cpu")
    job_file = load_job_file(job_path)
    jobs = plan_job_file(job_file, network, lambda requested: resolve_precision(requested,
                                                                                device))
    (task,) = plan_scores(PreparedFile(job_file, jobs, network, "inception_v1"), None, Shard())
    started = time.perf_counter()
    folder_pass = stream_folder(task, folder, 32, images, quiet=True, warn=print)
    score_task(task, folder_pass, folder, out)
    seconds = time.perf_counter() - started
    return {"measure": "score", "layer": LAYER, "units": channels, "images": images,
            "pass_images_per_s": round(images / folder_pass.seconds, 1),
            "images_per_s": round(images / seconds, 1), "wall_s": round(seconds, 1)}


def traces_over_three_batches(network) -> dict:
    """20 channels at batch_size 8 run as three batches of 7 (the last one padded):
    the step must be traced once."""
    renderer = Renderer(network, Objective((Term("channel", LAYER),)),
                        settings_for(DEFAULT, "fp32", 2), 7)
    for first in (0, 7, 14):
        batch = [[c] for c in range(first, min(first + 7, 20))]
        batch += [batch[-1]] * (7 - len(batch))
        renderer.render(batch, list(range(7)))
    return {"measure": "traces", "units": 20, "batches": 3, "batch": 7,
            "traces": renderer.traces}


STARTUP_RUNS = 3  # fresh processes per start-up measure; the fastest is kept


def startup(hub_cache: str, runs: int = STARTUP_RUNS) -> list[dict]:
    """Where a 1-step render of 8 units of Mixed_4b goes, in a fresh `fvcli render`
    process with FVCLI_TIMINGS=1: phase seconds as fvcli prints them, plus the rest of the
    wall time (the interpreter's start and exit, fvcli's own imports); beside it, a bare
    `python -c 'import tensorflow'`. Once with an empty cache folder (a first run), then
    with the cache that run left (every later run). Each measure is the fastest of
    ``runs``: on a shared machine that one is the least disturbed."""
    rows = []
    with tempfile.TemporaryDirectory() as work:
        job_path = os.path.join(work, "startup.yaml")
        with open(job_path, "w", encoding="utf-8") as file:
            file.write(f"jobs:\n  - name: startup\n    objective: channel\n    layer: {LAYER}\n"
                       "    channels: 0-7\n    steps: 1\n")
        env = dict(os.environ, FVCLI_TIMINGS="1", TFHUB_CACHE_DIR=hub_cache,
                   PYTHONPATH=os.pathsep.join(filter(None, [
                       os.path.join(os.path.dirname(__file__), ".."),
                       os.environ.get("PYTHONPATH")])))
        env.pop("TF_CPP_MIN_LOG_LEVEL", None)  # as a user runs it: fvcli quiets TF itself

        def render(cache: str) -> dict:
            out = tempfile.mkdtemp(dir=work)
            started = time.perf_counter()
            result = subprocess.run([sys.executable, "-m", "fvcli", "render", job_path,
                                     "--out", out, "-q"], env=dict(env, XDG_CACHE_HOME=cache),
                                    capture_output=True, text=True, check=True)
            wall = time.perf_counter() - started
            phases = timings.parse(result.stderr)
            since_import = phases.pop("since import")
            phases["other (interpreter, fvcli imports, exit)"] = \
                wall - sum(phases.values())
            return {"wall_s": round(wall, 2), "since_import_s": round(since_import, 2),
                    "phases_s": {name: round(s, 3) for name, s in phases.items()}}

        def bare_import():
            started = time.perf_counter()
            subprocess.run([sys.executable, "-c", "import tensorflow"], env=env, check=True,
                           capture_output=True)
            return {"wall_s": round(time.perf_counter() - started, 2)}

        warm_cache = tempfile.mkdtemp(dir=work)
        render(warm_cache)
        # interleaved, so that a busy spell of the machine falls on every measure alike
        measured = [(bare_import(), render(tempfile.mkdtemp(dir=work)), render(warm_cache))
                    for _ in range(runs)]
        bare, cold, warm = (min((run[i] for run in measured), key=lambda r: r["wall_s"])
                            for i in range(3))
        bare = bare["wall_s"]
        for label, result in (("first run (empty cache)", cold), ("later runs", warm)):
            rows.append({"measure": "start-up", "run": label, "layer": LAYER, "units": 8,
                         "steps": 1, "bare_import_tensorflow_s": bare,
                         "ratio": round(result["wall_s"] / bare, 2), **result})
    return rows


def print_startup(rows: list[dict]) -> None:
    """The start-up rows as a table of phase seconds, one column per run."""
    rows = [row for row in rows if row["measure"] == "start-up"]
    if not rows:
        return
    print(f"\nstart-up: `fvcli render` of 8 units of {LAYER}, 1 step, fresh process "
          f"(fastest of {STARTUP_RUNS}), seconds")
    print(f"{'phase':<45}" + "".join(f"{row['run']:>26}" for row in rows))
    names = list(dict.fromkeys(name for row in rows for name in row["phases_s"]))
    for name in names:
        print(f"{name:<45}" + "".join(f"{row['phases_s'].get(name, 0):>26.2f}" for row in rows))
    print(f"{'wall':<45}" + "".join(f"{row['wall_s']:>26.2f}" for row in rows))
    print(f"{'bare python -c import tensorflow':<45}"
          + "".join(f"{row['bare_import_tensorflow_s']:>26.2f}" for row in rows))
    print(f"{'ratio to the bare import (target 2.5)':<45}"
          + "".join(f"{row['ratio']:>26.2f}" for row in rows))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        help="a one-minute smoke run: batches 1 and 8, 16 steps, short sweep")
    parser.add_argument("--startup", action="store_true",
                        help="measure only where a 1-step render's start-up goes")
    parser.add_argument("--tables", metavar="JSON_LINES",
                        help="print the tables of a saved run's output instead of measuring")
    args = parser.parse_args()
    if args.tables:
        with open(args.tables, encoding="utf-8") as saved:
            print_tables([json.loads(line) for line in saved if line.startswith("{")], None)
        return
    quick = args.quick
    batches = [1, 8] if quick else [1, 8, 16, 32, 64]
    steps = 16 if quick else 64
    rows = []

    def emit(row):
        print(json.dumps(row), flush=True)
        rows.append(row)
        return row

    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as cache:
        install_in_hub_cache(cache, width=1.0)
        if args.startup:
            for row in startup(cache):
                emit(row)
            print_startup(rows)
            return
        os.environ["TFHUB_CACHE_DIR"] = cache
        network = load_network("inception_v1")
        cpu = resolve_device("cpu")
        emit({"tensorflow": tf.__version__, "cpu": cpu_name(), "cores": os.cpu_count(),
              "auto_precision": native_precision(cpu),
              "model": "InceptionV1 in TF-Slim's layout (BatchNorm after every convolution), "
                       "random weights", "mode": "quick" if quick else "full"})
        for precision in PRECISIONS:
            for row in throughput(network, precision, batches, steps,
                                  repeat_batches=() if quick else (1, 8)):
                emit(row)
            emit(conv_reference(precision))
            if not quick:
                emit(op_profile(network, precision, 8, 16))
        emit({"measure": "flops", "layer": LAYER, "fed_size": SIZE,
              "forward_gflop_per_image": round(network.forward_flops(LAYER, SIZE) / 1e9, 3),
              "image_step_gflop": round(layer_step_flops(network, LAYER, SIZE) / 1e9, 3),
              "logits_forward_gflop_per_image":
                  round(network.forward_flops("logits", SIZE) / 1e9, 3),
              "activation_mib_per_image": round(network.activation_bytes([LAYER], SIZE) / 2**20,
                                                1)})
        emit(traces_over_three_batches(network))
        with tempfile.TemporaryDirectory() as out:
            emit(sweep(network, out, 16 if quick else 64, 32 if quick else UNIT_STEPS))
        with tempfile.TemporaryDirectory() as out:
            emit(score_rate(network, out, 64 if quick else 256))
        # after the sweep: a second network and its renderers would weigh on its peak RSS
        free_network = load_network({"path": save_slim_inception(
            os.path.join(cache, "without-batch-norm"), width=1.0, batch_norm=False)})
        for precision in PRECISIONS:
            for row in batch_norm_costs(network, free_network, precision, steps):
                emit(row)
        # last: its ten renderers would weigh on the peak RSS of the measures above
        auto = native_precision(cpu) if native_precision(cpu) in PRECISIONS else "fp32"
        layer_rows = [emit(row) for row in per_layer(network, auto, 8 if quick else 32)]
        emit(all_mixed_estimate(network, layer_rows))
        # last, in fresh processes: the renders above do not share their start-up
        for row in startup(cache):
            emit(row)
    print_tables(rows, time.perf_counter() - started)


def print_tables(rows: list[dict], seconds: float | None) -> None:
    """The measurements as tables a person reads, with the ratios the targets are set in."""
    head, rows = rows[0], rows[1:]
    took = f"; bench took {seconds:.0f} s" if seconds else ""
    print(f"\nTensorFlow {head['tensorflow']}, {head['cpu']}, {head['cores']} cores; "
          f"precision auto = {head['auto_precision']}{took}\n")
    flops = next(r for r in rows if r["measure"] == "flops")
    references = {r["precision"]: r["gflops_per_s"] for r in rows
                  if r["measure"] == "conv2d reference"}
    step_gflop = {pipeline: flops["image_step_gflop"] for pipeline in (DEFAULT, PIXEL, FLOOR)}
    step_gflop[MACO] = Transforms.maco().views * flops["image_step_gflop"]
    throughput = [r for r in rows if r["measure"] == "throughput"]
    print("image-steps/s (steady state: steps after the first; best run), 128 px, 64 steps "
          "(--quick: 16; full network: 16); warm-up, traces, peak RSS and cores busy (CPU "
          "seconds / wall seconds over a whole render, busiest run) of the fp32 run")
    print(f"{'pipeline':<50} {'layer':<9} {'batch':>5} {'fp32':>8} {'bf16':>8} "
          f"{'GFLOP/s fp32':>13} {'warm-up s':>10} {'traces':>6} {'peak RSS MiB':>12} "
          f"{'cores busy':>10}")
    keys = list(dict.fromkeys((r["pipeline"], r["layer"], r["batch"]) for r in throughput))
    for pipeline, layer, batch in keys:
        by = {r["precision"]: r for r in throughput
              if (r["pipeline"], r["layer"], r["batch"]) == (pipeline, layer, batch)}
        fp32, bf16 = by.get("fp32", {}), by.get("bf16", {})
        gflops = "-"
        if layer == LAYER and fp32:
            gflops = f"{fp32['image_steps_per_s'] * step_gflop[pipeline]:.0f}"
        print(f"{pipeline:<50} {layer:<9} {batch:>5} {fp32.get('image_steps_per_s', '-'):>8} "
              f"{bf16.get('image_steps_per_s', '-'):>8} {gflops:>13} "
              f"{str(fp32.get('warm_up_s') or '-'):>10} {fp32.get('traces', '-'):>6} "
              f"{str(fp32.get('peak_rss_mib') or '-'):>12} "
              f"{str(fp32.get('cores_busy') or '-'):>10}")
    print(f"\nconv2d reference: fp32 {references['fp32']} GFLOP/s, bf16 {references['bf16']} "
          f"GFLOP/s (ratio {references['bf16'] / references['fp32']:.2f})")
    print(f"one image-step at Mixed_4b: {step_gflop[DEFAULT]:.2f} GFLOP (forward and gradient "
          f"to the image; the network is fed {flops['fed_size']} px)")

    def rate(pipeline, precision, batch, layer=LAYER):
        return next((r["image_steps_per_s"] for r in throughput
                     if (r["pipeline"], r["precision"], r["batch"], r["layer"])
                     == (pipeline, precision, batch, layer)), None)

    def busy(pipeline, precision, batch):
        return next((r.get("cores_busy") for r in throughput
                     if (r["pipeline"], r["precision"], r["batch"], r["layer"])
                     == (pipeline, precision, batch, LAYER)), None)

    auto = head["auto_precision"] if head["auto_precision"] in PRECISIONS else "fp32"
    best_fp32 = max(r["image_steps_per_s"] for r in throughput
                    if r["pipeline"] == DEFAULT and r["precision"] == "fp32"
                    and r["layer"] == LAYER)
    print("\ntargets (ratios within this run)")
    print(f"  default pipeline, batch 8, precision auto ({auto}): "
          f"{rate(DEFAULT, auto, 8)} img-steps/s = "
          f"{100 * rate(DEFAULT, auto, 8) / rate(FLOOR, auto, 8):.0f}% of the plain-TF floor "
          f"(target 85%)")
    for precision in PRECISIONS:
        batched = max(r["image_steps_per_s"] for r in throughput if r["pipeline"] == DEFAULT
                      and r["precision"] == precision and r["layer"] == LAYER)
        floor_batched = max(r["image_steps_per_s"] for r in throughput
                            if r["pipeline"] == FLOOR and r["precision"] == precision)
        print(f"  {precision}: best batch / batch 1 = {batched / rate(DEFAULT, precision, 1):.2f}x"
              f" (target 2.5x); the same network in plain TF (the floor, batches to "
              f"{FLOOR_MAX_BATCH}): {floor_batched / rate(FLOOR, precision, 1):.2f}x; "
              f"cores busy at batch 1: "
              f"{busy(DEFAULT, precision, 1)} of {head['cores']}, at batch 8: "
              f"{busy(DEFAULT, precision, 8)}")
        print(f"  {precision}: pixel batch 8 / plain-TF floor = "
              f"{rate(PIXEL, precision, 8) / rate(FLOOR, precision, 8):.2f}"
              f" (target 0.9); truncated at {LAYER} / full network = "
              f"{rate(DEFAULT, precision, 8) / rate(DEFAULT, precision, 8, 'logits'):.2f}x")
        print(f"  {precision}: maco (8 crops of the canvas a step) batch 8: "
              f"{rate(MACO, precision, 8)} img-steps/s = {rate(MACO, precision, 8) / rate(MACO, precision, 1):.2f}x"
              f" its batch 1, {rate(MACO, precision, 8) / rate(DEFAULT, precision, 8):.2f}x the "
              "default pipeline's")
    print(f"  fp32 achieved at the best batch: {best_fp32 * step_gflop[DEFAULT]:.0f} GFLOP/s = "
          f"{100 * best_fp32 * step_gflop[DEFAULT] / references['fp32']:.0f}% of the conv2d "
          f"reference (target 60%)")
    for row in rows:
        if row["measure"] == "op time shares %":
            top = ", ".join(f"{name} {share}" for name, share in list(row["top"].items())[:8])
            print(f"  where the time goes ({row['precision']}, batch {row['batch']}): "
                  f"convolutions {row['convolutions']}%; {top}")
        elif row["measure"] == "traces":
            print(f"  traces over {row['batches']} batches of {row['batch']} "
                  f"({row['units']} units, last one padded): {row['traces']}")
        elif row["measure"] == "sweep":
            print(f"  real sweep: {row['channels']} channels of {row['layer']} x {row['steps']} "
                  f"steps, batch {row['batch']}, {row['precision']}: {row['wall_s']} s "
                  f"({row['image_steps_per_s']} img-steps/s), {row['traces']} trace(s) over "
                  f"{row['batches']} batches, peak RSS {row['peak_rss_mib']} MiB")
        elif row["measure"] == "score":
            print(f"  fvcli score: {row['units']} units of {row['layer']} on {row['images']} "
                  f"images of 224 px: {row['images_per_s']} images/s in all "
                  f"({row['pass_images_per_s']} images/s through the streaming pass), "
                  f"{row['wall_s']} s")
    structures = {(r["pipeline"], r["precision"]): r["image_steps_per_s"] for r in rows
                  if r["measure"] == "model structure"}
    if structures:
        print(f"\nthe same render (default pipeline, {LAYER}, batch 8) on three networks, "
              "image-steps/s")
        print(f"{'network':<50} {'fp32':>8} {'bf16':>8}")
        for label in STRUCTURES:
            print(f"{label:<50} {structures.get((label, 'fp32'), '-'):>8} "
                  f"{structures.get((label, 'bf16'), '-'):>8}")
    print_startup(rows)
    layer_rows = [r for r in rows if r["measure"] == "per layer"]
    if layer_rows:
        print(f"\nper layer: default pipeline, {SIZE} px, batch {layer_rows[0]['batch']}, "
              f"{layer_rows[0]['precision']}")
        print(f"{'layer':<9} {'GFLOP/image-step':>17} {'image-steps/s':>14} "
              f"{f's/unit at {UNIT_STEPS} steps':>20}")
        for row in layer_rows:
            print(f"{row['layer']:<9} {row['gflop_per_image_step']:>17} "
                  f"{row['image_steps_per_s']:>14} {row['seconds_per_unit']:>20}")
    for row in rows:
        if row["measure"] == "all-mixed estimate":
            print(f"configs/inception_v1/all-mixed.yaml ({row['units']} units x {UNIT_STEPS} "
                  f"steps) on this machine, one process, {row['precision']}: about "
                  f"{format_duration(row['hours_from_layer_rates'] * 3600)} from the per-layer "
                  f"rates; fvcli validate's estimate from FLOPs at Mixed_4b's speed: about "
                  f"{format_duration(row['hours_from_flops_at_mixed_4b'] * 3600)}")


if __name__ == "__main__":
    main()
