"""Two-factor sign-in in a real browser, with it required for admins as in production: an
admin sets up an authenticator app from the page (the QR code must load under the CSP),
signs out, signs in with a code, then with a recovery code, whose reuse is refused. axe-core
(WCAG 2.2 A/AA) runs on the set-up, recovery-codes, code and recovery-code pages, error
states included, with a screenshot of each in ``test-output/browser/``."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from flask_migrate import upgrade
from playwright.sync_api import expect

from survey_app.models import Role

from ..conftest import make_app
from ..survey_app.helpers import add_user
from ..survey_app.mfa_helpers import code_for
from .accessibility import audit, tab_to
from .conftest import serve, sign_in

pytestmark = pytest.mark.browser
EMAIL = "admin@council.example"


@pytest.fixture
def mfa_server(tmp_path) -> Iterator[str]:
    app = make_app(f"sqlite:///{tmp_path / 'mfa.db'}", MFA_REQUIRED_ROLES="admin,analyst")
    with app.app_context():
        upgrade()
    add_user(app, EMAIL, Role.ADMIN)
    with serve(app) as base:
        yield base


def _password_step(page, base: str) -> None:
    sign_in(page, base, EMAIL)


def _sign_out(page, base: str) -> None:
    page.click("button:has-text('Sign out')")
    page.wait_for_url(f"{base}/auth/sign-in")


def _wrong_code(secret: str) -> str:
    shown = {code_for(secret, step) for step in (-1, 0, 1, 2)}
    return next(c for c in ("000000", "111111", "222222", "333333", "444444") if c not in shown)


def test_set_up_sign_in_with_a_code_and_a_recovery_code_once(
    mfa_server, chromium, output_dir
) -> None:
    base = mfa_server
    problems: dict[str, list[str]] = {}
    context = chromium.new_context(viewport={"width": 1024, "height": 800})
    page = context.new_page()
    refused: list[str] = []  # what the Content-Security-Policy blocked, e.g. the QR code
    page.on(
        "console", lambda m: refused.append(m.text) if "Content Security Policy" in m.text else None
    )

    # Required and not set up: the password leads to set-up, and nothing else opens.
    _password_step(page, base)
    page.wait_for_url(f"{base}/auth/two-factor/set-up")
    qr = page.locator("img.pulse-qr")
    expect(qr).to_be_visible()
    assert qr.evaluate("img => img.complete && img.naturalWidth > 100"), "the QR code did not load"
    audit(page, output_dir, "mfa-set-up", problems)
    page.goto(f"{base}/staff/")
    assert "/auth/sign-in" in page.url
    page.goto(f"{base}/auth/two-factor/set-up")
    secret = page.locator("#setup-key").inner_text().replace(" ", "")
    assert len(secret) == 32

    page.fill("#code", _wrong_code(secret))
    page.click("button:has-text('Turn on two-factor sign-in')")
    expect(page.locator(".govuk-error-summary")).to_be_visible()
    assert page.title().startswith("Error: ")
    audit(page, output_dir, "mfa-set-up-error", problems)
    tab_to(page, "#code")  # the code field is reachable with the keyboard, focus visible
    page.fill("#code", code_for(secret))
    page.click("button:has-text('Turn on two-factor sign-in')")
    expect(page.locator("h1")).to_have_text("Save your recovery codes")
    codes = [c.strip() for c in page.locator(".pulse-recovery-codes code").all_inner_texts()]
    assert len(codes) == 10
    audit(page, output_dir, "mfa-recovery-codes", problems)
    page.click("text=I have saved my recovery codes")
    page.wait_for_url(f"{base}/dashboard/")  # signed-in staff land on the scorecard

    # Sign out, and in again with a code from the app.
    _sign_out(page, base)
    _password_step(page, base)
    page.wait_for_url(f"{base}/auth/code")
    code_input = page.locator("#code")
    assert code_input.get_attribute("autocomplete") == "one-time-code"
    assert code_input.get_attribute("inputmode") == "numeric"
    audit(page, output_dir, "mfa-code", problems)
    page.fill("#code", _wrong_code(secret))
    page.click("button:has-text('Continue')")
    expect(page.locator(".govuk-error-summary")).to_be_visible()
    audit(page, output_dir, "mfa-code-error", problems)
    page.fill("#code", code_for(secret, 1))  # the set-up used this step's code
    page.click("button:has-text('Continue')")
    page.wait_for_url(f"{base}/dashboard/")  # signed-in staff land on the scorecard

    # A recovery code signs in once.
    _sign_out(page, base)
    _password_step(page, base)
    page.wait_for_url(f"{base}/auth/code")
    page.click("text=Use a recovery code instead")
    page.wait_for_url(f"{base}/auth/recovery-code")
    audit(page, output_dir, "mfa-recovery-code", problems)
    page.fill("#code", codes[0])
    page.click("button:has-text('Continue')")
    page.wait_for_url(f"{base}/dashboard/")  # signed-in staff land on the scorecard
    expect(page.locator(".govuk-notification-banner")).to_contain_text("You have 9 left")

    _sign_out(page, base)
    _password_step(page, base)
    page.wait_for_url(f"{base}/auth/code")
    page.goto(f"{base}/auth/recovery-code")
    page.fill("#code", codes[0])
    page.click("button:has-text('Continue')")
    expect(page.locator(".govuk-error-summary")).to_contain_text("already been used")
    assert page.url == f"{base}/auth/recovery-code"
    audit(page, output_dir, "mfa-recovery-code-error", problems)
    page.goto(f"{base}/staff/")
    assert "/auth/sign-in" in page.url  # the reused code signed nobody in

    context.close()
    assert problems == {}, problems
    assert refused == [], refused
