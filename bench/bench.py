"""Rendering throughput on a full-width, random-weight InceptionV1 (no download).

Prints one JSON line per measurement, then a table. Run with `make bench`;
`make bench BENCH_ARGS=--quick` for a short smoke run.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
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
                print(json.dumps(row), flush=True)
                rows.append(row)
    print(f"\n{'pipeline':<30} {'batch':>5} {'img-steps/s':>12} {'first run s':>12} {'traces':>7}")
    for row in rows:
        print(f"{row['pipeline']:<30} {row['batch']:>5} {row['image_steps_per_s']:>12} "
              f"{row['first_run_s']:>12} {row['traces']:>7}")


if __name__ == "__main__":
    main()
