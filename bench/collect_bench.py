"""Time `fvcli collect` on a folder of N synthetic unit records (random 128 px PNGs, no
rendering), and report its wall time and peak RSS: what collecting a whole-network sweep
costs.

    .venv/bin/python bench/collect_bench.py --units 5000
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

import numpy as np

CHECKOUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
sys.path.insert(0, CHECKOUT)

from fvcli.outputs.records import DONE, GRID_FILE, unit_png  # noqa: E402
from fvcli.outputs.store import JobStore  # noqa: E402


def make_records(out: str, units: int, size: int, jobs: int) -> None:
    """``jobs`` job folders sharing ``units`` units, each unit a PNG and a record."""
    rng = np.random.default_rng(0)
    per_job = -(-units // jobs)
    for j in range(jobs):
        store = JobStore(out, f"layer{j}")
        entries = []
        for c in range(min(per_job, units - j * per_job)):
            stem = f"Mixed_{j}_{c:04d}"
            entry = {"stem": stem, "fingerprint": f"sha256:{j}-{c}", "cost": 1.0,
                     "description": f"channel Mixed_{j}:{c}", "seed": c,
                     "layer": f"Mixed_{j}", "channel": c}
            entries.append(entry)
            pixels = rng.integers(0, 255, (size, size, 3), dtype=np.uint8)
            store.save(stem, pixels, {**entry, "png": unit_png(stem),
                                      "objective_start": 0.1, "objective_end": 5.0,
                                      "seconds": 1.0, "status": DONE})
        store.write_plan({"job": {"name": store.name, "objective": [
            {"kind": "channel", "layer": f"Mixed_{j}"}]}, "units": entries})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--units", type=int, default=5000)
    parser.add_argument("--jobs", type=int, default=9)
    parser.add_argument("--size", type=int, default=128)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as out:
        started = time.perf_counter()
        make_records(out, args.units, args.size, args.jobs)
        print(f"made {args.units} records in {time.perf_counter() - started:.1f}s")
        code = ("import resource, sys, time; from fvcli.outputs.collect import collect; "
                "t = time.perf_counter(); collect(sys.argv[1]); "
                "print(round(time.perf_counter() - t, 2), "
                "resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)")
        result = subprocess.run([sys.executable, "-c", code, out], capture_output=True,
                                text=True, check=True,
                                env={**os.environ, "PYTHONPATH": CHECKOUT})
        seconds, peak_kib = result.stdout.split()
        grid_bytes = sum(os.path.getsize(os.path.join(out, f"layer{j}", GRID_FILE))
                         for j in range(args.jobs))
        print(json.dumps({"measure": "collect", "units": args.units, "jobs": args.jobs,
                          "size": args.size, "wall_s": float(seconds),
                          "peak_rss_mib": round(int(peak_kib) / 1024, 1),
                          "grid_mib": round(grid_bytes / 2**20, 1)}))


if __name__ == "__main__":
    main()
