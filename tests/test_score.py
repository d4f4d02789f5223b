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


# A unit that a synthetic pattern drives through its own lower-layer channel. "low" has
# luminance edge detectors and a colour detector, relu(CHROMA * (red - green)), that grey
# images never drive; "mid" unit 0 (A) sums the edges, unit 1 (B) the same edges plus the
# colour channel. On the grey folder A and B are the same function; B's visualization goes
# for colour, a path no natural image of the folder takes.
CHROMA, B_COLOUR = 8.0, 4.0


@pytest.fixture(scope="session")
def two_path_model(tmp_path_factory):
    import keras

    inputs = keras.Input((None, None, 3))
    low = keras.layers.Conv2D(4, 3, padding="same", activation="relu", name="low")(inputs)
    mid = keras.layers.Conv2D(2, 1, activation="relu", name="mid")(low)
    pooled = keras.layers.GlobalAveragePooling2D()(mid)
    logits = keras.layers.Dense(2, name="logits")(pooled)
    model = keras.Model(inputs, logits)
    edge = np.array([[-1, -1, -1], [0, 0, 0], [1, 1, 1]], np.float32) / 3
    kernel = np.zeros((3, 3, 3, 4), np.float32)
    for colour in range(3):
        kernel[:, :, colour, 0] = edge       # dark above light
        kernel[:, :, colour, 1] = -edge      # light above dark
        kernel[:, :, colour, 2] = edge.T     # dark left of light
    kernel[1, 1, 0, 3], kernel[1, 1, 1, 3] = CHROMA, -CHROMA  # red, not green
    model.get_layer("low").set_weights([kernel, np.zeros(4, np.float32)])
    mixing = np.array([[1, 1], [1, 1], [1, 1], [0, B_COLOUR]], np.float32)
    model.get_layer("mid").set_weights([mixing[None, None], np.zeros(2, np.float32)])
    model.get_layer("logits").set_weights([np.eye(2, dtype=np.float32),
                                           np.zeros(2, np.float32)])
    path = tmp_path_factory.mktemp("two_path") / "two_path.keras"
    model.save(path)
    return path


@pytest.mark.slow
def test_a_unit_reached_by_a_path_natural_images_never_take_is_flagged(two_path_model,
                                                                       demo_scores, tmp_path):
    grey = write_folder(tmp_path / "grey", 24, seed=3, grey=True)
    result = run("score", job_file(tmp_path, f"{{path: {two_path_model}}}", "mid", "[0, 1]",
                                   steps=64),
                 "--images", grey, "--out", tmp_path / "out", "--quiet")
    assert result.exit_code == 0, result.output
    record = scores(tmp_path / "out")
    a, b = record["units"]
    print(f"natural_path: A {a['natural_path']:.3f}, B {b['natural_path']:.3f}")
    assert record["natural_path"]["layers"] == ["low"]
    assert not a["flagged"] and b["flagged"]
    assert a["natural_path"] > record["natural_path"]["threshold"] > b["natural_path"]
    # the same function on the folder: the same top images, so the same MIS of examples
    assert a["mis_examples"] == pytest.approx(b["mis_examples"])
    # while the trained demo's units, whose pictures are of what they see in textures, are
    # not flagged, nor near the threshold
    trained = scores(demo_scores)["units"]
    print("natural_path of trained conv3 units:", sorted(u["natural_path"] for u in trained))
    assert not any(unit["flagged"] for unit in trained)
    assert min(unit["natural_path"] for unit in trained) > b["natural_path"] + 0.2


@pytest.mark.slow
def test_activation_ratio_is_there_for_units_the_folder_drives(demo_scores):
    # on the scalar the objective reports (the post-ReLU mean), which is positive on some
    # texture for every unit the textures drive at all
    units = scores(demo_scores)["units"]
    assert sum(unit["activation_ratio"] is not None for unit in units) >= len(units) - 1


KINDS_JOBS = """\
model: demo
defaults: {size: 32, steps: 8, batch_size: 8, transforms: none}
jobs:
  - {name: conv3, objective: channel, layer: conv3, channels: 0-3}
  - {name: centre, objective: neuron, layer: conv2, channels: [1, 2]}
  - {name: dirs, objective: direction, layer: conv3, vectors: {random: {seed: 1, count: 2}}}
  - {name: classes, objective: probability, classes: [0, 3], negative: true}
  - {name: div, objective: channel, layer: conv3, channels: [1, 2],
     diversity: {count: 2, layer: conv3}}
"""


@pytest.fixture(scope="session")
def kinds_run(tmp_path_factory, textures):
    folder = tmp_path_factory.mktemp("kinds")
    (folder / "jobs.yaml").write_text(KINDS_JOBS)
    result = run("score", folder / "jobs.yaml", "--images", textures, "--out", folder / "out")
    assert result.exit_code == 0, result.output
    return folder, result


@pytest.mark.slow
def test_scores_json_has_every_unit_keyed_as_its_record_with_numbers_in_range(kinds_run):
    from fvcli.outputs.scores import read_scores

    folder, result = kinds_run
    for job in ("conv3", "centre", "dirs", "classes", "div"):
        job_folder = folder / "out" / job
        record = json.loads((job_folder / "scores.json").read_text())
        plan = json.loads((job_folder / "job.json").read_text())
        assert [unit["stem"] for unit in record["units"]] == [u["stem"] for u in plan["units"]]
        assert record["images"] == 48 and record["mis"]["k"] == 9
        assert read_scores(str(job_folder)) == {unit["stem"]: unit for unit in record["units"]}
        for unit in record["units"]:
            rendered = json.loads((job_folder / "units" / f"{unit['stem']}.json").read_text())
            for key in ("layer", "channel", "class", "direction"):
                assert unit.get(key) == rendered.get(key), (job, key)
            assert (job_folder / unit["png"]).is_file()
            for key in ("mis_examples", "mis_visualization"):
                assert 0.0 <= unit[key] <= 1.0, (job, key, unit[key])
            assert unit["activation_ratio"] is None or np.isfinite(unit["activation_ratio"])
            assert unit["natural_path"] is None or -1 <= unit["natural_path"] <= 1
            assert unit["flagged"] == (unit["natural_path"] is not None
                                       and unit["natural_path"] < record["natural_path"]
                                       ["threshold"])
            if job in ("conv3", "dirs", "div"):  # rendered and above the first layer
                assert unit["natural_path"] is not None and unit["mis_visualization"] is not None
            negative = "" if job == "classes" else "_neg"  # classes' job is the negative one
            twin = unit["stem"] + negative if negative else unit["stem"][:-len("_neg")]
            assert (job_folder / "units" / f"{twin}.png").is_file()
    assert "images scored" in result.output


def test_a_diversity_row_is_read_as_its_images(tmp_path):
    from fvcli.engine.scoring import load_image
    from fvcli.outputs.files import GRID_GAP, make_row

    tiles = [np.full((8, 8, 3), value, np.uint8) for value in (0, 100, 200)]
    iio.imwrite(tmp_path / "row.png", make_row(tiles))
    for part, value in enumerate((0, 100, 200)):
        image = load_image(str(tmp_path / "row.png"), 8, 3, part, 3, GRID_GAP)
        assert np.allclose(image, value / 255), part  # no white gap, no neighbour


@pytest.mark.slow
def test_a_shard_without_units_of_a_job_does_not_score_it(textures, tmp_path):
    path = tmp_path / "jobs.yaml"
    path.write_text("model: demo\ndefaults: {size: 32, steps: 4, transforms: none}\njobs:\n"
                    "  - {name: one, objective: channel, layer: conv3, channels: [0]}\n"
                    "  - {name: two, objective: channel, layer: conv3, channels: [1]}\n")
    result = run("score", path, "--images", textures, "--out", tmp_path / "out", "--shard",
                 "1/2", "--quiet", "--judge", JUDGE)
    assert result.exit_code == 0, result.output
    assert result.output.count("images scored") == 1  # one job has this shard's unit


@pytest.mark.slow
def test_two_shards_write_the_scores_json_of_one_run(demo_scores, tmp_path):
    out = tmp_path / "out"
    shutil.copytree(demo_scores, out)
    whole = scores(out)
    shutil.rmtree(out / "units" / "scores")
    (out / "units" / "scores.json").unlink()
    jobs = str(demo_scores.parent / "jobs.yaml")
    common = ("--images", whole["folder"], "--out", out, "--judge", JUDGE, "--quiet")
    first = run("score", jobs, "--shard", "1/2", *common)
    assert first.exit_code == 0, first.output
    assert not (out / "units" / "scores.json").exists()  # half the units: no whole file yet
    second = run("score", jobs, "--shard", "2/2", *common)
    assert second.exit_code == 0, second.output
    sharded = scores(out)
    assert sharded.keys() == whole.keys()
    assert {k: v for k, v in sharded.items() if k != "units"} == {
        k: v for k, v in whole.items() if k != "units"}
    assert len(sharded["units"]) == len(whole["units"])
    for mine, theirs in zip(sharded["units"], whole["units"]):
        assert mine.keys() == theirs.keys()
        for key, value in theirs.items():
            if isinstance(value, float):
                assert mine[key] == pytest.approx(value, abs=1e-5), key
            else:
                assert mine[key] == value, key


@pytest.mark.parametrize("case", ["missing", "empty", "few", "unreadable", "judge-form",
                                  "judge-layer", "judge-model"])
def test_bad_input_is_one_line_and_exit_2_with_nothing_written(case, tmp_path, textures):
    jobs = job_file(tmp_path, "demo", "conv3", "0-1")
    images, judge = textures, []
    if case == "missing":
        images = tmp_path / "nowhere"
    elif case in ("empty", "few"):
        images = write_folder(tmp_path / "few", 5) if case == "few" else tmp_path / "empty"
        images.mkdir(exist_ok=True)
    elif case == "unreadable":  # 22 image files, 12 of them readable: found while streaming,
        images = write_folder(tmp_path / "bad", 12)  # before anything is rendered
        for number in range(10):
            (images / f"broken{number}.png").write_bytes(b"not a png")
    else:
        judge = ["--judge", {"judge-form": "demo", "judge-layer": "demo:conv9",
                             "judge-model": f"{tmp_path / 'no.keras'}:conv"}[case]]
    result = run("score", jobs, "--images", images, "--out", tmp_path / "out", *judge)
    assert result.exit_code == 2, result.output
    line = result.stderr.strip().splitlines()[-1]  # after a warning per unreadable image
    assert len(result.stderr.strip().splitlines()) == (11 if case == "unreadable" else 1)
    assert line.startswith("fvcli: error: ")
    assert ("--judge" if case.startswith("judge") else "--images") in line
    assert not (tmp_path / "out").exists()
