"""The default model's real loading path (hub.load of the TF-Hub handle), offline.

A thin random-weight InceptionV1 with TF-Slim names sits in TFHUB_CACHE_DIR under
sha1(handle), exactly where tensorflow_hub puts a download.
"""

import dataclasses
import json

import numpy as np
import pytest
import tensorflow as tf

from fvcli.config import RenderSettings
from fvcli.engine.objectives import Objective, Term
from fvcli.engine.renderer import Renderer
from fvcli.models.network import Forward
from fvcli.engine.transforms import Transforms
from fvcli.config.model_names import DEFAULT_HANDLE
from support.helpers import render_units, run

pytestmark = pytest.mark.slow  # builds a TF-Slim InceptionV1


def test_layers_lists_slim_names_with_distill_aliases(hub_cache):
    result = run("layers")
    assert result.exit_code == 0, result.output
    rows = {line.split()[0]: line.split() for line in result.output.splitlines()[2:]}
    assert rows["Mixed_4b"][1] == "mixed4a"
    assert rows["Mixed_5c"][1] == "mixed5b"
    assert rows["logits"][-1] == "1001"
    assert "Mixed_4b/Branch_1/Conv2d_0b_3x3" not in rows  # branches only with --all
    assert DEFAULT_HANDLE in result.output


def test_concat_pre_activation_is_what_the_relus_turn_into_the_layer(hub_network):
    layer = hub_network.layer("mixed4a")
    assert len(layer.pre_activation) == 4  # one per branch
    assert layer.relu_of_pre  # so a render wanting both fetches the pre-activation only
    images = tf.random.uniform([2, 96, 96, 3], seed=1)
    pre = hub_network.forward((layer.name,), (layer.name,), 96)(images)["Mixed_4b/pre"]
    activation = hub_network.forward((layer.name,), (), 96)(images)["Mixed_4b"]
    np.testing.assert_allclose(tf.nn.relu(pre), activation, atol=1e-5)
    assert np.any(pre.numpy() < 0)


def test_inner_layers_take_any_size_and_logits_are_fed_at_224(hub_network):
    inner = hub_network.forward(("Mixed_5c",), (), 128)
    assert not inner.resizes
    assert inner(tf.zeros([3, 128, 128, 3]))["Mixed_5c"].shape[0] == 3
    logits = hub_network.forward(("logits",), (), 128)
    assert logits.resizes
    assert logits(tf.zeros([2, 128, 128, 3]))["logits"].shape == (2, 1001)


def test_channel_objective_rises_through_the_hub_graph(hub_network):
    objective = Objective((Term("channel", "Mixed_4b"),))
    start = render_units(hub_network, objective, [10, 20], steps=1, size=96)
    alive = [c for c, value in zip([10, 20], start.objective_start) if value > 0]
    result = render_units(hub_network, objective, [10, 20], steps=48, size=96,
                          transforms=Transforms())
    assert alive, "expected live channels on noise"
    assert np.all(result.objective_end > 2 * result.objective_start + 0.01)


def test_render_through_the_default_handle_writes_a_manifest(hub_cache, tmp_path):
    jobs = tmp_path / "jobs.yaml"
    jobs.write_text("defaults: {size: 64, steps: 8, batch_size: 4}\n"
                    "jobs:\n  - name: mixed4a\n    objective: channel\n    layer: mixed4a\n"
                    "    channels: 0-4\n")
    result = run("render", jobs, "--out", tmp_path / "out", "--quiet")
    assert result.exit_code == 0, result.output
    manifest = json.loads((tmp_path / "out" / "mixed4a" / "manifest.json").read_text())
    assert manifest["model"]["source"] == DEFAULT_HANDLE
    assert [unit["channel"] for unit in manifest["units"]] == [0, 1, 2, 3, 4]
    assert manifest["units"][3]["png"] == "units/Mixed_4b_0003.png"


def test_unreachable_handle_says_how_to_work_offline(hub_cache):
    result = run("layers", "--model", "http://127.0.0.1:9/no/model/1")
    assert result.exit_code == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert "network is unreachable" in lines[0] and "fvcli model fetch" in lines[0]


def _fresh(network):
    """The network with none of the forward functions other tests built."""
    return dataclasses.replace(network, _forward_cache={})


def _built_forwards(network) -> int:
    return sum(isinstance(value, Forward) for value in network._forward_cache.values())


@pytest.mark.parametrize("layer, size", [("Mixed_4b", 128), ("Mixed_5c", 96), ("logits", 128)])
def test_flops_read_off_the_frozen_graph_equal_the_pruned_forwards(hub_network, layer, size):
    # forward_flops counts on the frozen graph without pruning it; the logits' head takes
    # only 224 px, so they are counted through the Forward that feeds them at 224
    network = _fresh(hub_network)
    counted = network.forward_flops(layer, size)
    assert _built_forwards(network) == (1 if layer == "logits" else 0)
    assert counted == network.forward((layer,), (), size).flops() > 0
    if layer == "logits":
        assert counted == network.forward_flops("logits", 224)


def test_a_render_evaluates_with_the_forward_it_steps_with(hub_network):
    # the step fetches Mixed_4b's pre-activation (for revival), the evaluation the layer:
    # one prune and fold serves both, and gives the layer as the network computes it
    network = _fresh(hub_network)
    renderer = Renderer(network, Objective((Term("channel", "Mixed_4b"),)),
                        RenderSettings(size=80, steps=1, revive=True), 2)
    assert renderer._evaluate_forward is renderer._forward
    assert _built_forwards(network) == 1
    images = tf.random.uniform([2, 80, 80, 3], seed=3)
    own = network.forward(("Mixed_4b", "Mixed_5c"), (), 80)(images)["Mixed_4b"]
    np.testing.assert_allclose(renderer._evaluate_forward(images)["Mixed_4b"], own,
                               atol=1e-5)
    # a step without revival gets a forward without the pre-activation it would revive by
    plain_step = network.forward(("Mixed_4b",), (), 80)
    assert plain_step is not renderer._forward and "Mixed_4b/pre" not in plain_step(images)


def test_a_job_whose_pass_needs_the_model_size_says_so_for_every_term(hub_cache, tmp_path):
    # one pass through the network serves every term of a job: the logits need 224 px,
    # so the Mixed_4b term is read at 224 too, and its record says so
    jobs = tmp_path / "jobs.yaml"
    jobs.write_text("defaults: {size: 64, steps: 2}\njobs:\n  - name: mix\n    objective:\n"
                    "      - {objective: channel, layer: Mixed_4b, channel: 1}\n"
                    "      - {objective: logit, class: 3, weight: 0.1}\n"
                    "  - name: inner\n    objective: channel\n    layer: Mixed_4b\n"
                    "    channels: [1]\n")
    result = run("render", jobs, "--out", tmp_path / "out", "--quiet")
    assert result.exit_code == 0, result.output
    mix = json.loads((tmp_path / "out" / "mix" / "job.json").read_text())
    assert [term.get("resized_to") for term in mix["job"]["objective"]] == [224, 224]
    inner = json.loads((tmp_path / "out" / "inner" / "job.json").read_text())
    assert "resized_to" not in inner["job"]["objective"][0]
