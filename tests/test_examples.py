"""Dataset examples: a folder of the demo model's own textures, scored on its units."""

import json

import imageio.v3 as iio
import numpy as np
import pytest
import tensorflow as tf

from support.helpers import run
from support.demo_net import CLASSES, texture

pytestmark = pytest.mark.slow  # scores image folders

PER_CLASS, SIZE = 4, 64
JOBS = """\
model: demo
defaults: {size: 64}
jobs:
  - {name: classes, objective: probability, classes: all, examples: {images: images}}
  - {name: conv3, objective: channel, layer: conv3, channels: 0-5,
     examples: {images: images, top: 3, crop: true}}
"""


@pytest.fixture(scope="module")
def examples_run(tmp_path_factory):
    folder = tmp_path_factory.mktemp("examples")
    rng = np.random.default_rng(0)
    for k, name in enumerate(CLASSES):
        (folder / "images" / name).mkdir(parents=True)
        for i in range(PER_CLASS):
            pixels = (texture(k, SIZE, rng) * 255).astype(np.uint8)
            iio.imwrite(folder / "images" / name / f"{i}.png", pixels)
    (folder / "images" / "broken.jpg").write_bytes(b"not an image")
    (folder / "jobs.yaml").write_text(JOBS)
    result = run("examples", folder / "jobs.yaml", "--top", "3", "--out", folder / "out")
    assert result.exit_code == 0, result.output
    return folder, result


def read(folder, job):
    return json.loads((folder / "out" / job / "examples.json").read_text())


def test_a_classs_own_textures_are_its_top_examples(examples_run):
    folder, _ = examples_run
    record = read(folder, "classes")
    assert [unit["class"] for unit in record["units"]] == list(range(len(CLASSES)))
    for unit in record["units"]:
        own = CLASSES[unit["class"]]
        assert [entry["image"].split("/")[0] for entry in unit["top"]] == [own] * 3


def test_scores_match_an_independent_forward_pass_and_kinds_are_ordered(examples_run,
                                                                       demo_network):
    folder, _ = examples_run
    record = read(folder, "conv3")
    assert record["scored_on"] == "pre-activation" and record["crop"] is True
    forward = demo_network.forward((), ("conv3",), SIZE)
    for unit in record["units"]:
        for entry in unit["top"] + unit["bottom"]:
            pixels = iio.imread(folder / "images" / entry["image"]).astype(np.float32) / 255
            pre = forward(tf.constant(pixels[None]))["conv3/pre"].numpy()
            assert entry["score"] == pytest.approx(pre[0, ..., unit["channel"]].mean(),
                                                   rel=1e-4, abs=1e-5)
        top = [e["score"] for e in unit["top"]]
        bottom = [e["score"] for e in unit["bottom"]]
        assert top == sorted(top, reverse=True) and bottom == sorted(bottom)
        assert all(e["score"] > 0 for e in unit["slightly_positive"])
        assert all(e["score"] < 0 for e in unit["slightly_negative"])
        if unit["slightly_positive"]:
            assert unit["slightly_positive"][0]["score"] <= top[0]
        grid = iio.imread(folder / "out" / "conv3" / unit["grid"])
        assert grid.shape[0] == 4 * 64 + 3 * 2  # a row per kind


def test_an_unreadable_image_is_skipped_with_one_warning_and_listed(examples_run):
    folder, result = examples_run
    warnings = [line for line in result.stderr.splitlines() if "broken.jpg" in line]
    assert len(warnings) == 1 and warnings[0].startswith("fvcli: warning: skipping")
    for job in ("classes", "conv3"):
        record = read(folder, job)
        assert [entry["image"] for entry in record["skipped"]] == ["broken.jpg"]
    assert f"{len(CLASSES) * PER_CLASS} images scored, 1 skipped" in result.output


def test_a_job_without_units_to_score_is_one_clear_line(tmp_path):
    path = tmp_path / "dream.yaml"
    path.write_text("model: demo\njobs:\n  - {name: d, objective: deepdream, layer: conv3}\n")
    result = run("examples", path, "--images", tmp_path)
    assert result.exit_code == 2
    (line,) = result.stderr.strip().splitlines()
    assert "dataset examples need a job with one channel" in line
