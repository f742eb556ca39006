"""Action plans: what the council does about what a survey heard, and "you said, we did".

The pages (``survey_app/actions/``), the outcome pages, the scorecard, the public page and
the quarterly report all read actions through here. A figure beside "what was heard" comes
only from the *published* figures of a wave that has *closed and been released*
(``survey_app.publication``), and only when the stored row is not suppressed and its group
is at least the audience's minimum size: a published action never carries a figure that no
other page may show.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections import defaultdict

import pandas as pd
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from . import clock
from .definitions import current_definitions
from .display import rounded
from .extensions import db
from .models import Action, ActionStatus
from .publication import published_results
from .response_counts import fieldwork_over, min_n
from .results import table

#: An open action due within this many days counts as "due" on the scorecard.
DUE_SOON_DAYS = 28


@dataclasses.dataclass(frozen=True)
class ActionCounts:
    """Per outcome: actions not done or dropped, those of them due within
    :data:`DUE_SOON_DAYS`, and those past their due date."""

    open: int = 0
    due: int = 0
    overdue: int = 0


@dataclasses.dataclass(frozen=True)
class YouSaidWeDid:
    """One published action as the public sees it."""

    title: str
    audience: str
    instrument_id: str
    wave: str | None
    heard: str
    figure: str | None  # None when there is no reportable figure
    planned: str
    status: str
    progress: str | None  # the latest progress note
    due_on: dt.date
    evidence_url: str | None


def outcome_actions(outcome_id: str, audience: str | None = None) -> list[Action]:
    """The actions on ``outcome_id`` (of one audience, if given), the soonest due first."""
    query = (
        select(Action)
        .where(Action.outcome_id == outcome_id)
        .options(selectinload(Action.owner_user))
        .order_by(Action.due_on, Action.id)
    )
    if audience is not None:
        query = query.where(Action.audience == audience)
    return list(db.session.scalars(query))


def action_counts(today: dt.date | None = None) -> dict[str, ActionCounts]:
    """:class:`ActionCounts` per outcome id (outcomes with no open action are left out)."""
    today = today or clock.today()
    soon = today + dt.timedelta(days=DUE_SOON_DAYS)
    tally: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])
    rows = db.session.execute(
        select(Action.outcome_id, Action.due_on).where(
            Action.outcome_id.is_not(None),
            Action.status.in_([s for s in ActionStatus if s.is_open]),
        )
    )
    for outcome_id, due_on in rows:
        counts = tally[str(outcome_id)]
        counts[0] += 1
        counts[1] += today <= due_on <= soon
        counts[2] += due_on < today
    return {k: ActionCounts(*v) for k, v in tally.items()}


def _figure_target(action: Action) -> tuple[str, str] | None:
    """The indicator (level, id) behind what was heard: the measure's, else the outcome's
    score; None for a theme or heatmap cell alone."""
    if action.measure_id:
        for outcome in current_definitions().framework.outcomes:
            for measure in outcome.measures:
                if measure.id == action.measure_id and measure.type == "survey":
                    ident = {
                        "outcome": outcome.id,
                        "index": measure.index,
                        "item": measure.item,
                    }[measure.level]
                    return (measure.level, str(ident))
        return None
    return ("outcome", action.outcome_id) if action.outcome_id else None


def reportable_figure(action: Action, indicators: pd.DataFrame | None = None) -> str | None:
    """The figure behind what was heard, in words, or None unless it may leave the system:
    published, from a wave that has closed and been released, not suppressed, and of at
    least the audience's minimum group size. ``indicators`` are the published indicator
    rows (read once per page by the caller; read here if not given)."""
    wave = action.heard_wave
    target = _figure_target(action)
    if wave is None or target is None or not fieldwork_over(wave):
        return None
    if indicators is None:
        indicators = table(published_results(), "indicators")
    if indicators.empty:
        return None
    level, ident = target
    rows = indicators[
        (indicators["instrument"] == wave.instrument_id)
        & (indicators["wave"] == wave.label)
        & (indicators["level"] == level)
        & (indicators["id"] == ident)
        & indicators["by"].isna()
    ]
    if rows.empty:
        return None
    row = rows.iloc[0]
    n, estimate = row.get("n"), row.get("estimate")
    if bool(row.get("suppressed")) or pd.isna(n) or pd.isna(estimate):
        return None
    if int(n) < min_n(wave.audience):
        return None
    shown = rounded(float(estimate))
    what = {
        "item": f"{shown:.0f}% answered positively",
        "index": f"the index score was {shown:.0f} out of 100",
        "outcome": f"the outcome score was {shown:.0f}%",
    }[level]
    return f"In {wave.label}, {what} ({int(n):,} responses)"


def you_said_we_did(
    *, audience: str | None = None, instrument_id: str | None = None
) -> list[YouSaidWeDid]:
    """Published actions (of one audience or survey, if given) as "you said, we did" rows,
    figures only where reportable; for the public page and the quarterly report."""
    query = (
        select(Action)
        .where(Action.published.is_(True))
        .options(selectinload(Action.notes), selectinload(Action.heard_wave))
        .order_by(Action.audience, Action.due_on, Action.id)
    )
    if audience is not None:
        query = query.where(Action.audience == audience)
    if instrument_id is not None:
        query = query.where(Action.instrument_id == instrument_id)
    actions = list(db.session.scalars(query))
    if not actions:
        return []
    indicators = table(published_results(), "indicators")
    return [
        YouSaidWeDid(
            title=a.title,
            audience=a.audience,
            instrument_id=a.instrument_id,
            wave=a.heard_wave.label if a.heard_wave else None,
            heard=a.heard,
            figure=reportable_figure(a, indicators),
            planned=a.planned,
            status=a.status.value,
            progress=a.notes[-1].text if a.notes else None,
            due_on=a.due_on,
            evidence_url=a.evidence_url,
        )
        for a in actions
    ]


def you_said_we_did_by_audience() -> dict[str, list[YouSaidWeDid]]:
    """:func:`you_said_we_did` grouped by audience, for the quarterly report's section."""
    grouped: dict[str, list[YouSaidWeDid]] = defaultdict(list)
    for row in you_said_we_did():
        grouped[row.audience].append(row)
    return dict(grouped)


def has_published_actions(instrument_id: str) -> bool:
    """Whether the survey's public "you said, we did" page has anything to show."""
    return (
        db.session.scalar(
            select(Action.id)
            .where(Action.instrument_id == instrument_id, Action.published.is_(True))
            .limit(1)
        )
        is not None
    )
