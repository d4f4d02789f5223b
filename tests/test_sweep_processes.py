"""Sweeps across processes: kills, signals, the cron lock and shards side by side.

These need real processes (signals and locks do), so each starts fvcli in a subprocess."""

import signal
import subprocess
import sys
import time

import pytest

from support.helpers import (assert_units_whole, check_index, fvcli_env, records, run,
                             write_job_file)

pytestmark = pytest.mark.slow  # starts fvcli in subprocesses

UNITS = 12


def slow_job(tmp_path):
    """12 units, 2 per batch, each batch a second or so: time to act in the middle."""
    return write_job_file(tmp_path, f"0-{UNITS - 1}", steps=300, batch_size=2)


def start_render(jobs, out, *extra):
    return subprocess.Popen([sys.executable, "-m", "fvcli", "render", jobs, "--out", str(out),
                             *extra], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env=fvcli_env())


def wait_for_units(job_folder, count, process, seconds=120):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if len(records(job_folder)) >= count if (job_folder / "units").exists() else False:
            return
        if process.poll() is not None:
            raise AssertionError(f"fvcli ended early: {process.communicate()[1]}")
        time.sleep(0.05)
    raise AssertionError(f"fewer than {count} units after {seconds}s")



def test_a_rerun_after_sigkill_completes_the_job_losing_at_most_the_batch_in_flight(tmp_path):
    out, jobs = tmp_path / "out", slow_job(tmp_path)
    process = start_render(jobs, out)
    wait_for_units(out / "conv2", 2, process)
    process.kill()
    process.wait()
    assert process.returncode == -signal.SIGKILL
    kept = len(records(out / "conv2"))
    assert 2 <= kept < UNITS
    rerun = run("render", jobs, "--out", out)  # also takes over the dead run's lock
    assert rerun.exit_code == 0, rerun.output
    assert "still going" not in rerun.stderr
    assert f"{kept} of {UNITS} units already rendered" in rerun.stderr
    assert f"rendered {UNITS - kept} units" in rerun.stderr
    assert len(records(out / "conv2")) == UNITS
    assert_units_whole(out / "conv2")
    assert (out / "conv2" / "grid.png").exists()


@pytest.mark.parametrize("sent, code, name", [(signal.SIGTERM, 75, "SIGTERM"),
                                              (signal.SIGINT, 130, "Ctrl-C")])
def test_a_signal_stops_within_a_step_keeps_finished_units_and_a_rerun_finishes(
        tmp_path, sent, code, name):
    out, jobs = tmp_path / "out", slow_job(tmp_path)
    process = start_render(jobs, out)
    wait_for_units(out / "conv2", 2, process)
    if sent == signal.SIGTERM:  # meanwhile cron starts the same run again: it backs off
        again = run("render", jobs, "--out", out)
        assert again.exit_code == 0 and "still going" in again.stderr
        assert len(again.stderr.strip().splitlines()) == 1
    process.send_signal(sent)
    started = time.monotonic()
    _, stderr = process.communicate(timeout=60)
    assert time.monotonic() - started < 10  # a step is milliseconds; the batch is not waited for
    assert process.returncode == code, stderr
    last = stderr.strip().splitlines()[-1]
    assert last.startswith(f"fvcli: stopped by {name}: ") and "Traceback" not in stderr
    assert "error" not in last and "Run the same command again" in last
    kept = len(records(out / "conv2"))
    assert kept < UNITS
    assert_units_whole(out / "conv2")
    assert not (out / "conv2" / "grid.png").exists()
    rerun = run("render", jobs, "--out", out)
    assert rerun.exit_code == 0, rerun.output
    assert f"rendered {UNITS - kept} units" in rerun.stderr
    assert_units_whole(out / "conv2")


def test_two_shards_write_one_folder_at_the_same_time(tmp_path):
    out, jobs = tmp_path / "out", write_job_file(tmp_path, f"0-{UNITS - 1}", steps=60)
    shards = [start_render(jobs, out, "--shard", f"{i}/2") for i in (1, 2)]
    for process in shards:
        _, stderr = process.communicate(timeout=300)
        assert process.returncode == 0, stderr
        assert "already rendered" not in stderr
    assert len(records(out / "conv2")) == UNITS
    assert_units_whole(out / "conv2")
    manifest = (out / "conv2" / "manifest.json").read_text()
    assert '"complete": true' in manifest
    assert check_index(out) == 2 * UNITS
