"""The overview's rows: every wave with its status, its total received and response rate
(through :mod:`survey_app.response_counts`, so the same suppression as everywhere)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select

from .. import clock
from ..extensions import db
from ..models import InstrumentVersion, Wave
from ..response_counts import ShownCount, fieldwork_over, response_rate, wave_total


@dataclass(frozen=True)
class WaveSummary:
    wave: Wave
    responses: ShownCount
    rate: str
    status: str


def wave_status(wave: Wave) -> str:
    today = clock.today()
    if today < wave.opens_on:
        return "Not open yet"
    if today <= wave.closes_on:
        return "Open"
    return "Closed" if fieldwork_over(wave, today) else "Closed, responses being released"


def wave_summaries() -> list[WaveSummary]:
    waves = db.session.scalars(
        select(Wave)
        .join(InstrumentVersion)
        .order_by(InstrumentVersion.instrument_id, Wave.opens_on.desc())
    ).all()
    summaries = []
    for wave in waves:
        total = wave_total(wave)
        summaries.append(WaveSummary(wave, total, response_rate(wave, total), wave_status(wave)))
    return summaries
