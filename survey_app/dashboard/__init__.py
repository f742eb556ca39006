"""Dashboards for viewers and up: the 12-outcome scorecard, read from stored results."""

from flask import Blueprint

bp = Blueprint("dashboard", __name__, url_prefix="/dashboard")

from . import drivers, heatmap, routes  # noqa: E402, F401  (after bp: routes register themselves on it)
