"""Error pages in the service's own style, never a stack trace."""

from __future__ import annotations

import logging

from flask import Flask, current_app, g, render_template, request, session
from flask_wtf.csrf import CSRFError
from sqlalchemy.exc import InterfaceError, OperationalError

from .extensions import db
from .links import BaseUrlNotSet

MESSAGES = {
    400: ("Something was wrong with that request", "Go back and try again."),
    403: ("You do not have access to this page", "Ask an administrator if you need it."),
    404: ("Page not found", "If you typed the address, check it is correct."),
    405: ("Page not found", "If you typed the address, check it is correct."),
    429: ("Too many requests", "Wait a few minutes and try again."),
    500: ("Sorry, there is a problem with the service", "Try again later."),
    503: (
        "Not saved: the service is unavailable just now",
        (
            "We could not reach our database, so nothing you sent was saved. Please try again in "
            "a minute. If you were answering a survey, go back: your answers are still in this "
            "browser."
        ),
    ),
}
# How long a client is asked to wait before trying again after a 503.
RETRY_AFTER_SECONDS = 30


def error_page(code: int, heading: str | None = None, advice: str | None = None):
    default_heading, default_advice = MESSAGES[code]
    heading = heading or default_heading
    return render_template(
        "errors/error.html", title=heading, heading=heading, advice=advice or default_advice
    ), code


def unavailable_page():
    """503 "not saved, try again", drawn without the database. ``render_template`` would run
    Flask-Login's context processor, which loads the signed-in user from the database that
    is down, so the template gets Flask's standard context by hand and no user."""
    heading, advice = MESSAGES[503]
    body = current_app.jinja_env.get_template("errors/error.html").render(
        request=request,
        session=session,
        g=g,
        config=current_app.config,
        title=heading,
        heading=heading,
        advice=advice,
    )
    return body, 503, {"Retry-After": str(RETRY_AFTER_SECONDS)}


def csrf_expired_page():
    """For a staff form whose CSRF token or session expired (survey pages keep answers)."""
    return error_page(
        400,
        "Your form timed out",
        "For your security, forms expire. Go back, refresh the page and submit it again.",
    )


def register(app: Flask) -> None:
    for code in (400, 403, 404, 405, 429):
        app.register_error_handler(code, lambda _error, code=code: error_page(code))
    # Survey pages have their own CSRF handler that keeps answers; this serves the rest.
    app.register_error_handler(CSRFError, lambda _error: csrf_expired_page())
    # A link that would leave the service (QR poster, invitation) with no BASE_URL set:
    # the page says what the administrator must set, rather than guessing the address.
    app.register_error_handler(
        BaseUrlNotSet,
        lambda error: error_page(
            503, heading="Sorry, this service is not set up to do that yet", advice=str(error)
        ),
    )

    @app.errorhandler(500)
    def server_error(_error):
        db.session.rollback()
        return error_page(500)

    # The database is unreachable (stopped, restarting, network, SQLite locked for longer than
    # the busy timeout): every page says nothing was saved and to try again, with 503 so
    # clients and proxies know it is temporary. The survey's own pages say it with the
    # answers shown again where they can (survey/routes.py); this serves every other page.
    @app.errorhandler(OperationalError)
    @app.errorhandler(InterfaceError)
    def database_unavailable(error):
        logging.getLogger("survey_app.errors").warning(
            "database unavailable: %s", type(getattr(error, "orig", error)).__name__
        )
        try:
            db.session.rollback()
        except Exception:  # noqa: BLE001 - the connection is gone; the page must still be drawn
            db.session.invalidate()
        return unavailable_page()
