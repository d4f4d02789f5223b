"""The renderer does what it claims, on the trained demo model."""

import numpy as np
import pytest
import tensorflow as tf

from support.helpers import render_units
from fvcli.engine.objectives import Objective, Term
from fvcli.engine.param import Parameterization
from fvcli.engine.transforms import Transforms

pytestmark = pytest.mark.slow  # renders in both precisions, hundreds of steps


@pytest.fixture(params=["fp32", "bf16"])
def precision(request):
    """Every quality test runs in both precisions (bf16: oneDNN's mixed-precision rewrite)."""
    return request.param


def channel_means(network, layer, images, pre=False):
    forward = network.forward((layer,), (layer,) if pre else (), images.shape[1])
    activations = forward(tf.constant(images))
    return tf.reduce_mean(activations[layer + "/pre" if pre else layer], axis=[1, 2]).numpy()


@pytest.mark.parametrize("term, index", [
    (Term("channel", "conv3"), 2),
    (Term("neuron", "conv3"), 5),
    (Term("deepdream", "conv3"), 0),
    (Term("logit"), 1),
    (Term("probability"), 4),
])
def test_every_objective_kind_rises_well_above_its_start(demo_network, precision, term, index):
    result = render_units(demo_network, Objective((term,)), [index], steps=96,
                          precision=precision)
    start, end = result.objective_start[0], result.objective_end[0]
    assert end > start + 0.1, (start, end)
    assert end > 2 * start, (start, end)


def test_each_image_of_a_batch_activates_its_own_channel_most(demo_network, precision):
    channels = [0, 2, 3, 4, 5, 8, 9, 10]
    result = render_units(demo_network, Objective((Term("channel", "conv3"),)), channels,
                          precision=precision)
    means = channel_means(demo_network, "conv3", result.images)[:, channels]  # [image, channel]
    for column, channel in enumerate(channels):
        others = np.delete(means[:, column], column)
        assert means[column, column] > others.max(), f"channel {channel}: {means[:, column]}"


def test_negative_objective_drives_the_pre_activation_below_its_start(demo_network, precision):
    channels = [0, 1, 2, 3]
    objective = Objective((Term("channel", "conv4", negative=True),))
    result = render_units(demo_network, objective, channels, steps=64, precision=precision)
    start = Parameterization(64).to_image(Parameterization(64).initial(range(4))).numpy()
    before = channel_means(demo_network, "conv4", start, pre=True)
    after = channel_means(demo_network, "conv4", result.images, pre=True)
    for row, channel in enumerate(channels):
        assert after[row, channel] < before[row, channel] - 0.5, (before[row], after[row])


def dead_channels_on_start(network, layer, count):
    param = Parameterization(64)
    start = param.to_image(param.initial([0])).numpy()
    means = channel_means(network, layer, start)[0]
    dead = [int(c) for c in np.flatnonzero(means <= 0.0)][:count]
    assert dead, "the demo model has no channel that is zero on noise; pick another layer"
    return dead


def test_a_dead_unit_comes_alive_through_its_pre_activation(demo_network, precision):
    dead = dead_channels_on_start(demo_network, "conv3", 2)
    objective = Objective((Term("channel", "conv3"),))
    revived = render_units(demo_network, objective, dead, seeds=[0] * len(dead), steps=256,
                           precision=precision)
    assert np.all(revived.objective_start <= 0.0)
    assert np.all(revived.objective_end > 0.0), revived.objective_end


def test_without_revival_a_dead_unit_has_no_gradient_and_stays_dead(demo_network, precision):
    dead = dead_channels_on_start(demo_network, "conv3", 2)
    objective = Objective((Term("channel", "conv3"),))
    result = render_units(demo_network, objective, dead, seeds=[0] * len(dead), steps=32,
                          revive=False, transforms=Transforms(), precision=precision)
    assert np.all(result.objective_end <= 0.0), result.objective_end


def test_class_visualisations_are_classified_as_their_class(demo_network, precision):
    classes = list(range(demo_network.logits.channels))
    result = render_units(demo_network, Objective((Term("probability"),)), classes, steps=256,
                          precision=precision)
    logits = demo_network.forward(("logits",), (), 64)(tf.constant(result.images))["logits"]
    probabilities = tf.nn.softmax(logits).numpy()
    for k in classes:
        assert probabilities[k, k] >= 0.9, f"class {k}: {probabilities[k].round(3)}"


def test_a_unit_renders_the_same_whichever_batch_it_is_in(demo_network, precision):
    objective = Objective((Term("channel", "conv2"),))
    alone = render_units(demo_network, objective, [5], seeds=[77], steps=16,
                         precision=precision)
    batched = render_units(demo_network, objective, [1, 5, 9], seeds=[3, 77, 4], steps=16,
                           precision=precision)
    np.testing.assert_allclose(alone.images[0], batched.images[1], atol=2e-3)


def test_bf16_leaves_the_images_in_float32(demo_network):
    # The mixed-precision rewrite is for the network; an image quantised to bf16 (8 bits
    # of mantissa) would mean it reached the parameterisation too.
    result = render_units(demo_network, Objective((Term("channel", "conv3"),)), [1, 2],
                          steps=8, precision="bf16")
    as_bf16 = tf.cast(tf.cast(result.images, tf.bfloat16), tf.float32).numpy()
    assert np.mean(result.images != as_bf16) > 0.5


def test_an_xla_compiled_step_raises_the_objective_too(demo_network):
    result = render_units(demo_network, Objective((Term("channel", "conv3"),)), [2, 5],
                          steps=32, xla=True)
    assert np.all(result.objective_end > result.objective_start + 0.1), result
