"""One outcome for one audience: the trend with its confidence band, the items behind it and
its breakdowns, all read from stored results (already suppressed), with comparability breaks."""

from __future__ import annotations

import datetime as dt
import functools
import itertools
import math
from dataclasses import dataclass, field

import pandas as pd
from sqlalchemy import select

from analysis.rag import baseline_date_or_first, format_date, trajectory
from instruments import Definitions, Measure, Outcome, diff_instruments

from ..display import for_display, rounded
from ..extensions import db
from ..methodology import unit_note
from ..models import AnalysisResult, InstrumentVersion, Wave
from ..publication import is_published_view, published_responses
from ..response_counts import ShownCount, response_rate, wave_total
from ..results import table
from ..targets import Target, current_target
from .charts import ChartPoint, References, chart_id, trend_svg
from .scorecard import closing_dates, measure_waves

# the test and status columns a measure's trend table adds to the indicators' own
MEASURE_COLUMNS = ["change", "p_adj", "mdc", "significance", "trajectory", "status", "reason"]


@dataclass
class InstrumentView:
    instrument_id: str
    title: str
    trend: pd.DataFrame  # wave, n, estimate, ci_low, ci_high, suppressed
    items: pd.DataFrame  # question, text, then one % positive column per wave
    breakdowns: dict[str, pd.DataFrame]  # by column -> group x wave table of estimates
    breaks: frozenset[str]  # waves after which questions of this outcome are not comparable
    rates: list[tuple[str, ShownCount, int | None, str]]  # wave, responses, audience size, rate
    chart_title: str
    blank: dict[str, str] = field(default_factory=dict)  # wave -> why it could not be estimated
    ident: str = "chart"  # the chart's id prefix, unique on the page
    target: Target | None = None  # of the framework measure this view shows, if there is one
    trajectory_line: list[float | None] = field(default_factory=list)  # per row of ``trend``

    @functools.cached_property
    def chart(self) -> str:
        """The trend as SVG, drawn only for the page (a download needs the tables alone)."""
        # the chart's coordinates are figures too: drawn from the whole numbers the table shows
        points = [
            ChartPoint(
                r.wave, rounded(_num(r.estimate)), rounded(_num(r.ci_low)), rounded(_num(r.ci_high))
            )
            for r in self.trend.itertuples()
        ]
        shown = [
            f"{p.wave} {p.estimate:.0f}%" if p.estimate is not None else f"{p.wave} not reported"
            for p in points
        ]
        breaks = (
            " Comparability breaks before " + ", ".join(sorted(self.breaks)) + "."
            if self.breaks
            else ""
        )
        references = References()
        aims = ""
        if self.target is not None:
            line = [rounded(v) for v in self.trajectory_line]
            references = References(self.target.target, tuple(line), self.target.baseline)
            aims = "".join(
                (
                    f" Target {self.target.target:.0f}%"
                    + (
                        f" by {format_date(self.target.target_date)}"
                        if self.target.target_date
                        else ""
                    )
                    + "."
                )
                if self.target.target is not None
                else ""
            )
            if self.target.baseline is not None:
                aims += f" Baseline {self.target.baseline:.0f}%."
            if any(v is not None for v in line):
                aims += (
                    " Trajectory: "
                    + "; ".join(
                        f"{p.wave} {v:.0f}%"
                        for p, v in zip(points, line, strict=True)
                        if v is not None
                    )
                    + "."
                )
        return trend_svg(
            points,
            self.chart_title,
            "Outcome score by wave with 95% confidence "
            "intervals: " + "; ".join(shown) + "." + aims + breaks,
            self.breaks,
            ident=self.ident,
            references=references,
        )


def outcome_measure(outcome: Outcome, audience: str, instrument_id: str) -> Measure | None:
    """The framework measure that is this outcome's score for the audience from this
    instrument (None if the framework has none)."""
    return next(
        (
            m
            for m in outcome.measures
            if m.type == "survey"
            and m.audience == audience
            and m.level == "outcome"
            and m.instrument in (None, instrument_id)
        ),
        None,
    )


def _trajectory_line(target: Target, closes: list[dt.date | None]) -> list[float | None]:
    """The trajectory read at each wave's closing date (None without a target, baseline or
    target date, or for a wave with no closing date)."""
    start = baseline_date_or_first(target.baseline_date, [c for c in closes if c])
    if None in (target.target, target.baseline, target.target_date, start):
        return [None] * len(closes)
    return [
        trajectory(target.baseline, target.target, start, target.target_date, c)  # type: ignore[arg-type]
        if c
        else None
        for c in closes
    ]


def _num(x) -> float | None:
    return None if x is None or (isinstance(x, float) and math.isnan(x)) else float(x)


def comparability_breaks(
    instrument_id: str, item_ids: set[str], order: list[str]
) -> frozenset[str]:
    """Waves fielded with a version whose change from the previous wave's version rewords or
    rescales one of ``item_ids``."""
    versions = {
        label: version
        for label, version in db.session.execute(
            select(Wave.label, InstrumentVersion)
            .join(InstrumentVersion)
            .where(InstrumentVersion.instrument_id == instrument_id)
        ).all()
    }
    waves = [w for w in order if w in versions]
    breaks = set()
    for before, after in itertools.pairwise(waves):
        old, new = versions[before], versions[after]
        if (
            old.id != new.id
            and set(diff_instruments(old.instrument, new.instrument).breaking) & item_ids
        ):
            breaks.add(after)
    return frozenset(breaks)


def response_rates(
    instrument_id: str, order: list[str], result: AnalysisResult | None = None
) -> list[tuple[str, ShownCount, int | None, str]]:
    """Per wave of an instrument that ``result`` reports, in wave order: the responses
    (suppressed as on the response monitor; beside the published figures, as counted when
    they were published), the audience size and the response rate."""
    waves = db.session.scalars(
        select(Wave).join(InstrumentVersion).where(InstrumentVersion.instrument_id == instrument_id)
    ).all()
    rank = {w: i for i, w in enumerate(order)}
    counts = published_responses() if is_published_view(result) else None
    rates = []
    for wave in sorted((w for w in waves if w.label in rank), key=lambda w: rank[w.label]):
        if counts is not None and wave.id not in counts:
            continue  # a live wave sharing a published wave's label
        total = wave_total(wave, None if counts is None else counts[wave.id])
        rates.append((wave.label, total, wave.audience_size, response_rate(wave, total)))
    return rates


def _wide(rows: pd.DataFrame, index: str, order: list[str]) -> pd.DataFrame:
    waves = [w for w in order if w in set(rows["wave"])]
    wide = rows.pivot_table(
        index=index, columns="wave", values="estimate", aggfunc="first", dropna=False
    )
    return wide.reindex(columns=waves)


def drilldown(
    definitions: Definitions,
    result: AnalysisResult | None,
    outcome: Outcome,
    audience: str,
    instrument_id: str | None = None,
) -> list[InstrumentView]:
    """The outcome's views for the audience, one per instrument (only ``instrument_id``'s if
    given, e.g. for one table's download)."""
    indicators, changes, notes = (
        table(result, "indicators"),
        table(result, "changes"),
        table(result, "notes"),
    )
    order = list(result.wave_order) if result else []
    closing = closing_dates()
    views = []
    for instrument in sorted(definitions.instruments.values(), key=lambda i: i.id):
        questions = instrument.outcome_questions(outcome.id)
        if (
            instrument.audience != audience
            or not questions
            or indicators.empty
            or instrument_id not in (None, instrument.id)
        ):
            continue
        mine = indicators[
            (indicators["instrument"] == instrument.id) & (indicators["audience"] == audience)
        ]
        overall = mine[
            (mine["level"] == "outcome") & (mine["id"] == outcome.id) & mine["by"].isna()
        ]
        rank = {w: i for i, w in enumerate(order)}
        overall = overall.assign(rank=overall["wave"].map(rank)).sort_values("rank")
        trend = overall[["wave", "n", "estimate", "ci_low", "ci_high", "suppressed"]].reset_index(
            drop=True
        )
        measure = outcome_measure(outcome, audience, instrument.id)
        target = current_target(measure) if measure else None
        if measure is not None:
            # the change, its test, the trajectory and the status of each wave (scorecard rules)
            waves = measure_waves(
                measure, outcome.id, indicators, changes, order, notes, closing, target
            )
            if not waves.empty:
                waves = waves[waves["instrument"] == instrument.id]
            trend = trend.merge(
                waves[["wave", *MEASURE_COLUMNS]]
                if not waves.empty
                else pd.DataFrame(columns=["wave", *MEASURE_COLUMNS]),
                on="wave",
                how="left",
            )
        else:
            trend = trend.assign(**dict.fromkeys(MEASURE_COLUMNS))
        line = (
            _trajectory_line(target, [closing.get((instrument.id, w)) for w in trend["wave"]])
            if target
            else []
        )
        item_ids = {q.id for q in questions}
        items = mine[(mine["level"] == "item") & mine["id"].isin(item_ids) & mine["by"].isna()]
        item_table = _wide(items, "id", order) if not items.empty else pd.DataFrame()
        if not item_table.empty:
            item_table.insert(0, "question", [instrument.result_text(q) for q in item_table.index])
        grouped = mine[
            (mine["level"] == "outcome") & (mine["id"] == outcome.id) & mine["by"].notna()
        ]
        breakdowns = {by: _wide(rows, "group", order) for by, rows in grouped.groupby("by")}
        breaks = comparability_breaks(instrument.id, item_ids, order)
        unestimated = trend[trend["estimate"].isna() & ~trend["suppressed"].astype(bool)]
        blank = {
            w: note for w in unestimated["wave"] if (note := unit_note(result, instrument.id, w))
        }
        views.append(
            InstrumentView(
                instrument.id,
                instrument.title,
                trend,
                item_table,
                breakdowns,
                breaks,
                response_rates(instrument.id, order, result),
                f"{outcome.id} for {audience}: {instrument.title}",
                blank,
                chart_id(outcome.id, audience, instrument.id),
                target,
                line,
            )
        )
    return views


def download_table(view: InstrumentView, name: str) -> pd.DataFrame:
    """The table shown on the page, as a frame for CSV or Excel (suppressed figures blank)."""
    if name == "trend":
        return for_display(view.trend)
    if name == "items":
        return for_display(
            view.items.reset_index().rename(columns={"id": "question_id"}),
            whole=view.items.columns.drop("question", errors="ignore"),
        )
    if name.startswith("by-") and name[3:] in view.breakdowns:
        wide = view.breakdowns[name[3:]]
        return for_display(wide.reset_index(), whole=wide.columns)
    raise KeyError(name)
