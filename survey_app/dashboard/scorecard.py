"""The scorecard: every outcome's measures with their latest figure, change, trend and RAG.

Everything is read from stored analysis results (suppressed figures are already blank there)
and KPI values; the RAG rules are analysis.rag's."""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field

import pandas as pd
from sqlalchemy import select

from analysis.rag import Rag, rate, worst
from instruments import Framework, Measure, Outcome

from ..display import rounded
from ..extensions import db
from ..models import AnalysisResult, KpiValue
from ..results import table
from ..targets import Target, current_target, measure_label


@dataclass(frozen=True)
class Point:
    label: str  # wave or period
    value: float | None  # None: suppressed or missing


@dataclass(frozen=True)
class MeasureRow:
    measure: Measure
    label: str
    target: Target
    latest: Point | None
    change: float | None
    change_note: (
        str  # "significant", "no significant change", "not tested", "not compared: why", ""
    )
    series: list[Point]
    rag: Rag
    unit: str

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
    def rag(self) -> Rag:
        return worst(r.rag for r in self.rows)


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


def _survey_row(
    measure: Measure,
    outcome: Outcome,
    indicators: pd.DataFrame,
    changes: pd.DataFrame,
    order: list[str],
    notes: pd.DataFrame,
) -> MeasureRow:
    target = current_target(measure)
    label = measure_label(measure)
    ident = {
        "outcome": outcome.id,
        "index": measure.index,
        "item": measure.item,
        "number": measure.item,  # the weighted mean of a number question
    }[measure.level]
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
    if rows.empty:
        return MeasureRow(
            measure, label, target, None, None, "", [], rate(None, target.target), "%"
        )
    last = rows.iloc[-1]
    latest = Point(last["wave"], _value(last["estimate"]))
    change, note, improved = None, "", False
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
            note = f"not compared: {found.iloc[0]['note']}"
        elif (change := _value(found.iloc[0]["change"])) is not None:
            significant = bool(found.iloc[0]["significant"])
            note = "significant" if significant else "no significant change"
            better = change > 0 if target.direction == "higher" else change < 0
            improved = significant and better
    status = rate(
        latest.value,
        target.target,
        direction=target.direction,
        amber_margin=target.amber_margin,
        suppressed=bool(last["suppressed"]),
        improved_significantly=improved,
    )
    blank = _blank_reason(notes, last["instrument"], last["wave"]) if latest.value is None else None
    if blank:
        status = dataclasses.replace(status, reason=f"not estimated: {blank}")
    return MeasureRow(measure, label, target, latest, change, note, series, status, "%")


def _kpi_row(measure: Measure, values: list[KpiValue]) -> MeasureRow:
    target = current_target(measure)
    series = [Point(v.period, v.value) for v in values]
    latest = series[-1] if series else None
    change = values[-1].value - values[-2].value if len(values) >= 2 else None
    status = rate(
        latest.value if latest else None,
        target.target,
        direction=target.direction,
        amber_margin=target.amber_margin,
        unit=measure.unit,
    )
    return MeasureRow(
        measure,
        measure_label(measure),
        target,
        latest,
        change,
        "not tested" if change is not None else "",
        series,
        status,
        measure.unit,
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
                        else _survey_row(measure, outcome, indicators, changes, order, notes)
                    )
                board.setdefault(priority.title, {}).setdefault(workstream, []).append(card)
    return board
