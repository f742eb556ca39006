from __future__ import annotations

from flask import abort, current_app, jsonify, render_template
from sqlalchemy import text

from ..action_plans import you_said_we_did as published_actions
from ..definitions import current_definitions
from ..extensions import db
from . import bp


@bp.get("/")
def index():
    return render_template("public/home.html", framework=current_definitions().framework)


@bp.get("/privacy")
def privacy():
    return render_template(
        "public/privacy.html",
        title="Privacy notice",
        min_group_size=min(current_definitions().framework.min_group_size.values()),
    )


@bp.get("/accessibility")
def accessibility():
    return render_template("public/accessibility.html", title="Accessibility statement")


@bp.get("/you-said-we-did/<instrument_id>")
def you_said_we_did(instrument_id: str):
    """A survey's published actions, for anyone: no sign-in, no script, figures only where
    reportable (``survey_app.action_plans``)."""
    instrument = current_definitions().instruments.get(instrument_id)
    if instrument is None:
        abort(404)
    return render_template(
        "public/you_said_we_did.html",
        title=f"You said, we did: {instrument.title}",
        instrument=instrument,
        rows=published_actions(instrument_id=instrument_id),
    )


@bp.get("/healthz")
def health():
    """Liveness and database reachability, for load balancers and the operator."""
    try:
        db.session.execute(text("SELECT 1"))
    except Exception as exc:  # noqa: BLE001 - any failure means "not healthy"
        current_app.logger.warning("health check failed: %s", type(exc).__name__)
        db.session.rollback()
        return jsonify(status="error", database="unreachable"), 503
    return jsonify(status="ok", database="ok")
