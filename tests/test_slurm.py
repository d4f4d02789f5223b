"""A sweep on a real Slurm: the script `fvcli slurm` writes, submitted to a one-node cluster
on localhost (installed from Debian's packages and started by the fixture)."""

import os
import re
import time

import pytest

from support.slurm_cluster import SlurmCluster, unavailable
from support.helpers import assert_units_whole, check_index, records, run, write_job_file

pytestmark = pytest.mark.slow  # installs and starts a Slurm cluster

SHARDS = 3


@pytest.fixture(scope="module")
def slurm_cluster(tmp_path_factory):
    reason = unavailable()
    if reason:
        pytest.skip(reason)
    with SlurmCluster(str(tmp_path_factory.mktemp("slurm"))) as cluster:
        yield cluster


def wait_for_job(cluster, job_id: str, seconds: float = 300) -> dict:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        for job in cluster.completed_jobs():
            if job.get("JobId") == job_id:
                return job
        time.sleep(0.5)
    raise AssertionError(f"Slurm job {job_id} did not finish in {seconds}s; "
                         f"see {cluster.folder}")


def test_a_sweep_on_slurm_renders_every_unit_and_collects_the_index(
        slurm_cluster, tmp_path, monkeypatch):
    monkeypatch.setenv("SLURM_CONF", slurm_cluster.conf)
    monkeypatch.setenv("TF_CPP_MIN_LOG_LEVEL", "3")
    out = tmp_path / "out"
    jobs = write_job_file(tmp_path, "0-8", steps=16, extra_jobs=(
        "  - {name: classes, objective: probability, classes: all}\n"))
    result = run("slurm", jobs, "--shards", SHARDS, "--out", out, "--submit")
    assert result.exit_code == 0, result.output
    array_id = re.search(r"render array: (\d+)", result.output).group(1)
    collect_id = re.search(r"collect: (\d+)", result.output).group(1)
    collect_job = wait_for_job(slurm_cluster, collect_id)
    logs = "\n".join(path.read_text() for path in (out / ".fvcli" / "slurm").glob("*.log"))
    assert collect_job["JobState"] == "COMPLETED", logs
    tasks = [job for job in slurm_cluster.completed_jobs() if job["Name"] == "fvcli-sweep"]
    assert len(tasks) == SHARDS and all(t["JobState"] == "COMPLETED" for t in tasks), tasks
    for shard in range(1, SHARDS + 1):
        assert f"rendering shard {shard}/{SHARDS}" in logs
    assert len(records(out / "conv2")) == 9 and len(records(out / "classes")) == 6
    for job in ("conv2", "classes"):
        assert_units_whole(out / job)
        assert (out / job / "grid.png").exists() and (out / job / "manifest.json").exists()
    assert check_index(out) == 2 * (9 + 6)
    assert array_id != collect_id
    assert os.path.exists(out / "index.html")
