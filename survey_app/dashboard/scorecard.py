"""The scorecard: every outcome's measures with their latest figure, status against the
trajectory to the target, significance tag and trend.

Everything is read from stored analysis results (suppressed figures are already blank there)
and KPI values; the status rules are analysis.rag's (issue 17 section 1)."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

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
    trajectory,
)
from instruments import Framework, Measure, Outcome

from .. import clock
from ..display import rounded
from ..extensions import db
from ..models import AnalysisResult, InstrumentVersion, KpiValue, Wave
from ..results import table
from ..targets import Target, current_target, measure_label
from .figures import SERIES_KEYS, changes_into, series_key, wave_figures
from .figures import value as _value


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
    # that wave's figures for downloads (WAVE_COLUMNS: n, estimate, CI, change, p, MDC, ...)
    figures: dict[str, Any] = field(default_factory=dict)

    @property
    def trajectory(self) -> float | None:
        """The trajectory's value the status compared the estimate with."""
        return self.status.trajectory

    @property
    def change_note(self) -> str:
        return self.significance.label

    def _scale(self) -> tuple[float, float]:
        """Every % sparkline on one 0-100 scale, so a 43→41→43 wobble looks like one beside a
        48→14 fall; a KPI on 0 to the largest of its values, baseline and target."""
        if self.unit == "%":
            return 0.0, 100.0
        levels = [p.value for p in self.series if p.value is not None]
        levels += [v for v in (self.target.target, self.target.baseline) if v is not None]
        low, high = min([0.0, *levels]), max([0.0, *levels])
        return low, (high if high > low else low + 1.0)

    def _y(self, value: float) -> float:
        low, high = self._scale()
        return 26 - (min(max(value, low), high) - low) / (high - low) * 24

    @property
    def sparkline(self) -> str | None:
        """SVG polyline points for the trend (the figures are also given as text)."""
        # drawn from the figures as shown (whole numbers for %): coordinates are figures too
        shown = [rounded(p.value) if self.unit == "%" else p.value for p in self.series]
        if len([v for v in shown if v is not None]) < 2:
            return None
        step = 72 / (len(self.series) - 1)
        return " ".join(
            f"{2 + i * step:.1f},{self._y(v):.1f}" for i, v in enumerate(shown) if v is not None
        )

    @property
    def sparkline_target(self) -> float | None:
        """The y coordinate of the target's tick at the sparkline's right-hand end."""
        return None if self.target.target is None else round(self._y(self.target.target), 1)


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


def largest_changes(
    cards: Iterable[OutcomeCard], count: int = 3
) -> list[tuple[OutcomeCard, MeasureRow]]:
    """The ``count`` measures whose change since the previous wave was significant (after
    Benjamini-Hochberg) and largest in size, largest first (ties in framework order)."""
    moved = [
        (card, row)
        for card in cards
        for row in card.rows
        if row.significance.key in ("improved", "fell") and row.change is not None
    ]
    return sorted(moved, key=lambda pair: -abs(pair[1].change or 0.0))[:count]


def all_cards(board: dict[str, dict[str, list[OutcomeCard]]]) -> list[OutcomeCard]:
    """The outcome cards of a :func:`scorecard` board, in framework order."""
    return [
        card for workstreams in board.values() for cards in workstreams.values() for card in cards
    ]


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


def closing_dates() -> dict[tuple[str, str], dt.date]:
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


#: the columns of a measure's table by wave (pages and downloads), in this order
WAVE_COLUMNS = [
    "wave",
    "n",
    "estimate",
    "ci_low",
    "ci_high",
    "change",
    "p_adj",
    "mdc",
    "significance",
    "trajectory",
    "status",
    "reason",
]


_NUMBERS = {"n", "estimate", "ci_low", "ci_high", "change", "p_adj", "mdc", "trajectory"}


def measure_waves(
    measure: Measure,
    ident: str,
    indicators: pd.DataFrame,
    changes: pd.DataFrame,
    order: list[str],
    notes: pd.DataFrame,
    closing: dict[tuple[str, str], dt.date],
    target: Target | None = None,
) -> pd.DataFrame:
    """A survey measure by wave, in wave order: n, estimate and CI (blank when suppressed),
    the change from the previous wave with its BH-adjusted p-value, minimum detectable change
    and significance tag, and the trajectory and status at that wave's closing date (a wave
    still open gets no status: its figure can still move). ``ident`` is the outcome, index or
    item id the measure reads; ``target`` defaults to the one in force."""
    target = target or current_target(measure)
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
    if rows.empty:
        return pd.DataFrame(columns=["instrument", "suppressed", "tag", "rating", *WAVE_COLUMNS])
    rank = {w: i for i, w in enumerate(order)}
    rows = rows.assign(rank=rows["wave"].map(rank)).sort_values("rank").reset_index(drop=True)
    # only the columns read below: to_dict costs per column
    rows = rows[[*SERIES_KEYS, "wave", "n", "estimate", "ci_low", "ci_high", "suppressed"]]
    found = (
        changes[
            (changes["level"] == measure.level) & (changes["id"] == ident) & changes["by"].isna()
        ]
        if not changes.empty
        else changes
    )
    # each wave's change from the previous one, looked up once (not filtered per wave)
    to_wave = changes_into(found)
    today = clock.today()
    records = rows.to_dict("records")
    dates = [closing.get((r["instrument"], r["wave"])) for r in records]
    first_dates = [day for day in dates if day]
    out = []
    for position, (row, closes) in enumerate(zip(records, dates, strict=True)):
        change_row = to_wave.get(series_key(row)) if position else None
        figures = wave_figures(row, change_row, target.direction)
        estimate = figures["estimate"]
        if closes is None or closes >= today:
            status = Status("none", "The wave has not closed yet")
        else:
            status = _rate(measure, target, estimate, closes, first_dates, figures["suppressed"])
            blank = (
                _blank_reason(notes, row["instrument"], row["wave"]) if estimate is None else None
            )
            if blank and not figures["suppressed"]:
                status = dataclasses.replace(status, reason=f"not estimated: {blank}")
        out.append(
            {
                "instrument": row["instrument"],
                "closed": closes is not None and closes < today,
                "rating": status,
                "wave": row["wave"],
                **figures,
                "trajectory": status.trajectory,
                "status": status.label,
                "reason": status.reason,
            }
        )
    return pd.DataFrame(out)


def measure_ident(measure: Measure, outcome_id: str) -> str:
    """The id of the indicator a survey measure reads: its outcome's score, its index or its
    question (a number question's weighted mean)."""
    return str(
        {
            "outcome": outcome_id,
            "index": measure.index,
            "item": measure.item,
            "number": measure.item,
        }[measure.level]
    )


def measures_reading(
    framework: Framework, audience: str, instrument: str, levels: Iterable[str]
) -> list[tuple[str, str, Measure]]:
    """The framework's survey measures of ``audience`` read from ``instrument`` (or from any
    of the audience's instruments) at one of ``levels``, as (level, indicator id, measure), in
    framework order."""
    levels = set(levels)
    return [
        (measure.level, measure_ident(measure, outcome.id), measure)
        for outcome in framework.outcomes
        for measure in outcome.measures
        if measure.type == "survey"
        and measure.audience == audience
        and measure.level in levels
        and measure.instrument in (None, instrument)
    ]


#: the columns :func:`with_measure_status` adds
STATUS_COLUMNS = ["measure", "target", "trajectory", "status", "reason"]


def with_measure_status(
    figures: pd.DataFrame,
    measures: Iterable[tuple[str, str, Measure]],
    indicators: pd.DataFrame,
    changes: pd.DataFrame,
    order: list[str],
    notes: pd.DataFrame,
    closing: dict[tuple[str, str], dt.date],
) -> pd.DataFrame:
    """Long figures (:func:`~survey_app.dashboard.figures.figures_by_wave` rows with
    ``instrument``, ``level``, ``id`` and ``wave``) with, on each row one of ``measures``
    (:func:`measures_reading`) reads, the measure's id, target, and its trajectory and status
    at that wave by the scorecard's rules (:func:`measure_waves`; its significance tag, in the
    measure's direction, too). The :data:`STATUS_COLUMNS` are blank on rows no measure reads;
    a row two measures read takes the first's."""
    parts, seen = [], set()
    for level, ident, measure in measures:
        if measure.id in seen:
            continue
        seen.add(measure.id)
        target = current_target(measure)
        waves = measure_waves(measure, ident, indicators, changes, order, notes, closing, target)
        if waves.empty:
            continue
        parts.append(
            waves[["instrument", "wave", "significance", "trajectory", "status", "reason"]].assign(
                level=level, id=ident, measure=measure.id, target=target.target
            )
        )
    if not parts:
        return figures.assign(**dict.fromkeys(STATUS_COLUMNS))
    keys = ["instrument", "level", "id", "wave"]
    status = pd.concat(parts, ignore_index=True)[[*keys, *STATUS_COLUMNS, "significance"]]
    status = status.drop_duplicates(keys)
    out = figures.merge(status, on=keys, how="left", suffixes=("", "_measure"))
    rated = out["measure"].notna()
    out.loc[rated, "significance"] = out.loc[rated, "significance_measure"]
    return out.drop(columns="significance_measure")


def trajectory_line(target: Target, dates: list[dt.date | None]) -> list[float | None]:
    """The trajectory read at each date (a wave's close, a KPI period's end): None without a
    target, baseline or target date, or for a point with no date. The baseline date defaults
    to the earliest of ``dates`` (analysis.rag.baseline_date_or_first)."""
    start = baseline_date_or_first(target.baseline_date, [d for d in dates if d])
    if target.target is None or target.baseline is None or None in (target.target_date, start):
        return [None] * len(dates)
    return [
        trajectory(target.baseline, target.target, start, target.target_date, d)  # type: ignore[arg-type]
        if d
        else None
        for d in dates
    ]


def kpi_statuses(measure: Measure, values: list[KpiValue], target: Target) -> list[Status]:
    """The status of each recorded period of a KPI (in period order), each against the
    trajectory at the end of its period, the baseline date defaulting to the end of the first
    period (analysis.rag.rate); the scorecard rates the latest."""
    ends = [period_end(v.period) for v in values]
    return [
        _rate(measure, target, v.value, end, ends[:1]) for v, end in zip(values, ends, strict=True)
    ]


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
    ident = measure_ident(measure, outcome.id)
    waves = measure_waves(measure, ident, indicators, changes, order, notes, closing, target)
    if waves.empty:
        status = Status("none", "No responses yet")
        no_comparison = significance(None, None, not_compared="no earlier wave")
        return MeasureRow(measure, title, target, None, None, no_comparison, [], status, "%")
    # (pandas stores a missing figure as NaN: _value turns it back into None)
    series = [Point(w, _value(e)) for w, e in zip(waves["wave"], waves["estimate"], strict=True)]
    last = waves.iloc[-1]
    latest = Point(last["wave"], _value(last["estimate"]))
    # the status is for the latest wave that has closed (a live wave's figure can still move)
    closed = waves[waves["closed"]]
    if closed.empty:
        status, rated, figures = Status("none", "No closed wave yet"), None, {}
    else:
        row = closed.iloc[-1]
        status, rated = row["rating"], Point(row["wave"], _value(row["estimate"]))
        figures = {
            column: _value(row[column]) if column in _NUMBERS else row[column]
            for column in WAVE_COLUMNS
        }
    return MeasureRow(
        measure,
        title,
        target,
        latest,
        _value(last["change"]),
        last["tag"],
        series,
        status,
        "%",
        rated,
        figures,
    )


def kpi_row(measure: Measure, values: list[KpiValue]) -> MeasureRow:
    """A KPI's scorecard row from its recorded values (in period order): the latest value,
    the change from the previous period (not tested) and the latest period's status."""
    target = current_target(measure)
    series = [Point(v.period, v.value) for v in values]
    latest = series[-1] if series else None
    change = values[-1].value - values[-2].value if len(values) >= 2 else None
    tag = significance(
        None,
        None,
        not_compared="KPI values are not tested" if change is not None else "no earlier period",
    )
    status = kpi_statuses(measure, values, target)[-1] if values else None
    if status is None:
        status = Status("none", "No value recorded yet")
    figures = {
        "wave": latest.label if latest else None,
        "estimate": latest.value if latest else None,
        "change": change,
        "significance": tag.label,
        "trajectory": status.trajectory,
        "status": status.label,
        "reason": status.reason,
    }
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
        figures,
    )


def _overall(frame: pd.DataFrame) -> pd.DataFrame:
    """The whole-audience rows of an indicators or changes table (the scorecard reads no
    breakdown; leaving them out first keeps every per-measure filter small)."""
    return frame if frame.empty else frame[frame["by"].isna()]


def scorecard(
    framework: Framework, result: AnalysisResult | None, up_to: str | None = None
) -> dict[str, dict[str, list[OutcomeCard]]]:
    """Priority title → workstream title ("" for none) → outcome cards, in framework order.
    ``up_to`` shows the scorecard as it stood at that wave (later waves and KPI periods left out)."""
    indicators, changes, notes = (
        _overall(table(result, "indicators")),
        _overall(table(result, "changes")),
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
    closing = closing_dates()
    board: dict[str, dict[str, list[OutcomeCard]]] = {}
    for priority in framework.priorities:
        groups = [("", priority.outcomes)] if priority.outcomes else []
        groups += [(w.title, w.outcomes) for w in priority.workstreams]
        for workstream, outcomes in groups:
            for outcome in outcomes:
                card = OutcomeCard(outcome)
                for measure in outcome.measures:
                    card.rows.append(
                        kpi_row(measure, kpis.get(measure.id, []))
                        if measure.type == "kpi"
                        else _survey_row(
                            measure, outcome, indicators, changes, order, notes, closing
                        )
                    )
                board.setdefault(priority.title, {}).setdefault(workstream, []).append(card)
    return board
