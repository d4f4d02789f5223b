"""What many tests do: run the command line in-process, render a batch directly, write a
job file, read a job folder, check an index."""

from __future__ import annotations

import json
import os
import re
import textwrap
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote

import imageio.v3 as iio
from click.testing import CliRunner

from fvcli.cli import main

CHECKOUT = Path(__file__).resolve().parent.parent.parent


def run(*args, env=None):
    """``fvcli ARGS`` run in-process (arguments may be paths or numbers); click's Result."""
    return CliRunner().invoke(main, [str(arg) for arg in args], env=env)


def on_cpu(requested: str) -> str:
    """The precision a job asking for ``requested`` renders in on this machine's CPU."""
    from fvcli.engine.hardware import resolve_device, resolve_precision

    return resolve_precision(requested, resolve_device("cpu"))


def render_units(network, objective, indices, seeds=None, **settings):
    """Render one image per entry of ``indices`` and return the BatchResult."""
    from fvcli.engine.param import Parameterization
    from fvcli.engine.renderer import Renderer, RenderSettings

    size = settings.pop("size", 64)
    settings.setdefault("steps", 128)
    render_settings = RenderSettings(size=size, param=Parameterization(size), **settings)
    renderer = Renderer(network, objective, render_settings, len(indices))
    seeds = seeds or list(range(len(indices)))
    return renderer.render([[i] for i in indices], seeds)


def write_job_file(folder: Path, channels: str = "0-5", steps: int = 8, size: int = 32,
                   batch_size: int = 2, extra_jobs: str = "") -> str:
    """A demo-model job file with one channel sweep (and any extra jobs)."""
    path = folder / "sweep.yaml"
    path.write_text(textwrap.dedent(f"""\
        model: demo
        defaults: {{size: {size}, steps: {steps}, batch_size: {batch_size}}}
        jobs:
          - {{name: conv2, objective: channel, layer: conv2, channels: {channels}}}
        """) + extra_jobs)
    return str(path)


def records(job_folder: Path) -> dict[str, dict]:
    """Unit records of a job folder by stem."""
    return {path.stem: json.loads(path.read_text())
            for path in sorted((job_folder / "units").glob("*.json"))}


def assert_units_whole(job_folder: Path) -> None:
    """Every record has its PNG, every PNG decodes, and no temporary file is left."""
    for stem, record in records(job_folder).items():
        image = iio.imread(job_folder / "units" / f"{stem}.png")
        assert image.ndim == 3 and image.shape[-1] == 3, stem
        assert record["status"] == "done"
    leftovers = [p.name for p in job_folder.rglob(".tmp-*")]
    assert not leftovers, leftovers


class _Links(HTMLParser):
    def __init__(self):
        super().__init__()
        self.links: list[str] = []
        self.figures: list[dict] = []
        self._figure = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        found = [attrs[key] for key in ("href", "src") if key in attrs]
        self.links += found
        if tag == "figure":
            self._figure = {"text": "", "links": []}
        if self._figure is not None:
            self._figure["links"] += found

    def handle_data(self, data):
        if self._figure is not None:
            self._figure["text"] += data + "\n"

    def handle_endtag(self, tag):
        if tag == "figure":
            self.figures.append(self._figure)
            self._figure = None


def counted_page(page: Path) -> bool:
    """Whether check_index counts a page's images: the overview, job pages and layer pages
    in job order (not the unit pages nor the layer pages sorted by a score, which show
    the same units again)."""
    name = page.name
    return (name == "index.html" or name.startswith("job-")
            or (name.startswith("layer-") and "-by-" not in name))


def check_index(out: Path) -> int:
    """Assert every link of every index page (the overview, job, layer and unit pages)
    resolves to a file, no page fetches anything, and every image's caption names its unit
    and objective value as its record says (a negative unit: "(negative)" and minus the
    objective, signed) and says it is dead exactly when its record says "alive": false. Returns the images checked on the overview,
    job and layer pages in job order (each unit once per job page and layer page)."""
    pages = [out / "index.html"] + sorted((out / "_index").glob("*.html"))
    checked = 0
    for page in pages:
        parser, text = _Links(), page.read_text()
        assert "<script" not in text.lower(), f"{page} has a script"
        parser.feed(text)
        for link in parser.links:
            assert not re.match(r"^[a-z]+://", link), f"{page} fetches {link}"
            target = (page.parent / unquote(link)).resolve()
            assert target.exists(), f"{page.name} links to missing {link}"
        for figure in parser.figures:
            record_links = [link for link in figure["links"] if link.endswith(".json")]
            if not record_links:
                continue
            record = json.loads((page.parent / unquote(record_links[0])).read_text())
            label = (f"{record['layer']} ch {record['channel']}" if "channel" in record
                     else f"{record['layer']} direction {record['direction']}"
                     if "direction" in record
                     else f"class {record['class']}" if "class" in record
                     else record["description"])
            if record.get("negative"):
                label += " (negative)"
            assert label in figure["text"], (label, figure["text"])
            # a negative unit shows its own value, minus the objective: signed
            shown = -record["objective_end"] if record.get("negative") else \
                record["objective_end"]
            assert re.search(rf"(^|\n){re.escape(f'{shown:.4g}')}\n? · ", figure["text"]), \
                (shown, figure["text"])
            dead = "dead: no image drives this unit here" in figure["text"]
            assert dead == (record.get("alive") is False), (record, figure["text"])
            checked += counted_page(page)
    return checked


def fvcli_env() -> dict:
    """Environment for an fvcli subprocess: quiet TensorFlow, this checkout importable."""
    return {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3",
            "PYTHONPATH": str(CHECKOUT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
