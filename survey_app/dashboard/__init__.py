"""Dashboards for viewers and up: the 12-outcome scorecard, read from stored results."""

from flask import Blueprint

bp = Blueprint("dashboard", __name__, url_prefix="/dashboard")

# after bp: routes, the drill-down's benchmark panel, heatmaps and drivers register themselves on it
from . import benchmarks, drivers, heatmap, routes  # noqa: E402, F401
