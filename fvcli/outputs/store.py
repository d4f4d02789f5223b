"""A job's folder on disk, written unit by unit so that a sweep can stop and resume anywhere:
``job.json`` before rendering starts, then each unit's PNG and record (see
:mod:`fvcli.outputs.records`).

The PNG is written first and the record second, each atomically, the moment the unit is
rendered, so a kill at any moment loses at most the batch in flight. ``grid.png`` and
``manifest.json`` are built from these files by :mod:`fvcli.outputs.collect`.
"""

from __future__ import annotations

import json
import os
import socket

from .records import DONE, PLAN_FILE, UNITS_FOLDER, unit_png, unit_record_file, unit_state
from .files import (TEMPORARY_PREFIX, TEMPORARY_SUFFIX, create_atomic, read_json, write_atomic,
                     write_json, write_png)


class JobStore:
    """The files of one job under the output folder."""

    def __init__(self, out_dir: str, job_name: str):
        self.name = job_name
        self.folder = os.path.join(out_dir, job_name)

    def png_path(self, stem: str) -> str:
        """Where the unit ``stem``'s PNG is."""
        return os.path.join(self.folder, unit_png(stem))

    def record_path(self, stem: str) -> str:
        """Where the unit ``stem``'s record is."""
        return os.path.join(self.folder, unit_record_file(stem))

    def read_record(self, stem: str) -> dict | None:
        """The unit's record, or None when it is missing or unreadable."""
        return read_json(self.record_path(stem))

    def state(self, stem: str, fingerprint: str) -> tuple[str | None, dict | None]:
        """(DONE, FAILED or None, the record) of a unit that should have ``fingerprint``."""
        record = self.read_record(stem)
        state = unit_state(record, fingerprint, lambda: os.path.exists(self.png_path(stem)))
        return state, record

    def is_done(self, stem: str, fingerprint: str) -> bool:
        """True when the unit is on disk, rendered with exactly this fingerprint."""
        return self.state(stem, fingerprint)[0] == DONE

    def save(self, stem: str, pixels, record: dict, companions: dict | None = None) -> None:
        """Write a rendered unit: its PNG and its ``companions`` (path relative to the job
        folder -> pixels: an attribution map, a seed), then its record (which marks it
        done)."""
        write_png(self.png_path(stem), pixels)
        for relative, image in (companions or {}).items():
            write_png(os.path.join(self.folder, relative), image)
        write_json(self.record_path(stem), record)

    def save_failure(self, stem: str, record: dict) -> None:
        """Record that a unit failed; it has no PNG, and a rerun tries it again."""
        write_json(self.record_path(stem), record)

    def read_plan(self) -> dict | None:
        """The job's job.json, or None when it is missing or unreadable."""
        return read_json(os.path.join(self.folder, PLAN_FILE))

    def write_plan(self, plan: dict) -> None:
        """Write ``job.json`` unless it already says exactly this: all shards of a sweep
        plan the same job, the first creates the file, and only a changed job rewrites it."""
        path = os.path.join(self.folder, PLAN_FILE)
        data = (json.dumps(plan, indent=2) + "\n").encode("utf8")
        if create_atomic(path, data):
            return
        try:
            with open(path, "rb") as existing:
                if existing.read() == data:
                    return
        except OSError:
            pass
        write_atomic(path, data)

    def remove_stale_temporaries(self) -> int:
        """Delete temporary files that a killed process of this host left behind (those of
        live processes, and of other hosts, are left alone: readers ignore them)."""
        removed = 0
        for folder in (self.folder, os.path.join(self.folder, UNITS_FOLDER)):
            try:
                names = os.listdir(folder)
            except OSError:
                continue
            for name in names:
                if _is_stale_temporary(name):
                    try:
                        os.unlink(os.path.join(folder, name))
                        removed += 1
                    except OSError:
                        pass
        return removed


def _is_stale_temporary(name: str) -> bool:
    if not (name.startswith(TEMPORARY_PREFIX) and name.endswith(TEMPORARY_SUFFIX)):
        return False
    host_and_pid = name[len(TEMPORARY_PREFIX):].rsplit("-", 1)[0]
    host, _, pid = host_and_pid.rpartition("-")
    if host != socket.gethostname() or not pid.isdigit():
        return False
    return not process_alive(int(pid))


def process_alive(pid: int) -> bool:
    """True when a process with this pid runs on this host."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
