from __future__ import annotations

import io
import re

import pandas as pd
from flask import abort, render_template, request, send_file
from sqlalchemy import select

from ..audit import record
from ..auth.roles import ANALYST_ROLES, VIEWER_ROLES, role_required
from ..export import responses_frame, write_csv
from ..extensions import db
from ..models import InstrumentVersion, Wave
from ..response_counts import by_day, by_event, min_n, wave_total
from . import bp
from .monitor import wave_status, wave_summaries


@bp.get("/")
@role_required(*VIEWER_ROLES)
def index():
    return render_template("staff/index.html", title="Overview", summaries=wave_summaries())


@bp.get("/waves/<int:wave_id>")
@role_required(*ANALYST_ROLES)
def wave(wave_id: int):
    found = db.session.get(Wave, wave_id) or abort(404)
    return render_template("staff/wave.html", title=f"{found.instrument_version.title} {found.label}",
                           wave=found, status=wave_status(found), total=wave_total(found),
                           days=by_day(found), events=by_event(found), min_n=min_n(found.audience))


@bp.get("/exports")
@role_required(*ANALYST_ROLES)
def exports():
    waves = db.session.scalars(select(Wave).join(InstrumentVersion)
                               .order_by(InstrumentVersion.instrument_id, Wave.opens_on)).all()
    return render_template("staff/exports.html", title="Export responses", waves=waves)


@bp.get("/exports/responses.<fmt>")
@role_required(*ANALYST_ROLES)
def export_responses(fmt: str):
    """Anonymous responses (the analysis file) as CSV or Excel with a codebook sheet; logged."""
    if fmt not in ("csv", "xlsx"):
        abort(404)
    wave_ids = [int(w) for w in request.args.getlist("wave") if w.isdigit()]
    waves = db.session.scalars(select(Wave).where(Wave.id.in_(wave_ids))).all() if wave_ids else []
    if wave_ids and len(waves) != len(set(wave_ids)):
        abort(404)
    frame = responses_frame(wave_ids or None)
    record("export responses", format=fmt, waves=sorted({w.id for w in waves}) or "all", rows=len(frame))
    db.session.commit()
    stem = "responses-" + ("-".join(sorted({re.sub(r"[^A-Za-z0-9-]", "", w.label) for w in waves})) or "all")
    if fmt == "csv":
        buffer = io.StringIO()
        write_csv(frame, buffer)
        return send_file(io.BytesIO(buffer.getvalue().encode("utf-8")), mimetype="text/csv",
                         as_attachment=True, download_name=f"{stem}.csv")
    return send_file(_excel(frame, waves), as_attachment=True, download_name=f"{stem}.xlsx",
                     mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")


def _excel(frame: pd.DataFrame, waves: list[Wave]) -> io.BytesIO:
    versions = {v.id: v for v in db.session.scalars(select(InstrumentVersion))}
    fielded = {w.instrument_version_id for w in waves} or set(versions)
    codebook = []
    for version_id in sorted(fielded):
        version = versions[version_id]
        instrument = version.instrument
        for q in instrument.questions:
            scale = instrument.scales.get(q.scale) if q.scale else None
            codebook.append({
                "instrument": instrument.id, "version": version.version, "question": q.id,
                "text": q.text, "type": q.type,
                "codes": "; ".join(f"{i} = {label}" for i, label in enumerate(scale.labels, 1))
                + (f"; dk = {scale.dont_know}" if scale.dont_know else "") if scale
                else "; ".join(q.choices or []),
                "positive": ", ".join(map(str, scale.positive)) if scale else "",
                "reverse": q.reverse, "outcomes": ", ".join(q.outcomes), "index": q.index or "",
            })
    buffer = io.BytesIO()
    with pd.ExcelWriter(buffer, engine="openpyxl") as writer:
        frame.to_excel(writer, sheet_name="responses", index=False)
        pd.DataFrame(codebook).to_excel(writer, sheet_name="codebook", index=False)
    buffer.seek(0)
    return buffer
