"""Improvement Pulse web app: ``create_app(config)`` builds a configured Flask app."""

from __future__ import annotations

import json
import logging
import os
import secrets
import time
from pathlib import Path
from typing import Any

from flask import Flask, g, request
from jinja2 import ChoiceLoader, PackageLoader, PrefixLoader

from . import jobs
from .config import (
    Config,
    ConfigError,
    check_base_url,
    check_rate,
    check_secret_key,
    config_class,
    resolve_secret_key,
)
from .database import (
    close_standalone_connection,
    configure_engine,
    engine_options,
    init_statement_engine,
)
from .extensions import csrf, db, limiter, login_manager, migrate
from .links import public_url
from .proxy import trust_proxies
from .sessions import QuickSecureCookieSessionInterface

MIGRATIONS_DIR = str(Path(__file__).resolve().parent / "migrations")


def create_app(config: str | type[Config] | dict[str, Any] | None = None) -> Flask:
    """Build the app.

    ``config`` is a configuration name (``production``, ``development``, ``testing``), a
    config class, or a mapping of overrides applied on top of the testing configuration
    (the Flask tutorial's ``create_app(test_config)``). Without it, ``PULSE_CONFIG`` picks
    the class (default ``production``). ``PULSE_INSTANCE_PATH`` moves the instance folder
    (SQLite file, generated secret key) away from the default ``instance/``.
    """
    app = Flask(
        __name__,
        instance_path=os.environ.get("PULSE_INSTANCE_PATH") or None,
        instance_relative_config=True,
    )
    if isinstance(config, dict):
        app.config.from_object(config_class("testing"))
        app.config.update(config)
    elif isinstance(config, type):
        app.config.from_object(config)
    else:
        app.config.from_object(config_class(config))

    for brake in ("SURVEY_SUBMIT_RATE_LIMIT", "SURVEY_WAVE_SUBMIT_RATE_LIMIT"):
        if os.environ.get(brake):  # e.g. "1000 per 10 minutes" (survey_app/ratelimit.py)
            app.config[brake] = os.environ[brake]

    instance = Path(app.instance_path)
    instance.mkdir(parents=True, exist_ok=True)
    if not app.config.get("SECRET_KEY"):
        app.config["SECRET_KEY"] = resolve_secret_key(instance)
    check_secret_key(app.config["SECRET_KEY"], app.config.get("SECRET_KEY_FALLBACKS"))
    app.config["BASE_URL"] = check_base_url(app.config.get("BASE_URL"))
    check_rate("SIGN_IN_ADDRESS_LIMIT", app.config["SIGN_IN_ADDRESS_LIMIT"])
    trust_proxies(app)
    if not app.config.get("SQLALCHEMY_DATABASE_URI"):
        app.config["SQLALCHEMY_DATABASE_URI"] = f"sqlite:///{instance / 'pulse.db'}"
    options = engine_options(app.config["SQLALCHEMY_DATABASE_URI"])
    options.update(app.config.get("SQLALCHEMY_ENGINE_OPTIONS") or {})
    app.config["SQLALCHEMY_ENGINE_OPTIONS"] = options

    app.session_interface = QuickSecureCookieSessionInterface()
    _init_templates(app)
    db.init_app(app)
    app.teardown_appcontext(close_standalone_connection)
    with app.app_context():
        configure_engine(db.engine)
        init_statement_engine(app, db.engine)
    migrate.init_app(app, db, directory=MIGRATIONS_DIR, render_as_batch=True, compare_type=True)
    csrf.init_app(app)
    login_manager.init_app(app)
    login_manager.login_view = "auth.sign_in"
    login_manager.login_message = "Sign in to see that page."
    login_manager.login_message_category = "info"
    limiter.init_app(app)
    jobs.init_app(app)

    _register_blueprints(app)
    _register_security_headers(app)
    _register_request_log(app)
    _register_cli(app)
    return app


def _init_templates(app: Flask) -> None:
    assert app.jinja_loader is not None  # Flask's loader for survey_app/templates
    app.jinja_loader = ChoiceLoader(
        [
            app.jinja_loader,
            PrefixLoader(
                {
                    "govuk_frontend_jinja": PackageLoader("govuk_frontend_jinja"),
                    "govuk_frontend_wtf": PackageLoader("govuk_frontend_wtf"),
                }
            ),
        ]
    )

    def csp_nonce() -> str:
        if "csp_nonce" not in g:
            g.csp_nonce = secrets.token_urlsafe(16)
        return g.csp_nonce

    def has_endpoint(name: str) -> bool:
        return name in app.view_functions

    app.jinja_env.globals.update(
        csp_nonce=csp_nonce, has_endpoint=has_endpoint, public_url=public_url
    )


def _register_blueprints(app: Flask) -> None:
    from . import errors
    from .actions import bp as actions_bp
    from .admin import bp as admin_bp
    from .auth import bp as auth_bp
    from .comments import bp as comments_bp
    from .dashboard import bp as dashboard_bp
    from .programme import bp as programme_bp
    from .public import bp as public_bp
    from .staff import bp as staff_bp
    from .survey import bp as survey_bp

    for blueprint in (
        public_bp,
        survey_bp,
        auth_bp,
        staff_bp,
        dashboard_bp,
        programme_bp,
        admin_bp,
        comments_bp,
        actions_bp,
    ):
        app.register_blueprint(blueprint)
    errors.register(app)


_CSP = (
    "default-src 'self'; script-src {script}; style-src {style}; img-src 'self' data:; "
    "font-src 'self'; object-src 'none'; base-uri 'self'; form-action 'self'; "
    "frame-ancestors 'none'"
)
_FIXED_SECURITY_HEADERS = (
    ("X-Content-Type-Options", "nosniff"),
    ("Referrer-Policy", "no-referrer"),
    ("X-Frame-Options", "DENY"),
    ("Permissions-Policy", "camera=(), microphone=(), geolocation=()"),
)
# Most responses run no script of their own: their headers are built once, not per response.
_SECURITY_HEADERS_WITHOUT_NONCE = (
    ("Content-Security-Policy", _CSP.format(script="'self'", style="'self'")),
    *_FIXED_SECURITY_HEADERS,
)


def csp_with_inline_styles(html: str) -> str:
    """The Content-Security-Policy for a self-contained page (the quarterly report, which
    carries its own print and screen styles so that a saved copy still reads well): the
    usual policy, plus exactly the ``<style>`` blocks of ``html`` by their SHA-256."""
    import base64
    import hashlib
    import re

    hashes = " ".join(
        "'sha256-" + base64.b64encode(hashlib.sha256(block.encode("utf-8")).digest()).decode() + "'"
        for block in re.findall(r"<style>(.*?)</style>", html, flags=re.DOTALL)
    )
    return _CSP.format(script="'self'", style=f"'self' {hashes}".strip())


def security_headers(nonce: str | None) -> tuple[tuple[str, str], ...]:
    """The headers every response carries: a strict Content-Security-Policy (scripts only
    from this site, plus the page's inline script if it has a ``nonce``), no sniffing, no
    referrer, no framing, no camera, microphone or location."""
    if not nonce:
        return _SECURITY_HEADERS_WITHOUT_NONCE
    return (
        ("Content-Security-Policy", _CSP.format(script=f"'self' 'nonce-{nonce}'", style="'self'")),
        *_FIXED_SECURITY_HEADERS,
    )


# Respondents' pages and static files; every other endpoint is a staff page.
RESPONDENT_ENDPOINTS = ("public.", "survey.", "static")


def _register_security_headers(app: Flask) -> None:
    hsts_seconds = app.config.get("HSTS_SECONDS") or 0
    hsts = f"max-age={hsts_seconds}; includeSubDomains" if hsts_seconds else None

    @app.after_request
    def _headers(response):
        # One pass over the response's headers instead of a lookup per header: a view that
        # set one of them itself keeps its own.
        present = {name.lower() for name in response.headers.keys()}  # noqa: SIM118 - pairs otherwise
        for name, value in security_headers(g.get("csp_nonce")):
            if name.lower() not in present:
                response.headers.add(name, value)
        if hsts and request.is_secure:  # browsers ignore it over plain HTTP, as RFC 6797 says
            response.headers["Strict-Transport-Security"] = hsts
        endpoint = request.endpoint
        if endpoint is not None and not endpoint.startswith(RESPONDENT_ENDPOINTS):
            # Staff pages and downloads hold names, figures and exports: no browser or
            # proxy cache keeps a copy for the next person at a shared computer.
            response.headers["Cache-Control"] = "no-store"
        return response


REQUEST_LOG = logging.getLogger("survey_app.request")
_REQUEST_ID_OK = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.")


def _request_id() -> str:
    """The proxy's ``X-Request-ID`` if it is a plain short id, else a new random one."""
    given = request.headers.get("X-Request-ID", "")
    if 0 < len(given) <= 64 and set(given) <= _REQUEST_ID_OK:
        return given
    return secrets.token_hex(8)


def _register_request_log(app: Flask) -> None:
    """One JSON line per request on the ``survey_app.request`` logger, with a request id
    (echoed in ``X-Request-ID``). Only the route pattern is logged (``/s/<slug>/check``,
    ``/i/<token>``), never the path, query string, form, token, answers or client address;
    and for respondents' pages no duration either, since it varies with the answers."""

    @app.before_request
    def _start():
        g.request_id = _request_id()
        g.request_started = time.perf_counter()

    @app.after_request
    def _log(response):
        request_id = g.get("request_id") or _request_id()
        response.headers["X-Request-ID"] = request_id
        if REQUEST_LOG.isEnabledFor(logging.INFO):
            started = g.get("request_started")
            line: dict[str, Any] = {
                "request_id": request_id,
                "method": request.method,
                "route": request.url_rule.rule if request.url_rule else "(unmatched)",
                "status": response.status_code,
            }
            if request.blueprint != "survey":
                line["ms"] = round((time.perf_counter() - started) * 1000, 1) if started else None
            REQUEST_LOG.info(json.dumps(line))
        return response


def _register_cli(app: Flask) -> None:
    from .cli import register

    register(app)


__all__ = ["ConfigError", "create_app"]
