"""Error pages in the service's own style, never a stack trace."""

from __future__ import annotations

from flask import Flask, render_template
from flask_wtf.csrf import CSRFError

from .extensions import db
from .links import BaseUrlNotSet

MESSAGES = {
    400: ("Something was wrong with that request", "Go back and try again."),
    403: ("You do not have access to this page", "Ask an administrator if you need it."),
    404: ("Page not found", "If you typed the address, check it is correct."),
    405: ("Page not found", "If you typed the address, check it is correct."),
    429: ("Too many requests", "Wait a few minutes and try again."),
    500: ("Sorry, there is a problem with the service", "Try again later."),
    503: ("Sorry, this service is not set up to do that yet", "Try again later."),
}


def error_page(code: int, heading: str | None = None, advice: str | None = None):
    default_heading, default_advice = MESSAGES[code]
    heading = heading or default_heading
    return render_template("errors/error.html", title=heading, heading=heading,
                           advice=advice or default_advice), code


def csrf_expired_page():
    """For a staff form whose CSRF token or session expired (survey pages keep answers)."""
    return error_page(400, "Your form timed out",
                      "For your security, forms expire. Go back, refresh the page and submit it again.")


def register(app: Flask) -> None:
    for code in (400, 403, 404, 405, 429):
        app.register_error_handler(code, lambda error, code=code: error_page(code))
    # Survey pages have their own CSRF handler that keeps answers; this serves the rest.
    app.register_error_handler(CSRFError, lambda error: csrf_expired_page())
    # A link that would leave the service (QR poster, invitation) with no BASE_URL set:
    # the page says what the administrator must set, rather than guessing the address.
    app.register_error_handler(BaseUrlNotSet, lambda error: error_page(503, advice=str(error)))

    @app.errorhandler(500)
    def server_error(error):
        db.session.rollback()
        return error_page(500)
