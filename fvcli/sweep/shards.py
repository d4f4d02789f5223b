"""How a file's units are split: into shards across processes, by estimated cost, and into
batches of equal size within one (the last padded by repeating its final unit), so every
batch of a job has one shape and the renderer traces once per job shape.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

@dataclass(frozen=True)
class Shard:
    """Part ``index`` (1 to ``count``) of a file's units."""

    index: int = 1
    count: int = 1

    @property
    def label(self) -> str:
        """How progress lines and messages name a run of this shard: in fvcli's voice, as
        its other lines on stderr are."""
        return f"fvcli shard {self}" if self.count > 1 else "fvcli"

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"

    @classmethod
    def parse(cls, text: str) -> "Shard":
        """'2/8' -> Shard(2, 8); ValueError with a reason otherwise."""
        parts = text.split("/")
        if len(parts) != 2 or not all(part.strip().isdigit() for part in parts):
            raise ValueError(f"{text!r} is not I/N, e.g. 2/8")
        index, count = int(parts[0]), int(parts[1])
        if not 1 <= index <= count:
            raise ValueError(f"shard {index}/{count}: I must be from 1 to N")
        return cls(index, count)


def shard_to_render(option: str | None, environ) -> tuple[Shard, str | None]:
    """The shard a render takes: ``--shard I/N`` when given, else the one a Slurm array
    task's variables name (with a line saying so), else the whole file. ValueError says
    what is wrong with either."""
    if option:
        try:
            return Shard.parse(option), None
        except ValueError as error:
            raise ValueError(f"--shard: {error}") from None
    task = environ.get("SLURM_ARRAY_TASK_ID")
    if task is None:
        return Shard(), None
    first, count = environ.get("SLURM_ARRAY_TASK_MIN"), environ.get("SLURM_ARRAY_TASK_COUNT")
    try:
        shard = Shard(int(task) - int(first or 0) + 1, int(count or 1))
        Shard.parse(str(shard))
    except ValueError:
        raise ValueError(f"cannot read a shard from SLURM_ARRAY_TASK_ID={task}, "
                         f"SLURM_ARRAY_TASK_MIN={first}, SLURM_ARRAY_TASK_COUNT={count}; use "
                         "an array 0-(N-1) or --shard") from None
    return shard, (f"Slurm array task {task}: rendering shard {shard} (from "
                   "SLURM_ARRAY_TASK_ID, SLURM_ARRAY_TASK_MIN and SLURM_ARRAY_TASK_COUNT)")


def shard_units(units: list, shard: Shard, cost) -> list:
    """The units of ``shard``: the file's units in order, cut into ``shard.count`` runs of
    about equal total ``cost(unit)``. A unit goes to the shard where the middle of its cost
    falls, so every unit is in exactly one shard and shards differ by at most one unit's
    cost. Runs keep a job's units together, so a shard traces few step functions."""
    if shard.count == 1:
        return list(units)
    costs = [max(float(cost(unit)), 1e-9) for unit in units]
    total = sum(costs)
    chosen, before = [], 0.0
    for unit, unit_cost in zip(units, costs):
        middle = (before + unit_cost / 2) / total
        if min(int(middle * shard.count), shard.count - 1) == shard.index - 1:
            chosen.append(unit)
        before += unit_cost
    return chosen


def balanced_batch_size(unit_count: int, batch_size: int) -> int:
    """The smallest batch size that covers ``unit_count`` units in as many batches as
    ``batch_size`` would: 20 units at batch 16 run as 2 x 10, not 16 + 4 padded to 16."""
    batches = math.ceil(unit_count / batch_size)
    return math.ceil(unit_count / batches)


def batches_of(units: list, size: int) -> list[list]:
    """Consecutive batches of ``size`` units; the caller pads the last one."""
    return [units[i:i + size] for i in range(0, len(units), size)]
