"""Staff side: sign-in, roles on every route, throttling, CSRF, password reset by e-mail,
exports and the audit log."""

from __future__ import annotations

import io
import re

import openpyxl
import pytest
from sqlalchemy import select

from instruments import load_definitions
from survey_app.demo import seed_demo
from survey_app.extensions import db
from survey_app.models import AuditEntry, Role

from ..conftest import make_app
from .helpers import PASSWORD, add_user, audit_actions, bodies, csrf, sign_in

RESPONDENT_ENDPOINTS = ("public.", "survey.", "static")
OPEN_AUTH = {
    "auth.sign_in",
    "auth.sign_out",
    "auth.reset_request",
    "auth.reset_link",
    "auth.reset_password",
}


def _url(rule) -> str:
    return re.sub(r"<(?:int:)?[^>]+>", "1", rule.rule)


def staff_rules(app):
    return [
        r
        for r in app.url_map.iter_rules()
        if not r.endpoint.startswith(RESPONDENT_ENDPOINTS) and r.endpoint not in OPEN_AUTH
    ]


def test_every_staff_route_needs_sign_in(app, client) -> None:
    rules = staff_rules(app)
    assert len(rules) >= 10
    token = csrf(client, "/auth/sign-in")  # so POSTs reach the role check, not the CSRF check
    for rule in rules:
        method = "GET" if "GET" in rule.methods else "POST"
        response = client.open(_url(rule), method=method, data={"csrf_token": token})
        assert response.status_code in (302, 401, 403), (rule.rule, response.status_code)
        if response.status_code == 302:
            assert response.headers["Location"].startswith("/auth/sign-in"), rule.rule


def test_viewer_gets_403_on_every_admin_and_analyst_action(app, client) -> None:
    add_user(app, "viewer@council.example", Role.VIEWER)
    assert sign_in(client, "viewer@council.example").status_code == 302
    checked = 0
    token = csrf(client, "/auth/password")
    for rule in staff_rules(app):
        roles = getattr(app.view_functions[rule.endpoint], "required_roles", None)
        method = "GET" if "GET" in rule.methods else "POST"
        response = client.open(_url(rule), method=method, data={"csrf_token": token})
        if roles is not None and Role.VIEWER not in roles:
            assert response.status_code == 403, rule.rule
            checked += 1
        else:
            assert response.status_code in (200, 302, 400, 404), rule.rule
    assert checked >= 8
    assert client.get("/staff/").status_code == 200


def test_sign_in_messages_never_reveal_whether_an_account_exists(app, client) -> None:
    add_user(app, "analyst@council.example", Role.ANALYST)
    wrong_password = sign_in(client, "analyst@council.example", "not the password").get_data(
        as_text=True
    )
    no_account = sign_in(client, "nobody@council.example", "not the password").get_data(
        as_text=True
    )
    message = "Enter a correct email address and password"
    assert message in wrong_password and message in no_account
    assert audit_actions(app) == ["sign-in failed", "sign-in failed"]


def test_posts_without_csrf_token_are_refused(app, client) -> None:
    add_user(app, "admin@council.example", Role.ADMIN)
    refused = client.post(
        "/auth/sign-in", data={"email": "admin@council.example", "password": PASSWORD}
    )
    assert refused.status_code == 400 and "Your form timed out" in refused.get_data(as_text=True)
    assert sign_in(client, "admin@council.example").status_code == 302
    for path in ("/admin/users/1/lift-wait", "/auth/sign-out", "/admin/users/new"):
        assert client.post(path, data={}).status_code == 400, path
    assert client.get("/staff/").status_code == 200  # still signed in: sign-out needed a token


@pytest.mark.parametrize(
    "target, expected",
    [
        ("/staff/exports", "/staff/exports"),
        ("//evil.example/x", "/dashboard/"),  # off-site: the landing page
        ("https://evil.example/", "/dashboard/"),  # off-site: the landing page
        ("/\\evil.example", "/dashboard/"),  # off-site: the landing page
    ],
)
def test_next_redirects_stay_on_site(app, client, target, expected) -> None:
    add_user(app, "analyst@council.example", Role.ANALYST)
    assert (
        sign_in(client, "analyst@council.example", next_url=target).headers["Location"] == expected
    )


def test_sessions_expire_when_idle_and_cookies_are_safe(tmp_path) -> None:
    from survey_app import create_app
    from survey_app.config import Config

    class Production(Config):
        SECRET_KEY = "a-production-secret-key-of-32-bytes-or-more"
        SQLALCHEMY_DATABASE_URI = f"sqlite:///{tmp_path / 'p.db'}"

    app = create_app(Production)
    assert app.config["SESSION_COOKIE_SECURE"] and app.config["SESSION_COOKIE_HTTPONLY"]
    assert app.config["SESSION_COOKIE_SAMESITE"] == "Lax"
    assert app.permanent_session_lifetime.total_seconds() == 30 * 60


def test_password_reset_by_emailed_link(tmp_path, smtp) -> None:
    controller, mailbox = smtp
    app = make_app(
        f"sqlite:///{tmp_path / 'r.db'}", MAIL_SERVER="127.0.0.1", MAIL_PORT=controller.port
    )
    from flask_migrate import upgrade

    with app.app_context():
        upgrade()
    add_user(app, "analyst@council.example", Role.ANALYST)
    client = app.test_client()
    unknown = client.post(
        "/auth/reset",
        data={"csrf_token": csrf(client, "/auth/reset"), "email": "nobody@council.example"},
    )
    known = client.post(
        "/auth/reset",
        data={"csrf_token": csrf(client, "/auth/reset"), "email": "analyst@council.example"},
    )

    def without_nonce(response) -> str:
        return re.sub(r'nonce="[^"]+"', "", response.get_data(as_text=True))

    assert without_nonce(unknown) == without_nonce(known)  # the same answer either way
    assert len(mailbox.messages) == 1 and mailbox.messages[0].rcpt_tos == [
        "analyst@council.example"
    ]
    body = bodies(mailbox)[0]
    link = re.search(r"http://pulse\.test(/auth/reset/\S+)", body).group(1)
    moved = client.get(link)
    assert moved.status_code == 302 and moved.headers["Location"] == "/auth/reset/new"
    new_password = "a brand new long password"
    token = csrf(client, "/auth/reset/new")
    done = client.post(
        "/auth/reset/new",
        data={"csrf_token": token, "new_password": new_password, "confirm": new_password},
    )
    assert done.status_code == 302
    assert sign_in(app.test_client(), "analyst@council.example", new_password).status_code == 302
    again = app.test_client()
    again.get(link)  # the link worked once; the changed password invalidates it
    assert again.get("/auth/reset/new").status_code == 400


def test_route_limits_apply_without_per_request_hooks(app, client) -> None:
    """The reset form takes 10 posts an hour from an address, counted by its decorator
    alone (Flask-Limiter's hooks for every request are not installed)."""
    token = csrf(client, "/auth/reset")
    form = {"csrf_token": token, "email": "nobody@council.example"}
    for _ in range(10):
        assert client.post("/auth/reset", data=form).status_code == 200
    refused = client.post("/auth/reset", data=form)
    assert refused.status_code == 429 and "Too many requests" in refused.get_data(as_text=True)
    assert client.get("/auth/reset").status_code == 200  # only posts count
    elsewhere = app.test_client()
    elsewhere.environ_base["REMOTE_ADDR"] = "10.0.0.9"
    assert (
        elsewhere.post(
            "/auth/reset", data={**form, "csrf_token": csrf(elsewhere, "/auth/reset")}
        ).status_code
        == 200
    )


def test_change_password_checks_the_current_one(app, client) -> None:
    add_user(app, "viewer@council.example", Role.VIEWER)
    sign_in(client, "viewer@council.example")
    token = csrf(client, "/auth/password")
    wrong = client.post(
        "/auth/password",
        data={
            "csrf_token": token,
            "current_password": "nope",
            "new_password": "x" * 14,
            "confirm": "x" * 14,
        },
    )
    assert "Your current password is not correct" in wrong.get_data(as_text=True)
    short = client.post(
        "/auth/password",
        data={
            "csrf_token": token,
            "current_password": PASSWORD,
            "new_password": "short",
            "confirm": "short",
        },
    )
    assert "at least 12 characters" in short.get_data(as_text=True)
    ok = client.post(
        "/auth/password",
        data={
            "csrf_token": token,
            "current_password": PASSWORD,
            "new_password": "x" * 14,
            "confirm": "x" * 14,
        },
    )
    assert ok.status_code == 302 and "password changed" in audit_actions(app)


def test_exports_are_for_analysts_anonymous_and_logged(app, client) -> None:
    with app.app_context():
        seed_demo(load_definitions(), seed=1)
    add_user(app, "analyst@council.example", Role.ANALYST)
    sign_in(client, "analyst@council.example")
    csv_response = client.get("/staff/exports/responses.csv?wave=1")
    assert csv_response.status_code == 200
    header = csv_response.get_data(as_text=True).splitlines()[0]
    assert header.startswith("response_id,instrument,version,audience,wave,submitted_on,weight")
    xlsx = client.get("/staff/exports/responses.xlsx")
    book = openpyxl.load_workbook(io.BytesIO(xlsx.data), read_only=True)
    assert book.sheetnames == ["responses", "codebook"]
    codebook = list(book["codebook"].iter_rows(values_only=True))
    assert codebook[0][:5] == ("instrument", "version", "question", "text", "type")
    assert any(row[2] == "M05" and row[7] is True for row in codebook[1:])  # reverse-coded item
    assert client.get("/staff/exports/responses.csv?wave=99999").status_code == 404
    with app.app_context():
        exports = db.session.scalars(
            select(AuditEntry).where(AuditEntry.action == "export responses")
        ).all()
        assert [e.detail["format"] for e in exports] == ["csv", "xlsx"]
        assert all(e.user_id is not None for e in exports)


def test_monitor_hides_counts_below_the_minimum_group_size(app, client) -> None:
    with app.app_context():
        seed_demo(load_definitions(), seed=1)
    add_user(app, "analyst@council.example", Role.ANALYST)
    sign_in(client, "analyst@council.example")
    overview = client.get("/staff/").get_data(as_text=True)
    assert "Member pulse survey" in overview and "%" in overview
    from survey_app.models import Wave

    with app.app_context():
        roadshow = db.session.scalar(
            select(Wave).where(Wave.mode == "event", Wave.label == "2026-Q1")
        )
        wave_id = roadshow.id
    detail = client.get(f"/staff/waves/{wave_id}").get_data(as_text=True)
    assert "Responses by roadshow event" in detail
    # roadshow responses spread over 28 days: most days have fewer than 10
    assert "not shown" in detail
    days = re.findall(r'govuk-table__cell--numeric">([^<]+)<', detail)
    assert all(d.strip() == "not shown" or int(d.replace(",", "")) >= 10 for d in days)


def test_admin_manages_users_but_never_removes_the_last_admin(app, client, smtp) -> None:
    admin_id = add_user(app, "admin@council.example", Role.ADMIN)
    sign_in(client, "admin@council.example")
    token = csrf(client, "/admin/users/new")
    created = client.post(
        "/admin/users/new",
        data={
            "csrf_token": token,
            "email": "new@council.example",
            "name": "New Analyst",
            "role": "analyst",
            "active": "y",
        },
    )
    assert created.status_code == 302
    duplicate = client.post(
        "/admin/users/new",
        data={
            "csrf_token": token,
            "email": "NEW@council.example",
            "name": "Again",
            "role": "viewer",
            "active": "y",
        },
    )
    assert "already a user with this email" in duplicate.get_data(as_text=True)
    bad = client.post(
        "/admin/users/new",
        data={"csrf_token": token, "email": "not-an-email", "name": "", "role": "emperor"},
    )
    text = bad.get_data(as_text=True)
    assert "There is a problem" in text and "Enter the person" in text and 'href="#email"' in text
    demote = client.post(
        f"/admin/users/{admin_id}",
        data={
            "csrf_token": token,
            "email": "admin@council.example",
            "name": "Admin",
            "role": "viewer",
            "active": "y",
        },
    )
    assert "at least one active administrator" in demote.get_data(as_text=True)
    actions = audit_actions(app)
    assert "user created" in actions and "user changed" not in actions


def test_cli_creates_the_first_admin(app, runner) -> None:
    created = runner.invoke(
        args=["users", "create", "--email", "First.Admin@Council.example", "--name", "First Admin"],
        input=f"{PASSWORD}\n{PASSWORD}\n",
    )
    assert created.exit_code == 0, created.output
    assert "Created admin" in created.output
    assert sign_in(app.test_client(), "first.admin@council.example").status_code == 302
    again = runner.invoke(
        args=[
            "users",
            "create",
            "--email",
            "first.admin@council.example",
            "--name",
            "X",
            "--password",
            PASSWORD,
        ]
    )
    assert again.exit_code != 0 and "already an account" in again.output
    short = runner.invoke(
        args=[
            "users",
            "create",
            "--email",
            "b@council.example",
            "--name",
            "B",
            "--password",
            "short",
        ]
    )
    assert short.exit_code != 0 and "at least 12 characters" in short.output
    bad = runner.invoke(
        args=["users", "create", "--email", "not-an-email", "--name", "B", "--password", PASSWORD]
    )
    assert bad.exit_code != 0 and "--email" in bad.output
