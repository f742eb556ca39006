"""Staff sessions that end: a copy of a session cookie stops working after sign-out, a
password change or reset, a role change and an admin's "sign out everywhere" (the user's
session version, checked on every staff request), on SQLite and PostgreSQL."""

from __future__ import annotations

import re

from flask_migrate import downgrade, upgrade
from sqlalchemy import inspect, select, text

from survey_app.extensions import db
from survey_app.models import Role, User

from ..conftest import make_app
from .helpers import PASSWORD, add_user, audit_actions, bodies, csrf, sign_in

ANALYST = "analyst@council.example"
ADMIN = "admin@council.example"
NEW_PASSWORD = "another long enough password"


def copied_session(app, client):
    """A second browser holding a copy of ``client``'s session cookie."""
    thief = app.test_client()
    thief.set_cookie("session", client.get_cookie("session").value)
    return thief


def signed_in(client) -> bool:
    return client.get("/staff/").status_code == 200


def user_id(app, email: str) -> int:
    with app.app_context():
        return db.session.scalar(select(User.id).where(User.email == email))


def test_a_copied_cookie_stops_working_after_sign_out(db_app) -> None:
    add_user(db_app, ANALYST, Role.ANALYST)
    client = db_app.test_client()
    assert sign_in(client, ANALYST).status_code == 302
    copy = copied_session(db_app, client)
    assert signed_in(copy)  # the copy works while the session does
    other_device = db_app.test_client()
    assert sign_in(other_device, ANALYST).status_code == 302
    assert (
        client.post("/auth/sign-out", data={"csrf_token": csrf(client, "/staff/")}).status_code
        == 302
    )
    assert not signed_in(copy)
    assert copy.get("/staff/").headers["Location"].startswith("/auth/sign-in")
    assert not signed_in(other_device)  # signing out ends the user's sessions everywhere


def test_a_password_change_keeps_this_browser_and_ends_the_copies(db_app) -> None:
    add_user(db_app, ANALYST, Role.ANALYST)
    client = db_app.test_client()
    sign_in(client, ANALYST)
    copy = copied_session(db_app, client)
    changed = client.post(
        "/auth/password",
        data={
            "csrf_token": csrf(client, "/auth/password"),
            "current_password": PASSWORD,
            "new_password": NEW_PASSWORD,
            "confirm": NEW_PASSWORD,
        },
    )
    assert changed.status_code == 302
    assert signed_in(client) and not signed_in(copy)


def test_a_copied_cookie_stops_working_after_a_password_reset(tmp_path, smtp) -> None:
    controller, mailbox = smtp
    app = make_app(
        f"sqlite:///{tmp_path / 'r.db'}", MAIL_SERVER="127.0.0.1", MAIL_PORT=controller.port
    )
    with app.app_context():
        upgrade()
    add_user(app, ANALYST, Role.ANALYST)
    victim = app.test_client()
    sign_in(victim, ANALYST)
    copy = copied_session(app, victim)
    owner = app.test_client()
    owner.post("/auth/reset", data={"csrf_token": csrf(owner, "/auth/reset"), "email": ANALYST})
    link = re.search(r"http://pulse\.test(/auth/reset/\S+)", bodies(mailbox)[0]).group(1)
    owner.get(link)
    done = owner.post(
        "/auth/reset/new",
        data={
            "csrf_token": csrf(owner, "/auth/reset/new"),
            "new_password": NEW_PASSWORD,
            "confirm": NEW_PASSWORD,
        },
    )
    assert done.status_code == 302
    assert not signed_in(copy) and not signed_in(victim)
    assert sign_in(app.test_client(), ANALYST, NEW_PASSWORD).status_code == 302
    with app.app_context():
        db.engine.dispose()


def test_a_role_change_and_sign_out_everywhere_end_the_users_sessions(db_app) -> None:
    add_user(db_app, ADMIN, Role.ADMIN)
    add_user(db_app, ANALYST, Role.ANALYST)
    analyst_id = user_id(db_app, ANALYST)
    admin = db_app.test_client()
    sign_in(admin, ADMIN)
    analyst = db_app.test_client()
    sign_in(analyst, ANALYST)
    # renaming leaves the session alone; a new role ends it
    form = {
        "csrf_token": csrf(admin, f"/admin/users/{analyst_id}"),
        "email": ANALYST,
        "name": "Renamed",
        "role": "analyst",
        "active": "y",
    }
    assert admin.post(f"/admin/users/{analyst_id}", data=form).status_code == 302
    assert signed_in(analyst)
    assert (
        admin.post(f"/admin/users/{analyst_id}", data={**form, "role": "viewer"}).status_code == 302
    )
    assert not signed_in(analyst)
    sign_in(analyst, ANALYST)
    assert signed_in(analyst)
    page = admin.get(f"/admin/users/{analyst_id}").get_data(as_text=True)
    assert "Sign Renamed out everywhere" in page
    ended = admin.post(
        f"/admin/users/{analyst_id}/sign-out-everywhere",
        data={"csrf_token": csrf(admin, f"/admin/users/{analyst_id}")},
    )
    assert ended.status_code == 302
    assert not signed_in(analyst) and signed_in(admin)
    assert "signed out everywhere" in audit_actions(db_app)


def test_migration_0006_adds_and_removes_the_session_version(database_url) -> None:
    from alembic.script import ScriptDirectory

    from survey_app import MIGRATIONS_DIR

    before = ScriptDirectory(MIGRATIONS_DIR).get_revision("0006").down_revision
    app = make_app(database_url)
    with app.app_context():
        upgrade(revision=before)
        assert "session_version" not in {
            c["name"] for c in inspect(db.engine).get_columns("user_account")
        }
        db.session.execute(
            text(
                "INSERT INTO user_account (email, name, password_hash, role, active, created_at) "
                "VALUES ('old@council.example', 'Old', 'x', 'viewer', true, CURRENT_TIMESTAMP)"
            )
        )
        db.session.commit()
        upgrade()
        columns = {c["name"]: c for c in inspect(db.engine).get_columns("user_account")}
        assert not columns["session_version"]["nullable"]
        assert db.session.scalar(text("SELECT session_version FROM user_account")) == 1
        db.session.commit()
        downgrade(revision=before)
        assert "session_version" not in {
            c["name"] for c in inspect(db.engine).get_columns("user_account")
        }
        upgrade()
        db.session.remove()
        db.engine.dispose()
