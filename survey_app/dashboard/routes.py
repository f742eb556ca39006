from __future__ import annotations

import io

import pandas as pd
from flask import abort, flash, redirect, render_template, request, send_file, url_for
from flask_login import current_user
from flask_wtf import FlaskForm

from analysis import spreadsheet

from .. import csp_with_inline_styles
from ..audit import record
from ..auth.roles import ANALYST_ROLES, VIEWER_ROLES, role_required
from ..comments.queries import outcome_themes, quotes_for_waves, waves_labelled
from ..definitions import current_definitions, fielded_definitions
from ..display import for_display, shown_in_unit
from ..extensions import db
from ..methodology import wave_methods
from ..publication import results_for_current_user, shown_waves
from ..recompute import recompute_status, request_recompute
from ..results import note_count
from ..theme_summary import theme_figures
from . import bp
from .drilldown import download_table, drilldown
from .indices import indices_table
from .kpi import kpi_view
from .scorecard import all_cards, headline, largest_changes, scorecard


class RecomputeForm(FlaskForm):
    pass


@bp.get("/")
@role_required(*VIEWER_ROLES)
def index():
    status = recompute_status()
    result, stale = results_for_current_user()
    framework = current_definitions().framework
    board = scorecard(framework, result)
    cards = all_cards(board)
    return render_template(
        "dashboard/scorecard.html",
        title="Scorecard",
        framework=framework,
        board=board,
        counts=headline(cards),
        changes=largest_changes(cards),
        result=result,
        stale=stale,
        status=status,
        form=RecomputeForm(),
        methods=wave_methods(result),
        notes_total=note_count(result),
    )


@bp.post("/recompute")
@role_required(*ANALYST_ROLES)
def recompute():
    """Queue the computation and return at once; the scorecard says how it is going."""
    if not RecomputeForm().validate_on_submit():
        return redirect(url_for("dashboard.index"))
    job_id = request_recompute(requested_by=current_user.id)
    record("results recompute requested", job=job_id)
    db.session.commit()
    flash(
        "The results are being recomputed in the background. The scorecard says when they are ready.",
        "info",
    )
    return redirect(url_for("dashboard.index"))


def _outcome_or_404(outcome_id: str, audience: str):
    from instruments import AUDIENCES

    framework = current_definitions().framework
    try:
        outcome = framework.outcome(outcome_id)
    except KeyError:
        abort(404)
    if audience not in AUDIENCES:
        abort(404)
    return outcome


@bp.get("/outcomes/<outcome_id>/<audience>")
@role_required(*VIEWER_ROLES)
def outcome(outcome_id: str, audience: str):
    found = _outcome_or_404(outcome_id, audience)
    result, stale = results_for_current_user()
    views = drilldown(fielded_definitions(), result, found, audience)
    return render_template(
        "dashboard/outcome.html",
        title=f"{found.id} for {audience}",
        outcome=found,
        audience=audience,
        views=views,
        result=result,
        stale=stale,
        min_n=current_definitions().framework.min_n(audience),
        quotes=_outcome_quotes(result, found.id, audience),
        themes=_outcome_theme_figures(result, found.id, audience),
        min_comment=current_definitions().framework.min_comment_group_size,
    )


def _outcome_theme_figures(result, outcome_id: str, audience: str) -> tuple[str | None, list]:
    """The latest wave's figures for the themes mapped to this outcome, this audience."""
    themes = outcome_themes(outcome_id)
    if result is None or not result.wave_order or not themes:
        return None, []
    wave = result.wave_order[-1]
    return wave, theme_figures(result, wave, audience=audience, only_themes=themes)


def _outcome_quotes(result, outcome_id: str, audience: str) -> tuple[str | None, list]:
    """The latest reported wave and its quotable comments about this outcome (coded into a
    theme mapped to it), from this audience's surveys big enough to report."""
    themes = outcome_themes(outcome_id)
    if result is None or not result.wave_order or not themes:
        return None, []
    wave = result.wave_order[-1]
    return wave, quotes_for_waves(
        shown_waves(result, waves_labelled(wave, audience)), only_themes=themes
    )


@bp.get("/outcomes/<outcome_id>/<audience>/<instrument_id>/<name>.<fmt>")
@role_required(*VIEWER_ROLES)
def outcome_download(outcome_id: str, audience: str, instrument_id: str, name: str, fmt: str):
    found = _outcome_or_404(outcome_id, audience)
    result, _ = results_for_current_user()
    view = next(
        iter(drilldown(fielded_definitions(), result, found, audience, instrument_id)), None
    )
    if view is None:
        abort(404)
    try:
        frame = download_table(view, name)
    except KeyError:
        abort(404)
    return send_table(frame, f"{found.id}-{audience}-{instrument_id}-{name}", fmt)


@bp.get("/kpis/<measure_id>")
@role_required(*VIEWER_ROLES)
def kpi(measure_id: str):
    """A KPI read-only, reached from its scorecard row: its values by period charted with the
    target, trajectory and baseline, and the table of the same figures."""
    view = kpi_view(current_definitions().framework, measure_id)
    if view is None:
        abort(404)
    return render_template("dashboard/kpi.html", title=view.row.title, view=view)


def send_table(frame: pd.DataFrame, stem: str, fmt: str):
    """Any table of the dashboard as a CSV or Excel download (the figures as stored, so the
    same suppression as on the page, at the precision the page shows); every download is
    logged."""
    if fmt not in ("csv", "xlsx"):
        abort(404)
    frame = for_display(frame)
    record("table downloaded", table=stem, format=fmt)
    db.session.commit()
    if fmt == "csv":
        return send_file(
            io.BytesIO(spreadsheet.csv_bytes(frame, float_format=None)),
            mimetype="text/csv",
            as_attachment=True,
            download_name=f"{stem}.csv",
        )
    return send_file(
        io.BytesIO(spreadsheet.workbook_bytes({stem: frame})),
        as_attachment=True,
        download_name=f"{stem}.xlsx",
        mimetype=spreadsheet.EXCEL_MIME,
    )


@bp.get("/scorecard.<fmt>")
@role_required(*VIEWER_ROLES)
def scorecard_download(fmt: str):
    result, _ = results_for_current_user()
    board = scorecard(current_definitions().framework, result)
    rows = [
        {
            "priority": priority,
            "workstream": workstream,
            "outcome": card.outcome.id,
            "outcome_status": card.summary.label,
            "outcome_measures": card.counts_text,
            "measure": row.measure.id,
            "title": row.title,
            "unit": row.unit,
            "wave": row.figures.get("wave"),
            "n": row.figures.get("n"),
            "estimate": shown_in_unit(row.figures.get("estimate"), row.unit),
            "ci_low": row.figures.get("ci_low"),
            "ci_high": row.figures.get("ci_high"),
            "change": shown_in_unit(row.figures.get("change"), row.unit),
            "p_adj": row.figures.get("p_adj"),
            "mdc": row.figures.get("mdc"),
            "significance": row.figures.get("significance", row.significance.label),
            "target": row.target.target,
            "target_date": row.target.target_date,
            "direction": row.target.direction,
            "trajectory": shown_in_unit(row.trajectory, row.unit),
            "status": row.status.label,
            "reason": row.status.reason,
        }
        for priority, workstreams in board.items()
        for workstream, cards in workstreams.items()
        for card in cards
        for row in card.rows
    ]
    return send_table(pd.DataFrame(rows), "scorecard", fmt)


@bp.get("/indices")
@role_required(*VIEWER_ROLES)
def indices():
    result, stale = results_for_current_user()
    return render_template(
        "dashboard/indices.html",
        title="Confidence and culture-change indices",
        table=indices_table(result),
        result=result,
        stale=stale,
    )


@bp.get("/indices.<fmt>")
@role_required(*VIEWER_ROLES)
def indices_download(fmt: str):
    result, _ = results_for_current_user()
    return send_table(indices_table(result), "indices", fmt)


REPORT_FORMATS = {
    # format: (MIME type, opened in the browser rather than saved)
    "html": ("text/html", True),
    "pdf": ("application/pdf", False),
    "pptx": ("application/vnd.openxmlformats-officedocument.presentationml.presentation", False),
}


@bp.get("/report.<fmt>")
@role_required(*VIEWER_ROLES)
def report(fmt: str):
    """The quarterly report for the latest wave (or ?wave=): a web page that opens in the
    browser (``Content-Disposition: inline``), a tagged PDF or PowerPoint slides."""
    from ..reports.quarterly import ReportError, build_report

    if fmt not in REPORT_FORMATS:
        abort(404)
    result, _ = results_for_current_user()
    try:
        built = build_report(result, request.args.get("wave") or None)
        content = built.as_bytes(fmt)
    except ReportError as exc:
        flash(str(exc), "info")
        return redirect(url_for("dashboard.index"))
    record("report downloaded", wave=built.wave, format=fmt)
    db.session.commit()
    mimetype, inline = REPORT_FORMATS[fmt]
    response = send_file(
        io.BytesIO(content),
        as_attachment=not inline,
        download_name=f"quarterly-{built.wave}.{fmt}",
        mimetype=mimetype,
    )
    if fmt == "html":  # its own styles, allowed by their hashes and nothing else
        response.headers["Content-Security-Policy"] = csp_with_inline_styles(built.html)
    return response
