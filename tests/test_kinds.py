"""The kinds beyond single units on the demo model: diversity, directions, interpolation
and a starting image. Each test states what the kind is meant to do to the images."""

import imageio.v3 as iio
import numpy as np
import pytest
import tensorflow as tf

from fvcli.config import ParamSpec, RenderSettings
from fvcli.engine.objectives import GroupTerm, Objective, Term
from fvcli.engine.targets import ImageTarget, Targets
from fvcli.engine.renderer import Renderer
from support.helpers import check_index, records, run

pytestmark = pytest.mark.slow  # renders every kind

SIZE, STEPS = 64, 128


def render(network, terms, images, per_unit=1, group_terms=(), vector_sizes=None,
           steps=STEPS):
    """Render ``images`` (ImageTargets, units of ``per_unit`` in a row) with one renderer."""
    objective = Objective(tuple(terms), tuple(group_terms), per_unit)
    settings = RenderSettings(size=SIZE, steps=steps, param=ParamSpec(SIZE))
    renderer = Renderer(network, objective, settings, len(images))
    sizes = vector_sizes or (1,) * len(terms)
    return renderer.render(Targets.of(images, sizes))


def image(index, seed, frame=0, weights=(1.0,), vectors=(None,)):
    indices = index if isinstance(index, tuple) else (index,)
    return ImageTarget(indices, weights, vectors, seed, frame)


def activations(network, images, layer):
    return network.forward((layer,), (), SIZE)(tf.constant(images))[layer].numpy()


def mean_gram_cosine(network, images, layer="conv3"):
    act = activations(network, images, layer)
    flat = act.reshape(len(act), -1, act.shape[-1])
    grams = np.einsum("bnc,bnd->bcd", flat, flat).reshape(len(act), -1)
    grams /= np.linalg.norm(grams, axis=1, keepdims=True)
    cosines = grams @ grams.T
    return (cosines.sum() - np.trace(cosines)) / (len(cosines) * (len(cosines) - 1))


# ----------------------------------------------------------------------------- diversity

DIVERSITY = GroupTerm("diversity", "conv3", 0.3, count=4)
SEEDS = [11, 12, 13, 14]


def diverse(network, group_terms):
    return render(network, [Term("channel", "conv3")],
                  [image(2, seed, frame) for frame, seed in enumerate(SEEDS)], 4, group_terms)


def test_diversity_spreads_a_units_images_apart_and_each_still_rises(demo_network):
    plain = diverse(demo_network, ())
    spread = diverse(demo_network, (DIVERSITY,))
    assert mean_gram_cosine(demo_network, spread.images) < \
        mean_gram_cosine(demo_network, plain.images) - 0.2
    assert np.all(spread.objective_end > 20 * spread.objective_start)


def test_diversity_couples_a_units_images_only_not_its_batch_mates(demo_network):
    alone = diverse(demo_network, (DIVERSITY,))
    other_unit = [image(9, seed, frame) for frame, seed in enumerate([21, 22, 23, 24])]
    shared = render(demo_network, [Term("channel", "conv3")],
                    [image(2, seed, frame) for frame, seed in enumerate(SEEDS)] + other_unit,
                    4, (DIVERSITY,))
    np.testing.assert_allclose(alone.images, shared.images[:4], atol=2e-3)


# ----------------------------------------------------------------------------- directions

def test_a_direction_raises_the_activation_projected_on_it(demo_network):
    direction = np.random.default_rng(3).normal(size=48)
    direction /= np.linalg.norm(direction)
    result = render(demo_network, [Term("direction", "conv3")],
                    [image(0, 5, vectors=(direction,))], vector_sizes=(48,))
    projected = (activations(demo_network, result.images, "conv3") @ direction).mean()
    assert result.objective_start[0] < 0.1 and projected > 0.5
    assert projected == pytest.approx(result.objective_end[0], rel=1e-3)


def test_a_one_hot_direction_renders_the_channel_image(demo_network):
    one_hot = np.eye(48)[7]
    by_direction = render(demo_network, [Term("direction", "conv3")],
                          [image(0, 5, vectors=(one_hot,))], vector_sizes=(48,), steps=32)
    by_channel = render(demo_network, [Term("channel", "conv3")], [image(7, 5)], steps=32)
    np.testing.assert_allclose(by_direction.images, by_channel.images, atol=2e-3)


# ----------------------------------------------------------------------------- interpolation

FRAMES = 6
ENDS = [Term("channel", "conv3"), Term("channel", "conv3")]  # channels 3 -> 13: they differ most


def interpolation(network, seeds, group_terms):
    frames = [image((3, 13), seed, frame, weights=(1 - frame / 5, frame / 5),
                    vectors=(None, None)) for frame, seed in enumerate(seeds)]
    return render(network, ENDS, frames, FRAMES, group_terms)


def test_an_interpolation_moves_from_one_channel_to_the_other(demo_network):
    result = interpolation(demo_network, [4] * FRAMES,
                           (GroupTerm("alignment", "conv3", 1.0, decay=2.0),))
    means = activations(demo_network, result.images, "conv3").mean(axis=(1, 2))
    start, end = means[:, 3], means[:, 13]
    assert start[0] > end[0] and end[-1] > start[-1]
    share = end / (start + end)
    assert share[-1] - share[0] > 0.5
    assert np.all(np.diff(share) > -0.05)  # rising, give or take the optimiser's noise


def test_interpolation_frames_stay_alike_where_independent_ones_do_not(demo_network):
    linked = interpolation(demo_network, [4] * FRAMES,
                           (GroupTerm("alignment", "conv3", 1.0, decay=2.0),))
    independent = interpolation(demo_network, list(range(40, 40 + FRAMES)), ())

    def neighbour_distance(images):
        return np.mean(np.abs(np.diff(images, axis=0)))
    assert neighbour_distance(linked.images) < 0.6 * neighbour_distance(independent.images)


# ----------------------------------------------------------------------------- job files

KINDS = """\
model: demo
defaults: {size: 32, steps: 32, batch_size: 8}
jobs:
  - {name: diverse, objective: channel, layer: conv3, channels: [2, 9],
     diversity: {count: 3, weight: 0.3, layer: conv3}}
  - {name: directions, objective: direction, layer: conv3,
     vectors: {random: {seed: 1, count: 3}}}
  - {name: from-file, objective: direction, layer: conv3, vector: one.npy, cossim_pow: 1}
  - name: morph
    objective: interpolate
    from: {layer: conv3, channels: [2, 3]}
    to: {layer: conv3, channel: 9}
    frames: 4
  - {name: start, objective: channel, layer: conv3, channels: [2], init: start.png, steps: 0}
  - {name: from-start, objective: channel, layer: conv3, channels: [2], init: start.png}
"""


@pytest.fixture(scope="module")
def kinds_folder(tmp_path_factory):
    folder = tmp_path_factory.mktemp("kinds")
    np.save(folder / "one.npy", np.random.default_rng(0).normal(size=48))
    y, x = np.mgrid[0:40, 0:40]
    picture = np.stack([np.sin(x / 4), np.cos(y / 5), np.sin((x + y) / 7)], -1) * 127 + 128
    iio.imwrite(folder / "start.png", picture.astype(np.uint8))
    (folder / "kinds.yaml").write_text(KINDS)
    result = run("render", folder / "kinds.yaml", "--out", folder / "out")
    assert result.exit_code == 0, result.output
    return folder


def test_each_kind_renders_from_a_job_file_into_the_sweep_store(kinds_folder):
    out = kinds_folder / "out"
    diverse = records(out / "diverse")
    assert sorted(diverse) == ["conv3_0002", "conv3_0009"]
    strip = iio.imread(out / "diverse" / "units" / "conv3_0002.png")
    assert strip.shape == (32, 3 * 32 + 2 * 2, 3)  # three images side by side
    assert "objective_without_diversity" in diverse["conv3_0002"]
    assert sorted(records(out / "directions")) == [f"conv3_dir{n:04d}" for n in range(3)]
    morphs = records(out / "morph")
    assert sorted(morphs) == ["conv3_0002_to_conv3_0009", "conv3_0003_to_conv3_0009"]
    record = morphs["conv3_0002_to_conv3_0009"]
    assert record["from"] == {"layer": "conv3", "channel": 2} and record["frames"] == 4
    assert iio.imread(out / "morph" / "grid.png").shape == (2 * 32 + 2, 4 * 32 + 3 * 2, 3)
    assert check_index(out) > 0


def test_a_rerun_of_the_kinds_skips_everything(kinds_folder):
    again = run("render", kinds_folder / "kinds.yaml", "--out", kinds_folder / "out")
    assert again.exit_code == 0 and "10 of 10 units already rendered" in again.stderr


def test_zero_steps_from_an_image_writes_that_image(kinds_folder):
    picture = iio.imread(kinds_folder / "start.png").astype(np.float32) / 255
    expected = tf.image.resize(picture[None], [32, 32], antialias=True)[0].numpy()
    written = iio.imread(kinds_folder / "out" / "start" / "units" / "conv3_0002.png")
    assert np.abs(np.round(np.clip(expected, 0, 1) * 255) - written).max() <= 1


def test_optimising_from_an_image_raises_the_objective(kinds_folder):
    record = records(kinds_folder / "out" / "from-start")["conv3_0002"]
    assert record["objective_end"] > 3 * record["objective_start"]


@pytest.mark.parametrize("change, message", [
    (("vector: one.npy", "vector: missing.npy"), "cannot read DIR/missing.npy as a .npy array"),
    (("vector: one.npy", "vector: [1, 2, 3]"), "a vector of 3 numbers for a layer of 48"),
    (("init: start.png, steps: 0", "init: nowhere.png, steps: 0"),
     "cannot read DIR/nowhere.png as an image"),
    (("diversity: {count: 3,", "diversity: {count: 1,"), "1 is out of range"),
    (("to: {layer: conv3, channel: 9}", "to: {layer: conv3, channels: [4, 5, 6]}"),
     "'from' has 2 targets and 'to' 3"),
    (("vectors: {random: {seed: 1, count: 3}}", "channels: [1], vector: [1, 2]"),
     "takes 'vector' or 'vectors', not channels"),
])
def test_bad_keys_of_the_kinds_are_one_line_with_file_line_and_key(kinds_folder, tmp_path,
                                                                    change, message):
    for name in ("one.npy", "start.png"):
        (tmp_path / name).write_bytes((kinds_folder / name).read_bytes())
    text = KINDS.replace(*change)
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    line = next(n for n, row in enumerate(text.splitlines(), 1) if change[1] in row)
    result = run("render", path, "--out", tmp_path / "out")
    assert result.exit_code == 2, result.output
    (error,) = result.stderr.strip().splitlines()
    message = message.replace("DIR", str(tmp_path))  # paths are named as found
    assert f"{path}:{line}: jobs[" in error and message in error, error
    assert not (tmp_path / "out").exists()


def test_a_sweep_of_directions_traces_the_step_once(demo_network):
    objective = Objective((Term("direction", "conv3"),))
    settings = RenderSettings(size=32, steps=2, param=ParamSpec(32))
    renderer = Renderer(demo_network, objective, settings, 4)
    rng = np.random.default_rng(0)
    for batch in range(3):
        vectors = rng.normal(size=(4, 48))
        images = [image(0, batch * 4 + n, vectors=(vectors[n],)) for n in range(4)]
        renderer.render(Targets.of(images, (48,)))
    assert renderer.traces == 1
