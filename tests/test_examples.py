"""Dataset examples: a folder of the demo model's own textures, scored on its units."""

import json

import imageio.v3 as iio
import numpy as np
import pytest
import tensorflow as tf

from support.helpers import run
from support.demo_net import CLASSES, texture
from fvcli.outputs.examples import LABEL_INK, NO_EXAMPLES, ROW_LABELS, label_strip

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
        strip = label_strip("TOP", grid.shape[1], 2).shape[0]
        assert grid.shape[0] == 4 * (strip + 64) + 3 * 2  # a labelled row per kind
        for row, kind in enumerate(ROW_LABELS):  # each row under its own label
            above = grid[row * (strip + 64 + 2):][:strip]
            text = ROW_LABELS[kind] + ("" if unit[kind] else f": {NO_EXAMPLES}")
            assert (above == label_strip(text, grid.shape[1], 2)).all(), (kind, text)


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


@pytest.mark.parametrize("contents", ["nothing", "only unreadable images"])
def test_a_folder_without_a_readable_image_is_one_line_and_keeps_the_old_examples(
        tmp_path, contents):
    good, bad = tmp_path / "good", tmp_path / "bad"
    good.mkdir()
    bad.mkdir()
    iio.imwrite(good / "a.png", (texture(0, SIZE, np.random.default_rng(0)) * 255)
                .astype(np.uint8))
    if contents == "only unreadable images":
        (bad / "sub").mkdir()
        (bad / "sub" / "x.jpg").write_bytes(b"not an image")
        (bad / "y.png").write_bytes(b"")
    (bad / "notes.txt").write_text("not an image file")
    jobs = tmp_path / "jobs.yaml"
    jobs.write_text("model: demo\njobs:\n  - {name: c, objective: channel, layer: conv3, "
                    "channels: 0-1}\n")
    out = tmp_path / "out"
    assert run("examples", jobs, "--images", good, "--out", out).exit_code == 0
    before = (out / "c" / "examples.json").read_bytes()
    result = run("examples", jobs, "--images", bad, "--out", out)
    assert result.exit_code == 2, result.output
    errors = [line for line in result.stderr.splitlines() if "error" in line]
    assert len(errors) == 1 and errors[0].startswith("fvcli: error: --images: ")
    assert ("no image files" if contents == "nothing" else "could be read (2 skipped") \
        in errors[0]
    assert "images scored" not in result.stdout
    assert (out / "c" / "examples.json").read_bytes() == before
    # named by the job file, the error gives the file, line and key
    jobs.write_text("model: demo\njobs:\n  - {name: c, objective: channel, layer: conv3, "
                    "channels: 0-1, examples: {images: bad}}\n")
    result = run("examples", jobs, "--out", out)
    assert result.exit_code == 2
    assert f"{jobs}:3: c: examples.images:" in result.stderr
    assert (out / "c" / "examples.json").read_bytes() == before


def test_a_row_that_found_no_image_is_labelled_none_not_left_a_mystery(tmp_path):
    from fvcli.outputs.examples import THUMBNAIL, _write_rows

    tile = np.full((THUMBNAIL, THUMBNAIL, 3), 90, np.uint8)
    labels = ["TOP", "SLIGHTLY +", "SLIGHTLY -", "BOTTOM"]
    _write_rows(str(tmp_path / "full.png"), [[tile]] * 4, 2, labels)
    _write_rows(str(tmp_path / "empty.png"), [[tile], [tile], [], [tile]], 2, labels)
    full, empty = (iio.imread(tmp_path / name) for name in ("full.png", "empty.png"))
    assert full.shape == empty.shape
    strip = (full.shape[0] - 3 * 2) // 4 - THUMBNAIL

    def ink_columns(grid, row):
        above = grid[row * (strip + THUMBNAIL + 2):][:strip]
        return np.flatnonzero((above == LABEL_INK).any(axis=(0, 2)))

    for row in (0, 1, 3):
        assert np.array_equal(ink_columns(full, row), ink_columns(empty, row))
    assert ink_columns(empty, 2).max() > ink_columns(full, 2).max()  # ": NONE" follows
