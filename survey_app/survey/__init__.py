"""The respondent's side: start page, question pages, check answers, confirmation, and the
three ways in (``/s/<slug>`` open waves, ``/e/<code>`` roadshow events, ``/i/<token>``
personal invitations)."""

from flask import Blueprint

bp = Blueprint("survey", __name__)

from . import resume, routes  # noqa: E402, F401  (after bp: routes register themselves on it)
