"""Report benchmark: the quarterly report for the shipped framework (12 outcomes), 5 audiences'
instruments, 8 waves and about 100,000 responses, rendered as HTML and PDF.

    .venv/bin/python benchmarks/report.py [--responses 100000] [--workdir benchmarks/output/report]

It seeds a SQLite database with synthetic responses (cached between runs), computes the
stored results once, then times building the report (HTML) and rendering the PDF. The same
run measures a baseline: WeasyPrint rendering a one-page document, so the figures can be
read as multiples of what any PDF costs on this (shared, noisy) machine. Nothing is asserted.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]  # this folder's report.py
sys.path.insert(0, str(ROOT))

WAVES = [f"{year}-Q{q}" for year in (2025, 2026) for q in (1, 2, 3, 4)]
SHARE = {
    "member-pulse": 0.01,
    "staff-pulse": 0.35,
    "staff-roadshow": 0.1,
    "resident-perception": 0.5,
    "partner-survey": 0.04,
}


def seed(app, responses: int) -> None:
    from sqlalchemy import insert

    from analysis.synthetic import synthetic_responses
    from instruments import load_definitions
    from survey_app.definitions import load_instruments
    from survey_app.extensions import db
    from survey_app.models import Answer, InstrumentVersion, Response, Wave, WaveMode

    definitions = load_definitions()
    with app.app_context():
        db.create_all()
        load_instruments(definitions)
        for offset, (instrument_id, share) in enumerate(SHARE.items()):
            instrument = definitions.instrument(instrument_id)
            version = (
                db.session.query(InstrumentVersion).filter_by(instrument_id=instrument_id).one()
            )
            waves = {}
            for i, label in enumerate(WAVES):
                opens = dt.date(2025, 1, 1) + dt.timedelta(days=91 * i)
                waves[label] = Wave(
                    label=label,
                    instrument_version=version,
                    audience=instrument.audience,
                    mode=WaveMode.OPEN,
                    opens_on=opens,
                    closes_on=opens + dt.timedelta(days=27),
                )
                db.session.add(waves[label])
            db.session.flush()
            per_wave = max(int(responses * share / len(WAVES)), 12)
            frame = synthetic_responses(
                instrument, WAVES, per_wave, seed=offset, version=version.version
            )
            frame = frame.astype(object).where(frame.notna(), None)
            attribute_ids = [a.id for a in instrument.attributes]
            question_ids = [q.id for q in instrument.questions]
            rows, answers = [], []
            for record in frame.to_dict("records"):
                wave = waves[record["wave"]]
                rows.append(
                    {
                        "id": record["response_id"],
                        "wave_id": wave.id,
                        "event_id": None,
                        "submitted_on": wave.opens_on,
                        "attributes": {
                            a: record[a] for a in attribute_ids if record[a] is not None
                        },
                        "weight": None,
                    }
                )
                answers += [
                    {"response_id": record["response_id"], "question_id": q, "value": record[q]}
                    for q in question_ids
                    if record[q] is not None
                ]
            db.session.execute(insert(Response), rows)
            db.session.execute(insert(Answer), answers)
            db.session.commit()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--responses", type=int, default=100_000)
    parser.add_argument("--workdir", type=Path, default=ROOT / "benchmarks" / "output" / "report")
    parser.add_argument("--regenerate", action="store_true")
    args = parser.parse_args()
    args.workdir.mkdir(parents=True, exist_ok=True)
    database = args.workdir / f"report-{args.responses}.db"
    if args.regenerate and database.exists():
        database.unlink()
    os.environ.setdefault("SECRET_KEY", "benchmark-only-secret-key-of-32-bytes-or-more")

    from flask_migrate import upgrade
    from weasyprint import HTML

    from survey_app import create_app
    from survey_app.reports.quarterly import build_report
    from survey_app.results import compute_results, latest_results

    app = create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{database}", "TESTING": False})
    fresh = not database.exists()
    with app.app_context():
        upgrade()
    if fresh:
        started = time.perf_counter()
        seed(app, args.responses)
        print(f"seeded {args.responses:,} responses in {time.perf_counter() - started:.1f} s")
    with app.app_context(), app.test_request_context():
        result, stale = latest_results()
        if result is None or stale:
            started = time.perf_counter()
            result = compute_results()
            print(
                f"computed stored results ({result.responses:,} responses) in {time.perf_counter() - started:.1f} s"
            )
        started = time.perf_counter()
        HTML(string="<html lang='en'><title>x</title><p>One page.</p></html>").write_pdf(
            pdf_variant="pdf/ua-1", pdf_tags=True
        )
        baseline = time.perf_counter() - started
        started = time.perf_counter()
        report = build_report(result)
        html_s = time.perf_counter() - started
        started = time.perf_counter()
        pdf = report.pdf()
        pdf_s = time.perf_counter() - started
    (args.workdir / f"quarterly-{report.wave}.pdf").write_bytes(pdf)
    total = html_s + pdf_s
    print(
        f"\nquarterly report for {report.wave}: {result.responses:,} responses, "
        f"{len(result.tables['indicators']):,} indicator rows, {len(WAVES)} waves, 5 instruments"
    )
    print(f"  HTML built:          {html_s:6.2f} s")
    print(f"  PDF rendered:        {pdf_s:6.2f} s  ({len(pdf) / 1024:.0f} KB)")
    print(
        f"  HTML + PDF:          {total:6.2f} s  (target < 15 s: {'met' if total < 15 else 'NOT met'})"
    )
    print(
        f"  baseline one-page PDF {baseline:5.2f} s; report = {total / baseline:.0f}x the baseline"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
