"""Bring your own model: Keras application architectures (weights=None, nothing is
downloaded), by their own layer names, with their own preprocessing."""

import json

import numpy as np
import pytest
import tensorflow as tf
import yaml

from support.helpers import on_cpu, run

pytestmark = pytest.mark.slow  # builds five keras.applications networks

SIZE = 64
# name: (builder keyword arguments, a middle layer, preprocessing as keras.applications has it)
MODELS = {
    "vgg16": ("VGG16", {"include_top": False}, "block3_conv3", "caffe"),
    "resnet50": ("ResNet50", {"classes": 10}, "conv3_block2_out", "caffe"),
    "mobilenetv2": ("MobileNetV2", {"classes": 10, "alpha": 0.35}, "block_2_expand_relu", "tf"),
    "efficientnetb0": ("EfficientNetB0", {"classes": 10}, "block2b_expand_activation",
                       "{scale: 255}"),
    "convnexttiny": ("ConvNeXtTiny", {"classes": 10}, "convnext_tiny_stage_1_block_1_gelu",
                     "{scale: 255}"),
}


RELU_MODELS = {"vgg16", "resnet50", "mobilenetv2"}


@pytest.fixture(scope="session")
def keras_models(tmp_path_factory):
    import keras

    folder = tmp_path_factory.mktemp("keras_models")
    keras.utils.set_random_seed(0)  # the same random weights in every run
    paths = {}
    for name, (builder, options, _, _) in MODELS.items():
        model = getattr(keras.applications, builder)(weights=None, input_shape=(SIZE, SIZE, 3),
                                                     **options)
        paths[name] = folder / f"{name}.keras"
        model.save(paths[name])
        paths[name + ":saved"] = folder / f"{name}-savedmodel"
        model.export(paths[name + ":saved"], verbose=False)  # a plain TF SavedModel
        paths[name + ":shapes"] = {layer.name: tuple(layer.output.shape[1:])
                                   for layer in model.layers[1:]}
    return paths


FORMATS = ["", ":saved"]  # the .keras file, and the SavedModel exported from it
CASES = [(name, saved) for name in MODELS for saved in FORMATS]


@pytest.fixture(scope="module")
def networks(keras_models):
    """``networks(name, saved)``: each model in each format, loaded once for the tests of
    this module (the command line's own loading of such files is tested below, and a load
    is most of the time a test of these takes), with its layer table at the render size."""
    from fvcli.models.loading import load_network

    loaded = {}

    def network(name: str, saved: str):
        if name + saved not in loaded:
            spec = {"path": str(keras_models[name + saved]),
                    "preprocess": yaml.safe_load(MODELS[name][3])}
            loaded[name + saved] = load_network(spec, table_size=SIZE)
        return loaded[name + saved]
    return network


@pytest.mark.parametrize("name, saved", CASES)
def test_layers_are_listed_by_keras_name_with_shapes_at_the_render_size(keras_models, networks,
                                                                        name, saved):
    network = networks(name, saved)
    names = {layer.name for layer in network.top_level_layers()}
    layer = MODELS[name][2]
    assert network.layer(layer).shape == keras_models[name + ":shapes"][layer]
    assert layer in names
    assert not any(row.endswith("_1") and row[:-2] in names for row in names)  # no trace suffix


@pytest.mark.parametrize("name, saved", CASES)
def test_a_middle_channel_renders_and_rises_well_above_its_start(keras_models, networks, name,
                                                                 saved, tmp_path):
    from fvcli.config import load_job_file
    from fvcli.engine.hardware import resolve_device
    from fvcli.engine.renderer import RendererCache
    from fvcli.sweep.plan import plan_job_file
    from fvcli.sweep.runner import SweepRunner

    network = networks(name, saved)
    jobs = tmp_path / "jobs.yaml"
    jobs.write_text(f"defaults: {{size: {SIZE}, steps: 96, batch_size: 2, transforms: none}}\n"
                    f"jobs:\n  - {{name: m, objective: channel, layer: {MODELS[name][2]}, "
                    "channels: [0, 1]}\n")
    planned = plan_job_file(load_job_file(str(jobs)), network, on_cpu)
    renderers = RendererCache(network, resolve_device("cpu"))
    report = SweepRunner(renderers, str(tmp_path / "out"), {"source": name}, quiet=True).run(
        planned)
    assert report.rendered == 2 and not report.failed
    for record_path in (tmp_path / "out" / "m" / "units").glob("*.json"):
        record = json.loads(record_path.read_text())
        assert record["objective_end"] > 2 * abs(record["objective_start"]) + 1e-3, record
    manifest = json.loads((tmp_path / "out" / "m" / "manifest.json").read_text())
    (term,) = manifest["job"]["objective"]
    assert term["pre_activation"] == (name in RELU_MODELS)  # swish and GELU have none


def test_caffe_preprocessing_feeds_vgg16_exactly_what_keras_would():
    import keras

    from fvcli.models.network import _preprocessed
    from fvcli.models.preprocess import NAMED

    images = np.random.default_rng(0).uniform(size=(2, 8, 8, 3)).astype(np.float32)
    ours = _preprocessed(tf.constant(images), NAMED["caffe"]).numpy()
    theirs = keras.applications.vgg16.preprocess_input(images * 255.0)
    np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=1e-3)
    ours_torch = _preprocessed(tf.constant(images), NAMED["torch"]).numpy()
    theirs_torch = keras.applications.imagenet_utils.preprocess_input(images * 255.0,
                                                                      mode="torch")
    np.testing.assert_allclose(ours_torch, theirs_torch, rtol=1e-5, atol=1e-4)


def test_models_fvcli_cannot_render_are_one_line(tmp_path):
    import keras

    two = [keras.Input((SIZE, SIZE, 3)), keras.Input((SIZE, SIZE, 3))]
    added = keras.layers.Add()([keras.layers.Conv2D(4, 3)(x) for x in two])
    keras.Model(two, keras.layers.GlobalAveragePooling2D()(added)).save(tmp_path / "two.keras")
    four = keras.Input((SIZE, SIZE, 4))
    keras.Model(four, keras.layers.GlobalAveragePooling2D()(keras.layers.Conv2D(4, 3)(four))
                ).save(tmp_path / "rgba.keras")
    for model, message in (("two.keras", "takes 2 inputs"), ("rgba.keras", "x 3 (RGB)")):
        result = run("layers", "--model", tmp_path / model)
        assert result.exit_code == 2 and "Traceback" not in result.output
        (line,) = result.stderr.strip().splitlines()
        assert message in line, line


def test_a_grayscale_model_renders_grayscale_images(tmp_path):
    import imageio.v3 as iio
    import keras

    keras.utils.set_random_seed(1)
    grey = keras.Input((None, None, 1))
    features = keras.layers.Conv2D(8, 3, activation="relu", name="features")(grey)
    logits = keras.layers.Dense(3)(keras.layers.GlobalAveragePooling2D()(features))
    keras.Model(grey, logits).save(tmp_path / "grey.keras")
    jobs = tmp_path / "jobs.yaml"
    jobs.write_text(f"model: {{path: {tmp_path / 'grey.keras'}}}\n"
                    "defaults: {size: 32, steps: 32, batch_size: 8}\n"
                    "jobs:\n  - {name: g, objective: channel, layer: features, channels: all}\n")
    result = run("render", jobs, "--out", tmp_path / "out")
    assert result.exit_code == 0, result.output
    starts, ends = [], []
    for png in (tmp_path / "out" / "g" / "units").glob("*.png"):
        assert iio.imread(png).shape == (32, 32)  # one channel: a grey PNG
        record = json.loads(png.with_suffix(".json").read_text())
        starts.append(record["objective_start"])
        ends.append(record["objective_end"])
    # channels whose 3x3 filter is all negative cannot fire on any image in [0, 1]; the
    # others rise
    assert len(ends) == 8 and np.mean(ends) > 1.2 * np.mean(starts) > 0
    assert iio.imread(tmp_path / "out" / "g" / "grid.png").shape[-1] == 3
    manifest = json.loads((tmp_path / "out" / "g" / "manifest.json").read_text())
    assert manifest["job"]["param"]["channels"] == 1


def test_exported_graphs_show_each_modern_activation_by_its_layer_name(tmp_path):
    import keras

    keras.utils.set_random_seed(2)
    image = keras.Input((SIZE, SIZE, 3))
    features = keras.layers.Conv2D(8, 3, padding="same", name="conv")(image)
    activations = [keras.layers.Activation(kind, name=name)(features) for kind, name in (
        ("relu", "relu_act"), ("swish", "swish_act"), ("gelu", "gelu_act"),
        ("hard_swish", "hard_swish_act"))]
    pooled = keras.layers.GlobalAveragePooling2D()(features)
    gate = keras.layers.Dense(8, activation="sigmoid")(pooled)
    gated = keras.layers.Multiply(name="sigmoid_gate")(
        [features, keras.layers.Reshape((1, 1, 8))(gate)])
    merged = keras.layers.Concatenate()(activations + [gated])
    logits = keras.layers.Dense(3)(keras.layers.GlobalAveragePooling2D()(merged))
    keras.Model(image, logits).export(tmp_path / "exported", verbose=False)
    result = run("layers", "--model", tmp_path / "exported", "--size", SIZE)
    assert result.exit_code == 0, result.output
    names = {line.split()[0] for line in result.output.splitlines()[2:]}
    assert {"relu_act", "swish_act", "gelu_act", "hard_swish_act", "sigmoid_gate"} <= names


def test_forward_flops_count_depthwise_and_plain_convolutions(tmp_path):
    import keras

    from fvcli.models.loading import load_network

    image = keras.Input((None, None, 3))
    depthwise = keras.layers.DepthwiseConv2D(3, depth_multiplier=2, padding="same",
                                             activation="relu", name="depthwise")(image)
    # one input channel per group, as ConvNeXt's: fvcli rewrites it as a depthwise one
    grouped = keras.layers.Conv2D(6, 3, groups=6, padding="same", activation="relu",
                                  name="grouped")(depthwise)
    plain = keras.layers.Conv2D(4, 1, activation="relu", name="plain")(grouped)
    logits = keras.layers.Dense(2)(keras.layers.GlobalAveragePooling2D()(plain))
    keras.Model(image, logits).save(tmp_path / "convs.keras")
    network = load_network(str(tmp_path / "convs.keras"))
    pixels = 16 * 16
    depthwise_flops = 2 * pixels * 6 * 3 * 3  # 6 outputs, each reads one input channel
    grouped_flops = 2 * pixels * 6 * 3 * 3
    plain_flops = 2 * pixels * 4 * 6
    assert network.forward_flops("depthwise", 16) == depthwise_flops
    assert network.forward_flops("grouped", 16) == depthwise_flops + grouped_flops
    assert network.forward_flops("plain", 16) == depthwise_flops + grouped_flops + plain_flops
