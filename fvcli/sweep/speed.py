"""The speeds renders reached on this machine, kept to price job files.

Speed is measured in GFLOP/s of rendering work as :mod:`fvcli.engine.cost` reckons it.
Every render records the speed it reached, per machine, model, device and precision, in
``$XDG_CACHE_HOME/fvcli/speeds.json`` (``~/.cache`` by default); ``fvcli validate``
estimates a job file's time from it (:mod:`fvcli.sweep.pricing`), and measures a speed
first when none is recorded.
"""

from __future__ import annotations

import json
import os
import time

from ..engine.machine import machine_name
from ..outputs.files import write_atomic


TRACE_FIELDS = ("first_trace_seconds", "trace_seconds")


def speeds_path() -> str:
    """The file of recorded speeds: speeds.json in the user's cache folder."""
    cache = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(cache, "fvcli", "speeds.json")


def speed_key(model_fingerprint: str, device_name: str, precision: str) -> str:
    """What a speed is recorded under: this machine, the device, the precision, the model."""
    return f"{machine_name()} | {device_name.strip('/')} | {precision} | {model_fingerprint}"


def _read_all() -> dict:
    try:
        with open(speeds_path(), encoding="utf-8") as file:
            speeds = json.load(file)
        return speeds if isinstance(speeds, dict) else {}
    except (OSError, ValueError):
        return {}


def recorded_speed(key: str) -> dict | None:
    """{"gflop_per_s", "when", "how"} recorded for ``key`` (and the trace times recorded
    with it, if any), or None."""
    speed = _read_all().get(key)
    if not isinstance(speed, dict) or not isinstance(speed.get("gflop_per_s"), (int, float)):
        return None
    return speed if speed["gflop_per_s"] > 0 else None


def record_speed(key: str, gflop_per_s: float, how: str, **traces: float) -> None:
    """Remember a measured speed, and with it any trace times measured
    (``first_trace_seconds``: a process's first trace of a step, which also pays
    TensorFlow's set-up; ``trace_seconds``: a later one), keeping those recorded before
    that are not measured again. A cache that cannot be written is not an error."""
    speeds = _read_all()
    before = speeds.get(key) if isinstance(speeds.get(key), dict) else {}
    kept = {name: before[name] for name in TRACE_FIELDS
            if isinstance(before.get(name), (int, float))}
    speeds[key] = {**kept, **{name: round(value, 2) for name, value in traces.items()},
                   "gflop_per_s": round(gflop_per_s, 1), "how": how,
                   "when": time.strftime("%Y-%m-%d %H:%M")}
    try:
        os.makedirs(os.path.dirname(speeds_path()), exist_ok=True)
        write_atomic(speeds_path(), json.dumps(speeds, indent=1).encode())
    except OSError:
        pass
