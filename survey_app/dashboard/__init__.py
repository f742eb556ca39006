"""Dashboards for viewers and up: the 12-outcome scorecard, read from stored results."""

from flask import Blueprint

from analysis.rag import signed_change

bp = Blueprint("dashboard", __name__, url_prefix="/dashboard")
# "+7 points", "-1 point", "+2.5 £m": one wording for a change on every page and the report
bp.add_app_template_filter(signed_change, "signed_change")

# after bp: routes, the drill-down's benchmark panel, heatmaps and drivers register themselves on it
from . import benchmarks, drivers, heatmap, routes  # noqa: E402, F401
