"""MACO (the spectrum's phase optimised, its magnitude fixed to natural images'), the
attribution maps written as units/<stem>.alpha.png, and `fvcli spectrum`."""

import json
from dataclasses import replace

import imageio.v3 as iio
import numpy as np
import pytest
import tensorflow as tf

from support.helpers import check_index, run
from fvcli.config import ParamSpec, RenderSettings, TransformSpec
from fvcli.engine.colours import decorrelated
from fvcli.engine.objectives import Objective, Term
from fvcli.engine.param import Parameterization
from fvcli.engine.renderer import Renderer


def test_a_maco_image_has_exactly_the_fixed_magnitude_whatever_its_phase():
    param = Parameterization(48, maco=True)
    phases = tf.constant(param.initial([3, 4]))
    images = param.to_image(phases).numpy().astype(np.float64)
    # left out: the first row and column, which hold the mean (standardised away) and
    # must be conjugate-symmetric, and the Nyquist column, whose phase a real image cannot
    # take: those the inverse FFT rounds to what a real image can have
    inner = (slice(None), slice(1, None), slice(1, -1))
    target = param.magnitude()[inner]
    for image in images:
        before_sigmoid = decorrelated(np.log(image / (1 - image)))
        magnitude = np.abs(np.fft.rfft2(np.transpose(before_sigmoid, [2, 0, 1])))[inner]
        ratio = magnitude / target
        # one scale for every frequency and colour: only the overall contrast is set
        np.testing.assert_allclose(ratio, np.median(ratio), rtol=2e-3)


@pytest.mark.slow  # 128 steps of 8 crops
def test_maco_images_win_on_their_own_channels(demo_network):
    channels = list(range(1, 9))
    settings = RenderSettings(size=128, steps=128, param=ParamSpec(128, maco=True),
                              transforms=replace(TransformSpec.maco(), view=64))
    renderer = Renderer(demo_network, Objective((Term("channel", "conv4"),)), settings,
                        len(channels))
    result = renderer.render([[c] for c in channels], channels)
    assert (result.objective_end > result.objective_start).all()
    seen = tf.image.resize(result.images, [64, 64], antialias=True)
    means = tf.reduce_mean(demo_network.forward(("conv4",), (), 64)(seen)["conv4"],
                           axis=[1, 2]).numpy()[:, channels]
    wins = np.argmax(means, axis=0) == np.arange(len(channels))
    assert wins.mean() >= 0.75, means.round(2)


@pytest.fixture(scope="module")
def left_half_model(tmp_path_factory):
    """A model whose layer `left` sees only the left half of its 48 px input."""
    import keras

    keras.utils.set_random_seed(3)
    image = keras.Input((48, 48, 3))
    left_half = keras.layers.Cropping2D(((0, 0), (0, 24)))(image)
    left = keras.layers.Conv2D(4, 3, activation="relu", name="left")(left_half)
    logits = keras.layers.Dense(2)(keras.layers.GlobalAveragePooling2D()(left))
    path = tmp_path_factory.mktemp("left_half") / "left_half.keras"
    keras.Model(image, logits).save(path)
    return path


def test_the_alpha_map_is_dark_where_the_unit_cannot_see(tmp_path, left_half_model):
    # the regularisers act on the whole image: the map is the objective's alone
    jobs = tmp_path / "jobs.yaml"
    jobs.write_text(f"model: {{path: {left_half_model}}}\n"
                    "defaults: {size: 48, steps: 16, transforms: none, alpha: true,\n"
                    "           regularizers: {tv: 0.5, l1: 0.05}}\n"
                    "jobs:\n  - {name: left, objective: channel, layer: left, channels: 0-1}\n")
    result = run("render", jobs, "--out", tmp_path / "out")
    assert result.exit_code == 0, result.output
    job = tmp_path / "out" / "left"
    for channel in (0, 1):
        record = json.loads((job / "units" / f"left_{channel:04d}.json").read_text())
        alpha = iio.imread(job / record["alpha_png"]).astype(float)
        assert alpha.shape == (48, 48)  # grey, the image's size
        left, right = alpha[:, :24].mean(), alpha[:, 24:].mean()
        assert left > 20 and right < 0.02 * left, (left, right)
    index = (tmp_path / "out" / "_index" / "job-left.html").read_text()
    assert index.count("class='alpha'") == 2  # each image shown faded by its map
    assert check_index(tmp_path / "out") == 4  # two units, on the job and layer pages


def test_a_spectrum_from_horizontal_stripes_makes_maco_draw_horizontal_stripes(tmp_path):
    folder = tmp_path / "stripes"
    folder.mkdir()
    rows = np.arange(64)[:, None, None]
    for period in (6, 9, 13):
        stripes = 0.5 + 0.4 * np.sin(2 * np.pi * rows / period) * np.ones((64, 64, 3))
        iio.imwrite(folder / f"stripes_{period}.png", (stripes * 255).astype(np.uint8))
    (folder / "notes.png").write_text("not an image")
    result = run("spectrum", folder, "--out", tmp_path / "stripes.npy", "--size", 64)
    assert result.exit_code == 0, result.output
    assert "skipping" in result.output and "3 images" in result.output
    assert np.load(tmp_path / "stripes.npy").shape == (3, 64, 33)

    jobs = tmp_path / "jobs.yaml"
    jobs.write_text("model: demo\n"
                    "defaults: {size: 64, steps: 0, param: {maco: {spectrum: stripes.npy}}}\n"
                    "jobs:\n  - {name: striped, objective: channel, layer: conv2, "
                    "channels: 0-2}\n")
    result = run("render", jobs, "--out", tmp_path / "out")
    assert result.exit_code == 0, result.output
    for png in sorted((tmp_path / "out" / "striped" / "units").glob("conv2_*[0-9].png")):
        grey = iio.imread(png).astype(float).mean(axis=-1)
        power = np.abs(np.fft.rfft2(grey - grey.mean())) ** 2
        # horizontal stripes vary down the image: their energy is in the first column
        assert power[:, 0].sum() > 5 * power[0, :].sum(), png.name
    plan = json.loads((tmp_path / "out" / "striped" / "job.json").read_text())
    assert plan["job"]["param"] == {"maco": {"spectrum": str(tmp_path / "stripes.npy")}}
    assert plan["job"]["transforms"][0] == {"crops": 8}  # maco's own views by default


@pytest.mark.parametrize("param, message", [
    ("{maco: {spectrum: missing.npy}}", "/missing.npy as a .npy spectrum"),  # as found
    ("{maco: {spectrum: flat.npy}}", "has shape (4,)"),
    ("{maco: {size: 3}}", "expected {spectrum: FILE}"),
    ("{maco: {}, fft: true}", "maco takes no other keys"),
    ("maco, init: x.png", "param maco holds natural images' magnitude, so it cannot start"),
    ("maco, accentuate: {images: [x.png]}", "so it cannot start from an image"),
])
def test_a_bad_maco_spectrum_is_one_line(tmp_path, param, message):
    np.save(tmp_path / "flat.npy", np.ones(4, np.float32))
    iio.imwrite(tmp_path / "x.png", np.zeros((8, 8, 3), np.uint8))
    jobs = tmp_path / "jobs.yaml"
    jobs.write_text(f"model: demo\njobs:\n  - {{objective: channel, layer: conv2, "
                    f"channel: 0, param: {param}}}\n")
    result = run("render", jobs, "--out", tmp_path / "out")
    assert result.exit_code == 2
    assert message in result.output and len(result.output.strip().splitlines()) == 1
    assert not (tmp_path / "out").exists()


def test_spectrum_of_a_folder_without_images_writes_nothing(tmp_path):
    result = run("spectrum", tmp_path, "--out", tmp_path / "s.npy")
    assert result.exit_code == 2 and "no readable images" in result.output
    assert not (tmp_path / "s.npy").exists()


@pytest.mark.slow  # a fresh process: TensorFlow's start-up messages appear only there
def test_spectrum_keeps_tensorflow_start_up_messages_off_stderr(tmp_path):
    import subprocess
    import sys

    from support.helpers import fvcli_env

    folder = tmp_path / "images"
    folder.mkdir()
    iio.imwrite(folder / "a.png", np.full((16, 16, 3), 128, np.uint8))
    env = {key: value for key, value in fvcli_env().items() if key != "TF_CPP_MIN_LOG_LEVEL"}
    result = subprocess.run([sys.executable, "-m", "fvcli", "spectrum", str(folder), "--out",
                             str(tmp_path / "s.npy"), "--size", "16"],
                            env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""  # no oneDNN, CUDA or CPU-feature notices
