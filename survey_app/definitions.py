"""The app's view of the definitions folder, and importing instrument versions into the
database (a known version is never duplicated)."""

from __future__ import annotations

from dataclasses import dataclass

from flask import current_app
from sqlalchemy import select

from instruments import Definitions, Instrument, load_definitions, version_of

from .extensions import db
from .models import InstrumentVersion


def current_definitions() -> Definitions:
    """The validated definitions folder (``INSTRUMENTS_DIR`` or the shipped one), loaded
    once per app: the files are read at start-up, not per request."""
    cache = current_app.extensions.setdefault("pulse_definitions", {})
    folder = current_app.config.get("INSTRUMENTS_DIR")
    if folder not in cache:
        cache[folder] = load_definitions(folder)
    return cache[folder]


@dataclass(frozen=True)
class LoadResult:
    instrument_id: str
    version: str
    created: bool


def store_instrument_version(instrument: Instrument, source: str | None = None) -> LoadResult:
    """Add ``instrument`` as a version unless that exact version is already stored.
    The caller commits."""
    version = version_of(instrument)
    existing = db.session.scalar(
        select(InstrumentVersion).where(
            InstrumentVersion.instrument_id == instrument.id, InstrumentVersion.version == version
        )
    )
    if existing is None:
        db.session.add(
            InstrumentVersion(
                instrument_id=instrument.id,
                version=version,
                title=instrument.title,
                audience=instrument.audience,
                definition=instrument.model_dump(mode="json"),
                source=source,
            )
        )
    return LoadResult(instrument.id, version, existing is None)


def load_instruments(definitions: Definitions) -> list[LoadResult]:
    """Import every instrument of a validated definitions folder in one transaction."""
    results = [
        store_instrument_version(instrument, source=definitions.files[iid].name)
        for iid, instrument in sorted(definitions.instruments.items())
    ]
    db.session.commit()
    return results


def latest_version(instrument_id: str) -> InstrumentVersion | None:
    return db.session.scalar(
        select(InstrumentVersion)
        .where(InstrumentVersion.instrument_id == instrument_id)
        .order_by(InstrumentVersion.id.desc())
        .limit(1)
    )
