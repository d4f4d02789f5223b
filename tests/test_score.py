"""fvcli score: MIS of a trained network's units against a random copy's, a unit whose
visualization takes a path natural images never use, the command line's files and
errors, and sharded scoring."""

import json
import shutil
import textwrap

import imageio.v3 as iio
import numpy as np
import pytest

from support.demo_net import texture_batch
from support.helpers import run

SIZE = 32
JUDGE = "demo:conv4"  # one judge for every model compared: the trained demo's eyes


def write_folder(folder, count: int, seed: int = 0, grey: bool = False):
    """``count`` demo textures as PNGs (grey ones with ``grey``)."""
    folder.mkdir(parents=True, exist_ok=True)
    images, _ = texture_batch(count, SIZE, np.random.default_rng(seed))
    if grey:
        images = np.repeat(images.mean(-1, keepdims=True), 3, axis=-1)
    for number, image in enumerate(images):
        iio.imwrite(folder / f"{number:03d}.png", (image * 255).round().astype(np.uint8))
    return folder


def job_file(folder, model: str, layer: str, channels: str, steps: int = 32) -> str:
    path = folder / "jobs.yaml"
    path.write_text(textwrap.dedent(f"""\
        model: {model}
        defaults: {{size: {SIZE}, steps: {steps}, batch_size: 8, transforms: none}}
        jobs:
          - {{name: units, objective: channel, layer: {layer}, channels: {channels}}}
        """))
    return str(path)


def scores(out) -> dict:
    return json.loads((out / "units" / "scores.json").read_text())


@pytest.fixture(scope="session")
def textures(tmp_path_factory):
    return write_folder(tmp_path_factory.mktemp("score") / "textures", 48)


@pytest.fixture(scope="session")
def random_demo(tmp_path_factory):
    """The demo architecture with random weights, saved as a SavedModel."""
    import tensorflow as tf
    from support.demo_net import DemoNet

    path = tmp_path_factory.mktemp("random_demo") / "model"
    net = DemoNet(seed=1)
    tf.saved_model.save(net, str(path), signatures={"serving_default": net.serve})
    return path


@pytest.fixture(scope="session")
def demo_scores(tmp_path_factory, textures):
    """The trained demo's conv3 units scored on the textures."""
    folder = tmp_path_factory.mktemp("demo_scores")
    result = run("score", job_file(folder, "demo", "conv3", "0-11"), "--images", textures,
                 "--out", folder / "out", "--judge", JUDGE, "--quiet")
    assert result.exit_code == 0, result.output
    return folder / "out"


@pytest.mark.slow
def test_trained_units_explain_themselves_better_than_random_ones(demo_scores, textures,
                                                                   random_demo, tmp_path):
    result = run("score", job_file(tmp_path, random_demo, "conv3", "0-11"), "--images",
                 textures, "--out", tmp_path / "out", "--judge", JUDGE, "--quiet")
    assert result.exit_code == 0, result.output
    trained = [unit["mis_examples"] for unit in scores(demo_scores)["units"]]
    untrained = [unit["mis_examples"] for unit in scores(tmp_path / "out")["units"]]
    print(f"mis_examples: trained {np.mean(trained):.3f}, random {np.mean(untrained):.3f}")
    assert np.mean(trained) > np.mean(untrained) + 0.05
