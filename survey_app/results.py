"""Stored analysis results: the analysis package run over every response, kept per version of
the data so that pages read them instead of recomputing per request."""

from __future__ import annotations

import hashlib
import json

import pandas as pd
from sqlalchemy import func, select

import analysis

from .definitions import current_definitions
from .export import responses_frame
from .extensions import db
from .models import AnalysisResult, KpiValue, MeasureTarget, PopulationMargin, Response

TABLES = ("indicators", "changes", "trends", "reliability", "themes")


def data_fingerprint() -> str:
    """Identifies the data the analysis depends on: responses, KPI values, targets and
    population margins (counts and extreme ids/days). Every page view computes it, so it reads
    the response table only: the app never changes an answer without its response (answers
    are written and deleted with it), and counting ~20 answers per response would cost more."""
    parts = [
        db.session.execute(select(func.count(), func.max(Response.submitted_on), func.min(Response.id),
                                  func.max(Response.id))).one(),
        db.session.execute(select(func.count(), func.max(KpiValue.recorded_at), func.sum(KpiValue.value))).one(),
        db.session.execute(select(func.count(), func.max(MeasureTarget.id))).one(),
        db.session.execute(select(func.count(), func.sum(PopulationMargin.population))).one(),
    ]
    text = json.dumps([[str(v) for v in row] for row in parts])
    return hashlib.sha256(text.encode()).hexdigest()


def _population() -> pd.DataFrame | None:
    rows = db.session.execute(select(PopulationMargin.audience, PopulationMargin.variable,
                                     PopulationMargin.category, PopulationMargin.population)).all()
    if not rows:
        return None
    return pd.DataFrame(rows, columns=["audience", "variable", "category", "population"])


def _records(table: pd.DataFrame) -> list[dict]:
    # JSON has no NaN: blanks become null, as they are blank in the CSV files.
    return json.loads(table.to_json(orient="records", date_format="iso"))


def compute_results() -> AnalysisResult:
    """Run the analysis over every response and store the tables (the caller's transaction
    is committed). Breakdowns are every "about you" attribute of the instruments."""
    definitions = current_definitions()
    frame = responses_frame()
    fingerprint = data_fingerprint()
    population = _population()
    if population is not None:  # rake only audiences that have answers with those attributes
        population = population[population["audience"].isin(set(frame["audience"]))]
    breakdowns = sorted({a.id for i in definitions.instruments.values() for a in i.attributes} & set(frame.columns))
    if frame.empty:
        tables = {name: [] for name in TABLES}
        wave_order: list[str] = []
    else:
        results = analysis.run(frame, definitions, population=population, by=breakdowns, drop_incomplete=True)
        tables = {name: _records(getattr(results, name)) for name in TABLES}
        wave_order = results.wave_order
    stored = AnalysisResult(fingerprint=fingerprint, responses=len(frame), wave_order=wave_order, tables=tables)
    db.session.add(stored)
    db.session.commit()
    from .publication import publish_closed_waves  # here: publication reads these results

    publish_closed_waves(stored)
    return stored


def latest_results() -> tuple[AnalysisResult | None, bool]:
    """The newest stored results and whether the data have changed since."""
    latest = db.session.scalar(select(AnalysisResult).order_by(AnalysisResult.id.desc()).limit(1))
    if latest is None:
        return None, True
    return latest, latest.fingerprint != data_fingerprint()


def table(result: AnalysisResult | None, name: str) -> pd.DataFrame:
    if result is None or not result.tables.get(name):
        return pd.DataFrame()
    return pd.DataFrame.from_records(result.tables[name])
