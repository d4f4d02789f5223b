"""The pieces every index page is made of, shared by the overview, job and layer pages
(:mod:`fvcli.outputs.index_html`) and the unit pages (:mod:`fvcli.outputs.unit_pages`):
the folder as the pages read it, page file names, escaping and links, a unit's figure,
and the document frame and page writing.
"""

from __future__ import annotations

import hashlib
import html
import os
import posixpath
import re
from dataclasses import dataclass
from urllib.parse import quote

from .files import write_atomic
from .records import (ALIVE_FLOOR, ALIVE_FRACTION, DEAD_MEANING, EXAMPLES_FOLDER,
                      PAGES_FOLDER, unit_png, unit_record_file)
from .scores import read_scores

SCORE_KEYS = ("mis_examples", "mis_visualization", "natural_path", "activation_ratio")
SCORE_SHORT = {"mis_examples": "MIS", "mis_visualization": "vis", "natural_path": "path",
               "activation_ratio": "ratio"}
FLAGGED_TITLE = ("flagged: its picture reaches the unit by a path its natural images do not "
                 "take (natural_path below the threshold)")
DEAD_TITLE = (f"its objective never rose above its start (by more than {ALIVE_FLOOR:g} or "
              f"{ALIVE_FRACTION:.0%} of the start): the flat image is no failed render")
NEGATIVE_TITLE = ("minimised: the unit's own value (a channel's pre-activation mean), minus "
                  "the objective render maximised")
STYLESHEET = f"{PAGES_FOLDER}/fvcli.css"  # linked, relatively, from every page
STYLE = """
body { font: 14px/1.4 system-ui, sans-serif; margin: 1.5em; color: #222; }
table { border-collapse: collapse; margin-bottom: 2em; }
th, td { padding: .3em .8em; border-bottom: 1px solid #ddd; text-align: left;
  vertical-align: top; }
h2 { font-size: 17px; margin: 1.6em 0 .5em; border-bottom: 1px solid #ccc; }
.sheet { display: flex; flex-wrap: wrap; gap: 8px; }
figure { margin: 0; min-width: 128px; font-size: 11px; }
figure img, figure .missing { height: 128px; display: inline-block; vertical-align: top;
  background: #e0e0e0; margin-right: 4px; }
figure .missing { width: 128px; }
figure .missing { display: flex; align-items: center; justify-content: center; color: #666; }
figure.big { font-size: 13px; }
figure.big img, figure.big .missing { height: 256px; }
figure.big .missing { width: 256px; }
figure.big img.examples { height: auto; }
figcaption { word-break: break-word; max-width: 520px; }
.failed, .flag { color: #b00; }
.dead { color: #a50; }
.flag { font-weight: bold; }
.banner { border: 2px solid #b00; padding: .4em .8em; display: inline-block; }
.order b { background: #eee; padding: 0 .3em; }
.thumb { height: 40px; width: auto; margin-right: 2px; vertical-align: middle; }
.faded { position: relative; display: inline-block; vertical-align: top; }
.faded img.alpha { position: absolute; left: 0; top: 0; mix-blend-mode: screen;
  filter: invert(1); background: none; }
.triple { display: inline-flex; gap: 4px; align-items: flex-start; }
.triple span.part { display: inline-block; text-align: center; }
.triple span.part small { display: block; color: #666; }
pre { background: #f6f6f6; padding: .8em; overflow-x: auto; font-size: 12px;
  max-width: 60em; }
.note { color: #555; font-size: 12px; }
"""


@dataclass
class JobExtras:
    """What the pages show of a job beside its renders: each unit's scores (by stem, from
    scores.json or the per-unit score records) and the stems with an examples grid."""

    scores: dict[str, dict]
    example_grids: set[str]


@dataclass
class Folder:
    """An output folder as the pages see it: its jobs, their extras, and each unit's page
    (by job name and stem)."""

    out_dir: str
    views: list
    extras: dict[str, JobExtras]
    unit_pages: dict[tuple[str, str], str]

    def page_of(self, view, unit) -> str | None:
        """The unit's page, relative to the output folder (None: it has none)."""
        return self.unit_pages.get((view.name, unit.plan["stem"]))


def read_folder(out_dir: str, views) -> Folder:
    """Scores and example grids of every job (one listing and at most one scores file per
    job, no image read), and every planned unit's page name."""
    extras = {}
    for view in views:
        try:
            grids = {name[:-4] for name in os.listdir(os.path.join(view.store.folder,
                                                                   EXAMPLES_FOLDER))
                     if name.endswith(".png") and not name.startswith(".")}
        except OSError:
            grids = set()
        extras[view.name] = JobExtras(scores=read_scores(view.store.folder),
                                      example_grids=grids)
    return Folder(out_dir, views, extras, unit_page_names(views))


def unit_page_names(views) -> dict[tuple[str, str], str]:
    """``_index/unit-<job>-<stem>.html`` for every planned unit, the same on every run.
    Names that sanitising makes collide (job "a-b" stem "c" and job "a" stem "b-c") each
    get a short hash of their job and stem."""
    names: dict[tuple[str, str], str] = {}
    for view in views:
        for unit in view.units:
            stem = unit.plan["stem"]
            names[(view.name, stem)] = f"unit-{safe_name(view.name)}-{safe_name(stem)}"
    counts: dict[str, int] = {}
    for name in names.values():
        counts[name] = counts.get(name, 0) + 1
    return {key: f"{PAGES_FOLDER}/{name}"
            + (f"-{hashlib.sha1('/'.join(key).encode()).hexdigest()[:8]}"
               if counts[name] > 1 else "") + ".html"
            for key, name in names.items()}


@dataclass(frozen=True)
class FigureLayout:
    """How a figure shows its unit, by where it stands: one of :data:`ON_SHEET`,
    :data:`RELATED` and :data:`ON_OWN_PAGE`."""

    big: bool  # 256 px high pictures, not 128
    examples: bool  # the unit's dataset examples grid beside its picture
    own_page: bool  # the picture links to its PNG (not its page), alpha map beside it


# On a job or layer page: the picture and its examples grid, linking to the unit's page.
ON_SHEET = FigureLayout(big=False, examples=True, own_page=False)
# On another unit's page (the same unit in other jobs): as on a sheet, without the grid.
RELATED = FigureLayout(big=False, examples=False, own_page=False)
# At the top of the unit's own page: big, the picture linking to its PNG, the alpha map
# beside the faded image; its page shows the examples in their own section.
ON_OWN_PAGE = FigureLayout(big=True, examples=False, own_page=True)


def figure(folder: Folder, view, unit, prefix: str, layout: FigureLayout,
           note: str | None = None) -> str:
    """A unit as a figure laid out as ``layout`` says: its picture (seed | accentuation |
    alpha map for an accentuation; faded by its alpha map where it has one), its examples
    grid, and a caption naming the unit (and ``note``: its job, its kind), its objective
    value and scores, with links to its page, PNG and record."""
    stem = unit.plan["stem"]
    page = None if layout.own_page else folder.page_of(view, unit)
    page_href = prefix + href(page) if page else None
    label = escape(unit_label(unit.plan) + (f" · {note}" if note else ""))
    name = f"<a href='{page_href}'>{label}</a>" if page_href else label
    if not unit.done:
        state = "failed" if unit.failed else "not rendered"
        return (f"<figure{' class=big' if layout.big else ''}><div class='missing'>{state}</div>"
                f"<figcaption class='{'failed' if unit.failed else ''}'>{name}"
                f"{_score_line(folder, view, unit)}</figcaption></figure>")
    png = prefix + href(f"{view.name}/{unit_png(stem)}")
    record = prefix + href(f"{view.name}/{unit_record_file(stem)}")
    value = shown_value(unit.record, negative=is_negative(unit))
    if is_negative(unit):
        value = f"<span title='{escape(NEGATIVE_TITLE)}'>{value}</span>"
    picture = _picture(view, unit, prefix, label, alpha_beside=layout.own_page)
    picture = f"<a href='{page_href or png}'>{picture}</a>"
    grid = _examples(folder, view, stem, prefix) if layout.examples else ""
    return (f"<figure{' class=big' if layout.big else ''}>{picture}{grid}"
            f"<figcaption>{name}<br>{value} · <a href='{png}'>png</a> · "
            f"<a href='{record}'>record</a>{_distance(unit.record)}{_dead(unit.record)}"
            f"{_score_line(folder, view, unit)}</figcaption></figure>")


def is_negative(unit) -> bool:
    """Whether the unit's one term is minimised (``"negative": true`` in its job.json entry
    or its record; records written before fvcli said so lack it, their job.json may not)."""
    return bool(unit.plan.get("negative") or (unit.record or {}).get("negative"))


def shown_value(record: dict, key: str = "objective_end", negative: bool = False) -> str:
    """The number pages show for a rendered unit's objective ``key`` (objective_end or
    objective_start), to 4 digits: the objective itself, except for a ``negative`` unit
    (its one term minimised), where it is minus the objective: the unit's own value (a
    channel's pre-activation mean), whose sign says it was driven down."""
    value = record.get(key)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return "nan"
    return f"{-value if negative else value:.4g}"


def _dead(record: dict) -> str:
    """A line saying the unit stayed dead, when its record says ``"alive": false``."""
    if record.get("alive") is not False:
        return ""
    return f"<br><span class='dead' title='{escape(DEAD_TITLE)}'>dead: {DEAD_MEANING}</span>"


def _picture(view, unit, prefix: str, label: str, alpha_beside: bool) -> str:
    """A rendered unit's picture. An accentuation (its record has ``seed_png``): seed |
    accentuation | alpha map side by side. Otherwise the image, faded by its alpha map
    where it has one (:func:`_image`); with ``alpha_beside``: as rendered | faded | map."""
    png = prefix + href(f"{view.name}/{unit_png(unit.plan['stem'])}")
    record = unit.record or {}
    alpha = record.get("alpha_png")
    alpha_src = prefix + href(f"{view.name}/{alpha}") if alpha else None
    seed = record.get("seed_png")
    if seed:
        parts = [("seed", f"<img loading='lazy' src='{prefix + href(view.name + '/' + seed)}'"
                          f" alt='seed of {label}'>"),
                 ("accentuation", f"<img loading='lazy' src='{png}' alt='{label}'>")]
        if alpha_src:
            parts.append(("alpha map", f"<img loading='lazy' src='{alpha_src}' "
                                       f"alt='attribution map of {label}'>"))
        return ("<span class='triple'>" + "".join(
            f"<span class='part'>{image}<small>{name}</small></span>" for name, image in parts)
            + "</span>")
    image = _image(png, alpha_src, label)
    if alpha_beside and alpha_src:
        image = ("<span class='triple'><span class='part'><img loading='lazy' "
                 f"src='{png}' alt='{label}'><small>as rendered</small></span>"
                 f"<span class='part'>{image}<small>faded by its alpha map</small></span>"
                 f"<span class='part'><img loading='lazy' src='{alpha_src}' "
                 f"alt='attribution map of {label}'><small>alpha map</small></span></span>")
    return image


def _image(png: str, alpha_src: str | None, label: str) -> str:
    """The unit's image; where it has an attribution map, faded to white where the map is
    dark: the grey map, inverted, is laid over the image in screen mode, which gives
    image x alpha + white x (1 - alpha) (a CSS mask would be refused on pages opened from
    disk)."""
    image = f"<img loading='lazy' src='{png}' alt='{label}'>"
    if not alpha_src:
        return image
    return (f"<span class='faded' title='faded where it mattered least'>{image}"
            f"<img class='alpha' loading='lazy' src='{alpha_src}' alt=''></span>")


def _distance(record: dict) -> str:
    """An accentuation's distance from its seed, where its record has one."""
    distance = record.get("distance")
    if not isinstance(distance, dict):
        return ""
    parts = []
    if isinstance(distance.get("relative"), (int, float)):
        parts.append(f"{distance['relative']:.3g} of the seed's norm"
                     + (f" at {escape(distance['layer'])}" if distance.get("layer") else ""))
    if isinstance(distance.get("pixels_rms"), (int, float)):
        parts.append(f"pixels rms {distance['pixels_rms']:.3g}")
    return "<br>from seed: " + ", ".join(parts) if parts else ""


def _score_line(folder: Folder, view, unit) -> str:
    """'MIS 0.83 · vis 0.71 · path 1.06 · ratio 3.1' and a red 'flagged', when the unit
    is scored."""
    scores = folder.extras[view.name].scores.get(unit.plan["stem"])
    if not scores:
        return ""
    parts = [f"{SCORE_SHORT[key]} {format_score(scores.get(key))}"
             for key in SCORE_KEYS if key in scores]
    line = "<br><span class='scores'>" + " · ".join(parts) + "</span>"
    if scores.get("flagged"):
        line += f" <span class='flag' title='{escape(FLAGGED_TITLE)}'>flagged</span>"
    return line


def format_score(value) -> str:
    """A score as shown in captions and tables: 2 decimals, or '–' when it is no number."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return "–"
    return f"{value:.2f}" if abs(value) < 100 else f"{value:.3g}"


def _examples(folder: Folder, view, stem: str, prefix: str) -> str:
    """The unit's dataset examples (rows: top, slightly positive, slightly negative,
    bottom) beside its image, where `fvcli examples` wrote them."""
    if stem not in folder.extras[view.name].example_grids:
        return ""
    grid = prefix + href(f"{view.name}/{EXAMPLES_FOLDER}/{stem}.png")
    return (f"<a href='{grid}'><img class='examples' loading='lazy' src='{grid}' "
            "alt='dataset examples: top, slightly positive, slightly negative, bottom'></a>")


def unit_label(entry: dict) -> str:
    """How a unit is called on a page: 'Mixed_4b ch 11', 'class 208', or its description;
    a negative unit adds '(negative)', an accentuation its seed image's name
    ('Mixed_4b ch 11 · seed cat.jpg')."""
    seed = entry.get("seed_image")
    seed = f" · seed {os.path.basename(seed)}" if isinstance(seed, str) and seed else ""
    seed = (" (negative)" if entry.get("negative") else "") + seed
    if "channel" in entry:
        return f"{entry.get('layer', '')} ch {entry['channel']}{seed}"
    if "direction" in entry:
        return f"{entry.get('layer', '')} direction {entry['direction']}{seed}"
    if "class" in entry:
        return f"class {entry['class']}{seed}"
    return entry.get("description", entry.get("stem", ""))


def write_stylesheet(out_dir: str) -> None:
    """``_index/fvcli.css``, the style every page links to: one file, not the same 2 KB
    inline in each of 10 000 pages."""
    _write_if_changed(os.path.join(out_dir, STYLESHEET), STYLE.lstrip().encode("utf8"))


def write_page(out_dir: str, relative: str, title: str, body: str, written: set) -> None:
    """Write the page ``relative`` (to ``out_dir``), linking to the stylesheet from where it
    stands, and add it to ``written``."""
    stylesheet = posixpath.relpath(STYLESHEET, posixpath.dirname(relative) or ".")
    written.add(relative)
    _write_if_changed(os.path.join(out_dir, relative),
                      document(title, body, href(stylesheet)).encode("utf8"))


def _write_if_changed(path: str, data: bytes) -> None:
    """Write ``data`` unless the file already holds it (a collect at the end of each render
    rewrites the pages of 10 000 units: most have not changed)."""
    try:
        with open(path, "rb") as handle:
            if handle.read(len(data) + 1) == data:
                return
    except OSError:
        pass
    write_atomic(path, data)


def document(title: str, body: str, stylesheet: str) -> str:
    """A whole page: ``title`` as its title and heading, then ``body``, styled by the
    stylesheet at ``stylesheet`` (a link relative to the page)."""
    return (f"<!doctype html><html><head><meta charset='utf-8'><title>{escape(title)}</title>"
            f"<link rel='stylesheet' href='{stylesheet}'></head>"
            f"<body><h1>{escape(title)}</h1>{body}</body></html>\n")


def job_page(name: str) -> str:
    """The job's page, relative to the output folder."""
    return f"{PAGES_FOLDER}/job-{safe_name(name)}.html"


def layer_page(layer: str, order: str | None = None) -> str:
    """The layer's page, or with ``order`` (a score key or "flagged") its page sorted by it."""
    return f"{PAGES_FOLDER}/layer-{safe_name(layer)}" + (f"-by-{order}" if order else "") + ".html"


def safe_name(name: str) -> str:
    """``name`` with what a file name should not hold replaced by '_'."""
    return re.sub(r"[^A-Za-z0-9._-]", "_", name)


def href(path: str) -> str:
    """A relative path as a link (percent-encoded)."""
    return quote(path)


def escape(text) -> str:
    """``text`` escaped for HTML text and quoted attributes."""
    return html.escape(str(text), quote=True)
