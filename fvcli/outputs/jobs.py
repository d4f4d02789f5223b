"""An output folder's jobs as read from disk: each job's plan (job.json) and each planned
unit with its record when it is rendered or failed as the job now stands. Read by collect,
status and the index pages; nothing is written here, and TensorFlow is never imported.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from .records import DONE, FAILED, PLAN_FILE
from .store import JobStore


@dataclass
class UnitView:
    """A planned unit (its job.json entry) and, when it is rendered or failed with its
    current fingerprint, its record."""

    plan: dict
    record: dict | None
    state: str | None = None  # DONE, FAILED or None (see records.unit_state)

    @property
    def done(self) -> bool:
        return self.state == DONE

    @property
    def failed(self) -> bool:
        return self.state == FAILED

    @property
    def dead(self) -> bool:
        """Done, and its objective never rose above its start (records.is_alive); records
        written before fvcli judged this have no ``alive`` and count as alive."""
        return self.done and self.record.get("alive") is False


@dataclass
class JobView:
    """One job folder as collect, status and the index see it."""

    store: JobStore
    plan: dict
    units: list[UnitView]

    @property
    def name(self) -> str:
        return self.store.name

    @property
    def done(self) -> int:
        return sum(unit.done for unit in self.units)

    @property
    def failed(self) -> int:
        return sum(unit.failed for unit in self.units)

    @property
    def dead(self) -> int:
        return sum(unit.dead for unit in self.units)

    @property
    def complete(self) -> bool:
        return self.done == len(self.units)

    @property
    def finished(self) -> bool:
        """Nothing left to render: every unit is done or failed."""
        return self.done + self.failed == len(self.units)


def read_job(out_dir: str, name: str) -> JobView | None:
    """The job in ``out_dir/name``, or None when the folder holds no planned job."""
    store = JobStore(out_dir, name)
    plan = store.read_plan()
    if plan is None or not isinstance(plan.get("units"), list):
        return None
    units = []
    for entry in plan["units"]:
        state, record = store.state(entry["stem"], entry["fingerprint"])
        units.append(UnitView(plan=entry, record=record if state else None, state=state))
    return JobView(store=store, plan=plan, units=units)


def job_names(out_dir: str) -> list[str]:
    """Names of the job folders in ``out_dir`` (those with a job.json), sorted."""
    try:
        entries = sorted(os.listdir(out_dir))
    except OSError:
        return []
    return [name for name in entries
            if os.path.isfile(os.path.join(out_dir, name, PLAN_FILE))]
