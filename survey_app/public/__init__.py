"""Public pages that need no sign-in: home, privacy notice, accessibility statement, health."""

from flask import Blueprint

bp = Blueprint("public", __name__)

from . import routes  # noqa: F401  (routes register themselves on bp)
