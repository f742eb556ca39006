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

from instruments import Definitions, Measure, Outcome, diff_instruments

from ..display import for_display, rounded
from ..extensions import db
from ..methodology import unit_note
from ..models import AnalysisResult, InstrumentVersion, Wave
from ..publication import is_published_view, published_responses
from ..response_counts import ShownCount, response_rate, wave_total
from ..results import table
from ..targets import Target, current_target
from .charts import ChartPoint, References, chart_id, references_text, trend_svg
from .figures import FIGURE_COLUMNS, figures_by_wave, in_wave_order
from .scorecard import (
    STATUS_COLUMNS,
    closing_dates,
    measures_reading,
    trajectory_line,
    with_measure_status,
)

#: the outcome score's trend by wave (page and download): the figures, the change into each
#: wave with its test, and the trajectory and status of the framework's measure, if any
TREND_COLUMNS = [*FIGURE_COLUMNS, "trajectory", "status", "reason"]


@dataclass
class InstrumentView:
    instrument_id: str
    title: str
    trend: pd.DataFrame  # TREND_COLUMNS
    items: pd.DataFrame  # question, text, then one % positive column per wave
    breakdowns: dict[str, pd.DataFrame]  # by column -> group x wave table of estimates
    breaks: frozenset[str]  # waves after which questions of this outcome are not comparable
    rates: list[tuple[str, ShownCount, int | None, str]]  # wave, responses, audience size, rate
    chart_title: str
    blank: dict[str, str] = field(default_factory=dict)  # wave -> why it could not be estimated
    ident: str = "chart"  # the chart's id prefix, unique on the page
    target: Target | None = None  # of the framework measure this view shows, if there is one
    trajectory_line: list[float | None] = field(default_factory=list)  # per row of ``trend``
    source: Source | None = None  # what the long downloads are read from

    @functools.cached_property
    def item_figures(self) -> pd.DataFrame:
        """The questions behind the outcome in long form, for the download: one row per
        question and wave (in the instrument's question order, then wave order) with n, the %
        positive and its CI, the change into that wave with its p-values, MDC and significance,
        and for a question a framework measure reads, its target, trajectory and status."""
        source = self.source
        if source is None or source.items.empty:
            return pd.DataFrame()
        rank = {q: i for i, q in enumerate(source.texts)}
        rows = in_wave_order(
            source.items.assign(_q=source.items["id"].map(rank)), source.order, ["_q"]
        )
        long = figures_by_wave(rows, source.changes, keep=["instrument", "level", "id"])
        long = with_measure_status(
            long,
            source.item_measures,
            source.indicators,
            source.changes,
            source.order,
            source.notes,
            source.closing,
        )
        long.insert(0, "question", long["id"].map(source.texts))
        return long.drop(columns=["instrument", "level"]).rename(columns={"id": "question_id"})[
            ["question_id", "question", *FIGURE_COLUMNS, *STATUS_COLUMNS]
        ]

    def group_figures(self, by: str) -> pd.DataFrame:
        """The outcome score by one breakdown in long form, for the download: one row per
        group and wave with the same figures as :attr:`item_figures` (a group is not a measure:
        no target or status); a suppressed group's figures are blank."""
        source = self.source
        if source is None or by not in self.breakdowns:
            raise KeyError(by)
        rows = source.groups[source.groups["by"] == by]
        rows = in_wave_order(rows, source.order, ["group"])
        long = figures_by_wave(
            rows,
            source.changes,
            keep=["id", "by", "group"],
            direction=(self.target.direction if self.target else "higher"),
        )
        return long.rename(columns={"id": "outcome"})

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
        references, aims = References(), ""
        if self.target is not None:
            line = tuple(rounded(v) for v in self.trajectory_line)
            references = References(self.target.target, line, self.target.baseline)
            aims = references_text(
                references, [p.wave for p in points], "%", self.target.target_date
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


@dataclass(frozen=True)
class Source:
    """What an instrument view's long downloads are read from (stored results only)."""

    indicators: pd.DataFrame  # the stored tables (a measure may read several surveys)
    changes: pd.DataFrame
    items: pd.DataFrame  # whole-audience rows of the outcome's questions
    groups: pd.DataFrame  # breakdown rows of the outcome score
    texts: dict[str, str]  # question id -> result text ("% disagreeing: ..."), in order
    item_measures: list[tuple[str, str, Measure]]
    order: list[str]
    notes: pd.DataFrame
    closing: dict[tuple[str, str], dt.date]


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
        # the outcome score's own changes (the lookup is built per page: keep it small)
        score_changes = (
            changes[
                (changes["instrument"] == instrument.id)
                & (changes["level"] == "outcome")
                & (changes["id"] == outcome.id)
                & changes["by"].isna()
            ]
            if not changes.empty
            else changes
        )
        measure = outcome_measure(outcome, audience, instrument.id)
        target = current_target(measure) if measure else None
        # each wave's figures with the change into it and its test, and for the framework's
        # measure its trajectory and status (the scorecard's rules)
        trend = with_measure_status(
            figures_by_wave(
                in_wave_order(overall, order),
                score_changes,
                keep=["instrument", "level", "id"],
                direction=target.direction if target else "higher",
            ),
            [("outcome", outcome.id, measure)] if measure else [],
            indicators,  # all of them: a measure may read several surveys (its first wave)
            changes,
            order,
            notes,
            closing,
        )[TREND_COLUMNS].reset_index(drop=True)
        line = (
            trajectory_line(target, [closing.get((instrument.id, w)) for w in trend["wave"]])
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
                Source(
                    indicators,
                    changes,
                    items,
                    grouped,
                    {q.id: instrument.result_text(q.id) for q in questions if q.id in item_ids},
                    measures_reading(definitions.framework, audience, instrument.id, ("item",)),
                    order,
                    notes,
                    closing,
                ),
            )
        )
    return views


def download_table(view: InstrumentView, name: str) -> pd.DataFrame:
    """A table of the page as a frame for CSV or Excel, in long form (one row per wave of the
    outcome score, question x wave, or breakdown group x wave) with every figure: n, estimate,
    CI, change, p-values (BH), MDC, significance, and for measures the trajectory and status.
    Suppressed figures are blank; figures at the precision the page shows (for_display)."""
    if name == "trend":
        return for_display(view.trend)
    if name == "items":
        return for_display(view.item_figures)
    if name.startswith("by-") and name[3:] in view.breakdowns:
        return for_display(view.group_figures(name[3:]))
    raise KeyError(name)
