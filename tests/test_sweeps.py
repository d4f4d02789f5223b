"""Sweeps: plan fingerprints, shards, resume, collect, status and the index, in-process."""

import json
import os
import subprocess
import sys
import textwrap

import imageio.v3 as iio
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fvcli.config import load_job_file
from fvcli.sweep.plan import plan_job_file
from fvcli.sweep.shards import Shard, shard_units
from support.helpers import (assert_units_whole, check_index, fvcli_env, on_cpu, records, run,
                             write_job_file)



@settings(max_examples=60, deadline=None)
@given(st.lists(st.floats(0.1, 100.0), min_size=1, max_size=60), st.integers(1, 12))
def test_every_unit_is_in_exactly_one_shard_and_shards_are_balanced_by_cost(costs, count):
    units = list(range(len(costs)))
    shards = [shard_units(units, Shard(i, count), lambda u: costs[u])
              for i in range(1, count + 1)]
    assert sorted(u for shard in shards for u in shard) == units
    assert all(shard == sorted(shard) for shard in shards)  # runs in file order
    fair = sum(costs) / count
    for shard in shards:
        assert sum(costs[u] for u in shard) <= fair + max(costs) + 1e-6


def test_shard_option_is_checked():
    assert Shard.parse("2/8") == Shard(2, 8)
    for bad in ("0/4", "5/4", "x", "1/0", "1-4"):
        with pytest.raises(ValueError):
            Shard.parse(bad)


def _fingerprints(tmp_path, demo_network, text):
    path = tmp_path / "f.yaml"
    path.write_text(textwrap.dedent(text))
    jobs = plan_job_file(load_job_file(str(path)), demo_network, on_cpu)
    return {job.name: {unit.file_stem: unit.fingerprint for unit in job.units} for job in jobs}


BASE = """\
    model: demo
    defaults: {size: 32, steps: 8, batch_size: 4}
    jobs:
      - {name: a, objective: channel, layer: conv2, channels: 0-3}
      - {name: b, objective: logit, classes: [1, 2]}
    """


CHANGES_THE_IMAGE = [
    ("steps: 8", "steps: 9"), ("size: 32", "size: 48"), ("channels: 0-3", "channels: 0-3, seed: 4"),
    ("batch_size: 4}", "batch_size: 4, learning_rate: 0.1}"),
    ("batch_size: 4}", "batch_size: 4, transforms: none}"),
    ("batch_size: 4}", "batch_size: 4, regularizers: {tv: 1.0}}"),
    ("batch_size: 4}", "batch_size: 4, revive: false}"),
    ("batch_size: 4}", "batch_size: 4, param: pixel}"),
]
KEEPS_THE_IMAGE = [
    ("batch_size: 4", "batch_size: 1"),
    ("name: a,", "name: renamed,"),
    ("channels: 0-3", "channels: [3, 0, 1, 2, 5]"),
]


@pytest.mark.parametrize("change, changes_image",
                         [(c, True) for c in CHANGES_THE_IMAGE] +
                         [(c, False) for c in KEEPS_THE_IMAGE])
def test_fingerprints_change_exactly_with_what_changes_the_image(
        tmp_path, demo_network, change, changes_image):
    before = _fingerprints(tmp_path, demo_network, BASE)
    after = _fingerprints(tmp_path, demo_network, BASE.replace(*change))
    new_a = after.get("renamed", after.get("a"))
    kept = [new_a.get(stem) == fingerprint for stem, fingerprint in before["a"].items()]
    assert not any(kept) if changes_image else all(kept)
    if not changes_image:
        assert before["b"] == after["b"]


def test_fingerprints_follow_the_precision_a_job_runs_in_not_the_one_it_names(
        tmp_path, demo_network):
    def with_precision(precision: str) -> dict:
        text = BASE.replace("batch_size: 4}", f"batch_size: 4, precision: {precision}}}")
        return _fingerprints(tmp_path, demo_network, text)["a"]

    native = on_cpu("auto")
    auto = _fingerprints(tmp_path, demo_network, BASE)["a"]
    assert with_precision(native) == auto
    other = with_precision("fp32" if native == "bf16" else "bf16")
    assert not set(other.values()) & set(auto.values())


def test_a_units_cost_counts_each_of_its_images_and_the_deepest_layer_it_reads(
        tmp_path, demo_network):
    from fvcli.engine.cost import job_flops, unit_flops

    path = tmp_path / "costs.yaml"
    path.write_text(textwrap.dedent("""\
        model: demo
        defaults: {size: 32, steps: 8}
        jobs:
          - {name: plain, objective: channel, layer: conv2, channels: 0-2}
          - {name: diverse, objective: channel, layer: conv2, channels: 0-2,
             diversity: {count: 3, layer: conv2}}
          - {name: deeper, objective: channel, layer: conv2, channels: 0-2,
             diversity: {count: 3, layer: conv4}}
        """))
    plain, diverse, deeper = plan_job_file(load_job_file(str(path)), demo_network, on_cpu)
    # a diversity unit renders its 3 images and an uncoupled reference image
    assert unit_flops(diverse, demo_network) == 4 * unit_flops(plain, demo_network)
    assert unit_flops(deeper, demo_network) > unit_flops(diverse, demo_network)
    assert job_flops(plain, demo_network) == 3 * unit_flops(plain, demo_network)
    assert unit_flops(plain, demo_network) == 8 * 2 * demo_network.forward_flops("conv2", 32)


def test_job_order_in_the_file_does_not_change_fingerprints(tmp_path, demo_network):
    lines = BASE.splitlines()
    swapped = "\n".join(lines[:3] + [lines[4], lines[3]]) + "\n"
    assert _fingerprints(tmp_path, demo_network, BASE) == \
        _fingerprints(tmp_path, demo_network, swapped)


def test_a_rerun_skips_done_units_and_a_changed_job_renders_only_what_changed(tmp_path):
    out = tmp_path / "out"
    first = run("render", write_job_file(tmp_path, "0-4"), "--out", out)
    assert first.exit_code == 0, first.output
    stamps = {stem: (out / "conv2/units" / f"{stem}.png").stat().st_mtime_ns
              for stem in records(out / "conv2")}
    again = run("render", write_job_file(tmp_path, "0-6"), "--out", out)
    assert again.exit_code == 0, again.output
    assert "5 of 7 units already rendered" in again.stderr
    assert "rendered 2 units" in again.stderr
    for stem, stamp in stamps.items():  # the five done units were not written again
        assert (out / "conv2/units" / f"{stem}.png").stat().st_mtime_ns == stamp
    forced = run("render", write_job_file(tmp_path, "0-6"), "--out", out, "--force")
    assert "rendered 7 units" in forced.stderr
    changed = run("render", write_job_file(tmp_path, "0-6", steps=9), "--out", out)
    assert "rendered 7 units" in changed.stderr and "already rendered" not in changed.stderr


def test_a_smaller_job_shows_only_its_own_units(tmp_path):
    out = tmp_path / "out"
    assert run("render", write_job_file(tmp_path, "0-6"), "--out", out).exit_code == 0
    smaller = run("render", write_job_file(tmp_path, "[1, 2]"), "--out", out)
    assert smaller.exit_code == 0 and "2 of 2 units already rendered" in smaller.stderr
    manifest = json.loads((out / "conv2" / "manifest.json").read_text())
    assert [unit["channel"] for unit in manifest["units"]] == [1, 2]
    assert iio.imread(out / "conv2" / "grid.png").shape == (32, 2 * 32 + 2, 3)
    index = (out / "_index" / "job-conv2.html").read_text()
    assert "conv2 ch 1" in index and "conv2 ch 2" in index and "conv2 ch 0" not in index
    assert check_index(out) >= 2


def test_shards_render_disjoint_parts_and_the_last_one_collects(tmp_path):
    out = tmp_path / "out"
    jobs = write_job_file(tmp_path, "0-5")
    first = run("render", jobs, "--out", out, "--shard", "1/2")
    assert first.exit_code == 0, first.output
    assert 0 < len(records(out / "conv2")) < 6
    assert not (out / "conv2" / "grid.png").exists()  # not complete: not collected
    status = run("status", out)
    assert status.exit_code == 0
    assert f"{len(records(out / 'conv2'))} / 6" in status.output
    second = run("render", jobs, "--out", out, "--shard", "2/2")
    assert second.exit_code == 0, second.output
    assert "already rendered" not in second.stderr
    assert len(records(out / "conv2")) == 6
    assert str(out / "conv2" / "grid.png") in second.output
    assert check_index(out) >= 6
    assert "6 / 6" in run("status", jobs, "--out", out).output


def test_slurm_array_variables_choose_the_shard(tmp_path):
    env = {"SLURM_ARRAY_TASK_ID": "4", "SLURM_ARRAY_TASK_MIN": "3",
           "SLURM_ARRAY_TASK_COUNT": "2"}
    result = run("render", write_job_file(tmp_path, "0-5"), "--out", tmp_path / "o", env=env)
    assert result.exit_code == 0, result.output
    assert "Slurm array task 4: rendering shard 2/2" in result.stderr
    assert 0 < len(records(tmp_path / "o" / "conv2")) < 6


def test_collect_shows_a_sweep_in_progress_and_keeps_units_in_place(tmp_path):
    out = tmp_path / "out"
    run("render", write_job_file(tmp_path, "0-5"), "--out", out, "--shard", "2/2")
    done = set(records(out / "conv2"))
    result = run("collect", out)
    assert result.exit_code == 0, result.output
    manifest = json.loads((out / "conv2" / "manifest.json").read_text())
    assert manifest["complete"] is False
    assert {unit["stem"] for unit in manifest["units"]} == done
    assert len(manifest["missing"]) == 6 - len(done)
    grid = iio.imread(out / "conv2" / "grid.png")
    assert grid.shape == (2 * 32 + 2, 3 * 32 + 2 * 2, 3)
    first_tile = grid[:32, :32]
    assert (first_tile == 224).all() == ("conv2_0000" not in done)  # grey where missing
    assert check_index(out) == 2 * len(done)  # on the job page and the layer page
    assert_units_whole(out / "conv2")


def test_collect_and_status_on_a_folder_with_nothing_are_one_clear_line(tmp_path):
    for command in ("collect", "status"):
        result = run(command, tmp_path)
        assert result.exit_code == 2
        assert len(result.stderr.strip().splitlines()) == 1 and "job.json" in result.stderr
    assert list(tmp_path.iterdir()) == []  # nothing written


def test_help_collect_status_and_unchecked_slurm_never_import_tensorflow(tmp_path):
    out = tmp_path / "out"
    assert run("render", write_job_file(tmp_path, "0-1"), "--out", out).exit_code == 0
    jobs = write_job_file(tmp_path, "0-1")
    script = textwrap.dedent(f"""
        import sys
        from fvcli.cli import main
        for args in (["--help"], ["collect", {str(out)!r}], ["status", {str(out)!r}],
                     ["slurm", {jobs!r}, "--shards", "4", "--no-check"]):
            try:
                main(args)
            except SystemExit as done:
                assert not done.code, (args, done.code)
        assert "tensorflow" not in sys.modules, "tensorflow was imported"
        """)
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                            env=fvcli_env())
    assert result.returncode == 0, result.stderr
    assert "#SBATCH --array=0-3" in result.stdout


# Packages and modules that must answer without TensorFlow: job files, the output folder,
# a sweep's status and its Slurm script, and what the command line reads before it knows
# whether it needs a model.
TENSORFLOW_FREE = ["fvcli.config", "fvcli.outputs", "fvcli.cli", "fvcli.exit_codes",
                   "fvcli.images", "fvcli.sweep.status", "fvcli.sweep.slurm",
                   "fvcli.sweep.progress", "fvcli.sweep.speed", "fvcli.sweep.plan",
                   "fvcli.sweep.shards", "fvcli.sweep.signals", "fvcli.engine.machine",
                   "fvcli.engine.cost", "fvcli.config.model_names", "fvcli.models.errors",
                   "fvcli.models.preprocess"]


def test_config_outputs_status_and_slurm_never_import_tensorflow():
    script = textwrap.dedent(f"""
        import importlib, pkgutil, sys
        for name in {TENSORFLOW_FREE!r}:
            module = importlib.import_module(name)
            for found in pkgutil.walk_packages(getattr(module, "__path__", []), name + "."):
                importlib.import_module(found.name)
        imported = sorted(name for name in sys.modules if name.startswith("fvcli."))
        assert "tensorflow" not in sys.modules, "tensorflow was imported"
        print("\\n".join(imported))
        """)
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                            env=fvcli_env())
    assert result.returncode == 0, result.stderr
    imported = result.stdout.split()
    assert "fvcli.outputs.index_html" in imported and "fvcli.config.yaml_lines" in imported


def test_slurm_script_is_valid_bash_with_the_array_and_a_collect_after_it(tmp_path):
    jobs = write_job_file(tmp_path, "0-5")
    result = run("slurm", jobs, "--shards", "8", "--out", tmp_path / "o", "--partition", "gpu",
                 "--time", "2:00:00", "--gpus", "1", "--extra", "--qos=long")
    assert result.exit_code == 0, result.output
    script = result.output
    for line in ("#SBATCH --array=0-7", "#SBATCH --partition=gpu", "#SBATCH --time=2:00:00",
                 "#SBATCH --gpus=1", "#SBATCH --qos=long", "#SBATCH --requeue",
                 "--dependency=afterany:$array_id", "collect", "TFHUB_CACHE_DIR"):
        assert line in script, line
    assert subprocess.run(["bash", "-n"], input=script, text=True).returncode == 0
    bad = run("slurm", tmp_path / "missing.yaml", "--shards", "2")
    assert bad.exit_code == 2


@pytest.mark.parametrize("check", ["--check", "--no-check"])
def test_slurm_refuses_a_bad_job_file_with_every_problem_and_no_script(tmp_path, check):
    jobs = write_job_file(tmp_path, "0-5", extra_jobs=(
        "  - {name: deep, objective: channel, layer: conv9, channels: 0-3}\n"
        "  - {name: bad, objective: channel, layer: conv2, channels: 0-3, steps: -1}\n"))
    result = run("slurm", jobs, "--shards", "2", check)
    assert result.exit_code == 2 and result.stdout == ""
    errors = result.stderr.strip().splitlines()
    assert all(line.startswith(f"fvcli: error: {jobs}:") for line in errors), errors
    assert any(":6: " in line and "steps" in line for line in errors), errors
    # the unknown layer needs the model to be seen; --no-check cannot know it
    assert any(":5: " in line and "conv9" in line for line in errors) == (check == "--check")
    assert len(errors) == (2 if check == "--check" else 1)


def test_slurm_warns_of_more_shards_than_units_and_still_writes_the_script(tmp_path):
    jobs = write_job_file(tmp_path, "0-5")
    result = run("slurm", jobs, "--shards", "8")
    assert result.exit_code == 0
    (warning,) = result.stderr.strip().splitlines()
    assert warning.startswith("fvcli: warning: --shards 8 is more than the 6 units")
    assert "--shards 6 is enough" in warning and "#SBATCH --array=0-7" in result.stdout
    assert run("slurm", jobs, "--shards", "6").stderr == ""


FAKE_SBATCH = """#!/bin/sh
# fails on the submission number in $FAIL_AT; the others print a job id
n=$(( $(cat "$COUNT" 2>/dev/null || echo 0) + 1 )); echo $n > "$COUNT"
if [ "$n" = "$FAIL_AT" ]; then
    echo "sbatch: error: Invalid partition name specified" >&2; exit 1
fi
echo $(( 100 + n ))
"""


@pytest.mark.parametrize("fail_at", [1, 2])
def test_a_failed_submission_leaves_nothing_submitted_or_on_disk(tmp_path, fail_at):
    bin_folder, state = tmp_path / "bin", tmp_path / "state"
    bin_folder.mkdir()
    state.mkdir()
    (bin_folder / "sbatch").write_text(FAKE_SBATCH)
    (bin_folder / "scancel").write_text(f'#!/bin/sh\necho "$@" >> {state}/cancelled\n')
    for tool in ("sbatch", "scancel"):
        (bin_folder / tool).chmod(0o755)
    out = tmp_path / "new" / "out"
    env = {"PATH": f"{bin_folder}:{os.environ['PATH']}", "COUNT": str(state / "count"),
           "FAIL_AT": str(fail_at)}
    result = run("slurm", write_job_file(tmp_path, "0-5"), "--shards", "2", "--out", out,
                 "--submit", env=env)
    assert result.exit_code == 1 and result.stdout == ""
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith("fvcli: error: sbatch failed: ") and "Invalid partition" in line
    assert not (tmp_path / "new").exists()
    cancelled = (state / "cancelled").read_text().split() if fail_at == 2 else []
    assert cancelled == (["101"] if fail_at == 2 else [])
    assert ("render array 101 cancelled" in line) == (fail_at == 2)


def test_temporary_files_of_dead_processes_are_removed_and_others_kept(tmp_path):
    import socket

    from fvcli.outputs.store import JobStore

    store = JobStore(str(tmp_path), "job")
    units = tmp_path / "job" / "units"
    units.mkdir(parents=True)
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True).stdout.strip()
    host = socket.gethostname()
    left = units / f".tmp-{host}-{dead}-abc123.part"
    alive = units / f".tmp-{host}-{os.getpid()}-def456.part"
    elsewhere = units / f".tmp-another-host-{dead}-ghi789.part"
    for path in (left, alive, elsewhere):
        path.write_bytes(b"half a png")
    assert store.remove_stale_temporaries() == 1
    assert not left.exists() and alive.exists() and elsewhere.exists()


@pytest.fixture(scope="module")
def dead_and_negative(tmp_path_factory):
    """(render's result, output folder) of demo conv2 channels 0-1, conv4 channels 0-3 and
    conv3 channel 1 minimised, 32 steps: channel 0 of conv2 and of conv4 stays at 0 on
    the demo model, revived or not, and every other channel rises."""
    folder = tmp_path_factory.mktemp("dead")
    jobs = write_job_file(folder, "0-1", steps=32, batch_size=4, extra_jobs=(
        "  - {name: conv4, objective: channel, layer: conv4, channels: 0-3}\n"
        "  - {name: minimised, objective: channel, layer: conv3, channels: [1], "
        "negative: true}\n"))
    result = run("render", jobs, "--out", folder / "out", "--quiet")
    assert result.exit_code == 0, result.output
    return result, folder / "out"


def test_units_that_stay_dead_are_marked_said_counted_and_shown(dead_and_negative):
    result, out = dead_and_negative
    alive = {stem: record["alive"] for job in ("conv2", "conv4")
             for stem, record in records(out / job).items()}
    assert alive == {"conv2_0000": False, "conv2_0001": True, "conv4_0000": False,
                     "conv4_0001": True, "conv4_0002": True, "conv4_0003": True}
    said = [line for line in result.stderr.splitlines() if "stayed dead" in line]
    assert said == [
        f'fvcli: warning: {job}: 1 of {count} units stayed dead ({job}_0000): their objective never '
        'rose above its start and their images are flat; no image drives them here '
        '(records: "alive": false)' for job, count in (("conv2", 2), ("conv4", 4))]
    manifest = json.loads((out / "conv4" / "manifest.json").read_text())
    assert [unit["alive"] for unit in manifest["units"]] == [False, True, True, True]
    table = {line.split()[0]: line.split() for line in run("status", out).output.splitlines()}
    assert table["job"][1:4] == ["done", "failed", "dead"]
    assert [table[job][5] for job in ("conv2", "conv4", "minimised", "all")] == \
        ["1", "1", "0", "2"]
    page = (out / "_index" / "job-conv4.html").read_text()
    assert page.count("dead: no image drives this unit here") == 1
    unit_page = (out / "_index" / "unit-conv4-conv4_0000.html").read_text()
    assert "<li>dead: no image drives this unit here" in unit_page
    assert check_index(out) == 2 * 7  # every caption says dead exactly where its record does


def test_a_negative_unit_shows_its_own_value_signed_everywhere(dead_and_negative):
    _, out = dead_and_negative
    record = records(out / "minimised")["conv3_0001_neg"]
    # the objective is minus the pre-activation's mean: maximised, it ends positive
    assert record["negative"] is True and record["objective_end"] > record["objective_start"]
    assert record["objective_end"] > 0.1 and record["alive"] is True
    value = f"-{record['objective_end']:.4g}"
    job_page = (out / "_index" / "job-minimised.html").read_text()
    assert "conv3 ch 1 (negative)</a>" in job_page and f">{value}</span> · " in job_page
    unit_page = (out / "_index" / "unit-minimised-conv3_0001_neg.html").read_text()
    assert "<title>conv3 ch 1 (negative) · job minimised</title>" in unit_page
    assert (f"minimised: the unit&#x27;s value went from -{record['objective_start']:.4g} on "
            f"the starting image to {value} at the end") in unit_page
    assert "negative" not in records(out / "conv2")["conv2_0000"]
    assert "negative" not in json.loads((out / "conv2" / "job.json").read_text())["units"][0]


@settings(max_examples=200, deadline=None)
@given(st.floats(-1e4, 1e4), st.floats(-1e4, 1e4), st.floats(0, 1e4))
def test_a_unit_is_alive_when_its_objective_rose_and_rising_more_keeps_it_alive(
        start, end, more):
    from fvcli.outputs.records import ALIVE_FLOOR, is_alive

    if is_alive(start, end):
        assert end - start > ALIVE_FLOOR and is_alive(start, end + more)
    assert not is_alive(start, start) and not is_alive(start, float("nan"))


@pytest.mark.parametrize("start, end, alive", [
    (0.0, 2.2e-05, False), (0.0, 5e-06, False),  # demo conv4 and conv2 channel 0, revived
    (0.0, 0.0307, True), (0.0155, 0.32, True),   # the weakest live demo channels
    (-0.0306, 0.316, True),                       # a minimised unit, from below zero
    (10.0, 10.05, False), (-10.0, -9.95, False),  # a big objective that barely moved
    (0.1, 0.12, True), (1e-5, 5e-4, False),       # probabilities
])
def test_the_alive_rule_on_measured_and_made_up_objectives(start, end, alive):
    from fvcli.outputs.records import is_alive

    assert is_alive(start, end) is alive


def test_a_render_too_short_to_tell_marks_no_unit_dead(tmp_path):
    jobs = write_job_file(tmp_path, "0-3", steps=4, batch_size=4)
    result = run("render", jobs, "--out", tmp_path / "out", "--quiet")
    assert result.exit_code == 0, result.output
    assert "stayed dead" not in result.stderr
    assert all("alive" not in record for record in records(tmp_path / "out" / "conv2").values())
