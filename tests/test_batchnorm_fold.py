"""Folding inference BatchNorm into the convolution before it changes no value fvcli reads,
nor the gradient it follows, beyond float32 rounding: each check runs TensorFlow's own
unfolded graph next to the folded one on the same images."""

import numpy as np
import pytest
import tensorflow as tf

from fvcli.models.batchnorm import fold_batch_norms
from fvcli.models.graph import prune, sub_graph

SIZE = 64
# float32 reorders the sums of a folded convolution; through a deep random network that
# stays well under this fraction of the largest value compared
TOLERANCE = 1e-4
BATCH_NORM_OPS = ("FusedBatchNorm", "FusedBatchNormV3")


def _values_and_gradient(network, fetches: list[str], size: int, fold: bool):
    """The fetched tensors on two random images, and the gradient of a fixed weighted sum
    of them with respect to the images, differentiated as fvcli does (tf.gradients)."""
    graph_def = network.graph_def
    if fold:
        graph_def = fold_batch_norms(graph_def, network.input_name, fetches)
    pruned = prune(graph_def, network.input_name, fetches)
    channels = network.input_channels
    images = tf.constant(np.random.default_rng(0).uniform(size=(2, size, size, channels)),
                         tf.float32)

    @tf.function
    def run(images):
        values = pruned(images)
        objective = tf.add_n([tf.reduce_sum(value * tf.cos(tf.reshape(
            tf.range(tf.size(value), dtype=tf.float32), tf.shape(value)))) for value in values])
        return values, tf.gradients(objective, images)[0]

    values, gradient = run(images)
    return [value.numpy() for value in values], gradient.numpy()


def _differences(network, fetches: list[str], size: int = SIZE) -> dict[str, tuple]:
    """{fetched tensor or "gradient": (max abs difference, that / max abs value)} between
    the folded graph and TensorFlow's unfolded one."""
    theirs, their_gradient = _values_and_gradient(network, fetches, size, fold=False)
    ours, our_gradient = _values_and_gradient(network, fetches, size, fold=True)
    result = {}
    for name, mine, reference in zip(fetches + ["gradient"], ours + [our_gradient],
                                     theirs + [their_gradient]):
        assert mine.shape == reference.shape
        difference = float(np.abs(mine - reference).max())
        result[name] = (difference, difference / float(np.abs(reference).max()))
    print({name: f"abs {d:.2e} rel {r:.2e}" for name, (d, r) in result.items()})
    return result


def _assert_close(differences: dict) -> None:
    for name, (_, relative) in differences.items():
        assert relative < TOLERANCE, (name, differences)


def _imported(network, fetches: list[str], fold: bool):
    """The part of the network's graph that fvcli imports for ``fetches``."""
    if fold:
        return fold_batch_norms(network.graph_def, network.input_name, fetches)
    return sub_graph(network.graph_def, [name.split(":")[0] for name in fetches])


def _op_types(network, fetches: list[str], fold: bool) -> list[str]:
    return [node.op for node in _imported(network, fetches, fold).node]


def _fetches(network, names: list[str]) -> list[str]:
    """The tensors of layers ``names`` and of their pre-activations, as renders fetch them."""
    fetches = []
    for name in names:
        layer = network.layer(name)
        fetches.extend([layer.tensor, *layer.pre_activation])
    return fetches


# --------------------------------------------------------------------------- InceptionV1


@pytest.mark.slow  # builds a TF-Slim InceptionV1
def test_inception_v1_folds_every_batch_norm_and_keeps_values_and_gradients(hub_network):
    fetches = _fetches(hub_network, ["Mixed_3b", "Mixed_4b", "logits"])
    assert BATCH_NORM_OPS[1] in _op_types(hub_network, fetches, fold=False)
    assert not set(BATCH_NORM_OPS) & set(_op_types(hub_network, fetches, fold=True))
    _assert_close(_differences(hub_network, fetches, size=224))  # the logits need 224


@pytest.mark.slow
def test_inception_v1_pre_activation_keeps_its_name_after_folding(hub_network):
    """Renders read a layer's pre-activation by the BatchNorm's output tensor."""
    layer = hub_network.layer("Mixed_4b")
    forward = hub_network.forward((layer.name,), (layer.name,), 96)
    values = forward(tf.random.uniform([1, 96, 96, 3], seed=1))
    np.testing.assert_allclose(values["Mixed_4b"], tf.nn.relu(values["Mixed_4b/pre"]))
    assert values["Mixed_4b/pre"].shape[-1] == layer.channels


# --------------------------------------------------------------------------- Keras


def _randomise_batch_norms(model) -> None:
    """Moving statistics, scales and offsets far from Keras' 0 and 1, so that a wrong fold
    would show."""
    import keras

    generator = np.random.default_rng(3)
    for layer in model.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            values = []
            for weight in layer.weights:
                shape, name = weight.shape, weight.path.split("/")[-1]
                if name in ("gamma", "moving_variance"):
                    values.append(np.exp(generator.uniform(-0.7, 0.7, shape)))
                else:  # beta, moving_mean
                    values.append(generator.normal(0, 0.3, shape))
            layer.set_weights(values)


def _keras_network(folder, model):
    from fvcli.models.loading import load_network

    _randomise_batch_norms(model)
    path = folder / f"{model.name}.keras"
    model.save(path)
    return load_network(str(path), table_size=SIZE)


@pytest.fixture(scope="module")
def small_keras(tmp_path_factory):
    """A few layers of each kind Keras folds: Conv2D with a bias, DepthwiseConv2D without,
    and Dense, each followed by BatchNormalization."""
    import keras

    keras.utils.set_random_seed(5)
    image = keras.Input((None, None, 3))
    x = keras.layers.Conv2D(8, 3, strides=2, name="conv")(image)
    x = keras.layers.ReLU(name="conv_relu")(keras.layers.BatchNormalization(name="conv_bn")(x))
    x = keras.layers.DepthwiseConv2D(3, depth_multiplier=2, use_bias=False, name="depthwise")(x)
    x = keras.layers.ReLU(name="depthwise_relu")(
        keras.layers.BatchNormalization(name="depthwise_bn")(x))
    x = keras.layers.Dense(6, name="dense")(keras.layers.GlobalAveragePooling2D()(x))
    x = keras.layers.BatchNormalization(name="dense_bn")(x)
    return _keras_network(tmp_path_factory.mktemp("small_keras"), keras.Model(image, x,
                                                                               name="small"))


def _batch_norm_products(network, fetches: list[str], fold: bool) -> int:
    """How many of Keras' BatchNorm products (x times γ/√(σ²+ε)) the imported graph runs."""
    return sum(node.op == "Mul" and node.name.endswith("batchnorm/mul_1")
               for node in _imported(network, fetches, fold).node)


def test_keras_conv_depthwise_and_dense_batch_norms_fold_exactly(small_keras):
    fetches = _fetches(small_keras, ["conv_relu", "depthwise_relu", "logits"])
    assert _batch_norm_products(small_keras, fetches, fold=False) == 3
    assert _batch_norm_products(small_keras, fetches, fold=True) == 0
    _assert_close(_differences(small_keras, fetches, size=32))


def test_a_convolution_whose_own_output_is_read_keeps_it(small_keras):
    """Reading the convolution's output (before its BatchNorm) leaves that pair unfolded,
    so the value read is the convolution's; the other BatchNorms still fold."""
    fetches = _fetches(small_keras, ["conv", "conv_bn", "depthwise_relu"])
    assert _batch_norm_products(small_keras, fetches, fold=True) == 1
    differences = _differences(small_keras, fetches, size=32)
    assert differences[fetches[0]][0] == 0.0  # the very same ops as TensorFlow's graph
    _assert_close(differences)


@pytest.mark.slow  # builds ResNet50 and MobileNetV2
@pytest.mark.parametrize("builder, options, read", [
    # ResNet50 up to its third stage only (its Dense logits fold as the small model's
    # does): a third of the graph to import four times
    ("ResNet50", {"classes": 10}, ["conv3_block2_out"]),
    ("MobileNetV2", {"classes": 10, "alpha": 0.35}, ["block_5_project_BN", "logits"]),
])
def test_keras_applications_fold_exactly(tmp_path, builder, options, read):
    import keras

    keras.utils.set_random_seed(0)
    model = getattr(keras.applications, builder)(weights=None, input_shape=(SIZE, SIZE, 3),
                                                 **options)
    network = _keras_network(tmp_path, model)
    fetches = _fetches(network, read)
    assert _batch_norm_products(network, fetches, fold=True) == 0
    assert _batch_norm_products(network, fetches, fold=False) > 10
    _assert_close(_differences(network, fetches))


def test_a_network_can_run_unfolded_for_comparison(small_keras):
    """The bench measures the unfolded network through the same Forward renders use."""
    import dataclasses

    unfolded = dataclasses.replace(small_keras, fold_batch_norm=False, _forward_cache={})

    def products(network) -> int:
        pruned = network.forward(("depthwise_relu",), (), 32)._pruned
        return sum(op.type == "Mul" and op.name.endswith("batchnorm/mul_1")
                   for op in pruned.graph.get_operations())
    assert (products(unfolded), products(small_keras)) == (2, 0)
