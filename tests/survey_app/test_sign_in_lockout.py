"""Sign-in lockouts an attacker cannot turn against the office (README, "Signing in"):
progressive per-account waits, device cookies for browsers that signed in before, a
per-address limit sized for an office behind one address, and an admin lifting both."""

from __future__ import annotations

import re
import time

import pytest
from sqlalchemy import select

from survey_app.extensions import db
from survey_app.models import AuditEntry, Role, User

from .helpers import PASSWORD, add_user, audit_actions, csrf, sign_in
from .test_ratelimit import redis_url  # noqa: F401 - the throwaway redis-server fixture

ANALYST = "analyst@council.example"
COLLEAGUE = "colleague@council.example"
ADMIN = "admin@council.example"


class Clock:
    """``time.time`` moved forward on demand: the counters' windows and waits pass without
    waiting (the rate-limit storage and the waits read the same clock)."""

    def __init__(self, monkeypatch) -> None:
        self.offset = 0.0
        real = time.time
        monkeypatch.setattr(time, "time", lambda: real() + self.offset)

    def advance(self, seconds: float) -> None:
        self.offset += seconds


@pytest.fixture
def clock(monkeypatch) -> Clock:
    return Clock(monkeypatch)


def browser(app, address: str):
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = address
    return client


def fail(client, email: str, times: int) -> None:
    for _ in range(times):
        response = sign_in(client, email, "a wrong guess")
        assert response.status_code == 200, response.status_code
        assert "Enter a correct email address and password" in response.get_data(as_text=True)


def waiting_minutes(response) -> int:
    assert response.status_code == 429, response.status_code
    return int(re.search(r"Wait (\d+) minutes", response.get_data(as_text=True)).group(1))


def sign_out(client) -> None:
    assert (
        client.post("/auth/sign-out", data={"csrf_token": csrf(client, "/staff/")}).status_code
        == 302
    )


def test_five_failures_hold_only_that_account_and_each_further_wait_doubles_up_to_a_cap(
    app, clock
) -> None:
    add_user(app, ANALYST, Role.ANALYST)
    add_user(app, COLLEAGUE, Role.VIEWER)
    attacker = browser(app, "203.0.113.9")
    fail(attacker, ANALYST, 4)
    assert sign_in(browser(app, "198.51.100.1"), ANALYST).status_code == 302  # four are forgiven
    waits = []
    for _ in range(7):
        fail(attacker, ANALYST, 5)
        waits.append(waiting_minutes(sign_in(browser(app, "198.51.100.2"), ANALYST)))
        clock.advance(waits[-1] * 60 + 1)
    assert waits == [15, 30, 60, 120, 240, 480, 480]
    # the guesser's address is not held: a colleague there signs in to their own account
    assert sign_in(attacker, COLLEAGUE).status_code == 302
    # 24 hours after the first wait the doubling is forgotten
    clock.advance(24 * 3600)
    fail(attacker, ANALYST, 5)
    assert waiting_minutes(sign_in(browser(app, "198.51.100.3"), ANALYST)) == 15


def test_a_browser_that_signed_in_before_is_not_held_by_someone_elses_failures(app) -> None:
    add_user(app, ANALYST, Role.ANALYST)
    own_browser = browser(app, "192.0.2.10")
    assert sign_in(own_browser, ANALYST).status_code == 302
    sign_out(own_browser)
    fail(browser(app, "203.0.113.9"), ANALYST, 5)
    assert (
        waiting_minutes(sign_in(browser(app, "192.0.2.10"), ANALYST)) == 15
    )  # a new browser waits
    assert sign_in(own_browser, ANALYST).status_code == 302  # the user's own browser does not
    sign_out(own_browser)
    # a device cookie that has been tampered with counts for nothing
    forged = browser(app, "192.0.2.10")
    value = own_browser.get_cookie("pulse_device", path="/auth/").value
    forged.set_cookie(
        "pulse_device", value[:-2] + ("AA" if not value.endswith("AA") else "BB"), path="/auth/"
    )
    assert sign_in(forged, ANALYST).status_code == 429
    # the own browser has a limit of its own: after five slips it is like any other browser
    fail(own_browser, ANALYST, 5)
    assert sign_in(own_browser, ANALYST).status_code == 429


def test_the_address_limit_holds_a_sprayer_but_not_an_office_and_an_admin_lifts_it(
    app_with,
) -> None:
    # The production limit is 100 failures in 15 minutes; 8 keeps the test short and the
    # route's own flood brake (30 posts a minute) out of the way.
    app = app_with(SIGN_IN_ADDRESS_LIMIT="8 per 15 minutes")
    add_user(app, ADMIN, Role.ADMIN)
    add_user(app, ANALYST, Role.ANALYST)
    office = "203.0.113.40"
    known = browser(app, office)
    assert sign_in(known, ANALYST).status_code == 302
    sign_out(known)
    sprayer = browser(app, office)
    for number in range(8):  # one guess at each of eight accounts: no account reaches five
        fail(sprayer, f"person{number}@council.example", 1)
    held = sign_in(browser(app, office), ADMIN)
    assert held.status_code == 429
    assert f"from your network&#39;s address ({office})" in held.get_data(as_text=True)
    assert sign_in(browser(app, "198.51.100.7"), ADMIN).status_code == 302  # elsewhere: no wait
    assert sign_in(known, ANALYST).status_code == 302  # a browser that signed in before
    admin = browser(app, "198.51.100.8")
    assert sign_in(admin, ADMIN).status_code == 302
    token = csrf(admin, "/admin/users")
    wrong = admin.post(
        "/admin/sign-in-waits/address", data={"csrf_token": token, "address": "the office"}
    )
    problem = wrong.get_data(as_text=True)
    assert wrong.status_code == 400 and "Enter an IP address like 203.0.113.5" in problem
    assert "There is a problem" in problem and "<title>Error: " in problem
    lifted = admin.post(
        "/admin/sign-in-waits/address", data={"csrf_token": token, "address": f" {office} "}
    )
    assert lifted.status_code == 302
    assert sign_in(browser(app, office), ADMIN).status_code == 302
    with app.app_context():
        entry = db.session.scalar(
            select(AuditEntry).where(AuditEntry.action == "sign-in wait lifted for an address")
        )
        assert entry.detail == {"address": office}


def test_an_admin_lifts_an_accounts_wait_and_its_doubling(app, clock) -> None:
    add_user(app, ANALYST, Role.ANALYST)
    admin = browser(app, "198.51.100.8")
    add_user(app, ADMIN, Role.ADMIN)
    assert sign_in(admin, ADMIN).status_code == 302
    attacker = browser(app, "203.0.113.9")
    fail(attacker, ANALYST, 5)
    clock.advance(15 * 60 + 1)
    fail(attacker, ANALYST, 5)
    assert waiting_minutes(sign_in(browser(app, "192.0.2.1"), ANALYST)) == 30
    with app.app_context():
        analyst_id = db.session.scalar(select(User.id).where(User.email == ANALYST))
    token = csrf(admin, "/admin/users")
    assert (
        admin.post(f"/admin/users/{analyst_id}/lift-wait", data={"csrf_token": token}).status_code
        == 302
    )
    assert "sign-in wait lifted" in audit_actions(app)
    fail(attacker, ANALYST, 5)  # the doubling went with the wait
    assert waiting_minutes(sign_in(browser(app, "192.0.2.1"), ANALYST)) == 15
    assert (
        admin.post(f"/admin/users/{analyst_id}/lift-wait", data={"csrf_token": token}).status_code
        == 302
    )
    assert sign_in(browser(app, "192.0.2.1"), ANALYST, PASSWORD).status_code == 302


def test_several_workers_share_the_waits_through_redis(app_with, redis_url) -> None:  # noqa: F811
    """Two app processes on one Redis (a throwaway server of the test's own): failures
    counted by either hold the account on both; the device cookie one issued is honoured by
    the other; an admin's lift on one frees the other."""
    first = app_with(RATELIMIT_STORAGE_URI=redis_url)
    second = app_with(RATELIMIT_STORAGE_URI=redis_url)
    add_user(first, ANALYST, Role.ANALYST)
    add_user(first, ADMIN, Role.ADMIN)
    own_browser = browser(first, "192.0.2.10")
    assert sign_in(own_browser, ANALYST).status_code == 302
    sign_out(own_browser)
    fail(browser(first, "203.0.113.9"), ANALYST, 3)
    fail(browser(second, "203.0.113.9"), ANALYST, 2)
    assert waiting_minutes(sign_in(browser(first, "192.0.2.11"), ANALYST)) == 15
    assert waiting_minutes(sign_in(browser(second, "192.0.2.11"), ANALYST)) == 15
    on_second = browser(second, "192.0.2.10")
    on_second.set_cookie(
        "pulse_device", own_browser.get_cookie("pulse_device", path="/auth/").value, path="/auth/"
    )
    assert sign_in(on_second, ANALYST).status_code == 302
    admin = browser(second, "198.51.100.8")
    assert sign_in(admin, ADMIN).status_code == 302
    with second.app_context():
        analyst_id = db.session.scalar(select(User.id).where(User.email == ANALYST))
    token = csrf(admin, "/admin/users")
    assert (
        admin.post(f"/admin/users/{analyst_id}/lift-wait", data={"csrf_token": token}).status_code
        == 302
    )
    assert sign_in(browser(first, "192.0.2.11"), ANALYST).status_code == 302
