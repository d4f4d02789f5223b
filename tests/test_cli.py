"""The command line end to end, in-process, on the built-in demo model."""

import json
import re
import textwrap
from types import SimpleNamespace

import imageio.v3 as iio
import numpy as np
import pytest

from support.helpers import CHECKOUT, on_cpu, run

JOBS = """\
model: demo
defaults:
  size: 32
  steps: 8
  batch_size: 4
jobs:
  - name: conv2-sweep
    objective: channel
    layer: conv2
    channels: 0-4
  - name: classes
    objective: logit
    classes: [1, 3]
  - name: mix
    objective:
      - {objective: channel, layer: conv3, channel: 11, weight: 1.0}
      - {objective: deepdream, layer: conv2, weight: 0.2}
"""


def write_jobs(tmp_path, text=JOBS):
    path = tmp_path / "jobs.yaml"
    path.write_text(textwrap.dedent(text))
    return str(path)



@pytest.fixture(scope="module")
def rendered(tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp("render")
    out = tmp_path / "out"
    result = run("render", write_jobs(tmp_path), "--out", out, "--quiet")
    assert result.exit_code == 0, result.output
    return out, result


def test_render_writes_grid_units_and_manifest_per_job(rendered):
    out, result = rendered
    assert sorted(p.name for p in out.iterdir() if p.is_dir() and not p.name.startswith(".")
                  and p.name != "_index") == ["classes", "conv2-sweep", "mix"]
    sweep = out / "conv2-sweep"
    assert sorted(p.name for p in (sweep / "units").glob("*.png")) == [
        f"conv2_{c:04d}.png" for c in range(5)]
    assert sorted(p.name for p in (sweep / "units").glob("*.json")) == [
        f"conv2_{c:04d}.json" for c in range(5)]
    grid = iio.imread(sweep / "grid.png")
    assert grid.shape == (2 * 32 + 2, 3 * 32 + 2 * 2, 3)  # 5 images: 2 rows of 3, 2px gaps
    assert str(sweep / "grid.png") in result.output


def test_manifest_records_settings_model_and_each_unit(rendered):
    out, _ = rendered
    manifest = json.loads((out / "conv2-sweep" / "manifest.json").read_text())
    assert manifest["job"]["steps"] == 8 and manifest["job"]["size"] == 32
    assert manifest["job"]["param"] == {"fft": True, "decorrelate": True, "decay_power": 1.0}
    assert manifest["model"]["fingerprint"].startswith("sha256:")
    assert manifest["versions"]["tensorflow"]
    assert manifest["seed"] == 0
    for channel, unit in enumerate(manifest["units"]):
        assert unit["layer"] == "conv2" and unit["channel"] == channel
        assert (out / "conv2-sweep" / unit["png"]).is_file()
        assert unit["seconds"] > 0
        assert isinstance(unit["objective_start"], float)
    classes = json.loads((out / "classes" / "manifest.json").read_text())
    assert [unit["class"] for unit in classes["units"]] == [1, 3]
    mix = json.loads((out / "mix" / "manifest.json").read_text())
    assert len(mix["units"]) == 1 and len(mix["job"]["objective"]) == 2


def test_same_seed_same_pngs_other_seed_other_pngs(rendered, tmp_path):
    out, _ = rendered
    jobs = write_jobs(tmp_path)
    run("render", jobs, "--out", tmp_path / "same", "--quiet")
    run("render", jobs, "--out", tmp_path / "other", "--quiet", "--seed", "1")
    first = iio.imread(out / "conv2-sweep" / "grid.png")
    assert np.array_equal(first, iio.imread(tmp_path / "same" / "conv2-sweep" / "grid.png"))
    assert not np.array_equal(first, iio.imread(tmp_path / "other" / "conv2-sweep" / "grid.png"))


@pytest.mark.parametrize("change, line, message", [
    ("layer: conv2", "layer: conv9", "no layer 'conv9'"),
    ("channels: 0-4", "channels: [3, 40]", "40 is out of range; conv2 has channels 0-31"),
    ("classes: [1, 3]", "classes: [1, 6]", "6 is out of range; logits has classes 0-5"),
    ("steps: 8", "stpes: 8", "did you mean 'steps'"),
    ("objective: logit", "objective: logits", "did you mean 'logit'"),
    ("channels: 0-4", "channels: many", "cannot read 'many'"),
    ("steps: 8", "precision: half", "expected one of auto, bf16, fp16, fp32, got 'half'"),
    ("batch_size: 4", "batch_size: big", "from 1 to 1024 or auto, got 'big'"),
])
def test_bad_input_is_one_line_naming_file_line_and_key_and_writes_nothing(
        tmp_path, change, line, message):
    text = JOBS.replace(change, line)
    jobs = write_jobs(tmp_path, text)
    line_number = next(n for n, row in enumerate(text.splitlines(), 1) if line in row)
    result = run("render", jobs, "--out", tmp_path / "out")
    assert result.exit_code == 2
    errors = result.stderr.strip().splitlines()
    assert len(errors) == 1, result.stderr
    assert f"{jobs}:{line_number}:" in errors[0] and message in errors[0]
    assert "Traceback" not in result.output
    assert not (tmp_path / "out").exists()


def test_broken_yaml_is_reported_with_its_line(tmp_path):
    jobs = write_jobs(tmp_path, "jobs:\n  - name: a\n    objective: [channel\n")
    result = run("validate", jobs)
    assert result.exit_code == 2
    assert "not valid YAML" in result.stderr and result.stderr.count("\n") == 1


def test_validate_checks_without_rendering_or_writing_anything(tmp_path, monkeypatch):
    jobs = write_jobs(tmp_path)
    monkeypatch.chdir(tmp_path)  # where render would write its default renders/ folder
    before = sorted(tmp_path.rglob("*"))
    result = run("validate", jobs, "--no-estimate")
    assert result.exit_code == 0, result.output
    assert "conv2-sweep: 5 image(s)" in result.output
    assert result.output.strip().endswith("ok")
    assert sorted(tmp_path.rglob("*")) == before


def test_a_render_records_its_speed_and_validate_estimates_from_it(tmp_path, monkeypatch,
                                                                    demo_network):
    from fvcli.config import load_job_file
    from fvcli.sweep.plan import plan_job_file
    from fvcli.engine.cost import job_flops
    from fvcli.sweep.speed import speeds_path

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    jobs = write_jobs(tmp_path)
    result = run("render", jobs, "--out", tmp_path / "o", "--steps", "4", "--quiet")
    assert result.exit_code == 0, result.output
    (key, speed), = json.loads(open(speeds_path()).read()).items()
    assert speed["gflop_per_s"] > 0 and speed["how"] == "a render"
    # three job shapes: the render traced three times, so at least twice after the process's
    # first trace (which an earlier test in this process may have done)
    assert speed["trace_seconds"] > 0 and speed.get("first_trace_seconds", 1) > 0
    # at a speed that makes the whole file 3000 s of work, the estimate says 50 minutes
    jobs_of_file = plan_job_file(load_job_file(jobs), demo_network, lambda requested: "fp32")
    flops = sum(job_flops(job, demo_network) for job in jobs_of_file)
    speed["gflop_per_s"] = flops / 3000 / 1e9
    open(speeds_path(), "w").write(json.dumps({key: speed}))
    result = run("validate", jobs)
    assert result.exit_code == 0, result.output
    assert "estimated time on this machine: about 50 min" in result.output
    assert "timing" not in result.stderr
    assert "about" not in run("validate", jobs, "--no-estimate").output


@pytest.mark.parametrize("recorded, traces", [
    ({"first_trace_seconds": 30, "trace_seconds": 20}, [30, 20, 20]),
    ({"trace_seconds": 20}, [40, 20, 20]),       # the first trace taken at twice a later one
    ({"first_trace_seconds": 30}, [30, 15, 15]),  # later ones at half the first
])
def test_validate_adds_the_start_up_and_a_trace_per_job_shape(tmp_path, monkeypatch,
                                                              demo_network, recorded, traces):
    from fvcli.engine.hardware import resolve_device
    from fvcli.sweep.speed import speed_key, speeds_path

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    clock = SimpleNamespace(perf_counter=iter([100.0, 107.0]).__next__)  # start-up: 7 s
    monkeypatch.setattr("fvcli.sweep.prepare.time", clock)
    key = speed_key(demo_network.fingerprint, resolve_device("auto").name, on_cpu("auto"))
    (tmp_path / "cache" / "fvcli").mkdir(parents=True)
    # so fast that the steps themselves round to nothing: what is left is start-up + traces
    open(speeds_path(), "w").write(json.dumps({key: {
        **recorded, "gflop_per_s": 1e9, "how": "a render", "when": "then"}}))
    result = run("validate", write_jobs(tmp_path))  # three jobs of three shapes
    assert result.exit_code == 0, result.output
    assert "timing" not in result.stderr
    per_job = [int(found) for found in re.findall(r"; about (\d+) s$", result.output, re.M)]
    assert per_job == traces
    assert (f"about {7 + sum(traces)} s (start-up 7.0 s, 3 step trace(s) "
            f"{sum(traces):.1f} s") in result.output


def test_validate_times_a_few_steps_where_no_speed_is_recorded(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    result = run("validate", write_jobs(tmp_path))
    assert result.exit_code == 0, result.output
    assert "timing a few steps" in result.stderr
    assert "measured by fvcli validate" in result.output
    assert (tmp_path / "cache" / "fvcli" / "speeds.json").exists()


def test_command_line_options_override_the_file(tmp_path):
    result = run("render", write_jobs(tmp_path), "--out", tmp_path / "o", "--size", "24",
                 "--steps", "2", "--quiet")
    assert result.exit_code == 0, result.output
    manifest = json.loads((tmp_path / "o" / "classes" / "manifest.json").read_text())
    assert manifest["job"]["size"] == 24 and manifest["job"]["steps"] == 2
    assert iio.imread(tmp_path / "o" / "classes" / "units" / "class_0001.png").shape == (24, 24, 3)


def test_manifest_records_precision_device_and_the_auto_batch_size(tmp_path):
    result = run("render", write_jobs(tmp_path), "--out", tmp_path / "o", "--steps", "2",
                 "--precision", "bf16", "--device", "cpu", "--batch-size", "auto")
    assert result.exit_code == 0, result.output
    manifest = json.loads((tmp_path / "o" / "conv2-sweep" / "manifest.json").read_text())
    assert manifest["precision"] == "bf16" and manifest["device"] == "/CPU:0"
    assert manifest["batch_size"] == 5  # all five channels fit in one batch
    assert "conv2-sweep: batch_size auto -> " in result.stderr
    assert "MiB of activations per image" in result.stderr


def test_a_precision_the_device_lacks_is_refused_before_anything_renders(tmp_path):
    text = JOBS.replace("  batch_size: 4", "  batch_size: 4\n  precision: fp16")
    jobs = write_jobs(tmp_path, text)
    result = run("render", jobs, "--out", tmp_path / "o", "--device", "cpu")
    assert result.exit_code == 2
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith(f"fvcli: error: {jobs}:") and "fp16 needs a GPU" in line
    assert not (tmp_path / "o").exists()
    # validate resolves precisions on this machine as render does, before any fingerprint
    checked = run("validate", jobs, "--no-estimate")
    assert checked.exit_code == 2
    assert line in checked.stderr and checked.stderr.count("fp16 needs a GPU") == 3  # 3 jobs


@pytest.mark.parametrize("command", ["render", "validate"])
def test_asking_for_a_gpu_that_is_not_there_is_one_clear_line(tmp_path, command):
    result = run(command, write_jobs(tmp_path), "--device", "gpu:7",
                 *(["--out", tmp_path / "o"] if command == "render" else []))
    assert result.exit_code == 2
    (line,) = result.stderr.strip().splitlines()
    assert "--device: device gpu:7 is not available" in line and "use --device cpu" in line
    assert not (tmp_path / "o").exists()


def test_examples_score_a_folder_in_batches_of_a_whole_number(tmp_path):
    result = run("examples", write_jobs(tmp_path), "--images", tmp_path, "--batch-size", "auto")
    assert result.exit_code == 2 and "'auto' is not a valid integer" in result.output


def test_missing_model_path_is_bad_usage(tmp_path):
    result = run("validate", write_jobs(tmp_path), "--model", tmp_path / "nothing-here")
    assert result.exit_code == 2
    assert "does not exist" in result.stderr


def test_a_keras_model_file_works_too(tmp_path):
    import keras

    inputs = keras.Input((None, None, 3))
    features = keras.layers.Conv2D(8, 3, activation="relu", name="features")(inputs)
    pooled = keras.layers.GlobalAveragePooling2D()(features)
    outputs = keras.layers.Dense(4, activation="softmax", name="scores")(pooled)
    path = tmp_path / "tiny.keras"
    keras.Model(inputs, outputs).save(path)
    result = run("layers", "--model", path)
    assert result.exit_code == 0, result.output
    rows = {line.split()[0]: line.split() for line in result.stdout.splitlines()[1:]}
    assert rows["features"][-1] == "8" and rows["logits"][-1] == "4"


@pytest.mark.slow  # builds a TF-Slim InceptionV1
@pytest.mark.parametrize("config", sorted(str(path) for path in CHECKOUT.glob("configs/**/*.yaml")))
def test_every_shipped_config_validates(config, hub_cache):
    result = run("validate", config)
    assert result.exit_code == 0, result.stderr
    assert result.output.strip().endswith("ok")


def test_neuron_position_outside_the_map_is_refused_with_the_map_size(tmp_path):
    jobs = write_jobs(tmp_path, "model: demo\ndefaults: {size: 32}\njobs:\n"
                      "  - {name: n, objective: neuron, layer: conv3, channels: 1,\n"
                      "     position: [9, 2]}\n")
    result = run("validate", jobs)
    assert result.exit_code == 2
    assert f"{jobs}:5: jobs[0].position: [9, 2] is outside conv3's 8x8 map" in result.stderr


def test_progress_in_a_log_is_plain_lines(monkeypatch):
    import io

    from fvcli.sweep import progress

    monkeypatch.setattr(progress, "PLAIN_LINE_EVERY", 0.0)
    log = io.StringIO()
    bar = progress.Progress("job", total=100, stream=log)
    bar.advance(50)
    bar.finish("done")
    assert log.getvalue().splitlines()[0].startswith("job: 50%")
    assert "\r" not in log.getvalue() and log.getvalue().endswith("job: done\n")


def test_the_readme_lists_exactly_the_exit_codes_fvcli_uses():
    from fvcli.exit_codes import ExitCode

    table = re.findall(r"^\| (\d+) \|", (CHECKOUT / "README.md").read_text(), re.M)
    assert sorted(int(code) for code in table) == sorted(code.value for code in ExitCode)


# ----------------------------------------------------------------------------- paths


@pytest.fixture
def job_folder(tmp_path):
    """A folder holding a job file beside what it names by relative paths (a copy of the
    demo model, a starting image), and an empty folder elsewhere to run fvcli from."""
    import shutil

    from fvcli.config.model_names import DEMO_MODEL_DIR

    folder = tmp_path / "project" / "jobs"
    folder.mkdir(parents=True)
    shutil.copytree(DEMO_MODEL_DIR, folder / "model")
    iio.imwrite(folder / "start.png", np.full((16, 16, 3), 128, np.uint8))
    (folder / "jobs.yaml").write_text(
        "model: {path: model}\n"
        "jobs:\n"
        "  - {name: a, objective: channel, layer: conv2, channels: 1, size: 16, steps: 2,\n"
        "     init: start.png}\n")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    return folder, elsewhere


def test_a_job_file_finds_its_model_and_images_from_its_own_folder(job_folder, monkeypatch):
    folder, elsewhere = job_folder
    monkeypatch.chdir(elsewhere)
    job_file = "../project/jobs/jobs.yaml"
    result = run("validate", job_file, "--no-estimate")
    assert result.exit_code == 0, result.output
    result = run("render", job_file, "--out", "out", "--quiet")
    assert result.exit_code == 0, result.output
    record = json.loads((elsewhere / "out" / "a" / "manifest.json").read_text())
    assert record["model"]["spec"]["path"] == str(folder / "model")
    assert (elsewhere / "out" / "a" / "units" / "conv2_0001.png").is_file()


def test_a_missing_model_path_names_where_it_was_looked_for(job_folder, monkeypatch):
    folder, elsewhere = job_folder
    (folder / "jobs.yaml").write_text((folder / "jobs.yaml").read_text().replace(
        "path: model", "path: gone.keras"))
    monkeypatch.chdir(elsewhere)
    result = run("validate", "../project/jobs/jobs.yaml")
    assert result.exit_code == 2
    assert result.stderr.splitlines()[0] == (
        f"fvcli: error: ../project/jobs/jobs.yaml:1: model: model path "
        f"{folder / 'gone.keras'} does not exist")


def test_the_model_option_stays_relative_to_the_current_directory(job_folder, monkeypatch):
    folder, _ = job_folder
    monkeypatch.chdir(folder.parent)  # jobs/model from here; model would be the file's
    result = run("validate", "jobs/jobs.yaml", "--model", "jobs/model", "--no-estimate")
    assert result.exit_code == 0, result.output
    result = run("validate", "jobs/jobs.yaml", "--model", "model", "--no-estimate")
    assert result.exit_code == 2
    assert result.stderr.strip() == ("fvcli: error: --model: model path model does not "
                                     "exist")


def test_layers_prints_the_table_alone_on_stdout_and_the_model_on_stderr():
    result = run("layers", "--model", "demo")
    assert result.exit_code == 0, result.output
    header, *rows = result.stdout.splitlines()
    assert header.split() == ["layer", "alias", "shape", "channels"]
    assert rows and all(row.split()[-1].isdigit() for row in rows)
    assert result.stderr.startswith("fvcli: layers of demo (")


def test_a_missing_layer_names_the_model_as_written_and_a_hint_that_works_offline(tmp_path):
    jobs = write_jobs(tmp_path, "model: demo\njobs:\n"
                      "  - {name: a, objective: channel, layer: conv5, channels: 1}\n")
    result = run("validate", jobs)
    assert result.exit_code == 2
    (line,) = result.stderr.strip().splitlines()
    assert "no layer 'conv5' in demo (see `fvcli layers --model demo`)" in line
    hinted = run(*line.split("see `")[1].split("`")[0].split()[1:])
    assert hinted.exit_code == 0 and "conv4" in hinted.stdout


def test_a_model_name_in_the_wrong_case_gets_a_did_you_mean(tmp_path):
    result = run("validate", write_jobs(tmp_path), "--model", "Demo")
    assert result.exit_code == 2
    assert result.stderr.strip().endswith("model path Demo does not exist; did you mean demo, "
                                          "the built-in model?")
    assert "did you mean" not in run("layers", "--model", tmp_path / "gone.keras").stderr


def test_layers_offline_offers_the_built_in_model(tmp_path, monkeypatch):
    from fvcli.models import loading
    from fvcli.models.errors import ModelUnavailable

    def offline(handle):
        raise ModelUnavailable(f"cannot load {handle}: the network is unreachable")

    monkeypatch.setattr(loading, "fetch_to_cache", offline)
    result = run("layers")
    assert result.exit_code == 1
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith("fvcli: error: the default model: cannot load https://")
    assert line.endswith("`fvcli layers --model demo`")


def test_the_main_help_summary_shows_every_command():
    from fvcli.cli import main

    summary = run("--help").stdout.split("Options:")[0]
    for name, command in main.commands.items():
        shown = [f"fvcli {name} {sub}" for sub in getattr(command, "commands", {})] or \
            [f"fvcli {name}"]
        assert all(usage in summary for usage in shown), name
