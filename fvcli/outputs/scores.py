"""Unit scores on disk (``fvcli score``): one record per unit, written the moment it is
scored, and the job's ``scores.json`` once every unit of the job has one. No TensorFlow.

    <out>/<job>/scores/<stem>.json  a unit's scores, with the settings they were computed
                                    with (folder, judge, MIS task, natural-path threshold)
                                    and the unit's fingerprint
    <out>/<job>/scores.json         the settings once, and every unit's scores in the
                                    job's order; written by the run (or shard) that finds
                                    every unit scored with the same settings

Shards of a sweep each write their own units' records, so the whole file appears when the
last shard ends, as a job's manifest does. :func:`read_scores` reads them back by stem.
"""

from __future__ import annotations

import os

from .files import read_json, write_json

SCORES_FILE = "scores.json"
SCORES_FOLDER = "scores"
UNIT_KEYS = ("layer", "channel", "class", "direction")  # the unit, as its render record has it


def unit_score_file(stem: str) -> str:
    """A unit's score record, relative to its job folder."""
    return f"{SCORES_FOLDER}/{stem}.json"


def unit_score_record(unit_record: dict, stem: str, png: str, scores: dict,
                      settings: dict, fingerprint: str) -> dict:
    """A unit's score record: the unit as its render record names it (``unit_record``:
    layer and channel, class or direction), its stem and PNG, the ``scores``, and what
    they were computed with."""
    record = {key: unit_record[key] for key in UNIT_KEYS if key in unit_record}
    return {**record, "stem": stem, "png": png, **scores, "settings": settings,
            "fingerprint": fingerprint}


def write_unit_score(job_folder: str, record: dict) -> None:
    """Write one unit's score record, atomically."""
    write_json(os.path.join(job_folder, unit_score_file(record["stem"])), record)


def collect_scores(job_folder: str, units: list[tuple[str, str]], settings: dict,
                   header: dict) -> str | None:
    """scores.json of a job whose ``units`` are (stem, fingerprint) in the job's order,
    when every one has a record computed with ``settings`` (``header``, the settings as
    scores.json states them, leads the file); None, and nothing written, otherwise."""
    entries = []
    for stem, fingerprint in units:
        record = read_json(os.path.join(job_folder, unit_score_file(stem)))
        if (record is None or record.get("settings") != settings
                or record.get("fingerprint") != fingerprint):
            return None
        entries.append({key: value for key, value in record.items()
                        if key not in ("settings", "fingerprint")})
    path = os.path.join(job_folder, SCORES_FILE)
    write_json(path, {**header, "units": entries})
    return path


def read_scores(job_folder: str) -> dict[str, dict]:
    """Each unit's scores by file stem (the stem of units/<stem>.png and .json): from
    scores.json when it is there, else from whatever unit records a run has written so far
    (a sweep whose shards are still scoring). Empty when the job was never scored."""
    whole = read_json(os.path.join(job_folder, SCORES_FILE))
    if whole is not None and isinstance(whole.get("units"), list):
        return {entry["stem"]: entry for entry in whole["units"]
                if isinstance(entry, dict) and "stem" in entry}
    folder = os.path.join(job_folder, SCORES_FOLDER)
    try:
        names = sorted(os.listdir(folder))
    except OSError:
        return {}
    scores = {}
    for name in names:
        if name.endswith(".json") and not name.startswith("."):
            record = read_json(os.path.join(folder, name))
            if record is not None and "stem" in record:
                scores[record["stem"]] = {key: value for key, value in record.items()
                                          if key not in ("settings", "fingerprint")}
    return scores
