"""Running the programme: waves, roadshow events and invitations (analysts and admins)."""

from flask import Blueprint

bp = Blueprint("programme", __name__, url_prefix="/programme")

from . import group_sizes, measures, reminder_days, returns, routes  # noqa: E402, F401  (after bp: routes register themselves on it)
