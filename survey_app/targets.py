"""The measures of the framework and the targets in force (the framework file's values, or the
newest change an analyst made)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import select

from instruments import Measure

from .definitions import current_definitions
from .extensions import db
from .models import MeasureTarget


@dataclass(frozen=True)
class Target:
    baseline: float | None
    # the framework file's (an analyst's change keeps it): None means the first wave's close
    baseline_date: dt.date | None
    target: float | None
    target_date: dt.date | None
    direction: str
    amber_margin: float
    changed: MeasureTarget | None  # None: the framework file's values


def measures() -> dict[str, tuple[str, Measure]]:
    """Every measure of the framework by id, with its outcome id."""
    return {m.id: (o.id, m) for o in current_definitions().framework.outcomes for m in o.measures}


def measure_label(measure: Measure) -> str:
    """What a measure measures, in words: its title, or e.g. "Members: outcome score (Member
    pulse survey)"."""
    if measure.title:
        return measure.title
    what = {
        "outcome": "outcome score",
        "index": f"{measure.index} index",
        "item": f"question {measure.item}",
        "number": f"mean of question {measure.item}",
    }[measure.level]
    instruments = current_definitions().instruments
    source = (
        f" ({instruments[measure.instrument].title})" if measure.instrument in instruments else ""
    )
    return f"{(measure.audience or '').capitalize()}: {what}{source}"


def current_target(measure: Measure) -> Target:
    latest = db.session.scalar(
        select(MeasureTarget)
        .where(MeasureTarget.measure_id == measure.id)
        .order_by(MeasureTarget.id.desc())
        .limit(1)
    )
    if latest is None:
        return Target(
            measure.baseline,
            measure.baseline_date,
            measure.target,
            measure.target_date,
            measure.direction,
            measure.amber_margin,
            None,
        )
    return Target(
        latest.baseline,
        measure.baseline_date,
        latest.target,
        latest.target_date,
        latest.direction,
        latest.amber_margin,
        latest,
    )
