"""Public pages that need no sign-in: home, privacy notice, accessibility statement, health."""

from flask import Blueprint

bp = Blueprint("public", __name__)

from . import routes  # noqa: E402, F401  (after bp: routes register themselves on it)
