"""index.html: a browsable contact sheet of an output folder, opened straight from disk.

One overview page (jobs and layers, with counts) and under ``_index/`` one page per job,
per layer (and per layer and score, sorted by it, where the layer's units are scored) and
per unit (:mod:`fvcli.outputs.unit_pages`). Every image is labelled with its unit, its
objective value and its scores, and links to its unit's page, PNG and record. Plain HTML
and CSS (one stylesheet, ``_index/fvcli.css``, linked relatively from every page) with
lazy-loaded images: no server, no script, nothing fetched from the internet, and usable
with 10 000 units (records and score files are read, images never are).
"""

from __future__ import annotations

import math
import os

from .html_parts import (ON_SHEET, SCORE_KEYS, Folder, escape, figure, href, job_page,
                         layer_page, read_folder, write_page, write_stylesheet)
from .records import EXAMPLES_FILE, GRID_FILE, INDEX_FILE, MANIFEST_FILE, PAGES_FOLDER, unit_png
from .scores import SCORES_FILE
from .unit_pages import write_unit_pages

PREVIEW_UNITS = 8
SCORE_NAMES = {"mis_examples": "MIS (examples)", "mis_visualization": "MIS (visualization)",
               "natural_path": "natural path", "activation_ratio": "activation ratio",
               "flagged": "flagged first"}


def write_index(out_dir: str, views) -> None:
    """Write ``out_dir/index.html``, the job and layer pages (and the layer pages sorted
    by each score the layer's units have), a page per unit and the stylesheet they share
    (``_index/fvcli.css``), for ``views``; remove pages of ``_index/`` that no job or
    layer has any more."""
    folder = read_folder(out_dir, views)
    write_stylesheet(out_dir)
    written: set[str] = set()
    layers: dict[str, list] = {}
    for view in views:
        for unit in view.units:
            layer = unit.plan.get("layer")
            if layer:
                layers.setdefault(layer, []).append((view, unit))
    for view in views:
        title = f"job {view.name}"
        body = _sheet(folder, [(view, unit) for unit in view.units], prefix="../")
        write_page(out_dir, job_page(view.name), title, _job_links(folder, view) + body,
                   written)
    for layer, units in layers.items():
        _write_layer_pages(folder, layer, units, written)
    write_unit_pages(folder, written)
    write_page(out_dir, INDEX_FILE, f"fvcli: {os.path.basename(os.path.abspath(out_dir))}",
               _overview(views, layers), written)
    _remove_stale_pages(out_dir, written)


def _write_layer_pages(folder: Folder, layer: str, units: list, written: set) -> None:
    """The layer's page in job order, and one page per score its units have, sorted by
    it (highest first; 'flagged first': flagged units, then by natural path, lowest
    first), each linking to the others: pages have no script to sort with."""
    orders = [key for key in (*SCORE_KEYS, "flagged")
              if any(_score_value(folder, view, unit, key) is not None
                     for view, unit in units)]
    for order in [None, *orders]:
        links = ["<b>job order</b>" if order is None else
                 f"<a href='{href(os.path.basename(layer_page(layer)))}'>job order</a>"]
        for key in orders:
            page = os.path.basename(layer_page(layer, key))
            links.append(f"<b>{escape(SCORE_NAMES[key])}</b>" if key == order else
                         f"<a href='{href(page)}'>{escape(SCORE_NAMES[key])}</a>")
        nav = f'<p><a href="../{INDEX_FILE}">all jobs</a></p>'
        if orders:
            nav += "<p class='order'>order: " + " · ".join(links) + "</p>"
        title = f"layer {layer}" + (f", by {SCORE_NAMES[order]}" if order else "")
        write_page(folder.out_dir, layer_page(layer, order), title,
                    nav + _sheet(folder, sort_units(folder, units, order), "../",
                                 show_job=True), written)


def sort_units(folder: Folder, units: list, order: str | None) -> list:
    """``units`` (job view, unit) by ``order``: a score key (highest first), "flagged"
    (flagged first, then lowest natural path), or None (as given). Units without that
    score come last, in the order given."""
    if order is None:
        return list(units)

    def key(pair):
        if order == "flagged":
            flagged = _score_value(folder, *pair, "flagged")
            path = _score_value(folder, *pair, "natural_path")
            return (flagged is None, not flagged, path is None,
                    path if path is not None else 0.0)
        value = _score_value(folder, *pair, order)
        return (value is None, -value if value is not None else 0.0)

    return sorted(units, key=key)


def _score_value(folder: Folder, view, unit, key: str):
    """A unit's score ``key`` as a number (flagged as a bool), or None."""
    value = folder.extras[view.name].scores.get(unit.plan["stem"], {}).get(key)
    if key == "flagged":
        return bool(value) if value is not None else None
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) \
        and math.isfinite(value) else None


def _remove_stale_pages(out_dir: str, written: set[str]) -> None:
    """Pages of ``_index/`` this collect did not write: jobs, layers, units and score
    orders that are gone (fvcli owns the folder)."""
    folder = os.path.join(out_dir, PAGES_FOLDER)
    try:
        names = os.listdir(folder)
    except OSError:
        return
    for name in names:
        if name.endswith(".html") and f"{PAGES_FOLDER}/{name}" not in written:
            try:
                os.unlink(os.path.join(folder, name))
            except OSError:
                pass


def _overview(views, layers) -> str:
    done = sum(view.done for view in views)
    total = sum(len(view.units) for view in views)
    rows = []
    for view in views:
        joiner = " -> " if view.units and "frames" in view.units[0].plan else "; "
        objective = joiner.join(_term_label(term)
                                for term in view.plan.get("job", {}).get("objective", []))
        rows.append(
            f"<tr><td><a href='{href(job_page(view.name))}'>{escape(view.name)}</a></td>"
            f"<td>{escape(objective)}</td><td>{view.done} / {len(view.units)}</td>"
            f"<td class='{'failed' if view.failed else ''}'>{view.failed}</td>"
            f"<td class='{'dead' if view.dead else ''}'>{view.dead}</td>"
            f"<td><a href='{href(view.name + '/' + GRID_FILE)}'>grid</a> · "
            f"<a href='{href(view.name + '/' + MANIFEST_FILE)}'>manifest</a></td>"
            f"<td>{_preview(view)}</td></tr>")
    layer_rows = [f"<tr><td><a href='{href(layer_page(layer))}'>{escape(layer)}</a></td>"
                  f"<td>{sum(unit.done for _, unit in units)} / {len(units)}</td></tr>"
                  for layer, units in sorted(layers.items())]
    return (f"<p>{done} of {total} units rendered in {len(views)} job(s).</p>"
            "<h2>Jobs</h2><table><tr><th>job</th><th>objective</th><th>units</th>"
            "<th>failed</th><th title='rendered, but no image drives them here'>dead</th>"
            "<th>files</th><th>first units</th></tr>" + "".join(rows) + "</table>"
            "<h2>Layers</h2><table><tr><th>layer</th><th>units</th></tr>"
            + "".join(layer_rows) + "</table>")


def _term_label(term: dict) -> str:
    layer, sign = term.get("layer", ""), "-" if term.get("negative") else ""
    kind = sign + term.get("kind", "")
    return f"{kind} {layer}" if layer != "logits" else kind


def _preview(view) -> str:
    """Small thumbnails of the job's first rendered units."""
    shown = [unit for unit in view.units if unit.done][:PREVIEW_UNITS]
    return "".join(
        f"<img class='thumb' loading='lazy' alt='' "
        f"src='{href(view.name + '/' + unit_png(unit.plan['stem']))}'>"
        for unit in shown)


def _job_links(folder: Folder, view) -> str:
    name = view.name
    extra = ""
    for file in (SCORES_FILE, EXAMPLES_FILE):
        if os.path.exists(os.path.join(view.store.folder, file)):
            extra += f" · <a href='../{href(name + '/' + file)}'>{file}</a>"
    return (f"<p><a href='../{INDEX_FILE}'>all jobs</a> · {view.done} / {len(view.units)} "
            f"units · <a href='../{href(name + '/' + GRID_FILE)}'>{GRID_FILE}</a> · "
            f"<a href='../{href(name + '/' + MANIFEST_FILE)}'>{MANIFEST_FILE}</a>{extra}</p>")


def _sheet(folder: Folder, units, prefix: str, show_job: bool = False) -> str:
    """Figures of (job view, unit) pairs; ``show_job`` names the job under each image, for
    pages that gather units of several jobs."""
    return ("<div class='sheet'>"
            + "".join(figure(folder, view, unit, prefix, ON_SHEET,
                             note=view.name if show_job else None)
                      for view, unit in units) + "</div>")

