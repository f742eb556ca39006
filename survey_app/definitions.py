"""The app's view of the definitions folder, and importing instrument versions into the
database (a known version is never duplicated)."""

from __future__ import annotations

import shutil
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import yaml
from flask import current_app
from sqlalchemy import select

from instruments import SHIPPED_DIR, Definitions, Instrument, load_definitions, version_of
from instruments.loader import CODEBOOK_FILE, FRAMEWORK_FILE

from .extensions import db
from .models import InstrumentVersion, Wave


def current_definitions() -> Definitions:
    """The validated definitions folder (``INSTRUMENTS_DIR`` or the shipped one), loaded
    once per app: the files are read at start-up, not per request."""
    cache = current_app.extensions.setdefault("pulse_definitions", {})
    folder = current_app.config.get("INSTRUMENTS_DIR")
    if folder not in cache:
        cache[folder] = load_definitions(folder)
    return cache[folder]


def fielded_definitions() -> Definitions:
    """The definitions analysis uses: the framework, codebook and redaction settings of the
    definitions folder, and every instrument version a wave fielded, from the database (the
    one source of truth for instruments; an uploaded version is never looked up in the
    folder). ``instruments`` holds each instrument's newest fielded version."""
    folder = current_definitions()
    fielded = db.session.scalars(
        select(InstrumentVersion)
        .where(InstrumentVersion.id.in_(select(Wave.instrument_version_id)))
        .order_by(InstrumentVersion.id)
    ).all()
    versions: dict[str, dict[str, Instrument]] = {}
    instruments: dict[str, Instrument] = {}
    for stored in fielded:
        instrument = stored.instrument
        versions.setdefault(stored.instrument_id, {})[stored.version] = instrument
        instruments[stored.instrument_id] = instrument
    return Definitions(
        framework=folder.framework,
        instruments=instruments,
        codebook=folder.codebook,
        redaction=folder.redaction,
        versions=versions,
        benchmarks=folder.benchmarks,
    )


def write_definitions(answered: Iterable[tuple[str, str]], folder: Path) -> list[Path]:
    """Write the stored definition of every ``(instrument id, version)`` answered, plus the
    folder's ``framework.yaml`` (and ``codebook.yaml``), into ``folder``: with the export CSV
    a self-describing data package for ``pulse-analysis``. Files are named
    ``<instrument>@<version[:12]>.yaml``; a version stored twice is written once."""
    source = Path(current_app.config.get("INSTRUMENTS_DIR") or SHIPPED_DIR)
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for name in (FRAMEWORK_FILE, CODEBOOK_FILE):
        if (source / name).is_file():
            shutil.copyfile(source / name, folder / name)
            written.append(folder / name)
    for instrument_id, version in sorted(set(answered)):
        stored = db.session.scalar(
            select(InstrumentVersion)
            .where(
                InstrumentVersion.instrument_id == instrument_id,
                InstrumentVersion.version == version,
            )
            .limit(1)
        )
        if stored is None:
            continue
        path = folder / f"{instrument_id}@{version[:12]}.yaml"
        path.write_text(
            yaml.safe_dump(stored.definition, sort_keys=False, allow_unicode=True), encoding="utf-8"
        )
        written.append(path)
    return written


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
