"""Runtime faults: a unit whose numbers go NaN, and a disk that fills up mid-run."""

import errno
import json

import imageio.v3 as iio
import numpy as np
import pytest
import tensorflow as tf

from support.helpers import assert_units_whole, records, run


class NanNet(tf.Module):
    """A 3x3 conv and ReLU with four channels, of which channel 3 divides zero by zero,
    then a linear read-out: the smallest network with a unit that can only fail."""

    def __init__(self):
        super().__init__()
        rng = np.random.default_rng(0)
        self.kernel = tf.Variable(rng.normal(0, 0.5, (3, 3, 3, 4)).astype(np.float32))
        self.dense = tf.Variable(rng.normal(0, 0.5, (4, 2)).astype(np.float32))

    @tf.function(input_signature=[tf.TensorSpec([None, None, None, 3], tf.float32)])
    def __call__(self, images):
        pre = tf.nn.conv2d(images, self.kernel, 1, "SAME")
        broken = tf.constant([False, False, False, True])
        nan = tf.fill(tf.shape(pre), tf.constant(0.0) / tf.constant(0.0))
        features = tf.nn.relu(tf.where(broken, nan, pre), name="features")
        return tf.matmul(tf.reduce_mean(features, axis=[1, 2]), self.dense)


@pytest.fixture(scope="module")
def nan_model(tmp_path_factory):
    path = tmp_path_factory.mktemp("nan") / "model"
    module = NanNet()
    tf.saved_model.save(module, str(path), signatures=module.__call__)
    return path


def job_file(folder, model, channels):
    path = folder / f"nan-{len(channels)}.yaml"
    path.write_text(f"model: {{path: {model}}}\ndefaults: {{size: 32, steps: 24, batch_size: 4}}\n"
                    f"jobs:\n  - {{name: nan, objective: channel, layer: features, "
                    f"channels: {list(channels)}}}\n")
    return str(path)


def test_a_unit_that_goes_nan_fails_alone_and_the_run_says_so(nan_model, tmp_path):
    out = tmp_path / "out"
    result = run("render", job_file(tmp_path, nan_model, range(4)), "--out", out)
    assert result.exit_code == 3, result.output
    (error,) = [line for line in result.stderr.splitlines() if line.startswith("fvcli: error")]
    assert "1 unit(s) failed" in error and "_0003" in error
    units = records(out / "nan")
    failed = [stem for stem, record in units.items() if record["status"] == "failed"]
    assert len(failed) == 1 and failed[0].endswith("_0003")
    assert units[failed[0]]["step"] == 0 and "NaN" in units[failed[0]]["reason"]
    assert not (out / "nan" / "units" / f"{failed[0]}.png").exists()
    manifest = json.loads((out / "nan" / "manifest.json").read_text())
    assert [entry["stem"] for entry in manifest["failed"]] == failed
    status = run("status", out)
    assert "3 / 4       1" in status.output
    assert "failed" in (out / "_index" / "job-nan.html").read_text()
    # the failed image shared its batch and its Adam step with the others: they are
    # exactly what they are without it
    alone = tmp_path / "alone"
    assert run("render", job_file(tmp_path, nan_model, range(3)), "--out", alone).exit_code == 0
    for stem in (stem for stem in units if stem not in failed):
        np.testing.assert_array_equal(iio.imread(out / "nan" / "units" / f"{stem}.png"),
                                      iio.imread(alone / "nan" / "units" / f"{stem}.png"))


def test_a_full_disk_stops_with_one_line_and_keeps_every_finished_unit(tmp_path,
                                                                       monkeypatch):
    from fvcli.outputs import store

    written = []
    real_write_png = store.write_png

    def filling_disk(path, pixels):
        if len(written) == 3:
            raise OSError(errno.ENOSPC, "No space left on device", path)
        real_write_png(path, pixels)
        written.append(path)

    monkeypatch.setattr(store, "write_png", filling_disk)
    jobs = tmp_path / "jobs.yaml"
    jobs.write_text("model: demo\ndefaults: {size: 32, steps: 4, batch_size: 1}\njobs:\n"
                    "  - {name: c, objective: channel, layer: conv2, channels: 0-5}\n")
    out = tmp_path / "out"
    result = run("render", jobs, "--out", out)
    assert result.exit_code == 1
    (error,) = result.stderr.strip().splitlines()[-1:]
    assert error.startswith("fvcli: error: cannot write ") and "No space left" in error
    assert "conv2_0003.png" in error and "Traceback" not in result.output
    assert len(records(out / "c")) == 3
    assert_units_whole(out / "c")
    monkeypatch.setattr(store, "write_png", real_write_png)
    rerun = run("render", jobs, "--out", out)
    assert rerun.exit_code == 0 and "3 of 6 units already rendered" in rerun.stderr


OOM_JOBS = ("model: demo\ndefaults: {size: 32, steps: 4, batch_size: 4}\njobs:\n"
            "  - {name: c, objective: channel, layer: conv2, channels: 0-5}\n")


def fail_batches_over(monkeypatch, largest: int):
    """Make the renderer run out of memory on batches of more than ``largest`` images."""
    from fvcli.engine.renderer import Renderer

    real_render = Renderer.render

    def render(self, *args, **kwargs):
        if self.batch_size > largest:
            raise tf.errors.ResourceExhaustedError(None, None, "OOM when allocating tensor")
        return real_render(self, *args, **kwargs)

    monkeypatch.setattr(Renderer, "render", render)


def test_out_of_memory_retries_the_batch_at_half_its_size(tmp_path, monkeypatch):
    fail_batches_over(monkeypatch, 2)
    jobs = tmp_path / "jobs.yaml"
    jobs.write_text(OOM_JOBS)
    result = run("render", jobs, "--out", tmp_path / "out")
    assert result.exit_code == 0, result.output
    assert "out of memory with a batch of 3 images; trying 2 at a time" in result.stderr
    assert len(records(tmp_path / "out" / "c")) == 6


def test_out_of_memory_even_at_half_is_one_line_with_the_estimate(tmp_path, monkeypatch):
    fail_batches_over(monkeypatch, 0)
    jobs = tmp_path / "jobs.yaml"
    jobs.write_text(OOM_JOBS)
    result = run("render", jobs, "--out", tmp_path / "out")
    assert result.exit_code == 1 and "Traceback" not in result.output
    error = result.stderr.strip().splitlines()[-1]
    assert error.startswith("fvcli: error: c: out of memory rendering a batch of")
    assert "GiB" in error and "lower --batch-size" in error
