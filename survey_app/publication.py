"""What viewers see: a wave's figures once they have been published, and nothing of a live wave.

Issue 14 section 4: a viewer who downloads a table before and after one new response to a
live wave must find no change, or they could read that respondent's answers off the
difference. So analysts (and admins) read the latest stored results, live waves included;
viewers read only published waves, each from the copy of its rows taken when it was
published (:class:`~survey_app.models.WavePublication`).

A wave is published

* automatically, from the first stored results that are up to date once the wave has closed
  and every submission it received has been released (when results are computed, or when a
  viewer next opens a page); or
* by an analyst ("Publish figures now"), also before it closes;

and after that its figures change only through an analyst's re-publish, which needs a reason
and is recorded in the audit log (e.g. late paper returns).
"""

from __future__ import annotations

from typing import Any

from flask import current_app
from flask_login import current_user
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from . import clock
from .audit import record
from .auth.roles import ANALYST_ROLES
from .extensions import db
from .models import AnalysisResult, Response, Wave, WavePublication
from .response_counts import fieldwork_over
from .results import TABLES, data_fingerprint, latest_results

# Tables whose rows belong to one wave by their "wave" column; changes belong to the wave
# they lead to. Trends span every wave of an instrument and are on no viewer page. A wave's
# notes and design (why a figure is blank, how it was weighted) go with its figures.
_BY_WAVE = {
    "indicators": "wave",
    "reliability": "wave",
    "themes": "wave",
    "changes": "wave_to",
    "notes": "wave",
    "designs": "wave",
    "heatmap": "wave",
    "drivers": "wave",
    "who_responded": "wave",
}
# The fingerprint of the published figures put together for viewers (never stored); the
# pages' results note (templates/macros/results_note.html) tells them apart by it.
PUBLISHED = "published figures"


class NotPublishable(ValueError):
    """The stored results cannot be published now (none yet, or out of date)."""


def _wave_rows(tables: dict[str, Any], wave: Wave) -> dict[str, list[dict[str, Any]]]:
    return {
        name: [
            row
            for row in tables.get(name) or []
            if row.get("instrument") == wave.instrument_id and row.get(column) == wave.label
        ]
        for name, column in _BY_WAVE.items()
    }


def current_publications() -> dict[int, WavePublication]:
    """The publication in force for each published wave (its newest), by wave id."""
    newest = select(func.max(WavePublication.id)).group_by(WavePublication.wave_id)
    return {
        p.wave_id: p
        for p in db.session.scalars(select(WavePublication).where(WavePublication.id.in_(newest)))
    }


def publish(
    wave: Wave, result: AnalysisResult, *, reason: str | None = None, automatic: bool = False
) -> WavePublication:
    """Copy ``wave``'s rows of ``result`` into a new publication, with its audit entry, in the
    caller's transaction (the caller commits)."""
    again = (
        db.session.scalar(
            select(func.count())
            .select_from(WavePublication)
            .where(WavePublication.wave_id == wave.id)
        )
        or 0
    ) > 0
    if again and not (reason and reason.strip()):
        raise ValueError("a re-publish needs a reason")
    responses = (
        db.session.scalar(
            select(func.count()).select_from(Response).where(Response.wave_id == wave.id)
        )
        or 0
    )
    by = None if automatic or not current_user.is_authenticated else current_user.id
    publication = WavePublication(
        wave_id=wave.id,
        published_by_id=by,
        reason=reason,
        responses=responses,
        tables=_wave_rows(result.tables, wave),
    )
    db.session.add(publication)
    record(
        "wave figures re-published" if again else "wave figures published",
        user_id=by,
        wave=wave.id,
        label=wave.label,
        instrument=wave.instrument_id,
        automatic=automatic,
        responses=responses,
        reason=reason,
        results=result.id,
    )
    return publication


def _due() -> list[Wave]:
    """Waves that have closed and been released but are not published yet."""
    today = clock.today()
    published = select(WavePublication.wave_id)
    closed = db.session.scalars(
        select(Wave).where(Wave.id.not_in(published), Wave.closes_on < today)
    )
    return [w for w in closed if fieldwork_over(w, today)]


def publish_closed_waves(result: AnalysisResult) -> list[Wave]:
    """Publish, from ``result`` (which must be up to date), every wave that has closed and
    been released and has not been published yet; returns them."""
    due = _due()
    if not due:
        return []
    for wave in due:
        publish(wave, result, automatic=True)
    try:
        db.session.commit()
    except IntegrityError:  # the wave went while we published; the next page view retries
        db.session.rollback()
        return []
    return due


def fresh_results() -> AnalysisResult:
    """The latest stored results, if they are up to date; else :class:`NotPublishable`."""
    result, stale = latest_results()
    if result is None or stale:
        raise NotPublishable(
            "The results are out of date: recompute them on the scorecard page, then publish"
        )
    return result


def _latest_summary() -> tuple[int, str, list[str]] | None:
    """The newest stored results' id, fingerprint and wave order (not its tables)."""
    row = db.session.execute(
        select(AnalysisResult.id, AnalysisResult.fingerprint, AnalysisResult.wave_order)
        .order_by(AnalysisResult.id.desc())
        .limit(1)
    ).first()
    return None if row is None else (row.id, row.fingerprint, list(row.wave_order))


def _published_tables(publication_ids: tuple[int, ...]) -> dict[str, list[dict[str, Any]]]:
    """The rows of these publications put together, changes only between two published
    waves. Kept per app for the last set of publications seen: a publication never changes
    once written, so its id says what it holds (and every viewer page needs this)."""
    cache = current_app.extensions.setdefault("pulse_published_tables", {})
    if publication_ids in cache:
        return cache[publication_ids]
    publications = db.session.scalars(
        select(WavePublication).where(WavePublication.id.in_(publication_ids))
    )
    waves = {
        w.id: w
        for w in db.session.scalars(
            select(Wave).where(
                Wave.id.in_(
                    select(WavePublication.wave_id).where(WavePublication.id.in_(publication_ids))
                )
            )
        )
    }
    tables: dict[str, list[dict[str, Any]]] = {name: [] for name in TABLES}
    shown = set()
    for publication in publications:
        wave = waves[publication.wave_id]
        shown.add((wave.instrument_id, wave.label))
        for name, rows in publication.tables.items():
            tables[name] += rows
    tables["changes"] = [r for r in tables["changes"] if (r["instrument"], r["wave_from"]) in shown]
    cache.clear()
    cache[publication_ids] = tables
    return tables


def published_results() -> AnalysisResult | None:
    """The published figures as one (unsaved) set of results: every published wave's rows,
    changes only between two published waves, in the latest results' wave order."""
    latest = _latest_summary()
    # a wave has closed since the results were computed: publish it from them if they are
    # up to date
    if latest is not None and _due() and latest[1] == data_fingerprint():
        stored = db.session.get(AnalysisResult, latest[0])
        if stored is not None:
            publish_closed_waves(stored)
    newest = select(func.max(WavePublication.id)).group_by(WavePublication.wave_id)
    publications = db.session.execute(  # not their tables: those come from the cache
        select(
            WavePublication.id,
            WavePublication.wave_id,
            WavePublication.responses,
            WavePublication.published_at,
        ).where(WavePublication.id.in_(newest))
    ).all()
    if not publications:
        return None
    waves = db.session.scalars(
        select(Wave).where(Wave.id.in_([p.wave_id for p in publications]))
    ).all()
    labels = {w.label for w in waves}
    order = [w for w in (latest[2] if latest else []) if w in labels]
    order += [w.label for w in sorted(waves, key=lambda w: w.opens_on) if w.label not in order]
    return AnalysisResult(
        fingerprint=PUBLISHED,
        responses=sum(p.responses for p in publications),
        computed_at=max(p.published_at for p in publications),
        wave_order=list(dict.fromkeys(order)),
        tables=_published_tables(tuple(sorted(p.id for p in publications))),
    )


def is_published_view(result: AnalysisResult | None) -> bool:
    """Whether ``result`` is the published figures put together for a viewer."""
    return result is not None and result.fingerprint == PUBLISHED


def published_responses() -> dict[int, int]:
    """Responses per published wave, as counted when its figures were published."""
    newest = select(func.max(WavePublication.id)).group_by(WavePublication.wave_id)
    return dict(
        db.session.execute(
            select(WavePublication.wave_id, WavePublication.responses).where(
                WavePublication.id.in_(newest)
            )
        ).all()
    )


def shown_waves(result: AnalysisResult | None, waves: list[Wave]) -> list[Wave]:
    """Of ``waves``, those whose comments and counts may appear beside ``result``: all of
    them for an analyst's results, only the published ones beside the published figures
    (another survey's live wave can share a published wave's label)."""
    if not is_published_view(result):
        return waves
    published = published_responses()
    return [w for w in waves if w.id in published]


def results_for_current_user() -> tuple[AnalysisResult | None, bool]:
    """The results the signed-in user may read and whether they are out of date: analysts and
    admins the latest stored results, everyone else the published figures (never stale)."""
    if current_user.is_authenticated and current_user.role in ANALYST_ROLES:
        return latest_results()
    return published_results(), False
