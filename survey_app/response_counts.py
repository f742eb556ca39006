"""Every response count shown to staff (overview, wave pages, response rates), suppressed by
the one rule in :mod:`analysis.suppression`.

During fieldwork (until the wave has closed and every submission has been released) staff
see only the wave's total received, held plus released: a count by day or by event while
responses trickle in would time one person's submission. Once the wave has closed and been
released, the counts by day and by event are shown as tables that add up to that total, and
go through :func:`analysis.suppression.suppress` with complementary suppression, so that no
hidden count can be recovered by subtracting the visible ones from the total.

Each breakdown lists every one of its groups, empty ones included (every day from the first
to the last of the wave and of its responses, every event and the responses that came in at
none), so the only thing known about a hidden count is that it is not negative.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Hashable, Sequence
from dataclasses import dataclass

import pandas as pd
from sqlalchemy import func, select

from analysis.suppression import suppress

from . import clock
from .definitions import current_definitions
from .extensions import db
from .models import Event, Response, Wave
from .survey.store import held_count, received_total

HIDDEN_IN_TABLE = "not shown"


@dataclass(frozen=True)
class ShownCount:
    """A count as staff may see it: ``value`` is None when it is suppressed."""

    value: int | None
    hidden_text: str

    @property
    def shown(self) -> bool:
        return self.value is not None

    def __str__(self) -> str:
        return f"{self.value:,}" if self.value is not None else self.hidden_text


@dataclass(frozen=True)
class CountTable:
    """One breakdown of a wave's total: ``rows`` pairs each group (a day, an event, or None
    for responses at no event) with its count; the counts add up to ``total``."""

    rows: list[tuple[Hashable, ShownCount]]
    total: ShownCount


def min_n(audience: str) -> int:
    return current_definitions().framework.min_n(audience)


def fieldwork_over(wave: Wave, today: dt.date | None = None) -> bool:
    """Whether the wave has closed (its closing day is over in London) and every submission
    it received has been released into the response table."""
    today = today or clock.today()
    return wave.closes_on < today and held_count(wave.id) == 0


def wave_total(wave: Wave, count: int | None = None) -> ShownCount:
    """Submissions received (held plus released), or ``count`` if given (e.g. as counted
    when the wave's figures were published), as "fewer than N" below the minimum."""
    threshold = min_n(wave.audience)
    total = received_total(wave.id) if count is None else count
    return ShownCount(total if total >= threshold else None, f"fewer than {threshold}")


def response_rate(wave: Wave, total: ShownCount) -> str:
    """The total as a share of the audience: one decimal below 10% (0.5% of 128,000 is not
    0%), whole numbers above; "–" when the total is hidden or the audience size unknown."""
    if not wave.audience_size or total.value is None:
        return "–"
    rate = 100 * total.value / wave.audience_size
    return f"{rate:.1f}%" if rate < 10 else f"{rate:.0f}%"


def _suppressed_table(wave: Wave, groups: Sequence[Hashable], counts: Sequence[int]) -> CountTable:
    # each group by its position: the suppression needs a non-blank label per group, nothing more
    frame = pd.DataFrame(
        {
            "breakdown": "wave",
            "group": [f"group {i}" for i in range(len(groups))],
            "n": list(counts),
            "audience": wave.audience,
        }
    )
    shown = suppress(
        frame,
        {wave.audience: min_n(wave.audience), "default": min_n(wave.audience)},
        family=["breakdown"],
        group_column="group",
    )
    rows = [
        (group, ShownCount(None if hidden else int(n), HIDDEN_IN_TABLE))
        for group, n, hidden in zip(groups, counts, shown["suppressed"], strict=True)
    ]
    return CountTable(rows, wave_total(wave))


def by_day(wave: Wave) -> CountTable | None:
    """Responses per day, every day from the wave's opening (or its first response) to its
    closing (or its last response); None during fieldwork."""
    if not fieldwork_over(wave):
        return None
    counts = dict(
        db.session.execute(
            select(Response.submitted_on, func.count())
            .where(Response.wave_id == wave.id)
            .group_by(Response.submitted_on)
        ).all()
    )
    first = min([wave.opens_on, *counts])
    last = max([wave.closes_on, *counts])
    days = [first + dt.timedelta(days=i) for i in range((last - first).days + 1)]
    return _suppressed_table(wave, days, [counts.get(day, 0) for day in days])


def by_event(wave: Wave) -> CountTable | None:
    """Responses per roadshow event of the wave, and those at no event (e.g. paper returns);
    None during fieldwork or for a wave without events."""
    if not wave.events or not fieldwork_over(wave):
        return None
    counts = dict(
        db.session.execute(
            select(Response.event_id, func.count())
            .where(Response.wave_id == wave.id)
            .group_by(Response.event_id)
        ).all()
    )
    groups: list[Event | None] = [*wave.events, None]
    return _suppressed_table(wave, groups, [counts.get(g.id if g else None, 0) for g in groups])
