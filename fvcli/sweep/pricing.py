"""How long prepared jobs would take on this machine: the plan's FLOPs over a speed in
GFLOP/s that an earlier render recorded for the same machine, model, device and precision,
or that a few timed steps measure now."""

from __future__ import annotations

from dataclasses import dataclass

from ..engine.cost import job_flops
from .runner import measure_speed
from .speed import record_speed, recorded_speed, speed_key


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
        if speed is None:
            say(f"{largest.name}: no speed recorded for this model in {precision} "
                f"on this machine; timing a few steps")
            measured = measure_speed(largest, network, device)
            record_speed(key, measured, "fvcli validate")
            speed = {"gflop_per_s": round(measured, 1), "how": "fvcli validate",
                     "when": "just now"}
        label = (f"{speed['gflop_per_s']:g} GFLOP/s in {precision} on "
                 f"{device.name.strip('/')}, measured by {speed['how']} {speed['when']}")
        speeds.update({id(job): {**speed, "label": label} for job, _ in members})
    return speeds


@dataclass
class Estimate:
    """How long each prepared job would take (seconds, by the job's id), in all, and the
    speeds that says so, as a person reads them."""

    seconds: dict
    total: float
    speeds: list[str]


def estimate(prepared, say) -> Estimate:
    """The time every prepared job would take on its device, in one process: its FLOPs over
    the speed :func:`job_speeds` finds for it (``say`` hears of any speed measured now)."""
    speeds = job_speeds(prepared, say)
    seconds = {id(job): job_flops(job, network) / (speeds[id(job)]["gflop_per_s"] * 1e9)
               for job, network in prepared.jobs}
    labels = list(dict.fromkeys(speed["label"] for speed in speeds.values()))
    return Estimate(seconds, sum(seconds.values()), labels)
