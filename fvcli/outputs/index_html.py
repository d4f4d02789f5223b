"""index.html: a browsable contact sheet of an output folder, opened straight from disk.

One overview page (jobs and layers, with counts) and one page per job and per layer under
``_index/``, every image labelled with its unit and its objective value and linked to its
PNG and record. Plain HTML and CSS with lazy-loaded images: no server, no script, nothing
fetched from the internet, and usable with 10 000 units.
"""

from __future__ import annotations

import html
import os
import re
from urllib.parse import quote

from .files import write_atomic
from .records import (EXAMPLES_FOLDER, GRID_FILE, INDEX_FILE, MANIFEST_FILE, PAGES_FOLDER,
                      unit_png, unit_record_file)

PREVIEW_UNITS = 8
STYLE = """
body { font: 14px/1.4 system-ui, sans-serif; margin: 1.5em; color: #222; }
table { border-collapse: collapse; margin-bottom: 2em; }
th, td { padding: .3em .8em; border-bottom: 1px solid #ddd; text-align: left; }
.sheet { display: flex; flex-wrap: wrap; gap: 8px; }
figure { margin: 0; min-width: 128px; font-size: 11px; }
figure img, figure .missing { height: 128px; display: inline-block; vertical-align: top;
  background: #e0e0e0; margin-right: 4px; }
figure .missing { width: 128px; }
figure .missing { display: flex; align-items: center; justify-content: center; color: #666; }
figcaption { word-break: break-word; }
.failed { color: #b00; }
.thumb { height: 40px; width: auto; margin-right: 2px; vertical-align: middle; }
.faded { position: relative; display: inline-block; vertical-align: top; }
.faded img.alpha { position: absolute; left: 0; top: 0; mix-blend-mode: screen;
  filter: invert(1); background: none; }
"""


def write_index(out_dir: str, views) -> None:
    """Write ``out_dir/index.html`` and the job and layer pages for ``views``."""
    layers: dict[str, list] = {}
    for view in views:
        for unit in view.units:
            layer = unit.plan.get("layer")
            if layer:
                layers.setdefault(layer, []).append((view, unit))
    for view in views:
        title = f"job {view.name}"
        body = _sheet([(view, unit) for unit in view.units], prefix="../")
        _write_page(out_dir, _job_page(view.name), title, _job_links(view) + body)
    for layer, units in layers.items():
        _write_page(out_dir, _layer_page(layer), f"layer {layer}",
                    f'<p><a href="../{INDEX_FILE}">all jobs</a></p>'
                    + _sheet(units, "../", show_job=True))
    write_atomic(os.path.join(out_dir, INDEX_FILE),
                 _document(f"fvcli: {os.path.basename(os.path.abspath(out_dir))}",
                           _overview(views, layers)).encode("utf8"))


def _overview(views, layers) -> str:
    done = sum(view.done for view in views)
    total = sum(len(view.units) for view in views)
    rows = []
    for view in views:
        joiner = " -> " if view.units and "frames" in view.units[0].plan else "; "
        objective = joiner.join(_term_label(term)
                                for term in view.plan.get("job", {}).get("objective", []))
        rows.append(
            f"<tr><td><a href='{_href(_job_page(view.name))}'>{_e(view.name)}</a></td>"
            f"<td>{_e(objective)}</td><td>{view.done} / {len(view.units)}</td>"
            f"<td class='{'failed' if view.failed else ''}'>{view.failed}</td>"
            f"<td><a href='{_href(view.name + '/' + GRID_FILE)}'>grid</a> · "
            f"<a href='{_href(view.name + '/' + MANIFEST_FILE)}'>manifest</a></td>"
            f"<td>{_preview(view)}</td></tr>")
    layer_rows = [f"<tr><td><a href='{_href(_layer_page(layer))}'>{_e(layer)}</a></td>"
                  f"<td>{sum(unit.done for _, unit in units)} / {len(units)}</td></tr>"
                  for layer, units in sorted(layers.items())]
    return (f"<p>{done} of {total} units rendered in {len(views)} job(s).</p>"
            "<h2>Jobs</h2><table><tr><th>job</th><th>objective</th><th>units</th>"
            "<th>failed</th><th>files</th><th>first units</th></tr>" + "".join(rows) + "</table>"
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
        f"src='{_href(view.name + '/' + unit_png(unit.plan['stem']))}'>"
        for unit in shown)


def _job_links(view) -> str:
    name = view.name
    return (f"<p><a href='../{INDEX_FILE}'>all jobs</a> · {view.done} / {len(view.units)} "
            f"units · <a href='../{_href(name + '/' + GRID_FILE)}'>{GRID_FILE}</a> · "
            f"<a href='../{_href(name + '/' + MANIFEST_FILE)}'>{MANIFEST_FILE}</a></p>")


def _sheet(units, prefix: str, show_job: bool = False) -> str:
    """Figures of (job view, unit) pairs; ``show_job`` names the job under each image, for
    pages that gather units of several jobs."""
    figures = []
    for view, unit in units:
        stem = unit.plan["stem"]
        png = prefix + _href(f"{view.name}/{unit_png(stem)}")
        record = prefix + _href(f"{view.name}/{unit_record_file(stem)}")
        label = _e(unit_label(unit.plan) + (f" · {view.name}" if show_job else ""))
        if unit.done:
            value = f"{unit.record.get('objective_end', float('nan')):.4g}"
            figures.append(
                f"<figure><a href='{png}'>{_image(view, unit, png, label, prefix)}</a>"
                f"{_examples(view, stem, prefix)}"
                f"<figcaption>{label}<br>{value} · <a href='{record}'>record</a>"
                "</figcaption></figure>")
        else:
            state = "failed" if unit.failed else "not rendered"
            figures.append(f"<figure><div class='missing'>{state}</div>"
                           f"<figcaption class='{'failed' if unit.failed else ''}'>{label}"
                           "</figcaption></figure>")
    return "<div class='sheet'>" + "".join(figures) + "</div>"


def _image(view, unit, png: str, label: str, prefix: str) -> str:
    """The unit's image; where it has an attribution map, faded to white where the map is
    dark: the grey map, inverted, is laid over the image in screen mode, which gives
    image x alpha + white x (1 - alpha) (a CSS mask would be refused on pages opened from
    disk)."""
    image = f"<img loading='lazy' src='{png}' alt='{label}'>"
    alpha = unit.record.get("alpha_png")
    if not alpha:
        return image
    alpha_src = prefix + _href(f"{view.name}/{alpha}")
    return (f"<span class='faded' title='faded where it mattered least'>{image}"
            f"<img class='alpha' loading='lazy' src='{alpha_src}' alt=''></span>")


def _examples(view, stem: str, prefix: str) -> str:
    """The unit's dataset examples (rows: top, slightly positive, slightly negative,
    bottom) beside its image, where `fvcli examples` wrote them."""
    if not os.path.exists(os.path.join(view.store.folder, EXAMPLES_FOLDER, stem + ".png")):
        return ""
    grid = prefix + _href(f"{view.name}/{EXAMPLES_FOLDER}/{stem}.png")
    return (f"<a href='{grid}'><img class='examples' loading='lazy' src='{grid}' "
            "alt='dataset examples: top, slightly positive, slightly negative, bottom'></a>")


def unit_label(entry: dict) -> str:
    """How a unit is called on a page: 'Mixed_4b ch 11', 'class 208', or its description."""
    if "channel" in entry:
        return f"{entry.get('layer', '')} ch {entry['channel']}"
    if "direction" in entry:
        return f"{entry.get('layer', '')} direction {entry['direction']}"
    if "class" in entry:
        return f"class {entry['class']}"
    return entry.get("description", entry.get("stem", ""))


def _write_page(out_dir: str, relative: str, title: str, body: str) -> None:
    write_atomic(os.path.join(out_dir, relative), _document(title, body).encode("utf8"))


def _document(title: str, body: str) -> str:
    return (f"<!doctype html><html><head><meta charset='utf-8'><title>{_e(title)}</title>"
            f"<style>{STYLE}</style></head><body><h1>{_e(title)}</h1>{body}</body></html>\n")


def _job_page(name: str) -> str:
    return f"{PAGES_FOLDER}/job-{_safe(name)}.html"


def _layer_page(layer: str) -> str:
    return f"{PAGES_FOLDER}/layer-{_safe(layer)}.html"


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]", "_", name)


def _href(path: str) -> str:
    return quote(path)


def _e(text) -> str:
    return html.escape(str(text), quote=True)
