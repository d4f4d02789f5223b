"""A page per unit (a "microscope"): ``_index/unit-<job>-<stem>.html`` gathers everything
fvcli knows about one planned unit of one job.

- its picture as the job page shows it (seed | accentuation | alpha map for an
  accentuation; otherwise faded by its attribution map, with the map beside it);
- its scores (``fvcli score``) with what each means, flagged units in red;
- its dataset examples (``fvcli examples``): the grid and the top and bottom images (its
  job's, else those found for the same unit in another job);
- the same unit in the other jobs of the folder, each labelled with its job and kind
  (default, MACO, negative, diversity, accentuation, an interpolation from or to it),
  joined by the target keys the records have (``layer`` + ``channel``, ``layer`` +
  ``direction``, or ``class``) and the job's model (its graph's fingerprint); and the
  negative rendering ``fvcli score`` leaves beside it;
- its record, pretty-printed and linked (or its job.json entry while it is not rendered).

No image is read. Beside the JSON the index reads anyway (records, scores), each job's
examples.json is read at most once, and each unit costs a stat or two: whether ``fvcli score``
left its negative rendering (units/<stem>_neg.png; then its record is read too) and, for
a scored unit, which score file to link. A page is rewritten only when it changed, so a
collect stays cheap with 10 000 units.
"""

from __future__ import annotations

import html
import json
import os

from .html_parts import (DEAD_TITLE, FLAGGED_TITLE, ON_OWN_PAGE, RELATED, Folder, escape,
                         figure, format_score, href, is_negative, job_page, layer_page,
                         shown_value, unit_label, write_page)
from .jobs import UnitView
from .records import DEAD_MEANING, DONE, EXAMPLES_FILE, EXAMPLES_FOLDER, INDEX_FILE, \
    PLAN_FILE, unit_png, unit_record_file
from .scores import SCORES_FILE, unit_score_file

SCORE_MEANINGS = (
    ("mis_examples", "MIS with natural explanations: how well 9 of its most and least "
                     "activating images let a judge network tell which of two other images "
                     "drives it more (0.5 is chance, 1 always right)."),
    ("mis_visualization", "The same task with its visualization and its negative rendering "
                          "as the explanations: does the picture predict what the unit does "
                          "on natural images? Compare with MIS (examples)."),
    ("natural_path", "At the layer below it, the cosine between how the picture and how its "
                     "top natural images differ from an ordinary image of the folder (pooled "
                     "activations less the folder's mean): near 1, the picture takes its "
                     "natural images' path; near 0 or below, some other (the layers below "
                     "are listed beside it)."),
    ("activation_ratio", "Its response to the picture over its strongest response to a "
                         "natural image of the folder; above 1 the picture drives it harder "
                         "than any of them."),
    ("flagged", "natural_path below the threshold: the picture reaches the unit by a path "
                "its natural images do not take; do not trust it as a picture of the unit."),
)
MIS_NOTE = ("MIS here is not comparable to published MIS values: the judge is a network's "
            "pooled features, not DreamSim, and its scale is not fitted to people. Use it "
            "to rank units scored the same way (same judge, same folder). README: "
            "\"Scoring units\".")
EXAMPLE_KINDS = (("top", "most activating"), ("bottom", "least activating"))


def target_keys(entry: dict) -> list[tuple[tuple, str | None]]:
    """What a unit renders, as join keys with its role: [(key, None)] for a channel or
    neuron (layer, channel), a direction (layer, direction #) or a class; an
    interpolation's two ends [(key, "from"), (key, "to")]; [] for anything else
    (deepdream, weighted sums)."""
    if isinstance(entry.get("from"), dict) and isinstance(entry.get("to"), dict):
        return [(key, role) for role in ("from", "to")
                for key, _ in target_keys(entry[role])]
    if "channel" in entry:
        return [(("channel", entry.get("layer"), entry["channel"]), None)]
    if "direction" in entry:
        return [(("direction", entry.get("layer"), entry["direction"]), None)]
    if "class" in entry:
        return [(("class", entry["class"]), None)]
    return []


def unit_keys(view, unit) -> list[tuple[tuple, str | None]]:
    """The unit's join keys (:func:`target_keys`) with its job's model (the fingerprint of
    its graph), so that channel 3 of one network never meets channel 3 of another."""
    model = view.plan.get("model")
    model = model.get("fingerprint") if isinstance(model, dict) else None
    return [((model, *key), role) for key, role in target_keys(unit.plan)]


def join_units(views) -> dict[tuple, list]:
    """Every planned unit of every job by join key: [(view, unit, role)] in job order."""
    joined: dict[tuple, list] = {}
    for view in views:
        for unit in view.units:
            for key, role in unit_keys(view, unit):
                joined.setdefault(key, []).append((view, unit, role))
    return joined


def kind_of(view, unit) -> str:
    """What kind of rendering a job makes of its unit: 'channel, MACO', 'class
    (probability), negative', 'channel, diversity (4 images)', 'direction,
    accentuation'..."""
    plan, record = unit.plan, unit.record or {}
    job = view.plan.get("job", {})
    terms = job.get("objective") or [{}]
    kind = terms[0].get("kind", "")
    if "class" in plan:
        kind = f"class ({kind})"
    parts = [kind] if kind else []
    if "seed_png" in record or "seed_image" in plan or "accentuate" in job:
        parts.append("accentuation")
    elif "frames" in plan:
        parts.append(f"interpolation ({plan['frames']} frames)")
    elif isinstance(plan.get("images"), int) and plan["images"] > 1:
        parts.append(f"diversity ({plan['images']} images)")
    param = job.get("param")
    if isinstance(param, dict) and "maco" in param:
        parts.append("MACO")
    if len(terms) == 1 and terms[0].get("negative"):
        parts.append("negative")
    if len(parts) == 1:
        parts.append("default")
    return ", ".join(parts)


def write_unit_pages(folder: Folder, written: set) -> None:
    """The page of every planned unit of every job in ``folder``."""
    joined = join_units(folder.views)
    examples: dict[str, dict[str, dict]] = {}  # by job, read when first needed

    def entries(view) -> dict[str, dict]:
        if view.name not in examples:
            examples[view.name] = _examples_by_stem(folder, view)
        return examples[view.name]

    for view in folder.views:
        for number, unit in enumerate(view.units):
            neighbours = (view.units[number - 1] if number else None,
                          view.units[number + 1] if number + 1 < len(view.units) else None)
            title = f"{unit_label(unit.plan)} · job {view.name}"
            found = _examples_of(folder, view, unit, joined)
            entry = entries(found[0]).get(found[1].plan["stem"]) if found else None
            body = _unit_body(folder, view, unit, joined, neighbours, found, entry)
            write_page(folder.out_dir, folder.page_of(view, unit), title, body, written)


def _examples_of(folder: Folder, view, unit, joined):
    """(job view, unit) whose dataset examples the unit's page shows: its own, else
    those `fvcli examples` found for the same unit (same model and target) in another
    job; None when there are none."""
    if unit.plan["stem"] in folder.extras[view.name].example_grids:
        return view, unit
    for key, role in unit_keys(view, unit):
        for other_view, other, other_role in joined.get(key, []):
            if (role is None and other_role is None and
                    other.plan["stem"] in folder.extras[other_view.name].example_grids):
                return other_view, other
    return None


def _examples_by_stem(folder: Folder, view) -> dict[str, dict]:
    """The job's examples.json entries by unit stem (each entry names its grid,
    examples/<stem>.png); empty when the job has none."""
    if not folder.extras[view.name].example_grids:
        return {}
    try:
        with open(os.path.join(view.store.folder, EXAMPLES_FILE), encoding="utf8") as handle:
            record = json.load(handle)
    except (OSError, ValueError):
        return {}
    entries = record.get("units") if isinstance(record, dict) else None
    prefix, by_stem = f"{EXAMPLES_FOLDER}/", {}
    for entry in entries if isinstance(entries, list) else []:
        grid = entry.get("grid") if isinstance(entry, dict) else None
        if isinstance(grid, str) and grid.startswith(prefix) and grid.endswith(".png"):
            by_stem[grid[len(prefix):-4]] = entry
    return by_stem


def _unit_body(folder: Folder, view, unit, joined, neighbours, examples, entry) -> str:
    return (_navigation(folder, view, unit, neighbours)
            + _visualization(folder, view, unit)
            + _scores(folder, view, unit)
            + (_examples(view, unit, *examples, entry) if examples else "")
            + _other_jobs(folder, view, unit, joined)
            + _record(view, unit))


def _navigation(folder: Folder, view, unit, neighbours) -> str:
    links = [f"<a href='../{INDEX_FILE}'>all jobs</a>",
             f"job <a href='{href(os.path.basename(job_page(view.name)))}'>"
             f"{escape(view.name)}</a>"]
    layer = unit.plan.get("layer")
    if layer:
        links.append(f"layer <a href='{href(os.path.basename(layer_page(layer)))}'>"
                     f"{escape(layer)}</a>")
    for arrow, other in zip(("previous", "next"), neighbours):
        if other is not None:
            page = os.path.basename(folder.page_of(view, other))
            links.append(f"{arrow}: <a href='{href(page)}'>{escape(unit_label(other.plan))}</a>")
    return (f"<p>{' · '.join(links)}</p><p>{escape(kind_of(view, unit))} · "
            f"{escape(unit.plan.get('description', ''))}</p>")


def _visualization(folder: Folder, view, unit) -> str:
    parts = ["<h2>Visualization</h2>", figure(folder, view, unit, "../", ON_OWN_PAGE)]
    record = unit.record or {}
    facts = []
    if unit.done:
        start, end = shown_value(record, "objective_start"), shown_value(record)
        if is_negative(unit):
            # the caption shows the unit's own value; say how it relates to the objective
            facts.append(f"minimised: the unit's value went from "
                         f"{shown_value(record, 'objective_start', negative=True)} on the "
                         f"starting image to {shown_value(record, negative=True)} at the end "
                         f"(the objective, its negative: {start}, then {end})")
        else:
            facts.append(f"objective {start} on the starting image, {end} at the end")
        if record.get("alive") is False:
            facts.append(f"dead: {DEAD_MEANING}; {DEAD_TITLE}")
        if isinstance(record.get("images"), list):
            facts.append(f"{len(record['images'])} images optimised together (a strip)")
        if "objective_without_diversity" in record:
            facts.append(f"objective without diversity "
                         f"{record['objective_without_diversity']:.4g}"
                         + (" (diversity weakened it)" if record.get("diversity_weakened")
                            else ""))
        if record.get("seed_image"):
            facts.append(f"seed image {record['seed_image']}")
        if record.get("alpha_png"):
            facts.append("faded to white where its attribution map (|d objective / d pixel| "
                         "over the steps) is dark" if not record.get("seed_png") else
                         "the alpha map: |d objective / d pixel| over the steps")
    elif unit.failed:
        facts.append(f"failed at step {record.get('step')}: {record.get('reason', '')}")
    else:
        facts.append("not rendered yet (or rendered with other settings than the job's now)")
    parts.append("<ul>" + "".join(f"<li>{escape(fact)}</li>" for fact in facts) + "</ul>")
    return "".join(parts)


def _scores(folder: Folder, view, unit) -> str:
    stem = unit.plan["stem"]
    scores = folder.extras[view.name].scores.get(stem)
    if not scores:
        return ""
    rows = []
    for key, meaning in SCORE_MEANINGS:
        if key not in scores:
            continue
        value = scores[key]
        if key == "flagged":
            shown = "<span class='flag'>yes</span>" if value else "no"
        else:
            shown = format_score(value)
        if key == "natural_path" and isinstance(scores.get("natural_path_layers"), dict):
            shown += "<br><small>" + "<br>".join(
                f"{escape(layer)} {format_score(ratio)}"
                for layer, ratio in scores["natural_path_layers"].items()) + "</small>"
        rows.append(f"<tr><td>{key}</td><td>{shown}</td><td>{escape(meaning)}</td></tr>")
    banner = (f"<p class='banner flag'>{escape(FLAGGED_TITLE)}</p>"
              if scores.get("flagged") else "")
    source = next((file for file in (SCORES_FILE, unit_score_file(stem))
                   if os.path.exists(os.path.join(view.store.folder, file))), None)
    link = (f" · <a href='../{href(view.name + '/' + source)}'>{escape(source)}</a>"
            if source else "")
    return ("<h2>Scores</h2>" + banner
            + "<table><tr><th>score</th><th>value</th><th>what it says</th></tr>"
            + "".join(rows) + "</table>"
            + f"<p class='note'>{escape(MIS_NOTE)}{link}</p>")


# What an examples grid's grey tiles mean; the grid labels a row that found none NONE.
EXAMPLES_GREY = ("Grey tiles: no image of that kind to show. A row labelled NONE found none: "
                 "the slightly negative row stays empty on a layer with no pre-activation, "
                 "whose scores are never below zero (its bottom row then holds the weakest "
                 "images), and rows are short when the folder has few images.")


def _examples(view, unit, source_view, source, entry) -> str:
    """The examples grid and the top and bottom images of ``source`` (the unit itself, or
    the same unit in job ``source_view``)."""
    stem = source.plan["stem"]
    grid = f"../{href(source_view.name + '/' + EXAMPLES_FOLDER + '/' + stem + '.png')}"
    found_for = ("" if source_view is view else
                 f" (found for job {escape(source_view.name)})")
    parts = ["<h2>Dataset examples</h2>",
             f"<figure class='big'><a href='{grid}'><img class='examples' loading='lazy' "
             f"src='{grid}' alt='dataset examples of {escape(unit_label(unit.plan))}'></a>"
             "<figcaption>rows: top, slightly positive, slightly negative, bottom"
             f"{found_for}. {EXAMPLES_GREY}</figcaption></figure>"]
    if entry:
        rows = []
        for kind, meaning in EXAMPLE_KINDS:
            found = entry.get(kind)
            if isinstance(found, list) and found:
                items = ", ".join(
                    f"{escape(example.get('image', '?'))} ({format_score(example.get('score'))})"
                    for example in found if isinstance(example, dict))
                rows.append(f"<tr><td>{kind}</td><td>{meaning}</td><td>{items}</td></tr>")
        if rows:
            parts.append("<table><tr><th>row</th><th></th><th>image (score)</th></tr>"
                         + "".join(rows) + "</table>")
        record = f"../{href(source_view.name + '/' + EXAMPLES_FILE)}"
        parts.append(f"<p class='note'><a href='{record}'>{EXAMPLES_FILE}</a></p>")
    return "".join(parts)


def _kind_rank(kind: str) -> int:
    """Where a kind of rendering comes among a unit's other renderings: single images
    first (default, MACO, negative), then diversity strips, accentuations and
    interpolations."""
    for rank, word in enumerate(("diversity", "accentuation", "interpolation"), 1):
        if word in kind:
            return rank
    return 0


def _other_jobs(folder: Folder, view, unit, joined) -> str:
    others = []
    seen = {(view.name, unit.plan["stem"])}
    for key, role in unit_keys(view, unit):
        for other_view, other, other_role in joined.get(key, []):
            if (other_view.name, other.plan["stem"]) in seen:
                continue
            seen.add((other_view.name, other.plan["stem"]))
            kind = kind_of(other_view, other)
            note = f"{other_view.name} · {kind}"
            if other_role:
                note += f" ({other_role} it)"
            if role:
                note += f", at the {role} end"
            others.append((_kind_rank(kind), len(others), other_view, other, note))
    figures = [figure(folder, other_view, other, "../", RELATED, note=note)
               for _, _, other_view, other, note in sorted(others, key=lambda o: o[:2])]
    score_negative = _score_negative(view, unit)
    if score_negative is not None:
        figures.append(figure(folder, view, score_negative, "../", RELATED,
                              note=f"{view.name} · negative rendering (fvcli score)"))
    heading = "<h2>In other jobs</h2>"
    if not figures:
        return heading + "<p class='note'>No other job of this folder renders this unit.</p>"
    return heading + "<div class='sheet'>" + "".join(figures) + "</div>"


def _score_negative(view, unit) -> UnitView | None:
    """The negative rendering `fvcli score` writes beside a unit (units/<stem>_neg.png, a
    record no job lists), when it is there."""
    stem = unit.plan["stem"] + "_neg"
    if unit.plan["stem"].endswith("_neg") or not target_keys(unit.plan):
        return None
    if not os.path.exists(os.path.join(view.store.folder, unit_png(stem))):
        return None
    record = view.store.read_record(stem)
    if not record or record.get("status", DONE) != DONE:
        return None
    return UnitView(plan={**record, "stem": stem}, record=record, state=DONE)


def _record(view, unit) -> str:
    stem = unit.plan["stem"]
    if unit.record is not None:
        link = f"../{href(view.name + '/' + unit_record_file(stem))}"
        return (f"<h2>Record</h2><p><a href='{link}'>{escape(unit_record_file(stem))}</a></p>"
                f"{_pre(unit.record)}")
    link = f"../{href(view.name + '/' + PLAN_FILE)}"
    return (f"<h2>Record</h2><p>Not rendered: as planned in <a href='{link}'>{PLAN_FILE}</a>"
            f"</p>{_pre(unit.plan)}")


def _pre(value: dict) -> str:
    """``value`` as indented JSON, escaped for a <pre> (quotes stay quotes)."""
    return f"<pre>{html.escape(json.dumps(value, indent=2), quote=False)}</pre>"
