"""Two-factor sign-in for staff, through HTTP and the command line, on SQLite and PostgreSQL,
with the second factor required for admins and analysts as in production."""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from types import SimpleNamespace

import pytest
from flask_migrate import downgrade, upgrade
from sqlalchemy import inspect, select

from survey_app import ConfigError, create_app
from survey_app.config import config_class
from survey_app.extensions import db
from survey_app.models import AuditEntry, RecoveryCode, Role, SecondFactor
from survey_app.two_factor import parse_required_roles

from ..conftest import _app_with_schema
from .helpers import PASSWORD, add_user, audit_actions, csrf, sign_in
from .mfa_helpers import code_for, enter_code, enter_recovery_code, set_up

REQUIRED = {"MFA_REQUIRED_ROLES": "admin,analyst"}


@pytest.fixture(autouse=True)
def steady_authenticator_clock(monkeypatch) -> float:
    """One instant, the middle of a 30-second step, for the service's code checks and the
    test's authenticator app alike: a test that sends the set-up code again to see it refused
    must not cross into the next step on its way (then that code would be new and accepted)."""
    instant = (time.time() // 30) * 30 + 15
    clock = SimpleNamespace(time=lambda: instant)
    monkeypatch.setattr("survey_app.two_factor.time", clock)
    monkeypatch.setattr("tests.survey_app.mfa_helpers.time", clock)
    return instant


@pytest.fixture
def mfa_app(database_url: str):
    yield from _app_with_schema(database_url, **REQUIRED)


@contextmanager
def _configured_app(database_url: str, **overrides) -> Iterator:
    """An app on ``database_url`` with its own configuration, disposed of afterwards."""
    apps = _app_with_schema(database_url, **overrides)
    try:
        yield next(apps)
    finally:
        next(apps, None)


def _sign_out(client) -> None:
    client.post("/auth/sign-out", data={"csrf_token": csrf(client, "/auth/two-factor")})


def _admin_client(app, email: str = "admin@council.example"):
    """A signed-in admin who has set up their own second factor."""
    add_user(app, email, Role.ADMIN)
    client = app.test_client()
    assert sign_in(client, email).headers["Location"] == "/auth/two-factor/set-up"
    set_up(client)
    return client


def _audit(app, action: str) -> list[AuditEntry]:
    with app.app_context():
        return list(db.session.scalars(select(AuditEntry).where(AuditEntry.action == action)))


# --------------------------------------------------------------------------- configuration


def test_admins_and_analysts_need_a_second_factor_unless_configured_otherwise() -> None:
    for name in ("production", "development"):
        assert parse_required_roles(config_class(name).MFA_REQUIRED_ROLES) == {
            Role.ADMIN,
            Role.ANALYST,
        }
    assert parse_required_roles("") == frozenset()
    assert parse_required_roles(" Viewer , admin ") == {Role.VIEWER, Role.ADMIN}


def test_a_mistyped_role_or_a_long_remember_time_stops_the_app_at_start_up() -> None:
    with pytest.raises(ConfigError, match="anlyst, which is not a role"):
        create_app({"MFA_REQUIRED_ROLES": "admin,anlyst"})
    with pytest.raises(ConfigError, match="0 to 12 hours"):
        create_app({"MFA_REMEMBER_HOURS": 24})


# --------------------------------------------------------------------------- set-up


def test_a_required_user_sets_up_an_app_before_reaching_anything(mfa_app) -> None:
    add_user(mfa_app, "analyst@council.example", Role.ANALYST)
    client = mfa_app.test_client()
    response = sign_in(client, "analyst@council.example", next_url="/dashboard/")
    assert response.headers["Location"] == "/auth/two-factor/set-up"
    for page in ("/staff/", "/dashboard/", "/auth/two-factor"):  # not signed in yet
        assert client.get(page).headers["Location"].startswith("/auth/sign-in"), page

    page = client.get("/auth/two-factor/set-up").get_data(as_text=True)
    assert re.search(r'<img class="pulse-qr" src="data:image/svg\+xml[^"]+" alt="QR code', page)
    assert 'autocomplete="one-time-code"' in page and 'inputmode="numeric"' in page
    key = re.search(r'id="setup-key">([A-Z2-7 ]+)<', page).group(1)
    assert key in client.get("/auth/two-factor/set-up").get_data(as_text=True)  # same on a reload

    token = csrf(client, "/auth/two-factor/set-up")
    for typed, message in (
        ("", "Enter the 6-digit code from your authenticator app"),
        ("12345a", "Enter the code as 6 numbers, for example 123456"),
        (
            "000000" if code_for(key.replace(" ", "")) != "000000" else "999999",
            "The code is not correct",
        ),
    ):
        wrong = client.post("/auth/two-factor/set-up", data={"csrf_token": token, "code": typed})
        html = wrong.get_data(as_text=True)
        assert wrong.status_code == 200 and message in html and "govuk-error-summary" in html
        assert html.count("<title>Error: ") == 1

    secret, codes = set_up(client)
    assert secret == key.replace(" ", "")
    assert len(codes) == 10 and len(set(codes)) == 10
    assert client.get("/dashboard/").status_code == 200
    signed_in = _audit(mfa_app, "sign-in")
    assert [e.detail["second_factor"] for e in signed_in] == ["authenticator app (set up)"]
    assert "second factor set up" in audit_actions(mfa_app)


def test_secret_and_recovery_codes_are_not_stored_in_clear(mfa_app) -> None:
    user_id = add_user(mfa_app, "admin@council.example", Role.ADMIN)
    client = mfa_app.test_client()
    sign_in(client, "admin@council.example")
    secret, codes = set_up(client)
    with mfa_app.app_context():
        factor = db.session.get(SecondFactor, user_id)
        assert secret.encode() not in factor.secret_sealed
        hashes = [r.code_hash for r in db.session.scalars(select(RecoveryCode))]
    assert len(hashes) == 10 and all(h.startswith("$argon2id$") for h in hashes)
    assert not any(code.replace("-", "") in h or code in h for code in codes for h in hashes)


def test_a_changed_secret_key_refuses_codes_until_the_old_key_is_a_fallback(database_url) -> None:
    with _configured_app(database_url, **REQUIRED) as first:
        add_user(first, "admin@council.example", Role.ADMIN)
        client = first.test_client()
        sign_in(client, "admin@council.example")
        secret, _ = set_up(client)

    with _configured_app(
        database_url, SECRET_KEY="a-new-key-that-is-long-enough-0123456789", **REQUIRED
    ) as rotated:
        client = rotated.test_client()
        assert sign_in(client, "admin@council.example").headers["Location"] == "/auth/code"
        refused = enter_code(client, code_for(secret, 1))
        assert refused.status_code == 200
        assert "secret key has changed" in refused.get_data(as_text=True)

    with _configured_app(
        database_url,
        SECRET_KEY="a-new-key-that-is-long-enough-0123456789",
        SECRET_KEY_FALLBACKS=["testing-only-secret-key-of-at-least-32-bytes"],
        **REQUIRED,
    ) as fallback:
        client = fallback.test_client()
        sign_in(client, "admin@council.example")
        assert enter_code(client, code_for(secret, 1)).headers["Location"] == "/dashboard/"


# --------------------------------------------------------------------------- signing in


def test_sign_in_asks_for_a_code_and_each_code_works_once(mfa_app) -> None:
    add_user(mfa_app, "analyst@council.example", Role.ANALYST)
    first = mfa_app.test_client()
    sign_in(first, "analyst@council.example")
    secret, _ = set_up(first)  # accepted the code of the current step
    _sign_out(first)

    client = mfa_app.test_client()
    assert (
        sign_in(client, "analyst@council.example", next_url="/dashboard/").headers["Location"]
        == "/auth/code"
    )
    assert client.get("/staff/").headers["Location"].startswith("/auth/sign-in")
    page = client.get("/auth/code").get_data(as_text=True)
    assert 'autocomplete="one-time-code"' in page and 'inputmode="numeric"' in page
    assert "Use a recovery code instead" in page

    wrong_code = "000000" if code_for(secret, 1) != "000000" else "111111"
    wrong = enter_code(client, wrong_code)
    assert wrong.status_code == 200 and "The code is not correct" in wrong.get_data(as_text=True)
    assert _audit(mfa_app, "second factor failed")[0].user_id is not None

    reused = enter_code(client, code_for(secret))  # the set-up code: already used
    assert "That code has already been used" in reused.get_data(as_text=True)

    accepted = enter_code(client, code_for(secret, 1))  # the next step: clock drift allowed
    assert accepted.status_code == 302 and accepted.headers["Location"] == "/dashboard/"
    assert client.get("/dashboard/").status_code == 200

    other = mfa_app.test_client()  # someone who saw that code over a shoulder
    sign_in(other, "analyst@council.example")
    replay = enter_code(other, code_for(secret, 1))
    assert replay.status_code == 200
    assert "That code has already been used" in replay.get_data(as_text=True)
    assert other.get("/staff/").headers["Location"].startswith("/auth/sign-in")
    assert [e.detail["second_factor"] for e in _audit(mfa_app, "sign-in")] == [
        "authenticator app (set up)",
        "authenticator app",
    ]


def test_two_browsers_racing_with_one_code_let_one_in(mfa_app) -> None:
    add_user(mfa_app, "analyst@council.example", Role.ANALYST)
    first = mfa_app.test_client()
    sign_in(first, "analyst@council.example")
    secret, _ = set_up(first)
    _sign_out(first)
    browsers = [mfa_app.test_client() for _ in range(2)]
    for browser in browsers:
        sign_in(browser, "analyst@council.example")
    forms = [{"csrf_token": csrf(b, "/auth/code"), "code": code_for(secret, 1)} for b in browsers]
    start = threading.Barrier(len(browsers))

    def post(index: int) -> int:
        start.wait()
        return browsers[index].post("/auth/code", data=forms[index]).status_code

    with ThreadPoolExecutor(len(browsers)) as pool:
        statuses = sorted(pool.map(post, range(len(browsers))))
    assert statuses == [200, 302]  # one signed in, the other told the code was used


def test_wrong_codes_make_the_account_wait_even_for_the_right_code(mfa_app) -> None:
    add_user(mfa_app, "admin@council.example", Role.ADMIN)
    client = mfa_app.test_client()
    sign_in(client, "admin@council.example")
    secret, codes = set_up(client)
    _sign_out(client)

    attacker = mfa_app.test_client()
    sign_in(attacker, "admin@council.example")
    wrong = "000000" if "000000" not in {code_for(secret, s) for s in (-1, 0, 1, 2)} else "999999"
    for _ in range(5):
        assert enter_code(attacker, wrong).status_code == 200
    blocked = enter_code(attacker, code_for(secret, 1))
    assert blocked.status_code == 429 and "Too many wrong codes" in blocked.get_data(as_text=True)
    assert enter_recovery_code(attacker, codes[0]).status_code == 429
    # The wait is per account: the same person in another browser waits too.
    owner = mfa_app.test_client()
    sign_in(owner, "admin@council.example")
    assert enter_code(owner, code_for(secret, 1)).status_code == 429
    assert len(_audit(mfa_app, "second factor failed")) == 5


def test_a_recovery_code_signs_in_once(mfa_app) -> None:
    add_user(mfa_app, "analyst@council.example", Role.ANALYST)
    client = mfa_app.test_client()
    sign_in(client, "analyst@council.example")
    _, codes = set_up(client)
    _sign_out(client)

    sign_in(client, "analyst@council.example")
    typed = f" {codes[3].upper().replace('-', ' ')} "  # as read off paper
    used = enter_recovery_code(client, typed)
    assert used.status_code == 302 and used.headers["Location"] == "/dashboard/"
    assert "You have 9 left" in client.get("/staff/").get_data(as_text=True)
    assert _audit(mfa_app, "recovery code used")[0].detail == {"remaining": 9}
    _sign_out(client)

    sign_in(client, "analyst@council.example")
    again = enter_recovery_code(client, codes[3])
    assert again.status_code == 200
    assert "not correct, or it has already been used" in again.get_data(as_text=True)
    shaped = enter_recovery_code(client, "not-a-code!")
    assert "Enter a recovery code as 10 letters and numbers" in shaped.get_data(as_text=True)
    assert enter_recovery_code(client, codes[4]).headers["Location"] == "/dashboard/"


def test_a_sign_in_left_at_the_code_page_expires_after_ten_minutes(mfa_app, monkeypatch) -> None:
    add_user(mfa_app, "analyst@council.example", Role.ANALYST)
    client = mfa_app.test_client()
    sign_in(client, "analyst@council.example")
    set_up(client)
    _sign_out(client)
    sign_in(client, "analyst@council.example")
    later = time.time() + 601
    monkeypatch.setattr("survey_app.auth.mfa.flow.time", SimpleNamespace(time=lambda: later))
    expired = client.get("/auth/code")
    assert expired.headers["Location"] == "/auth/sign-in"
    assert "Sign in again" in client.get("/auth/sign-in").get_data(as_text=True)


# --------------------------------------------------------------------------- remembered browsers


def _cookie_header(response) -> str:
    return next(
        h for h in response.headers.getlist("Set-Cookie") if h.startswith("pulse_second_factor=")
    )


def test_a_remembered_browser_skips_the_code_until_the_factor_is_reset(mfa_app) -> None:
    analyst_id = add_user(mfa_app, "analyst@council.example", Role.ANALYST)
    client = mfa_app.test_client()
    sign_in(client, "analyst@council.example")
    secret, _ = set_up(client)
    _sign_out(client)

    sign_in(client, "analyst@council.example")
    signed_in = enter_code(client, code_for(secret, 1), remember=True)
    cookie = _cookie_header(signed_in)
    assert "HttpOnly" in cookie and "Path=/auth/sign-in" in cookie and "SameSite=Lax" in cookie
    assert "Max-Age=43200" in cookie  # 12 hours
    _sign_out(client)

    assert sign_in(client, "analyst@council.example").headers["Location"] == "/dashboard/"
    assert _audit(mfa_app, "sign-in")[-1].detail["second_factor"] == "remembered browser"
    _sign_out(client)
    other_browser = mfa_app.test_client()
    assert sign_in(other_browser, "analyst@council.example").headers["Location"] == "/auth/code"

    # The cookie is bound to its user: it does not skip another account's code.
    add_user(mfa_app, "second@council.example", Role.ANALYST)
    sign_in(other_browser, "second@council.example")
    set_up(other_browser)
    _sign_out(other_browser)
    assert sign_in(client, "second@council.example").headers["Location"] == "/auth/code"

    admin = _admin_client(mfa_app)
    reset = admin.post(
        f"/admin/users/{analyst_id}/two-factor",
        data={"csrf_token": csrf(admin, f"/admin/users/{analyst_id}/two-factor")},
    )
    assert reset.status_code == 302
    fresh = mfa_app.test_client()
    fresh.set_cookie(
        "pulse_second_factor", cookie.split(";")[0].split("=", 1)[1], path="/auth/sign-in"
    )
    location = sign_in(fresh, "analyst@council.example").headers["Location"]
    assert location == "/auth/two-factor/set-up"  # the reset made the remembered browser worthless


def test_a_remembered_browser_is_forgotten_after_its_time(database_url) -> None:
    with _configured_app(database_url, MFA_REMEMBER_HOURS=1 / 3600, **REQUIRED) as app:
        add_user(app, "analyst@council.example", Role.ANALYST)
        client = app.test_client()
        sign_in(client, "analyst@council.example")
        secret, _ = set_up(client)
        _sign_out(client)
        sign_in(client, "analyst@council.example")
        assert "Max-Age=1" in _cookie_header(enter_code(client, code_for(secret, 1), remember=True))
        _sign_out(client)
        time.sleep(2.1)  # itsdangerous counts whole seconds: 2 > 1
        assert sign_in(client, "analyst@council.example").headers["Location"] == "/auth/code"


# --------------------------------------------------------------------------- admin reset, roles


def test_an_admin_reset_is_audited_and_sends_the_user_back_to_set_up(mfa_app) -> None:
    analyst_id = add_user(mfa_app, "analyst@council.example", Role.ANALYST)
    analyst = mfa_app.test_client()
    sign_in(analyst, "analyst@council.example")
    set_up(analyst)
    assert analyst.get("/staff/").status_code == 200

    admin = _admin_client(mfa_app)
    edit = admin.get(f"/admin/users/{analyst_id}").get_data(as_text=True)
    assert f"/admin/users/{analyst_id}/two-factor" in edit
    confirm = admin.get(f"/admin/users/{analyst_id}/two-factor").get_data(as_text=True)
    assert "govuk-button--warning" in confirm and "9 unused recovery codes" not in confirm
    assert (
        "10 unused recovery codes" in confirm
        and "must set up an authenticator app again" in confirm
    )
    done = admin.post(
        f"/admin/users/{analyst_id}/two-factor",
        data={"csrf_token": csrf(admin, f"/admin/users/{analyst_id}/two-factor")},
    )
    assert done.headers["Location"] == f"/admin/users/{analyst_id}"
    entry = _audit(mfa_app, "second factor reset")[0]
    assert entry.detail == {"target": analyst_id, "via": "admin"} and entry.user_id != analyst_id
    with mfa_app.app_context():
        assert db.session.get(SecondFactor, analyst_id) is None
        assert (
            db.session.scalars(select(RecoveryCode).where(RecoveryCode.user_id == analyst_id)).all()
            == []
        )

    # Already signed in: the next request goes to set-up, and nothing else is reachable.
    moved = analyst.get("/dashboard/")
    assert moved.headers["Location"] == "/auth/two-factor/set-up"
    assert analyst.get("/staff/").headers["Location"].startswith("/auth/sign-in")
    set_up(analyst)
    assert analyst.get("/dashboard/").status_code == 200


def test_only_admins_can_reset_a_second_factor(app) -> None:
    admin_id = add_user(app, "admin@council.example", Role.ADMIN)
    add_user(app, "analyst@council.example", Role.ANALYST)
    client = app.test_client()
    sign_in(client, "analyst@council.example")
    page = f"/admin/users/{admin_id}/two-factor"
    assert client.get(page).status_code == 403
    assert client.post(page, data={"csrf_token": csrf(client, "/staff/")}).status_code == 403


def test_a_viewer_may_sign_in_without_one_and_switch_it_on(mfa_app) -> None:
    add_user(mfa_app, "viewer@council.example", Role.VIEWER)
    client = mfa_app.test_client()
    assert sign_in(client, "viewer@council.example").headers["Location"] == "/dashboard/"
    assert _audit(mfa_app, "sign-in")[0].detail["second_factor"] == "none"
    settings = client.get("/auth/two-factor").get_data(as_text=True)
    assert "Two-factor sign-in is off" in settings and "Your role needs it" not in settings
    secret, codes = set_up(client)
    assert len(codes) == 10 and client.get("/staff/").status_code == 200
    assert "Two-factor sign-in is on" in client.get("/auth/two-factor").get_data(as_text=True)
    _sign_out(client)
    assert sign_in(client, "viewer@council.example").headers["Location"] == "/auth/code"
    assert enter_code(client, code_for(secret, 1)).headers["Location"] == "/dashboard/"


def test_a_role_that_needs_a_second_factor_ends_the_session_and_asks_for_set_up(mfa_app) -> None:
    viewer_id = add_user(mfa_app, "viewer@council.example", Role.VIEWER)
    viewer = mfa_app.test_client()
    sign_in(viewer, "viewer@council.example")
    assert viewer.get("/staff/").status_code == 200

    admin = _admin_client(mfa_app)
    edited = admin.post(
        f"/admin/users/{viewer_id}",
        data={
            "csrf_token": csrf(admin, f"/admin/users/{viewer_id}"),
            "email": "viewer@council.example",
            "name": "Viewer",
            "role": "analyst",
            "active": "y",
        },
    )
    assert edited.status_code == 302
    # A role change ends the user's sessions (their session version moves on) ...
    assert viewer.get("/staff/").headers["Location"].startswith("/auth/sign-in")
    # ... and signing in again with the new role leads to setting up a second factor first.
    assert (
        sign_in(viewer, "viewer@council.example").headers["Location"] == "/auth/two-factor/set-up"
    )
    assert viewer.get("/staff/").headers["Location"].startswith("/auth/sign-in")


def test_a_signed_in_user_cannot_replace_a_working_factor_themselves(mfa_app) -> None:
    add_user(mfa_app, "analyst@council.example", Role.ANALYST)
    client = mfa_app.test_client()
    sign_in(client, "analyst@council.example")
    set_up(client)
    assert client.get("/auth/two-factor/set-up").headers["Location"] == "/auth/two-factor"


# --------------------------------------------------------------------------- command line, demo


def test_totp_code_command_only_in_the_demo_and_its_code_signs_in(database_url) -> None:
    from survey_app.demo import ensure_demo_second_factors

    with _configured_app(database_url, MFA_CODE_COMMAND=True, **REQUIRED) as app:
        for email, role in (
            ("admin@demo.example", Role.ADMIN),
            ("analyst@demo.example", Role.ANALYST),
            ("safeguarding@demo.example", Role.SAFEGUARDING),
        ):
            add_user(app, email, role)
        with app.app_context():
            assert ensure_demo_second_factors() == ["admin@demo.example", "analyst@demo.example"]
            assert ensure_demo_second_factors() == ["admin@demo.example", "analyst@demo.example"]
        runner = app.test_cli_runner()
        result = runner.invoke(args=["users", "totp-code", "ADMIN@demo.example"])
        assert result.exit_code == 0 and re.fullmatch(r"\d{6}\n", result.output)
        client = app.test_client()
        assert sign_in(client, "admin@demo.example").headers["Location"] == "/auth/code"
        assert enter_code(client, result.output.strip()).headers["Location"] == "/dashboard/"
        not_set_up = runner.invoke(args=["users", "totp-code", "safeguarding@demo.example"])
        assert (
            not_set_up.exit_code == 1 and "has not set up two-factor sign-in" in not_set_up.output
        )

    with _configured_app(database_url, **REQUIRED) as production_like:
        refused = production_like.test_cli_runner().invoke(
            args=["users", "totp-code", "admin@demo.example"]
        )
        assert refused.exit_code == 1 and "only works in the demo" in refused.output


def test_reset_second_factor_command_is_audited(mfa_app) -> None:
    user_id = add_user(mfa_app, "admin@council.example", Role.ADMIN)
    client = mfa_app.test_client()
    sign_in(client, "admin@council.example")
    set_up(client)
    runner = mfa_app.test_cli_runner()
    result = runner.invoke(args=["users", "reset-second-factor", "admin@council.example"])
    assert (
        result.exit_code == 0
        and "Reset two-factor sign-in for admin@council.example" in result.output
    )
    assert _audit(mfa_app, "second factor reset")[0].detail == {
        "target": user_id,
        "via": "command line",
    }
    again = runner.invoke(args=["users", "reset-second-factor", "admin@council.example"])
    assert again.exit_code == 1 and "has not set up" in again.output
    unknown = runner.invoke(args=["users", "reset-second-factor", "nobody@council.example"])
    assert unknown.exit_code == 1 and "no account for nobody@council.example" in unknown.output


# --------------------------------------------------------------------------- migration


def test_migration_0007_downgrades_and_upgrades(mfa_app) -> None:
    with mfa_app.app_context():
        downgrade(revision="0005")
        tables = set(inspect(db.engine).get_table_names())
        assert not {"second_factor", "recovery_code"} & tables
        upgrade()
        assert {"second_factor", "recovery_code"} <= set(inspect(db.engine).get_table_names())
    add_user(mfa_app, "admin@council.example", Role.ADMIN)
    client = mfa_app.test_client()
    sign_in(client, "admin@council.example", PASSWORD)
    assert len(set_up(client)[1]) == 10
