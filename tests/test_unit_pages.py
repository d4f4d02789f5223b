"""The unit pages (_index/unit-<job>-<stem>.html), scores in the index and the layer pages
sorted by each score, and accentuation units (seed | accentuation | alpha map).

One small demo render (a default and a MACO job on the same conv3 channels) with dataset
examples; scores and an accentuation job are written by hand, as `fvcli score` and the
accentuation render lay them out, on copies of it."""

import json
import re
import shutil
import textwrap
from html.parser import HTMLParser
from pathlib import Path

import imageio.v3 as iio
import numpy as np
import pytest

from fvcli.outputs.collect import collect
from support.helpers import CHECKOUT, check_index, run

CHANNELS = (0, 1, 2)
JOBS = ("conv3", "conv3-maco")


@pytest.fixture(scope="module")
def rendered(tmp_path_factory) -> Path:
    """A demo render of conv3 channels 0-2 by default and with MACO, and `fvcli examples`
    on the demo textures for the default job."""
    folder = tmp_path_factory.mktemp("unit-pages")
    textures = CHECKOUT / "configs" / "demo-textures"
    (folder / "jobs.yaml").write_text(textwrap.dedent(f"""\
        model: demo
        defaults: {{size: 32, steps: 4, batch_size: 6}}
        jobs:
          - {{name: conv3, objective: channel, layer: conv3, channels: 0-2,
             examples: {{images: {textures}, top: 2}}}}
          - {{name: conv3-maco, objective: channel, layer: conv3, channels: 0-2, param: maco}}
        """))
    out = folder / "out"
    for command in (("render", "--quiet"), ("examples",)):
        result = run(*command, folder / "jobs.yaml", "--out", out)
        assert result.exit_code == 0, result.output
    return out


@pytest.fixture
def copy(rendered, tmp_path) -> Path:
    """A copy of the render that a test may change."""
    return Path(shutil.copytree(rendered, tmp_path / "out"))


def unit_page(out: Path, job: str, stem: str) -> Path:
    return out / "_index" / f"unit-{job}-{stem}.html"


class Page(HTMLParser):
    """A page's links (href and src, in order) and figures (their text and links)."""

    def __init__(self, path: Path):
        super().__init__()
        self.links, self.figures, self._figure = [], [], None
        self.pre, self._in_pre = "", False
        self.text = path.read_text()
        self.feed(self.text)

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        found = [attrs[key] for key in ("href", "src") if key in attrs]
        self.links += found
        if tag == "figure":
            self._figure = {"text": "", "links": [], "srcs": []}
        self._in_pre |= tag == "pre"
        if self._figure is not None:
            self._figure["links"] += found
            if tag == "img" and "src" in attrs:
                self._figure["srcs"].append(attrs["src"])

    def handle_data(self, data):
        if self._in_pre:
            self.pre += data
        if self._figure is not None:
            self._figure["text"] += data

    def handle_endtag(self, tag):
        self._in_pre &= tag != "pre"
        if tag == "figure":
            self.figures.append(self._figure)
            self._figure = None


def test_every_unit_has_a_page_with_both_jobs_renders_its_examples_and_its_record(rendered):
    assert check_index(rendered) == 2 * len(JOBS) * len(CHANNELS)  # every link resolves
    pages = sorted(path.name for path in (rendered / "_index").glob("unit-*.html"))
    assert pages == sorted(f"unit-{job}-conv3_{channel:04d}.html"
                           for job in JOBS for channel in CHANNELS)
    for job in JOBS:
        other = JOBS[1 - JOBS.index(job)]
        for channel in CHANNELS:
            stem = f"conv3_{channel:04d}"
            page = Page(unit_page(rendered, job, stem))
            assert f"<h1>conv3 ch {channel} · job {job}</h1>" in page.text
            for name in JOBS:  # both renders of this channel, and no other channel's
                assert f"../{name}/units/{stem}.png" in page.links
                assert not [link for link in page.links if link.startswith(f"../{name}/units/")
                            and link.endswith(".png") and stem not in link]
            # the other job's figure says which job and what kind it is, links its page
            figure = next(f for f in page.figures if f"../{other}/units/{stem}.json" in f["links"])
            assert f"{other} · channel, {'MACO' if other == 'conv3-maco' else 'default'}" \
                in figure["text"]
            assert f"../_index/unit-{other}-{stem}.html" in figure["links"]
            assert "../conv3/examples/conv3_%04d.png" % channel in page.links
            record = json.loads((rendered / job / "units" / f"{stem}.json").read_text())
            assert f"../{job}/units/{stem}.json" in page.links
            assert json.loads(page.pre) == record  # the record, printed whole
            if job == "conv3-maco":  # the faded image and its alpha map beside it
                assert page.links.count(f"../{job}/units/{stem}.alpha.png") == 2
    examples = Page(unit_page(rendered, "conv3", "conv3_0001"))
    top = json.loads((rendered / "conv3" / "examples.json").read_text())["units"][1]["top"]
    assert all(entry["image"] in examples.text for entry in top)


def test_job_and_layer_figures_link_to_their_unit_pages(rendered):
    for name in ["job-conv3.html", "job-conv3-maco.html", "layer-conv3.html"]:
        page = Page(rendered / "_index" / name)
        assert len(page.figures) == (2 if "layer" in name else 1) * len(CHANNELS)
        for figure in page.figures:
            stem = re.search(r"units/(conv3_\d{4})\.json", " ".join(figure["links"])).group(1)
            job = re.search(r"\.\./([^/]+)/units/", " ".join(figure["links"])).group(1)
            assert f"../_index/unit-{job}-{stem}.html" in figure["links"]


def test_every_page_links_the_one_shared_stylesheet_and_carries_no_css_of_its_own(rendered):
    stylesheet = rendered / "_index" / "fvcli.css"
    assert "figure" in stylesheet.read_text()
    pages = [rendered / "index.html"] + sorted((rendered / "_index").glob("*.html"))
    for page in pages:
        text = page.read_text()
        assert "<style" not in text, page.name
        link = re.search(r"<link rel='stylesheet' href='([^']+)'>", text).group(1)
        assert (page.parent / link).resolve() == stylesheet.resolve(), (page.name, link)


def test_unit_page_names_and_pages_are_the_same_on_a_second_collect(copy):
    before = {path.name: path.read_bytes() for path in (copy / "_index").glob("*.html")}
    collect(str(copy))
    after = {path.name: path.read_bytes() for path in (copy / "_index").glob("*.html")}
    assert after == before


def write_scores(job_folder: Path, values: dict[int, tuple[float, float, bool]]) -> None:
    """scores.json as `fvcli score` writes it: {channel: (mis_examples, natural_path,
    flagged)}."""
    units = [{"layer": "conv3", "channel": channel, "stem": f"conv3_{channel:04d}",
              "png": f"units/conv3_{channel:04d}.png", "activation_ratio": 1.5 + channel,
              "mis_examples": mis, "mis_visualization": 0.5, "natural_path": path,
              "natural_path_layers": {"conv2": path}, "flagged": flagged}
             for channel, (mis, path, flagged) in values.items()]
    (job_folder / "scores.json").write_text(json.dumps(
        {"images": 24, "mis": {"alpha": 10.0, "tasks": 20, "k": 9}, "units": units}))


def test_scores_show_in_captions_mark_flagged_units_and_sort_the_layer_page(copy):
    write_scores(copy / "conv3", {0: (0.61, 1.12, False), 1: (0.93, 0.31, True),
                                  2: (0.75, 0.84, False)})
    collect(str(copy), names=[])
    assert check_index(copy) == 2 * len(JOBS) * len(CHANNELS)
    job = Page(copy / "_index" / "job-conv3.html")
    captions = {channel: job.figures[channel]["text"] for channel in CHANNELS}
    assert "MIS 0.61" in captions[0] and "path 1.12" in captions[0]
    assert "MIS 0.93" in captions[1] and "path 0.31" in captions[1]
    assert [("flagged" in captions[channel]) for channel in CHANNELS] == [False, True, False]
    assert "<span class='flag'" in job.text
    assert "MIS" not in " ".join(f["text"] for f in Page(
        copy / "_index" / "job-conv3-maco.html").figures)  # that job has no scores

    layer = Page(copy / "_index" / "layer-conv3.html")
    for key in ("mis_examples", "mis_visualization", "natural_path", "activation_ratio",
                "flagged"):
        assert f"layer-conv3-by-{key}.html" in layer.links, key
    by_mis = Page(copy / "_index" / "layer-conv3-by-mis_examples.html")
    order = [re.search(r"\.\./([^/]+)/units/(conv3_\d{4})\.json", " ".join(f["links"])).groups()
             for f in by_mis.figures]
    assert order[:3] == [("conv3", "conv3_0001"), ("conv3", "conv3_0002"),
                         ("conv3", "conv3_0000")]  # descending MIS
    unscored = [("conv3-maco", f"conv3_{c:04d}") for c in CHANNELS]
    assert order[3:] == unscored  # last, in job order
    by_flag = Page(copy / "_index" / "layer-conv3-by-flagged.html")
    assert "flagged" in by_flag.figures[0]["text"]

    flagged = Page(unit_page(copy, "conv3", "conv3_0001"))
    assert "class='banner flag'" in flagged.text and "not comparable" in flagged.text
    assert "class='banner flag'" not in Page(unit_page(copy, "conv3", "conv3_0000")).text

    (copy / "conv3" / "scores.json").unlink()  # scores gone: their sorted pages go too
    collect(str(copy), names=[])
    assert not list((copy / "_index").glob("layer-conv3-by-*.html"))
    assert "MIS" not in Page(copy / "_index" / "job-conv3.html").text
    assert check_index(copy) == 2 * len(JOBS) * len(CHANNELS)


def add_accentuation_job(out: Path) -> Path:
    """A job of two accentuations of conv3 channel 1, laid out as the store writes them
    (job.json, units/<stem>.png and .json with seed_png, seed_image, alpha_png and
    distance): one rendered, one not yet."""
    plan = json.loads((out / "conv3" / "job.json").read_text())
    plan["job"].update(name="conv3-accent", accentuate={"images": ["/data/cat.png",
                                                                   "/data/dog.png"],
                                                        "layer": "conv2", "weight": 1.0})
    entry = next(unit for unit in plan["units"] if unit["channel"] == 1)
    plan["units"] = [{**entry, "stem": f"conv3_0001_{seed}", "fingerprint": f"sha256:{seed}",
                      "seed_image": f"/data/{seed}.png"} for seed in ("cat", "dog")]
    job = out / "conv3-accent"
    (job / "units").mkdir(parents=True)
    (job / "job.json").write_text(json.dumps(plan))
    stem = "conv3_0001_cat"
    rng = np.random.default_rng(0)
    for name in (f"{stem}.png", f"{stem}.seed.png", f"{stem}.alpha.png"):
        iio.imwrite(job / "units" / name, rng.integers(0, 255, (32, 32, 3), dtype=np.uint8))
    record = {**plan["units"][0], "png": f"units/{stem}.png",
              "seed_png": f"units/{stem}.seed.png", "seed_image": "/data/cat.png",
              "alpha_png": f"units/{stem}.alpha.png", "objective_start": 0.1,
              "objective_end": 0.4321, "status": "done",
              "distance": {"layer": "conv2", "relative": 0.237, "pixels_rms": 0.061}}
    (job / "units" / f"{stem}.json").write_text(json.dumps(record))
    return job


def test_an_accentuation_shows_seed_accentuation_and_alpha_side_by_side(copy):
    add_accentuation_job(copy)
    collect(str(copy))
    assert check_index(copy) == 2 * (len(JOBS) * len(CHANNELS) + 1)  # the rendered one
    units = "../conv3-accent/units/conv3_0001_cat"
    triple = [f"{units}.seed.png", f"{units}.png", f"{units}.alpha.png"]
    for page in (copy / "_index" / "job-conv3-accent.html",
                 copy / "_index" / "layer-conv3.html",
                 unit_page(copy, "conv3-accent", "conv3_0001_cat")):
        figure = next(f for f in Page(page).figures if f"{units}.json" in f["links"])
        assert figure["srcs"][:3] == triple, page.name
        assert "seed" in figure["text"] and "accentuation" in figure["text"]
        assert "0.237" in figure["text"]  # its distance from the seed
    job = Page(copy / "_index" / "job-conv3-accent.html")
    assert "not rendered" in job.figures[1]["text"]
    page = Page(unit_page(copy, "conv3-accent", "conv3_0001_cat"))
    assert "<h1>conv3 ch 1 · seed cat.png · job conv3-accent</h1>" in page.text
    waiting = Page(unit_page(copy, "conv3-accent", "conv3_0001_dog"))
    assert "not rendered" in waiting.text and "/data/dog.png" in waiting.text  # as planned
    channel = Page(unit_page(copy, "conv3", "conv3_0001"))  # the channel's page lists both
    notes = [f["text"] for f in channel.figures if "conv3-accent" in f["text"]]
    assert len(notes) == 2 and all("accentuation" in note for note in notes)
    assert not [f for f in Page(unit_page(copy, "conv3", "conv3_0000")).figures
                if "conv3-accent" in f["text"]]


def test_fvcli_score_refreshes_the_pages_with_its_scores_and_negative_renderings(tmp_path):
    from support.demo_net import texture_batch

    images, _ = texture_batch(20, 32, np.random.default_rng(0))
    (tmp_path / "images").mkdir()
    for number, image in enumerate(images):
        iio.imwrite(tmp_path / "images" / f"{number:03d}.png",
                    (image * 255).round().astype(np.uint8))
    (tmp_path / "jobs.yaml").write_text(textwrap.dedent("""\
        model: demo
        defaults: {size: 32, steps: 4, batch_size: 4}
        jobs:
          - {name: units, objective: channel, layer: conv3, channels: 0-1}
        """))
    out = tmp_path / "out"
    result = run("score", tmp_path / "jobs.yaml", "--images", tmp_path / "images",
                 "--out", out, "--quiet")
    assert result.exit_code == 0, result.output
    assert check_index(out) == 2 * 2
    scores = json.loads((out / "units" / "scores.json").read_text())["units"]
    job = Page(out / "_index" / "job-units.html")
    for figure, unit in zip(job.figures, scores):
        assert f"MIS {unit['mis_examples']:.2f}" in figure["text"]
    page = Page(unit_page(out, "units", "conv3_0001"))
    assert "../units/scores.json" in page.links
    negative = next(f for f in page.figures if "../units/units/conv3_0001_neg.png" in f["srcs"])
    assert "negative rendering" in negative["text"]


def test_a_failed_unit_has_a_page_saying_why_and_the_pages_still_resolve(copy):
    stem = "conv3_0002"
    units = copy / "conv3-maco" / "units"
    record = json.loads((units / f"{stem}.json").read_text())
    failed = {key: record[key] for key in ("description", "seed", "layer", "channel", "stem",
                                           "fingerprint")}
    (units / f"{stem}.json").write_text(json.dumps(
        {**failed, "status": "failed", "step": 3, "reason": "the objective became NaN"}))
    for name in (f"{stem}.png", f"{stem}.alpha.png"):
        (units / name).unlink()
    collect(str(copy))
    assert check_index(copy) == 2 * (len(JOBS) * len(CHANNELS) - 1)
    page = Page(unit_page(copy, "conv3-maco", stem))
    assert "failed at step 3: the objective became NaN" in page.text
    assert json.loads(page.pre)["status"] == "failed"
    channel = Page(unit_page(copy, "conv3", stem))  # the default render's page says so too
    other = next(f for f in channel.figures if "conv3-maco" in f["text"])
    assert "failed" in other["text"] and not other["srcs"]
