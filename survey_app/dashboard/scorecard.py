"""The scorecard: every outcome's measures with their latest figure, status against the
trajectory to the target, significance tag and trend.

Everything is read from stored analysis results (suppressed figures are already blank there)
and KPI values; the status rules are analysis.rag's (issue 17 section 1)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
from collections.abc import Iterable
from dataclasses import dataclass, field

import pandas as pd
from sqlalchemy import select

from analysis.rag import (
    SignificanceTag,
    Status,
    StatusKey,
    baseline_date_or_first,
    describe_counts,
    rate,
    significance,
    status_counts,
    summary_status,
)
from instruments import Framework, Measure, Outcome

from .. import clock
from ..display import rounded
from ..extensions import db
from ..models import AnalysisResult, InstrumentVersion, KpiValue, Wave
from ..results import table
from ..targets import Target, current_target, measure_label


@dataclass(frozen=True)
class Point:
    label: str  # wave or period
    value: float | None  # None: suppressed or missing


@dataclass(frozen=True)
class MeasureRow:
    measure: Measure
    title: str  # what is measured, naming the audience (the framework's title)
    target: Target
    latest: Point | None
    change: float | None  # since the previous wave or period, in the measure's units
    significance: SignificanceTag
    series: list[Point]
    status: Status  # of the latest closed wave (a KPI: the latest period)
    unit: str
    rated: Point | None = None  # the wave or period the status is for

    @property
    def trajectory(self) -> float | None:
        """The trajectory's value the status compared the estimate with."""
        return self.status.trajectory

    @property
    def change_note(self) -> str:
        return self.significance.label

    @property
    def sparkline(self) -> str | None:
        """SVG polyline points for the trend (the figures are also given as text)."""
        # drawn from the figures as shown (whole numbers for %): coordinates are figures too
        shown = [rounded(p.value) if self.unit == "%" else p.value for p in self.series]
        values = [v for v in shown if v is not None]
        if len(values) < 2:
            return None
        low, high = min(values), max(values)
        span = (high - low) or 1.0
        step = 76 / (len(self.series) - 1)
        return " ".join(
            f"{2 + i * step:.1f},{18 - (v - low) / span * 16:.1f}"
            for i, v in enumerate(shown)
            if v is not None
        )


@dataclass
class OutcomeCard:
    outcome: Outcome
    rows: list[MeasureRow] = field(default_factory=list)

    @property
    def summary(self) -> Status:
        """The outcome's summary status: its median measure's (analysis.rag.summary_status)."""
        return summary_status(r.status for r in self.rows)

    @property
    def status_counts(self) -> dict[StatusKey, int]:
        return status_counts(r.status for r in self.rows)

    @property
    def counts_text(self) -> str:
        """e.g. "2 of 4 on track · 1 close · 1 off track"."""
        return describe_counts(r.status for r in self.rows)


@dataclass(frozen=True)
class Headline:
    """The scorecard's headline: measures by status, then outcomes by summary status."""

    measures: dict[StatusKey, int]
    outcomes: dict[StatusKey, int]


def headline(cards: Iterable[OutcomeCard]) -> Headline:
    """Counts of measures by status, then of outcomes by summary status (every key present)."""
    cards = list(cards)
    return Headline(
        measures=status_counts(row.status for card in cards for row in card.rows),
        outcomes=status_counts(card.summary for card in cards),
    )


def all_cards(board: dict[str, dict[str, list[OutcomeCard]]]) -> list[OutcomeCard]:
    """The outcome cards of a :func:`scorecard` board, in framework order."""
    return [
        card for workstreams in board.values() for cards in workstreams.values() for card in cards
    ]


def _value(x) -> float | None:
    return None if x is None or (isinstance(x, float) and math.isnan(x)) else float(x)


def _blank_reason(notes: pd.DataFrame, instrument: str, wave: str) -> str | None:
    """The note of a unit that could not be estimated (its figures are blank), if any."""
    if notes.empty:
        return None
    found = notes[
        (notes["instrument"] == instrument)
        & (notes["wave"] == wave)
        & notes["note"].str.startswith("could not be")
    ]
    return str(found.iloc[0]["note"]) if not found.empty else None


def period_end(period: str) -> dt.date:
    """The last day of a KPI period named ``YYYY-Qn`` (calendar quarters)."""
    year, quarter = int(period[:4]), int(period[-1])
    if not (period[4:6] == "-Q" and 1 <= quarter <= 4 and len(period) == 7):
        raise ValueError(f"a KPI period is a year and quarter like 2026-Q4, not {period!r}")
    first_of_next = dt.date(year + quarter // 4, quarter % 4 * 3 + 1, 1)
    return first_of_next - dt.timedelta(days=1)


def _closing_dates() -> dict[tuple[str, str], dt.date]:
    """(instrument id, wave label) → the wave's closing date."""
    rows = db.session.execute(
        select(InstrumentVersion.instrument_id, Wave.label, Wave.closes_on).join(
            Wave, Wave.instrument_version_id == InstrumentVersion.id
        )
    )
    return {(instrument, label): closes for instrument, label, closes in rows}


def _rate(measure: Measure, target: Target, estimate, at, first_dates, suppressed=False) -> Status:
    return rate(
        estimate,
        target.target,
        target.baseline,
        baseline_date_or_first(target.baseline_date, first_dates),
        target.target_date,
        at,
        direction=target.direction,
        amber_margin=target.amber_margin,
        suppressed=suppressed,
        unit=measure.unit,
    )


def _survey_row(
    measure: Measure,
    outcome: Outcome,
    indicators: pd.DataFrame,
    changes: pd.DataFrame,
    order: list[str],
    notes: pd.DataFrame,
    closing: dict[tuple[str, str], dt.date],
) -> MeasureRow:
    target = current_target(measure)
    title = measure_label(measure)
    ident = {"outcome": outcome.id, "index": measure.index, "item": measure.item}[measure.level]
    rows = pd.DataFrame()
    if not indicators.empty:
        rows = indicators[
            (indicators["audience"] == measure.audience)
            & (indicators["level"] == measure.level)
            & (indicators["id"] == ident)
            & indicators["by"].isna()
        ]
        if measure.instrument:
            rows = rows[rows["instrument"] == measure.instrument]
    rank = {w: i for i, w in enumerate(order)}
    rows = rows.assign(rank=rows["wave"].map(rank)).sort_values("rank") if not rows.empty else rows
    series = [Point(r.wave, _value(r.estimate)) for r in rows.itertuples()]
    no_comparison = significance(None, None, not_compared="no earlier wave")
    if rows.empty:
        status = Status("none", "No responses yet")
        return MeasureRow(measure, title, target, None, None, no_comparison, [], status, "%")
    last = rows.iloc[-1]
    latest = Point(last["wave"], _value(last["estimate"]))
    change, tag = None, no_comparison
    if len(rows) >= 2 and not changes.empty:
        found = changes[
            (changes["instrument"] == last["instrument"])
            & (changes["level"] == measure.level)
            & (changes["id"] == ident)
            & changes["by"].isna()
            & (changes["wave_to"] == last["wave"])
        ]
        comparable = found.empty or "comparable" not in found or bool(found.iloc[0]["comparable"])
        if not comparable:
            tag = significance(None, None, not_compared=str(found.iloc[0]["note"]))
        elif not found.empty and (change := _value(found.iloc[0]["change"])) is not None:
            tag = significance(
                change, bool(found.iloc[0]["significant"]), direction=target.direction
            )
        elif not found.empty:
            tag = significance(None, None, not_compared="too few responses in one of the waves")
    # the status is for the latest wave that has closed (a live wave's figure can still move)
    today = clock.today()
    dates = [closing.get((r.instrument, r.wave)) for r in rows.itertuples()]
    closed = [
        (r, day) for r, day in zip(rows.itertuples(), dates, strict=True) if day and day < today
    ]
    first_dates = [day for day in dates if day]
    if not closed:
        status, rated = Status("none", "No closed wave yet"), None
    else:
        row, closes = closed[-1]
        rated = Point(row.wave, _value(row.estimate))
        status = _rate(measure, target, rated.value, closes, first_dates, bool(row.suppressed))
        blank = _blank_reason(notes, row.instrument, row.wave) if rated.value is None else None
        if blank and not row.suppressed:
            status = dataclasses.replace(status, reason=f"not estimated: {blank}")
    return MeasureRow(measure, title, target, latest, change, tag, series, status, "%", rated)


def _kpi_row(measure: Measure, values: list[KpiValue]) -> MeasureRow:
    target = current_target(measure)
    series = [Point(v.period, v.value) for v in values]
    latest = series[-1] if series else None
    change = values[-1].value - values[-2].value if len(values) >= 2 else None
    tag = significance(
        None,
        None,
        not_compared="KPI values are not tested" if change is not None else "no earlier period",
    )
    if latest is None:
        status = Status("none", "No value recorded yet")
    else:
        ends = [period_end(v.period) for v in values]
        status = _rate(measure, target, latest.value, ends[-1], ends[:1])
    return MeasureRow(
        measure,
        measure_label(measure),
        target,
        latest,
        change,
        tag,
        series,
        status,
        measure.unit,
        latest,
    )


def scorecard(
    framework: Framework, result: AnalysisResult | None, up_to: str | None = None
) -> dict[str, dict[str, list[OutcomeCard]]]:
    """Priority title → workstream title ("" for none) → outcome cards, in framework order.
    ``up_to`` shows the scorecard as it stood at that wave (later waves and KPI periods left out)."""
    indicators, changes, notes = (
        table(result, "indicators"),
        table(result, "changes"),
        table(result, "notes"),
    )
    order = list(result.wave_order) if result else []
    if up_to is not None and up_to in order:
        order = order[: order.index(up_to) + 1]
        if not indicators.empty:
            indicators = indicators[indicators["wave"].isin(order)]
        if not changes.empty:
            changes = changes[changes["wave_to"].isin(order)]
    kpis: dict[str, list[KpiValue]] = {}
    for value in db.session.scalars(select(KpiValue).order_by(KpiValue.period)):
        if up_to is None or value.period <= up_to:  # periods and waves are both named YYYY-Qn
            kpis.setdefault(value.measure_id, []).append(value)
    closing = _closing_dates()
    board: dict[str, dict[str, list[OutcomeCard]]] = {}
    for priority in framework.priorities:
        groups = [("", priority.outcomes)] if priority.outcomes else []
        groups += [(w.title, w.outcomes) for w in priority.workstreams]
        for workstream, outcomes in groups:
            for outcome in outcomes:
                card = OutcomeCard(outcome)
                for measure in outcome.measures:
                    card.rows.append(
                        _kpi_row(measure, kpis.get(measure.id, []))
                        if measure.type == "kpi"
                        else _survey_row(
                            measure, outcome, indicators, changes, order, notes, closing
                        )
                    )
                board.setdefault(priority.title, {}).setdefault(workstream, []).append(card)
    return board
