"""The staff area: response monitor and exports (analysts), for signed-in staff only."""

from flask import Blueprint

bp = Blueprint("staff", __name__, url_prefix="/staff")

from . import routes  # noqa: E402, F401  (after bp: routes register themselves on it)
