"""What the respondent pages need from the database: the wave behind a slug (cached per
process), and the submit, which goes through the one ingestion service
(``survey_app/ingestion``, re-exported here).

Answers in progress are sealed drafts bound to the respondent's browser (``survey_app.drafts``),
deleted in the transaction that holds the submission.
"""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass, fields

from flask import current_app
from sqlalchemy import bindparam, select

from ..database import standalone_connection
from ..drafts import purge_closed as purge_closed_drafts
from ..extensions import db
from ..ingestion import (
    MIN_BATCH,
    AlreadyUsed,
    Duplicate,
    Invalid,
    NotSaved,
    WaveNotOpen,
    held_count,
    link_used,
    prepare_submission,
    read_prepared,
    received_total,
    store_prepared,
    store_submission,
    submission_stored,
)
from ..ingestion import (
    release_held as release_held_submissions,
)
from ..ingestion import (
    validate as split_answers,
)
from ..models import Wave, WaveMode

__all__ = [
    "MIN_BATCH",
    "AlreadyUsed",
    "Duplicate",
    "Invalid",
    "NotSaved",
    "WaveFacts",
    "WaveNotOpen",
    "forget_wave",
    "held_count",
    "last_known_wave_facts",
    "link_used",
    "prepare_submission",
    "purge_closed_drafts",
    "read_prepared",
    "received_total",
    "release_held",
    "split_answers",
    "store_prepared",
    "store_submission",
    "submission_stored",
    "wave_facts",
]


@dataclass(frozen=True)
class WaveFacts:
    """What the respondent pages need to know of a wave, read with one light query (no ORM
    object)."""

    id: int
    slug: str
    mode: WaveMode
    audience: str
    opens_on: dt.date
    closes_on: dt.date
    instrument_version_id: int


_WAVE_FACTS = select(*(Wave.__table__.c[f.name] for f in fields(WaveFacts))).where(
    Wave.__table__.c.slug == bindparam("slug")
)


def _wave_cache() -> dict[str, tuple[float, WaveFacts]]:
    return current_app.extensions.setdefault("pulse_wave_facts", {})


def wave_facts(slug: str) -> WaveFacts | None:
    """The wave behind ``slug``, or None. Kept in this process for ``WAVE_CACHE_SECONDS``
    (0: read every time), so that a respondent's requests do not each read the wave.

    A cached copy can be that many seconds out of date in other processes when a wave is
    changed (this process forgets it at once, see :func:`forget_wave`). Nothing is stored
    on the strength of a stale copy: a web submission checks that its wave is open in the
    storing transaction (``store_submission(..., only_while_open=True)``), and a wave's
    way in and survey version cannot change once it has started."""
    cache, now = _wave_cache(), time.monotonic()
    cached = cache.get(slug)
    if cached is not None and now - cached[0] < current_app.config.get("WAVE_CACHE_SECONDS", 0):
        return cached[1]
    connection = standalone_connection() or db.session.connection()
    row = connection.execute(_WAVE_FACTS, {"slug": slug}).first()
    if row is None:  # unknown slugs are not kept: anyone can make up any number of them
        cache.pop(slug, None)
        return None
    facts = WaveFacts(*row)
    cache[slug] = (now, facts)
    return facts


def last_known_wave_facts(slug: str) -> WaveFacts | None:
    """The wave as last read by this process, however long ago, without the database: lets
    a submit show the answers with a "not saved" message when the database is away."""
    cached = _wave_cache().get(slug)
    return cached[1] if cached is not None else None


def forget_wave(slug: str) -> None:
    """Drop this process's copy of a wave that has just been changed."""
    _wave_cache().pop(slug, None)


def release_held(
    wave_id: int | None = None,
    min_batch: int = MIN_BATCH,
    force: bool = False,
    today: dt.date | None = None,
) -> int:
    """Release held submissions (see :func:`survey_app.ingestion.release_held`), then delete
    the saved drafts of waves that have closed. Returns how many were released."""
    released = release_held_submissions(wave_id, min_batch=min_batch, force=force, today=today)
    purge_closed_drafts(today)
    return released
