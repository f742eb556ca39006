"""The instrument library: every stored version, the differences between versions, and
uploading a new version (validated exactly as the definitions folder is)."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from flask import flash, redirect, render_template, url_for
from sqlalchemy import func, select

from instruments import DefinitionsError, InstrumentDiff, diff_instruments, parse_instrument_text

from ..audit import record
from ..auth.roles import role_required
from ..definitions import current_definitions, store_instrument_version
from ..extensions import db
from ..models import InstrumentVersion, Role, Wave
from . import bp
from .forms import InstrumentUploadForm


@dataclass(frozen=True)
class VersionRow:
    version: InstrumentVersion
    waves: int
    diff: InstrumentDiff | None  # against the previous version of the same instrument


def library() -> dict[str, list[VersionRow]]:
    waves = dict(
        db.session.execute(
            select(Wave.instrument_version_id, func.count()).group_by(Wave.instrument_version_id)
        ).all()
    )
    grouped: dict[str, list[InstrumentVersion]] = defaultdict(list)
    for version in db.session.scalars(
        select(InstrumentVersion).order_by(InstrumentVersion.instrument_id, InstrumentVersion.id)
    ):
        grouped[version.instrument_id].append(version)
    return {
        instrument_id: [
            VersionRow(
                v,
                waves.get(v.id, 0),
                diff_instruments(versions[i - 1].instrument, v.instrument) if i else None,
            )
            for i, v in enumerate(versions)
        ][::-1]
        for instrument_id, versions in grouped.items()
    }


@bp.route("/instruments", methods=["GET", "POST"])
@role_required(Role.ADMIN)
def instruments():
    form = InstrumentUploadForm()
    problems: list[str] = []
    status = 200
    if form.validate_on_submit():
        name = form.file.data.filename or "upload.yaml"
        try:
            text = form.file.data.read().decode("utf-8")
            instrument = parse_instrument_text(text, name, current_definitions().framework)
        except UnicodeDecodeError:
            problems = [f"{name}: not UTF-8 text"]
        except DefinitionsError as exc:
            problems = [str(e) for e in exc.errors]
        else:
            result = store_instrument_version(instrument, source=name)
            if result.created:
                record(
                    "instrument version uploaded", instrument=instrument.id, version=result.version
                )
                flash(
                    f"Version {result.version[:12]} of {instrument.id} has been added.", "success"
                )
            else:
                flash(f"That version of {instrument.id} is already in the library.", "info")
            db.session.commit()
            return redirect(url_for("admin.instruments"))
        status = 400
    elif form.errors:
        status = 400
    return render_template(
        "admin/instruments.html",
        title="Instrument library",
        library=library(),
        form=form,
        problems=problems,
    ), status
