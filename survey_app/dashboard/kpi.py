"""One KPI read-only (issue 17 section 2): its values by period in its own units, charted with
its target and trajectory as reference lines and its baseline marked, above a table of the same
figures, with each period's status against the trajectory at the period's end (the scorecard's
rules, analysis.rag)."""

from __future__ import annotations

import functools
from dataclasses import dataclass

from sqlalchemy import select

from analysis.rag import Status, amount
from instruments import Framework, Measure, Outcome

from ..extensions import db
from ..models import KpiValue
from ..targets import Target, current_target
from .charts import ChartPoint, References, chart_id, references_text, trend_svg
from .scorecard import MeasureRow, kpi_row, kpi_statuses


@dataclass(frozen=True)
class KpiPeriod:
    value: KpiValue
    status: Status  # against the trajectory at the end of the period

    @property
    def trajectory(self) -> float | None:
        return self.status.trajectory


@dataclass
class KpiView:
    outcome: Outcome
    row: MeasureRow  # as the scorecard shows it (the latest period's status)
    periods: list[KpiPeriod]

    @property
    def measure(self) -> Measure:
        return self.row.measure

    @property
    def target(self) -> Target:
        return self.row.target

    @property
    def unit(self) -> str:
        return self.row.unit

    @property
    def ident(self) -> str:
        """The chart's id prefix, unique on the page."""
        return chart_id("kpi", self.measure.id)

    @functools.cached_property
    def chart(self) -> str | None:
        """The values by period as SVG on the KPI's own axis (a percentage KPI on 0-100), with
        the target and the trajectory read at each period's end as reference lines and the
        baseline marked; its accessible name carries every figure it draws. None without a
        recorded value."""
        if not self.periods:
            return None
        labels = [p.value.period for p in self.periods]
        references = References(
            self.target.target, tuple(p.trajectory for p in self.periods), self.target.baseline
        )
        values = "; ".join(
            f"{p.value.period} {amount(p.value.value, self.unit)}" for p in self.periods
        )
        return trend_svg(
            [ChartPoint(p.value.period, p.value.value, None, None) for p in self.periods],
            f"{self.outcome.id}: {self.row.title} (KPI, {self.unit})",
            f"Recorded value by period, in {self.unit}: {values}."
            + references_text(references, labels, self.unit, self.target.target_date),
            unit=self.unit,
            ident=self.ident,
            references=references,
            series="Recorded value",
        )


def kpi_view(framework: Framework, measure_id: str) -> KpiView | None:
    """The KPI ``measure_id`` of the framework with its recorded values (None if the framework
    has no KPI of that id)."""
    found = next(
        (
            (outcome, measure)
            for outcome in framework.outcomes
            for measure in outcome.measures
            if measure.id == measure_id and measure.type == "kpi"
        ),
        None,
    )
    if found is None:
        return None
    outcome, measure = found
    values = list(
        db.session.scalars(
            select(KpiValue).where(KpiValue.measure_id == measure.id).order_by(KpiValue.period)
        )
    )
    statuses = kpi_statuses(measure, values, current_target(measure))
    return KpiView(
        outcome,
        kpi_row(measure, values),
        [KpiPeriod(v, s) for v, s in zip(values, statuses, strict=True)],
    )
