"""How long prepared jobs would take on this machine: the plan's FLOPs over a speed in
GFLOP/s that an earlier render recorded for the same machine, model, device and precision,
or that a few timed steps measure now; plus what a render pays besides its steps, which
dominates small files: the start-up (TensorFlow, the device, the models: as long as this
process took for them) and a trace of the step per job shape (recorded with the speed)."""

from __future__ import annotations

from dataclasses import dataclass

from ..engine.cost import job_flops
from ..engine.memory import batch_size_of
from ..engine.renderer import RendererCache
from .runner import measure_speed
from .shards import balanced_batch_size
from .speed import TRACE_FIELDS, record_speed, recorded_speed, speed_key

# A process's first trace also pays TensorFlow's one-time set-up: on the 2-core CI machine
# later traces took 0.4x (demo model) to 0.7x (thin InceptionV1) of the first. Where only
# one of the two is recorded, the other is taken at half or twice it.
LATER_TRACE_RATIO = 0.5


def job_speeds(prepared, say) -> dict:
    """Per job (by id), the speed its time is estimated at: recorded by an earlier render on
    this machine with the same model, device and precision, else measured now on the job
    of that model and precision with the most work (``say`` hears that it is). Each speed
    is {"gflop_per_s", "how", "when", "label"}."""
    device = prepared.device
    groups: dict[str, list] = {}  # speed key -> [(job, network)]
    for job, network in prepared.jobs:
        key = speed_key(getattr(network, "fingerprint", ""), device.name,
                        job.settings.precision)
        groups.setdefault(key, []).append((job, network))
    speeds = {}
    for key, members in groups.items():
        speed = recorded_speed(key)
        largest, network = max(members, key=lambda member: job_flops(*member))
        precision = largest.settings.precision
        if speed is None or not any(name in speed for name in TRACE_FIELDS):
            what = "speed" if speed is None else "trace time"
            say(f"{largest.name}: no {what} recorded for this model in {precision} "
                f"on this machine; timing a few steps")
            measured, traces = measure_speed(largest, network, device)
            record_speed(key, measured, "fvcli validate", **traces)
            speed = {**(speed or {}), **traces, "gflop_per_s": round(measured, 1),
                     "how": "fvcli validate", "when": "just now"}
        label = (f"{speed['gflop_per_s']:g} GFLOP/s in {precision} on "
                 f"{device.name.strip('/')}, measured by {speed['how']} {speed['when']}")
        speeds.update({id(job): {**speed, "label": label} for job, _ in members})
    return speeds


def trace_seconds(speed: dict, first: bool) -> float:
    """The seconds a trace of the step costs at ``speed`` (a record of :func:`job_speeds`):
    the process's ``first`` trace, or a later one."""
    first_time, later_time = speed.get("first_trace_seconds"), speed.get("trace_seconds")
    if first:
        return first_time if first_time is not None else later_time / LATER_TRACE_RATIO
    return later_time if later_time is not None else first_time * LATER_TRACE_RATIO


def job_shapes(job, network, device) -> list:
    """The renderer shapes ``job`` traces when rendered in one process: one per batch
    size its units run at (the runner's balanced batches)."""
    batch_size, _ = batch_size_of(job, network, device)
    units = balanced_batch_size(len(job.units), max(1, batch_size // job.images_per_unit))
    return [(id(network), RendererCache.shape(job, units * job.images_per_unit))]


@dataclass
class Estimate:
    """How long each prepared job would take (seconds, by the job's id: its steps and the
    traces it is the first to need), the start-up, the traces and everything in all, and
    the speeds that says so, as a person reads them."""

    seconds: dict
    total: float
    speeds: list[str]
    startup: float = 0.0
    traces: int = 0          # job shapes, each traced once
    trace_total: float = 0.0


def estimate(prepared, say) -> Estimate:
    """The time every prepared job would take on its device, in one process: the start-up
    this process took (TensorFlow, device, models), a trace per job shape (the first of
    the process dearer, see :func:`trace_seconds`), and each job's FLOPs over the speed
    :func:`job_speeds` finds for it (``say`` hears of any speed measured now)."""
    speeds = job_speeds(prepared, say)
    seconds, traced, trace_total = {}, set(), 0.0
    for job, network in prepared.jobs:
        speed = speeds[id(job)]
        seconds[id(job)] = job_flops(job, network) / (speed["gflop_per_s"] * 1e9)
        for shape in job_shapes(job, network, prepared.device):
            if shape not in traced:
                trace = trace_seconds(speed, first=not traced)
                traced.add(shape)
                seconds[id(job)] += trace
                trace_total += trace
    labels = list(dict.fromkeys(speed["label"] for speed in speeds.values()))
    startup = prepared.startup_seconds
    return Estimate(seconds, startup + sum(seconds.values()), labels, startup, len(traced),
                    trace_total)
