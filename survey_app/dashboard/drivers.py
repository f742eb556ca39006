"""Key drivers on the outcome pages (issue 18, section 2): for each driver target of a survey
(the framework's ``key_drivers``: this outcome, or the survey's indices), its latest wave's
items by importance (share of R^2) and score, as a priority chart with labelled quadrants and
the same figures as a table. Drivers are associated with the target, not the cause of it.

Read from the stored ``drivers`` table (viewers: published waves only, as the page's
``result``); figures at the display precision."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd
from flask import abort

from analysis.drivers import DRIVER_COLUMNS

from ..auth.roles import VIEWER_ROLES, role_required
from ..definitions import fielded_definitions
from ..display import rounded
from ..publication import results_for_current_user
from ..results import table
from . import bp
from .charts import FONT_SIZE, INK, LINE, WIDTH_INCHES, inline_svg, pyplot
from .routes import send_table

STRENGTH, PRIORITY = "strength", "priority to improve"
MAINTAIN, LOWER = "maintain", "lower priority"


@dataclass
class DriverRow:
    item: str
    question: str
    importance: float
    ci_low: float | None
    ci_high: float | None
    score: float
    quadrant: str


@dataclass
class DriverView:
    instrument_id: str
    target_level: str
    target_id: str
    target: str
    wave: str
    n: int
    r2: float
    rows: list[DriverRow]
    chart: str


def quadrant(importance: float, score: float, mean_importance: float, mean_score: float) -> str:
    """Above-average importance with a below-average score is a priority to improve; with an
    above-average score, a strength; below-average importance: maintain or lower priority."""
    if importance >= mean_importance:
        return STRENGTH if score >= mean_score else PRIORITY
    return MAINTAIN if score >= mean_score else LOWER


def _chart(rows: list[DriverRow], title: str, chart_id: str) -> str:
    x = [r.importance for r in rows]
    y = [r.score for r in rows]
    mean_x, mean_y = sum(x) / len(x), sum(y) / len(y)
    # drawn at the trend charts' scale so that no text falls below 12 CSS px at 320 px
    plt = pyplot()
    with plt.rc_context({"svg.fonttype": "none", "font.size": FONT_SIZE}):
        fig, ax = plt.subplots(figsize=(WIDTH_INCHES, WIDTH_INCHES), dpi=72)
        ax.scatter(x, y, color=LINE, s=24)
        for row in rows:
            ax.annotate(
                row.item,
                (row.importance, row.score),
                fontsize=FONT_SIZE,
                color=INK,
                xytext=(3, 3),
                textcoords="offset points",
            )
        ax.axvline(mean_x, color=INK, linestyle="--", linewidth=1)
        ax.axhline(mean_y, color=INK, linestyle="--", linewidth=1)
        left, right = 0.0, max(x) * 1.15 + 1
        bottom, top = max(min(y) - 10, 0), min(max(y) + 10, 100)
        ax.set_xlim(left, right)
        ax.set_ylim(bottom, top)
        for text, (hx, vy) in {
            PRIORITY: ("right", "bottom"),
            STRENGTH: ("right", "top"),
            MAINTAIN: ("left", "top"),
            LOWER: ("left", "bottom"),
        }.items():
            ax.text(
                right if hx == "right" else left,
                top if vy == "top" else bottom,
                f" {text} ",
                ha=hx,
                va=vy,
                fontsize=FONT_SIZE,
                fontweight="bold",
                color=INK,
            )
        ax.set_xlabel("Importance (% of the explained variation)")
        ax.set_ylabel("Score (0 to 100)")
        for side in ("top", "right"):
            ax.spines[side].set_visible(False)
        description = "; ".join(
            f"{r.item}: importance {r.importance:.0f}%, score {r.score:.0f}, {r.quadrant}"
            for r in rows
        )
        fig.set_layout_engine("constrained")
        return inline_svg(fig, title, description, chart_id)


@bp.app_template_global()
def key_drivers_for(result, instrument_id: str, outcome_id: str) -> list[DriverView]:
    """The driver views of one survey on an outcome page: targets that are this outcome or an
    index, each at its latest wave with drivers."""
    drivers = table(result, "drivers")
    if drivers.empty:
        return []
    mine = drivers[
        (drivers["instrument"] == instrument_id)
        & (
            (drivers["target_level"] == "index")
            | ((drivers["target_level"] == "outcome") & (drivers["target_id"] == outcome_id))
        )
    ]
    try:
        instrument = fielded_definitions().instrument(instrument_id)
        questions = {q.id: q.text for q in instrument.scale_questions}
    except KeyError:
        questions = {}
    order = {w: i for i, w in enumerate(result.wave_order)}
    views = []
    for (level, target), rows in mine.groupby(["target_level", "target_id"], sort=True):
        wave = max(set(rows["wave"]), key=lambda w: order.get(w, -1))
        latest = rows[rows["wave"] == wave].sort_values("importance", ascending=False)
        shown = [
            (
                str(r.item),
                rounded(r.importance),
                rounded(r.ci_low),
                rounded(r.ci_high),
                rounded(r.item_score),
            )
            for r in latest.itertuples()
        ]
        mean_importance = sum(s[1] or 0 for s in shown) / len(shown)
        mean_score = sum(s[4] or 0 for s in shown) / len(shown)
        items = [
            DriverRow(
                item,
                questions.get(item, item),
                imp or 0.0,
                low,
                high,
                score or 0.0,
                quadrant(imp or 0.0, score or 0.0, mean_importance, mean_score),
            )
            for item, imp, low, high, score in shown
        ]
        label = f"the {target} index" if level == "index" else f"outcome {target}"
        views.append(
            DriverView(
                instrument_id,
                str(level),
                str(target),
                label,
                wave,
                int(latest["n"].iloc[0]),
                float(latest["r2"].iloc[0]),
                items,
                _chart(
                    items,
                    f"What goes with {label}, {wave}",
                    f"drivers-{instrument_id}-{level}-{target}",
                ),
            )
        )
    return views


def drivers_download_frame(
    result, instrument_id: str, target_level: str, target_id: str, wave: str
) -> pd.DataFrame:
    """One target's drivers of one wave as ``drivers.csv`` has them (the CLI's columns, in
    its order: the most important first) with each item's question text; ``KeyError`` when
    the results have none."""
    drivers = table(result, "drivers")
    if drivers.empty:
        raise KeyError(target_id)
    rows = drivers[
        (drivers["instrument"] == instrument_id)
        & (drivers["target_level"] == target_level)
        & (drivers["target_id"] == target_id)
        & (drivers["wave"] == wave)
    ]
    if rows.empty:
        raise KeyError(target_id)
    try:
        instrument = fielded_definitions().instrument(instrument_id)
        questions = {q.id: q.text for q in instrument.scale_questions}
    except KeyError:  # an instrument no longer defined: its items by id alone
        questions = {}
    rows = rows.sort_values("importance", ascending=False, kind="stable")[DRIVER_COLUMNS]
    return rows.assign(question=rows["item"].map(lambda i: questions.get(i, i))).reset_index(
        drop=True
    )


@bp.get("/drivers/<instrument_id>/<target_level>/<target_id>/<wave>.<fmt>")
@role_required(*VIEWER_ROLES)
def drivers_download(instrument_id: str, target_level: str, target_id: str, wave: str, fmt: str):
    """The table of a driver view on the outcome pages as CSV or Excel, at the precision the
    page shows (viewers: published waves only, as on the page)."""
    result, _ = results_for_current_user()
    try:
        frame = drivers_download_frame(result, instrument_id, target_level, target_id, wave)
    except KeyError:
        abort(404)
    return send_table(frame, f"drivers-{instrument_id}-{target_level}-{target_id}-{wave}", fmt)
