"""Feature accentuation: a unit per target and seed image, started from the seed and held
near it in an early layer's activations."""

import json
import shutil

import imageio.v3 as iio
import numpy as np
import pytest

from support.helpers import CHECKOUT, check_index, run

TEXTURES = CHECKOUT / "configs" / "demo-textures"


def test_accentuation_raises_its_unit_and_stays_nearer_the_seed_than_a_plain_render(tmp_path):
    seeds = [str(TEXTURES / "rings_0.png"), str(TEXTURES / "dots_1.png")]
    jobs = tmp_path / "jobs.yaml"
    jobs.write_text(f"""\
model: demo
defaults: {{size: 64, steps: 96, batch_size: 8}}
jobs:
  - {{name: accent, objective: channel, layer: conv3, channels: [3, 13],
     accentuate: {{images: [{seeds[0]}, {seeds[1]}]}}}}
  - {{name: plain-rings, objective: channel, layer: conv3, channels: [3, 13], init: {seeds[0]}}}
  - {{name: plain-dots, objective: channel, layer: conv3, channels: [3, 13], init: {seeds[1]}}}
""")
    result = run("render", jobs, "--out", tmp_path / "out")
    assert result.exit_code == 0, result.output
    accent = tmp_path / "out" / "accent"
    plan = json.loads((accent / "job.json").read_text())
    assert [unit["stem"] for unit in plan["units"]] == [
        "conv3_0003_on_rings_0", "conv3_0003_on_dots_1",
        "conv3_0013_on_rings_0", "conv3_0013_on_dots_1"]
    assert plan["job"]["accentuate"]["layer"] == "conv2"  # a third of the way up
    rises = []
    for channel in (3, 13):
        for seed, plain_job in ((seeds[0], "plain-rings"), (seeds[1], "plain-dots")):
            name = seed.rsplit("/", 1)[1][:-4]
            record = json.loads((accent / "units" / f"conv3_{channel:04d}_on_{name}.json")
                                .read_text())
            assert record["seed_image"] == seed and record["channel"] == channel
            assert record["objective_end"] > record["objective_start"] + 0.05, record
            rises.append(record["objective_end"] / record["objective_start"])
            start = iio.imread(accent / record["seed_png"]).astype(float) / 255
            accentuated = iio.imread(accent / record["png"]).astype(float) / 255
            plain = iio.imread(tmp_path / "out" / plain_job / "units" /
                               f"conv3_{channel:04d}.png").astype(float) / 255
            rms = lambda image: float(np.sqrt(np.mean((image - start) ** 2)))  # noqa: E731
            assert rms(accentuated) == pytest.approx(record["distance"]["pixels_rms"], abs=0.01)
            assert rms(accentuated) < 0.75 * rms(plain), (name, channel)
            assert iio.imread(accent / record["alpha_png"]).shape == (64, 64)
    assert np.mean(rises) > 1.5, rises
    assert check_index(tmp_path / "out") >= 12


def test_a_folder_of_seeds_gives_a_unit_per_image(tmp_path):
    folder = tmp_path / "seeds"
    folder.mkdir()
    for name in ("rings_1.png", "checkerboard_0.png"):
        shutil.copy(TEXTURES / name, folder / name)
    jobs = tmp_path / "jobs.yaml"
    jobs.write_text("model: demo\ndefaults: {size: 32, steps: 2}\njobs:\n"
                    "  - {name: a, objective: neuron, layer: conv4, channel: 5,\n"
                    "     accentuate: {images: seeds, layer: conv1, weight: 2}}\n")
    result = run("render", jobs, "--out", tmp_path / "out")
    assert result.exit_code == 0, result.output
    plan = json.loads((tmp_path / "out" / "a" / "job.json").read_text())
    assert [unit["stem"] for unit in plan["units"]] == ["conv4_0005_on_checkerboard_0",
                                                        "conv4_0005_on_rings_1"]
    assert plan["job"]["accentuate"]["layer"] == "conv1"
    assert plan["job"]["accentuate"]["weight"] == 2


@pytest.mark.parametrize("job, message", [
    ("objective: deepdream, layer: conv2, accentuate: {images: [x.png]}",
     "accentuation works on a channel, neuron or direction job"),
    ("objective: channel, layer: conv2, channel: 1, diversity: {count: 2, layer: conv2}, accentuate: {images: [x.png]}",
     "does not combine with diversity"),
    ("objective: channel, layer: conv2, channel: 1, accentuate: {layer: conv1}",
     "accentuate.images: missing"),
    ("objective: channel, layer: conv2, channel: 1, accentuate: {images: [missing.png]}",
     "/missing.png as an image"),  # named by the path it was looked for at
    ("objective: channel, layer: conv2, channel: 1, accentuate: {images: empty}",
     "/empty holds no images"),
    ("objective: channel, layer: conv2, channel: 1, accentuate: {images: [x.png, twin/x.png]}",
     "two images are both called 'x'"),
    ("objective: channel, layer: conv2, channel: 1, accentuate: {images: [x.png], weight: -1}",
     "accentuate.weight: -1 is out of range"),
    ("objective: channel, layer: conv2, channel: 1, accentuate: {images: [x.png], layer: logits}",
     "has no spatial map"),
])
def test_a_bad_accentuation_is_one_line_and_writes_nothing(tmp_path, job, message):
    (tmp_path / "empty").mkdir()
    (tmp_path / "twin").mkdir()
    for path in (tmp_path / "x.png", tmp_path / "twin" / "x.png"):
        shutil.copy(TEXTURES / "dots_0.png", path)
    jobs = tmp_path / "jobs.yaml"
    jobs.write_text(f"model: demo\njobs:\n  - {{{job}}}\n")
    result = run("render", jobs, "--out", tmp_path / "out")
    assert result.exit_code == 2, result.output
    assert message in result.output and len(result.output.strip().splitlines()) == 1
    assert not (tmp_path / "out").exists()


def test_score_refuses_an_accentuation_job_in_one_line(tmp_path):
    jobs = tmp_path / "jobs.yaml"
    jobs.write_text(f"model: demo\njobs:\n  - {{name: a, objective: channel, layer: conv2, "
                    f"channel: 1, accentuate: {{images: [{TEXTURES / 'dots_0.png'}]}}}}\n")
    folder = tmp_path / "images"  # enough images that the folder is not what is refused
    shutil.copytree(TEXTURES, folder)
    for name in ("a.png", "b.png"):
        shutil.copy(TEXTURES / "dots_0.png", folder / name)
    result = run("score", jobs, "--images", folder, "--out", tmp_path / "out")
    assert result.exit_code == 2, result.output
    (line,) = result.output.strip().splitlines()
    assert "score needs a unit's own visualization" in line
    assert not (tmp_path / "out").exists()


def test_on_inception_v1_accentuation_stays_close_in_mixed3a_by_default(hub_network, tmp_path):
    from fvcli.config import load_job_file
    from fvcli.sweep.plan import plan_job_file

    jobs = tmp_path / "jobs.yaml"
    jobs.write_text(f"jobs:\n  - {{objective: channel, layer: mixed4a, channels: [11, 97], "
                    f"accentuate: {{images: [{TEXTURES / 'dots_0.png'}, "
                    f"{TEXTURES / 'rings_0.png'}]}}}}\n")
    (job,) = plan_job_file(load_job_file(str(jobs)), hub_network, lambda precision: "fp32")
    assert job.settings.closeness == ("Mixed_3b", 1.0)
    assert len(job.units) == 4 and len({unit.fingerprint for unit in job.units}) == 4
    assert "Mixed_3b" in job.layers_read  # its cost counts the layer it stays close in
