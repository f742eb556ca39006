"""Stored analysis results: the analysis package run over every response, kept per version of
the data so that pages read them instead of recomputing per request."""

from __future__ import annotations

import hashlib
import json
from typing import Any, cast

import pandas as pd
from sqlalchemy import CursorResult, Row, delete, func, select, text

import analysis
from analysis.representation import who_responded_by_wave
from instruments import Definitions
from instruments.schema import CROSS

from .definitions import current_definitions, fielded_definitions
from .export import responses_frame
from .extensions import db
from .models import (
    AnalysisResult,
    Answer,
    FlagStatus,
    GroupSize,
    InstrumentVersion,
    KpiValue,
    MeasureTarget,
    PopulationMargin,
    Response,
    SafeguardingFlag,
    Wave,
)

# indicators, changes, ..., designs, heatmap, drivers (the analysis package's), and who
# responded to each wave against its audience's group sizes
ANALYSIS_TABLES = analysis.Results.TABLES
TABLES = (*ANALYSIS_TABLES, "who_responded")
KEEP_RESULTS = 3  # stored results older than the newest three are deleted


def data_fingerprint() -> str:
    """Identifies everything the stored results depend on, so a page can say they are out of
    date: responses and answers (counts, extreme ids, latest day, summed weights), every wave's
    label, dates, audience size and version, the stored instrument versions, the definitions
    the app analyses with (framework, instruments, codebook, redaction lists), KPI values,
    targets, population margins, uploaded group sizes (the "who responded" table), how many safeguarding flags are open (actioning one puts its
    comment back into the export and the themes) and the schema revision (a migration that
    rewrites answers, such as a redaction, changes it).

    Every staff page view computes it: the response and answer tables are read as aggregates
    (one pass each, index-only on PostgreSQL); the other tables are small and read whole."""
    parts: list[object] = [
        db.session.execute(
            select(
                func.count(),
                func.min(Response.id),
                func.max(Response.id),
                func.max(Response.submitted_on),
                func.sum(Response.weight),
            )
        ).one(),
        db.session.scalar(select(func.count()).select_from(Answer)),
        db.session.execute(
            select(
                Wave.id,
                Wave.label,
                Wave.opens_on,
                Wave.closes_on,
                Wave.audience,
                Wave.audience_size,
                Wave.instrument_version_id,
            ).order_by(Wave.id)
        ).all(),
        db.session.execute(
            select(
                InstrumentVersion.id, InstrumentVersion.instrument_id, InstrumentVersion.version
            ).order_by(InstrumentVersion.id)
        ).all(),
        db.session.execute(
            select(KpiValue.measure_id, KpiValue.period, KpiValue.value).order_by(
                KpiValue.measure_id, KpiValue.period
            )
        ).all(),
        db.session.execute(select(func.count(), func.max(MeasureTarget.id))).one(),
        db.session.execute(
            select(
                PopulationMargin.audience,
                PopulationMargin.variable,
                PopulationMargin.category,
                PopulationMargin.population,
            ).order_by(PopulationMargin.id)
        ).all(),
        db.session.execute(
            select(
                GroupSize.audience, GroupSize.attribute, GroupSize.value, GroupSize.size
            ).order_by(GroupSize.id)
        ).all(),
        db.session.scalar(
            select(func.count())
            .select_from(SafeguardingFlag)
            .where(SafeguardingFlag.status == FlagStatus.OPEN)
        ),
        db.session.scalar(text("SELECT version_num FROM alembic_version")),
        definitions_fingerprint(current_definitions()),
    ]
    payload = json.dumps(
        parts, default=lambda value: list(value) if isinstance(value, Row) else str(value)
    )
    return hashlib.sha256(payload.encode()).hexdigest()


def definitions_fingerprint(definitions: Definitions) -> str:
    """A hash of the validated definitions: framework (outcomes, measures, targets, group
    sizes), every instrument, the codebook and the redaction lists."""
    content = {
        "framework": definitions.framework.model_dump(mode="json"),
        "instruments": {
            iid: i.model_dump(mode="json") for iid, i in sorted(definitions.instruments.items())
        },
        "codebook": definitions.codebook.model_dump(mode="json") if definitions.codebook else None,
        "redaction": definitions.redaction.model_dump(mode="json"),
    }
    return hashlib.sha256(json.dumps(content, sort_keys=True, default=str).encode()).hexdigest()


def prune_results(keep: int = KEEP_RESULTS) -> int:
    """Delete stored results older than the newest ``keep`` (the caller commits); returns how
    many were deleted."""
    kept = db.session.scalars(
        select(AnalysisResult.id).order_by(AnalysisResult.id.desc()).limit(keep)
    ).all()
    if len(kept) < keep:
        return 0
    # a DELETE's result is a CursorResult (it has rowcount); Session.execute is typed as Result
    return cast(
        CursorResult[Any],
        db.session.execute(delete(AnalysisResult).where(AnalysisResult.id < min(kept))),
    ).rowcount


def _population() -> pd.DataFrame | None:
    rows = db.session.execute(
        select(
            PopulationMargin.audience,
            PopulationMargin.variable,
            PopulationMargin.category,
            PopulationMargin.population,
        )
    ).all()
    if not rows:
        return None
    return pd.DataFrame(rows, columns=["audience", "variable", "category", "population"])


def _group_sizes(audiences: set[str]) -> pd.DataFrame:
    """``audience, attribute, value, size`` of every audience with responses: uploaded sizes,
    and raking margins for attributes without them (:func:`survey_app.who_responded.audience_sizes`)."""
    from .who_responded import audience_sizes  # here: that module reads these results

    frames = [audience_sizes(a).assign(audience=a) for a in sorted(audiences)]
    if not frames:
        return pd.DataFrame(columns=["audience", "attribute", "value", "size"])
    return pd.concat(frames, ignore_index=True)


def _records(table: pd.DataFrame) -> list[dict]:
    # JSON has no NaN: blanks become null, as they are blank in the CSV files. Full precision
    # (pandas' default keeps 10 decimals), so stored figures equal the CLI's to 1e-15.
    return json.loads(table.to_json(orient="records", date_format="iso", double_precision=15))


def compute_results() -> AnalysisResult:
    """Run the analysis over every response and store the tables (the caller's transaction
    is committed). Breakdowns are every "about you" attribute of the instruments, and the
    framework's ``crossed_breakdowns`` for their audience (``directorate*grade``). Each
    response is scored with the instrument version its wave fielded, read from the database.

    Never fails as a whole on the data a council has: a unit that cannot be estimated gets a
    row in the ``notes`` table (see :func:`note_count`). Respondents who did not state a
    raking attribute keep their weighted share of that margin; waves with a known audience
    size get the finite population correction."""
    definitions = fielded_definitions()
    # Taken before the data are read: a response stored meanwhile makes these results stale,
    # never wrongly up to date.
    fingerprint = data_fingerprint()
    frame = responses_frame()
    population = _population()
    if population is not None:  # rake only audiences that have answers with those attributes
        population = population[population["audience"].isin(set(frame["audience"]))]
    every_version = [i for versions in definitions.versions.values() for i in versions.values()]
    breakdowns = sorted({a.id for i in every_version for a in i.attributes} & set(frame.columns))
    # the framework's two-way breakdowns of each audience, while the data have both columns
    # (an instrument version that dropped an attribute leaves none to cross)
    crossed = {
        audience: [b for b in listed if set(b.split(CROSS)) <= set(breakdowns)]
        for audience, listed in definitions.framework.crossed_breakdowns.items()
    }
    sizes = _group_sizes(set(frame["audience"]) if not frame.empty else set())
    # The inputs are read: end the transaction so that SQLite's write lock (every transaction
    # takes it, see database.py) is not held while the analysis runs in the background.
    db.session.commit()
    if frame.empty:
        tables: dict[str, list[dict]] = {name: [] for name in TABLES}
        wave_order: list[str] = []
    else:
        results = analysis.run(
            frame, definitions, population=population, by=breakdowns, audience_by=crossed
        )
        tables = {name: _records(getattr(results, name)) for name in ANALYSIS_TABLES}
        tables["who_responded"] = _records(
            who_responded_by_wave(frame, sizes, definitions.framework.min_group_size)
        )
        wave_order = results.wave_order
    stored = AnalysisResult(
        fingerprint=fingerprint, responses=len(frame), wave_order=wave_order, tables=tables
    )
    db.session.add(stored)
    db.session.flush()
    prune_results()
    db.session.commit()
    from .publication import publish_closed_waves  # here: publication reads these results

    publish_closed_waves(stored)
    return stored


def newest_results() -> AnalysisResult | None:
    """The newest stored results, without asking whether they are up to date (which costs a
    pass over the responses and answers, see :func:`latest_results`)."""
    return db.session.scalar(select(AnalysisResult).order_by(AnalysisResult.id.desc()).limit(1))


def latest_results() -> tuple[AnalysisResult | None, bool]:
    """The newest stored results and whether the data have changed since."""
    latest = newest_results()
    if latest is None:
        return None, True
    return latest, latest.fingerprint != data_fingerprint()


def table(result: AnalysisResult | None, name: str) -> pd.DataFrame:
    if result is None or not result.tables.get(name):
        return pd.DataFrame()
    return pd.DataFrame.from_records(result.tables[name])


def note_count(result: AnalysisResult | None) -> int:
    """How many notes (units not estimated, or estimated differently) the results carry."""
    return len(result.tables.get("notes") or []) if result is not None else 0
