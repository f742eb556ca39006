from __future__ import annotations

import io
import re
from collections.abc import Sequence

import pandas as pd
from flask import abort, render_template, request, send_file
from sqlalchemy import select

from analysis import spreadsheet

from ..audit import record
from ..auth.roles import ANALYST_ROLES, VIEWER_ROLES, role_required
from ..export import fielded_instruments, labelled_bytes, responses_frame
from ..extensions import db
from ..models import InstrumentVersion, Wave
from ..response_counts import by_day, by_event, min_n, wave_total
from . import bp
from .monitor import wave_status, wave_summaries

LABELLED_MIME = {"sav": "application/x-spss-sav", "dta": "application/x-stata-dta"}


@bp.get("/")
@role_required(*VIEWER_ROLES)
def index():
    return render_template("staff/index.html", title="Overview", summaries=wave_summaries())


@bp.get("/waves/<int:wave_id>")
@role_required(*ANALYST_ROLES)
def wave(wave_id: int):
    found = db.session.get(Wave, wave_id) or abort(404)
    return render_template(
        "staff/wave.html",
        title=f"{found.instrument_version.title} {found.label}",
        wave=found,
        status=wave_status(found),
        total=wave_total(found),
        days=by_day(found),
        events=by_event(found),
        min_n=min_n(found.audience),
    )


@bp.get("/exports")
@role_required(*ANALYST_ROLES)
def exports():
    waves = db.session.scalars(
        select(Wave)
        .join(InstrumentVersion)
        .order_by(InstrumentVersion.instrument_id, Wave.opens_on)
    ).all()
    return render_template("staff/exports.html", title="Export responses", waves=waves)


@bp.get("/exports/responses.<fmt>")
@role_required(*ANALYST_ROLES)
def export_responses(fmt: str):
    """Anonymous responses (the analysis file) as CSV, Excel with a codebook sheet, or a
    labelled SPSS (.sav) or Stata (.dta) file; logged."""
    if fmt not in ("csv", "xlsx", "sav", "dta"):
        abort(404)
    wave_ids = [int(w) for w in request.args.getlist("wave") if w.isdigit()]
    waves = db.session.scalars(select(Wave).where(Wave.id.in_(wave_ids))).all() if wave_ids else []
    if wave_ids and len(waves) != len(set(wave_ids)):
        abort(404)
    frame = responses_frame(wave_ids or None)
    record(
        "export responses",
        format=fmt,
        waves=sorted({w.id for w in waves}) or "all",
        rows=len(frame),
    )
    db.session.commit()
    stem = "responses-" + (
        "-".join(sorted({re.sub(r"[^A-Za-z0-9-]", "", w.label) for w in waves})) or "all"
    )
    if fmt == "csv":
        return send_file(
            io.BytesIO(spreadsheet.csv_bytes(frame)),
            mimetype="text/csv",
            as_attachment=True,
            download_name=f"{stem}.csv",
        )
    if fmt in LABELLED_MIME:
        instruments = fielded_instruments(wave_ids or None)
        return send_file(
            io.BytesIO(labelled_bytes(frame, instruments, fmt)),
            as_attachment=True,
            download_name=f"{stem}.{fmt}",
            mimetype=LABELLED_MIME[fmt],
        )
    workbook = spreadsheet.workbook_bytes({"responses": frame, "codebook": _codebook(waves)})
    return send_file(
        io.BytesIO(workbook),
        as_attachment=True,
        download_name=f"{stem}.xlsx",
        mimetype=spreadsheet.EXCEL_MIME,
    )


def _codebook(waves: Sequence[Wave]) -> pd.DataFrame:
    """One row per question of the versions the export's waves fielded (all when none chosen)."""
    versions = {v.id: v for v in db.session.scalars(select(InstrumentVersion))}
    fielded = {w.instrument_version_id for w in waves} or set(versions)
    codebook = []
    for version_id in sorted(fielded):
        version = versions[version_id]
        instrument = version.instrument
        for q in instrument.answer_items:  # a grid's statements, each its own column
            scale = instrument.scales.get(q.scale) if q.scale else None
            codebook.append(
                {
                    "instrument": instrument.id,
                    "version": version.version,
                    "question": q.id,
                    "text": q.text,
                    "type": q.type,
                    "codes": "; ".join(f"{i} = {label}" for i, label in enumerate(scale.labels, 1))
                    + (f"; dk = {scale.dont_know}" if scale.dont_know else "")
                    if scale
                    else "; ".join(q.choices or []),
                    "positive": ", ".join(map(str, scale.positive)) if scale else "",
                    "reverse": q.reverse,
                    "outcomes": ", ".join(q.outcomes),
                    "index": q.index or "",
                }
            )
    return pd.DataFrame(codebook)
