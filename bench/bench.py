"""Rendering throughput on a full-width, random-weight InceptionV1 (no download).

Prints one JSON line per measurement, then a table. Run with `make bench`;
`make bench BENCH_ARGS=--quick` for a short smoke run.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import sys
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

import tensorflow as tf  # noqa: E402

from fvcli.models import load_network  # noqa: E402
from fvcli.objectives import Objective, Term  # noqa: E402
from fvcli.param import Parameterization  # noqa: E402
from fvcli.render import Renderer, RenderSettings  # noqa: E402
from fvcli.slim_inception import install_in_hub_cache  # noqa: E402
from fvcli.transforms import Transforms  # noqa: E402


def measure(network, batch: int, steps: int, size: int, pixel: bool) -> dict:
    """Warm up (trace) once, then time ``steps`` steps of a batch of Mixed_4b channels."""
    settings = RenderSettings(
        size=size, steps=steps,
        param=Parameterization(size, fft=not pixel, decorrelate=not pixel),
        transforms=Transforms() if pixel else Transforms.standard())
    renderer = Renderer(network, Objective((Term("channel", "Mixed_4b"),)), settings, batch)
    indices = [[channel] for channel in range(batch)]
    started = time.perf_counter()
    renderer.render(indices, list(range(batch)))
    warm_up = time.perf_counter() - started
    result = renderer.render(indices, list(range(batch, 2 * batch)))
    return {"pipeline": "pixel, no transforms" if pixel else "fft, decorrelated, standard",
            "batch": batch, "size": size, "steps": steps,
            "image_steps_per_s": round(batch * steps / result.seconds, 1),
            "first_run_s": round(warm_up, 2), "traces": renderer.traces}


def peak_rss_mib() -> float:
    """Peak resident memory of this process so far (Linux reports KiB)."""
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def plain_tf_floor(network, batch: int, steps: int, size: int) -> dict:
    """The same work without fvcli: one tf.function per step doing forward to Mixed_4b,
    gradient and Adam update on pixel images."""
    forward = network.forward(("Mixed_4b",), (), size)
    channels = tf.range(batch)

    @tf.function
    def step(images, first, second, t):
        loss = -tf.reduce_sum(tf.gather(tf.reduce_mean(forward(images)["Mixed_4b"], [1, 2]),
                                        channels, batch_dims=1))
        gradient = tf.gradients(loss, images)[0]
        first = 0.9 * first + 0.1 * gradient
        second = 0.999 * second + 0.001 * tf.square(gradient)
        rate = 0.05 * tf.sqrt(1 - 0.999 ** t) / (1 - 0.9 ** t)
        return images - rate * first / (tf.sqrt(second) + 1e-8), first, second

    images = tf.random.uniform([batch, size, size, 3])
    first, second = tf.zeros_like(images), tf.zeros_like(images)
    images, first, second = step(images, first, second, tf.constant(1.0))  # trace
    started = time.perf_counter()
    for t in range(steps):
        images, first, second = step(images, first, second, tf.constant(t + 2.0))
    _ = images.numpy()
    return {"pipeline": "plain TF floor (pixel)", "batch": batch, "size": size, "steps": steps,
            "image_steps_per_s": round(batch * steps / (time.perf_counter() - started), 1),
            "first_run_s": None, "traces": 1, "peak_rss_mib": peak_rss_mib()}


def conv_reference(dtype) -> dict:
    """GFLOP/s of one large 3x3 conv2d: what this machine's convolutions can reach."""
    images = tf.cast(tf.random.uniform([16, 56, 56, 256]), dtype)
    kernel = tf.cast(tf.random.uniform([3, 3, 256, 256]), dtype)
    conv = tf.function(lambda x, k: tf.nn.conv2d(x, k, 1, "SAME"))
    conv(images, kernel).numpy()
    runs = 5
    started = time.perf_counter()
    for _ in range(runs):
        conv(images, kernel).numpy()
    seconds = (time.perf_counter() - started) / runs
    flops = 2 * 16 * 56 * 56 * 3 * 3 * 256 * 256
    return {"reference": f"conv2d 3x3x256x256 on 16x56x56, {dtype.name}",
            "gflops_per_s": round(flops / seconds / 1e9, 1)}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small batches, few steps")
    args = parser.parse_args()
    batches = [1, 8] if args.quick else [1, 8, 16, 32]
    steps = 16 if args.quick else 64
    with tempfile.TemporaryDirectory() as cache:
        install_in_hub_cache(cache, width=1.0)
        os.environ["TFHUB_CACHE_DIR"] = cache
        network = load_network("inception_v1")
        print(json.dumps({"tensorflow": tf.__version__, "cpu": platform.processor() or
                          platform.machine(), "cores": os.cpu_count()}))
        rows = []
        for pixel in (False, True):
            for batch in batches:
                row = measure(network, batch, steps, 128, pixel)
                row["peak_rss_mib"] = peak_rss_mib()
                print(json.dumps(row), flush=True)
                rows.append(row)
        floor = plain_tf_floor(network, 8, steps, 128)
        print(json.dumps(floor), flush=True)
        rows.append(floor)
        references = [conv_reference(tf.float32), conv_reference(tf.bfloat16)]
        for reference in references:
            print(json.dumps(reference), flush=True)
    print(f"\n{'pipeline':<30} {'batch':>5} {'img-steps/s':>12} {'first run s':>12} "
          f"{'traces':>7} {'peak RSS MiB':>13}")
    for row in rows:
        print(f"{row['pipeline']:<30} {row['batch']:>5} {row['image_steps_per_s']:>12} "
              f"{str(row['first_run_s'] or '-'):>12} {row['traces']:>7} {row['peak_rss_mib']:>13}")
    for reference in references:
        print(f"{reference['reference']}: {reference['gflops_per_s']} GFLOP/s")


if __name__ == "__main__":
    main()
