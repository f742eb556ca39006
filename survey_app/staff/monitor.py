"""Response counts and rates per wave, per event and by day, with small counts hidden."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import func, select

from ..definitions import current_definitions
from ..extensions import db
from ..models import Event, InstrumentVersion, Invitation, Response, Wave


@dataclass(frozen=True)
class Count:
    """A count that is shown only at or above the minimum group size."""

    value: int
    min_n: int

    @property
    def shown(self) -> bool:
        return self.value >= self.min_n

    def __str__(self) -> str:
        return f"{self.value:,}" if self.shown else f"fewer than {self.min_n}"


@dataclass(frozen=True)
class WaveSummary:
    wave: Wave
    responses: Count
    invited: int | None
    used: int | None

    @property
    def rate(self) -> str:
        size = self.wave.audience_size
        if not size or not self.responses.shown:
            return "–"
        rate = 100 * self.responses.value / size
        return f"{rate:.1f}%" if rate < 10 else f"{rate:.0f}%"  # 0.5% of 128,000 is not 0%

    @property
    def status(self) -> str:
        today = dt.date.today()
        if today < self.wave.opens_on:
            return "Not open yet"
        return "Open" if today <= self.wave.closes_on else "Closed"


def _min_n(audience: str) -> int:
    return current_definitions().framework.min_n(audience)


def wave_summaries() -> list[WaveSummary]:
    counts = dict(db.session.execute(select(Response.wave_id, func.count()).group_by(Response.wave_id)).all())
    invitations = {
        wave_id: (total, used or 0)
        for wave_id, total, used in db.session.execute(
            select(Invitation.wave_id, func.count(), func.sum(func.cast(Invitation.used, db.Integer)))
            .group_by(Invitation.wave_id))
    }
    waves = db.session.scalars(
        select(Wave).join(InstrumentVersion).order_by(InstrumentVersion.instrument_id, Wave.opens_on.desc())
    ).all()
    return [
        WaveSummary(w, Count(counts.get(w.id, 0), _min_n(w.audience)),
                    *(invitations.get(w.id, (None, None))))
        for w in waves
    ]


def by_day(wave: Wave) -> list[tuple[dt.date, Count]]:
    rows = db.session.execute(
        select(Response.submitted_on, func.count()).where(Response.wave_id == wave.id)
        .group_by(Response.submitted_on).order_by(Response.submitted_on)).all()
    return [(day, Count(n, _min_n(wave.audience))) for day, n in rows]


def by_event(wave: Wave) -> list[tuple[Event, Count]]:
    counts = dict(db.session.execute(
        select(Response.event_id, func.count()).where(Response.wave_id == wave.id)
        .group_by(Response.event_id)).all())
    return [(e, Count(counts.get(e.id, 0), _min_n(wave.audience))) for e in wave.events]
