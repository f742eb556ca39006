"""The heatmap page (issue 18, section 1): per instrument, wave and breakdown attribute (or two
crossed, the framework's ``crossed_breakdowns``), every question, index and outcome for each
group against the rest of its audience.

Read from the stored ``heatmap`` table (viewers: the published figures of closed waves only,
through :func:`survey_app.publication.results_for_current_user`); every cell's text carries
the figure, its difference from the rest and whether that is significant, so colour is never
the only carrier. Figures are shown at the display precision (:mod:`survey_app.display`), and
the downloads are the same table through :func:`survey_app.dashboard.routes.send_table`."""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd
from flask import abort, render_template, request
from flask_login import current_user

from analysis.suppression import CROSS

from ..auth.roles import ANALYST_ROLES, VIEWER_ROLES, role_required
from ..definitions import fielded_definitions
from ..display import rounded
from ..publication import results_for_current_user
from ..results import table
from . import bp
from .routes import send_table

LEVEL_ORDER = {"item": 0, "index": 1, "outcome": 2}
LEVEL_NAMES = {"item": "Question", "index": "Index", "outcome": "Outcome"}


@bp.app_template_global()
def breakdown_label(by: str) -> str:
    """A breakdown in words: ``grade``, ``job_family`` as "job family", the crossed
    ``directorate*grade`` as "directorate × grade"."""
    return " × ".join(part.replace("_", " ") for part in by.split(CROSS))


@bp.app_template_global()
def group_label(group: str) -> str:
    """A group as the pages show it: a crossed cell ``Finance*Band 5`` as "Finance × Band 5"
    (downloads keep ``Finance*Band 5``, as the CLI writes it)."""
    return " × ".join(str(group).split(CROSS))


@dataclass
class Cell:
    text: str
    tag: str | None = None  # GOV.UK tag colour of a significant difference
    # A significant difference: what an action planned about it is linked to and a
    # first draft of what was heard, in words without figures (an action may be published,
    # and its figures only ever come from the published results).
    action: dict[str, str] | None = None


@dataclass
class HeatmapView:
    instrument_id: str
    title: str
    waves: list[str]
    attributes: list[str]
    wave: str | None
    by: str | None
    groups: list[str] = field(default_factory=list)
    rows: list[tuple[str, str, list[Cell]]] = field(default_factory=list)  # (kind, label, cells)
    frame: pd.DataFrame = field(default_factory=pd.DataFrame)


def cell_text(level: str, row: pd.Series) -> Cell:
    """``"62%, 8 points above the rest (significant)"``; "not reported" when suppressed."""
    if bool(row["suppressed"]) or pd.isna(row["estimate"]):
        return Cell("not reported")
    unit = "" if level == "index" else "%"
    figure = f"{rounded(row['estimate']):.0f}{unit}"
    difference = rounded(row["difference"])
    if difference is None or pd.isna(difference):
        return Cell(figure)
    points = abs(difference)
    if points == 0:
        compared = "the same as the rest"
    else:
        word = "point" if points == 1 else "points"
        compared = f"{points:.0f} {word} {'above' if difference > 0 else 'below'} the rest"
    if row["significant"] is True:
        return Cell(
            f"{figure}, {compared} (significant)",
            "green" if difference > 0 else "red",
            planned_from(row, difference > 0),
        )
    return Cell(f"{figure}, {compared}")


def planned_from(row: pd.Series, above: bool) -> dict[str, str]:
    """The action form's first values for a significant heatmap cell: the survey, the wave,
    the cell ("S05 · directorate: Place") and what was heard."""
    # the page's rows are indexed by group
    group, by = group_label(row.get("group", row.name)), breakdown_label(row["by"])
    ident = f"{row['id']} {row['level']}" if row["level"] == "index" else str(row["id"])
    return {
        "instrument": str(row["instrument"]),
        "wave": str(row["wave"]),
        "cell": f"{ident} · {by}: {group}",
        "heard": (
            f"{group} ({by}) answered {ident} significantly "
            f"{'more' if above else 'less'} positively than the rest, in {row['wave']}."
        ),
    }


def heatmap_view(result, instrument_id: str, wave: str | None, by: str | None) -> HeatmapView:
    definitions = fielded_definitions()
    try:
        instrument = definitions.instrument(instrument_id)
    except KeyError:
        abort(404)
    cells = table(result, "heatmap")
    mine = cells[cells["instrument"] == instrument_id] if not cells.empty else cells
    order = {w: i for i, w in enumerate(result.wave_order if result else [])}
    waves = sorted(set(mine["wave"]) if not mine.empty else set(), key=lambda w: order.get(w, -1))
    attributes = sorted(set(mine["by"])) if not mine.empty else []
    if wave is not None and wave not in waves or by is not None and by not in attributes:
        abort(404)
    wave = wave or (waves[-1] if waves else None)
    by = by or (attributes[0] if attributes else None)
    view = HeatmapView(instrument_id, instrument.title, waves, attributes, wave, by)
    if wave is None or by is None:
        return view
    shown = mine[(mine["wave"] == wave) & (mine["by"] == by)].copy()
    questions = {q.id: q.text for q in instrument.scale_questions}
    shown["label"] = [
        questions.get(i, i) if level == "item" else f"{i} {level}" if level == "index" else i
        for level, i in zip(shown["level"], shown["id"], strict=True)
    ]
    view.groups = sorted(set(shown["group"]))
    for (level, _unit), rows in sorted(
        shown.groupby(["level", "id"], sort=False), key=lambda kv: LEVEL_ORDER.get(kv[0][0], 3)
    ):
        by_group = rows.set_index("group")
        view.rows.append(
            (
                LEVEL_NAMES.get(level, level),
                str(rows["label"].iloc[0]),
                [
                    cell_text(level, by_group.loc[g]) if g in by_group.index else Cell("–")
                    for g in view.groups
                ],
            )
        )
    view.frame = shown.assign(question=shown["label"])[
        [
            "level",
            "id",
            "question",
            "group",
            "n",
            "estimate",
            "rest_estimate",
            "difference",
            "p_adj",
            "significant",
            "suppressed",
        ]
    ]
    return view


@bp.get("/heatmap/<instrument_id>")
@role_required(*VIEWER_ROLES)
def heatmap(instrument_id: str):
    result, stale = results_for_current_user()
    view = heatmap_view(
        result, instrument_id, request.args.get("wave") or None, request.args.get("by") or None
    )
    definitions = fielded_definitions()
    min_n = definitions.framework.min_n(definitions.instrument(instrument_id).audience)
    return render_template(
        "dashboard/heatmap.html",
        title=f"Where is it better or worse? {view.title}",
        view=view,
        result=result,
        stale=stale,
        min_n=min_n,
        can_plan=current_user.role in ANALYST_ROLES,
    )


@bp.get("/heatmap/<instrument_id>/<wave>/<by>.<fmt>")
@role_required(*VIEWER_ROLES)
def heatmap_download(instrument_id: str, wave: str, by: str, fmt: str):
    result, _ = results_for_current_user()
    view = heatmap_view(result, instrument_id, wave, by)
    stem = f"heatmap-{instrument_id}-{wave}-{by.replace('*', '-by-')}"
    return send_table(view.frame.reset_index(drop=True), stem, fmt)
