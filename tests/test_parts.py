"""Properties of the small parts: random draws, transforms, index lists, grids."""


import imageio.v3 as iio
import numpy as np
import tensorflow as tf
from hypothesis import given, settings
from hypothesis import strategies as st

from fvcli.outputs.collect import collect
from fvcli.outputs.files import GRID_BACKGROUND, GRID_GAP, MISSING_TILE, grid_shape
from fvcli.outputs.store import JobStore
from fvcli.engine.param import Parameterization
from fvcli.config import parse_indices
from fvcli.engine.memory import (LARGEST_AUTO_BATCH, MEMORY_PER_ACTIVATION_BYTE, MEMORY_SHARE,
                                 auto_batch_size)
from fvcli.sweep.shards import balanced_batch_size
from fvcli.engine.transforms import Transforms, hash_uniform, resample


@settings(max_examples=25, deadline=None)
@given(st.lists(st.integers(0, 2**31 - 1), min_size=2, max_size=6, unique=True),
       st.integers(0, 10_000))
def test_random_draws_are_in_range_and_belong_to_their_seed_not_their_batch(seeds, step):
    draws = hash_uniform(tf.constant(seeds, tf.int64), tf.constant(step), 5).numpy()
    assert np.all((draws >= 0) & (draws < 1))
    reversed_draws = hash_uniform(tf.constant(seeds[::-1], tf.int64), tf.constant(step), 5)
    np.testing.assert_array_equal(draws, reversed_draws.numpy()[::-1])
    assert len({tuple(row) for row in draws}) == len(seeds)


def test_random_draws_look_uniform():
    draws = hash_uniform(tf.range(4000, dtype=tf.int64), tf.constant(3), 2).numpy().ravel()
    counts, _ = np.histogram(draws, bins=10, range=(0, 1))
    assert counts.min() > 0.8 * len(draws) / 10


@settings(max_examples=10, deadline=None)
@given(st.integers(1, 8))
def test_padding_alone_leaves_the_network_the_whole_image(pad):
    images = tf.random.uniform([2, 12, 12, 3], seed=3)
    out = Transforms(pad=pad).apply(images, tf.constant([1, 2], tf.int64), tf.constant(0))
    np.testing.assert_allclose(out, images, atol=1e-5)


def _shifted(image: np.ndarray, dy: int, dx: int) -> np.ndarray:
    """``image`` moved down by dy and right by dx, grey where nothing moved in."""
    size = image.shape[0]
    out = np.full_like(image, 0.5)
    out[max(dy, 0):size + min(dy, 0), max(dx, 0):size + min(dx, 0)] = \
        image[max(-dy, 0):size - max(dy, 0), max(-dx, 0):size - max(dx, 0)]
    return out


@settings(max_examples=10, deadline=None)
@given(st.lists(st.integers(0, 2**31 - 1), min_size=4, max_size=4, unique=True),
       st.integers(0, 1000))
def test_jitter_moves_each_image_within_a_window_of_its_size(seeds, step):
    images = tf.random.uniform([4, 16, 16, 3], seed=5)
    out = Transforms(pad=4, jitters=(6,)).apply(images, tf.constant(seeds, tf.int64),
                                                 tf.constant(step)).numpy()
    assert out.shape == images.shape
    for image, seen in zip(images.numpy(), out):
        matches = [(dy, dx) for dy in range(-3, 4) for dx in range(-3, 4)
                   if np.allclose(seen, _shifted(image, dy, dx), atol=1e-5)]
        assert len(matches) == 1


def test_standard_transforms_differ_per_image_and_per_step():
    image = tf.tile(tf.random.uniform([1, 32, 32, 3], seed=4), [2, 1, 1, 1])
    standard = Transforms.standard()
    first = standard.apply(image, tf.constant([5, 6], tf.int64), tf.constant(0)).numpy()
    again = standard.apply(image, tf.constant([5, 6], tf.int64), tf.constant(1)).numpy()
    assert first.shape == (2, 32, 32, 3)
    assert not np.allclose(first[0], first[1])
    assert not np.allclose(first[0], again[0])


@given(st.lists(st.integers(0, 600), min_size=1, max_size=20))
def test_index_lists_and_ranges_read_back(numbers):
    assert parse_indices(numbers) == numbers
    low, high = min(numbers), max(numbers)
    assert parse_indices(f"{low}-{high}") == list(range(low, high + 1))


def test_unreadable_indices_are_refused():
    for bad in ("5-2", "x", [True], "1-", ""):
        assert parse_indices(bad) is None
    assert parse_indices("all") == "all"


@given(st.integers(1, 400))
def test_grid_is_near_square_and_holds_every_image(count):
    rows, columns = grid_shape(count)
    assert rows * columns >= count
    assert columns - 1 <= rows <= columns
    assert (rows - 1) * columns < count


def test_the_grid_shows_units_in_reading_order_and_a_grey_tile_where_one_is_missing(tmp_path):
    units = [{"stem": f"u{n}", "fingerprint": f"f{n}"} for n in range(5)]
    store = JobStore(str(tmp_path), "job")
    store.write_plan({"units": units})
    for n, unit in enumerate(units):
        if n != 3:  # not rendered yet
            store.save(unit["stem"], np.full((4, 4, 3), 10 * (n + 1), np.uint8),
                       {**unit, "status": "done"})
    collect(str(tmp_path))
    grid = iio.imread(tmp_path / "job" / "grid.png")
    step = 4 + GRID_GAP  # 5 units: 2 rows of 3
    assert grid.shape == (2 * 4 + GRID_GAP, 3 * 4 + 2 * GRID_GAP, 3)
    corners = [grid[row * step, column * step, 0] for row in range(2) for column in range(3)]
    assert corners == [10, 20, 30, MISSING_TILE, 50, GRID_BACKGROUND]


@given(st.integers(1, 300), st.integers(1, 64))
def test_batches_are_balanced_and_never_exceed_the_requested_size(units, batch_size):
    size = balanced_batch_size(units, batch_size)
    batches = -(-units // size)
    assert size <= batch_size
    assert batches == -(-units // batch_size)
    assert batches * size - units < batches  # at most one padded image per batch


@given(st.integers(1, 2**30), st.integers(0, 2**40), st.sampled_from(["cpu", "gpu"]))
def test_auto_batch_size_fits_in_half_the_free_memory(image_bytes, free_bytes, kind):
    size = auto_batch_size(image_bytes, free_bytes, kind)
    per_image, budget = image_bytes * MEMORY_PER_ACTIVATION_BYTE, free_bytes * MEMORY_SHARE
    assert 1 <= size <= LARGEST_AUTO_BATCH[kind]
    if size > 1:  # one image is the floor even when nothing fits
        assert size * per_image <= budget
    if size < LARGEST_AUTO_BATCH[kind]:  # and it takes all the room it is given
        assert (size + 1) * per_image > budget


def test_fourier_images_start_grey_and_stay_in_range():
    param = Parameterization(32)
    images = param.to_image(param.initial([0, 1])).numpy()
    assert images.shape == (2, 32, 32, 3)
    assert abs(images.mean() - 0.5) < 0.05 and images.min() >= 0 and images.max() <= 1


@settings(max_examples=10, deadline=None)
@given(st.lists(st.integers(0, 2**31 - 1), min_size=1, max_size=3), st.integers(0, 500))
def test_the_resampler_and_its_gradient_match_tensorflows_resampling_op(seeds, step):
    images = tf.random.stateless_uniform([len(seeds), 24, 24, 3], seed=[step, 1])
    upstream = tf.random.stateless_normal(images.shape, seed=[step, 2])
    draws = hash_uniform(tf.constant(seeds, tf.int64), tf.constant(step), 7)
    matrices = Transforms.standard()._matrices(draws, 24)

    def transformed_and_gradient(transform):
        with tf.GradientTape() as tape:
            tape.watch(images)
            seen = transform(images)
        return seen.numpy(), tape.gradient(seen, images, output_gradients=upstream).numpy()

    ours = transformed_and_gradient(lambda images: resample(images, matrices))
    theirs = transformed_and_gradient(lambda images: tf.raw_ops.ImageProjectiveTransformV3(
        images=images, transforms=matrices, output_shape=[24, 24], fill_value=0.5,
        interpolation="BILINEAR", fill_mode="CONSTANT"))
    for mine, expected in zip(ours, theirs):
        np.testing.assert_allclose(mine, expected, atol=1e-4)


def test_every_regulariser_a_job_file_may_name_penalises_a_noisy_image():
    from fvcli.config.schema import REGULARIZERS
    from fvcli.engine.regularizers import penalty

    noisy = tf.constant(np.random.default_rng(0).uniform(size=(2, 16, 16, 3)), tf.float32)
    grey = tf.fill([2, 16, 16, 3], 0.5)
    for name in REGULARIZERS:
        assert (penalty(noisy, {name: 1.0}).numpy() > penalty(grey, {name: 1.0}).numpy()).all()
