"""Action plans in a real browser: an analyst creates an action with the keyboard alone, and
axe-core finds no violation at 320 and 1280 px on the action pages, the outcome page that
lists them and the public "You said, we did" page, which also works without JavaScript."""

from __future__ import annotations

import datetime as dt

import pytest
from playwright.sync_api import expect

from instruments import load_definitions
from survey_app import clock
from survey_app.definitions import load_instruments
from survey_app.models import Role
from survey_app.publication import publish_closed_waves
from survey_app.results import compute_results

from ..survey_app.helpers import add_user, member_wave_with
from .accessibility import axe_violations, check_reflow, tab_to
from .conftest import sign_in

pytestmark = pytest.mark.browser

WIDTHS = (320, 1280)


def audit_widths(page, shots, name: str, problems: dict[str, list[str]]) -> None:
    """axe-core at each width (0 violations of any impact), and no sideways scrolling."""
    for width in WIDTHS:
        page.set_viewport_size({"width": width, "height": 800})
        page.screenshot(path=str(shots / f"{name}-{width}px.png"), full_page=True)
        violations = axe_violations(page)
        if violations:
            problems[f"{name} at {width}px"] = violations
    check_reflow(page, shots, name)


def _keyboard_type(page, selector: str, text: str) -> None:
    tab_to(page, selector)
    page.keyboard.type(text)


def test_keyboard_only_action_and_accessible_pages(app, live_server, chromium, output_dir):
    with app.app_context():
        load_instruments(load_definitions())
        instrument = load_definitions().instruments["member-pulse"]
        member_wave_with([{q.id: "4" for q in instrument.scale_questions} for _ in range(12)])
        publish_closed_waves(compute_results())
    add_user(app, "analyst@council.example", Role.ANALYST)
    problems: dict[str, list[str]] = {}
    context = chromium.new_context(viewport={"width": 1280, "height": 800})
    page = context.new_page()
    sign_in(page, live_server, "analyst@council.example")
    page.wait_for_url(f"{live_server}/dashboard/")  # staff land on the scorecard

    page.goto(f"{live_server}/actions/")
    audit_widths(page, output_dir, "actions-empty", problems)
    tab_to(page, "a[href='/actions/new']")
    page.keyboard.press("Enter")
    page.wait_for_url(f"{live_server}/actions/new")
    tab_to(page, "#main-content button[type=submit]", limit=80)
    page.keyboard.press("Enter")  # empty: the error summary takes focus
    expect(page.locator(".govuk-error-summary")).to_be_visible()
    audit_widths(page, output_dir, "action-form-errors", problems)

    page.keyboard.press("Shift+Tab")  # out of the summary, then through the form from the top
    _keyboard_type(page, "#title", "Monthly member briefings")
    tab_to(page, "#instrument")
    page.keyboard.type("Member pulse")  # a select picks the option by typing its start
    tab_to(page, "#heard_wave")
    page.keyboard.type("Member pulse survey: 2026-Q3")
    _keyboard_type(page, "#heard", "Members do not feel engaged in setting the direction.")
    tab_to(page, "#outcome")
    page.keyboard.type("O1:")
    _keyboard_type(page, "#planned", "The chief executive briefs all members monthly.")
    _keyboard_type(page, "#owner_name", "Head of Democratic Services")
    due = clock.today() + dt.timedelta(days=40)
    _keyboard_type(page, "#due_on-day", str(due.day))
    _keyboard_type(page, "#due_on-month", str(due.month))
    _keyboard_type(page, "#due_on-year", str(due.year))
    tab_to(page, "#published")
    page.keyboard.press("Space")
    tab_to(page, "#main-content button[type=submit]")
    page.keyboard.press("Enter")
    expect(page.locator("h1")).to_have_text("Monthly member briefings")
    assert "/actions/" in page.url and "new" not in page.url
    expect(page.locator("body")).to_contain_text("In 2026-Q3, the outcome score was 100%")
    audit_widths(page, output_dir, "action-detail", problems)

    page.goto(f"{page.url}/edit")
    audit_widths(page, output_dir, "action-edit", problems)
    page.goto(f"{live_server}/actions/")
    audit_widths(page, output_dir, "actions-list", problems)
    page.goto(f"{live_server}/dashboard/outcomes/O1/members")
    expect(page.locator("body")).to_contain_text("Monthly member briefings")
    audit_widths(page, output_dir, "outcome-with-actions", problems)
    page.goto(f"{live_server}/dashboard/")
    expect(page.locator("body")).to_contain_text("Actions: 1 open")
    context.close()

    # the public page, signed out and with JavaScript off
    public = chromium.new_context(
        viewport={"width": 1280, "height": 800}, java_script_enabled=False
    )
    page = public.new_page()
    page.goto(f"{live_server}/you-said-we-did/member-pulse")
    expect(page.locator("h1")).to_have_text("You said, we did")
    expect(page.locator("body")).to_contain_text("Monthly member briefings")
    expect(page.locator("body")).to_contain_text("In 2026-Q3, the outcome score was 100%")
    public.close()
    public = chromium.new_context(viewport={"width": 1280, "height": 800})
    page = public.new_page()
    page.goto(f"{live_server}/you-said-we-did/member-pulse")
    audit_widths(page, output_dir, "you-said-we-did", problems)
    public.close()
    assert not problems, problems


def test_wave_page_with_who_responded_and_reminders_and_group_sizes_page(
    app, live_server, chromium, output_dir
):
    """The changed wave page (who responded, scheduled reminders) and the group sizes page,
    its row errors included: axe-core at 320 and 1280 px."""

    from survey_app.extensions import db
    from survey_app.models import Response, WaveMode, WaveReminder
    from survey_app.programme.invitations import Contact, add_invitations

    from ..survey_app.survey_helpers import make_wave

    with app.app_context():
        closed = make_wave("staff-pulse", WaveMode.OPEN, opens=-30, closes=-2, label="2026-Q3")
        for directorate, count in (
            ("Place", 40),
            ("Children's Services", 20),
            ("Corporate and Strategy", 3),
        ):
            db.session.add_all(
                Response(
                    wave_id=closed.id,
                    submitted_on=closed.opens_on,
                    attributes={"directorate": directorate},
                )
                for _ in range(count)
            )
        invite = make_wave("member-pulse", WaveMode.INVITE, opens=-6, closes=10, label="2026-Q4")
        add_invitations(invite, [Contact("ann@council.example", "Ann")])
        db.session.add_all(
            [WaveReminder(wave_id=invite.id, days=5), WaveReminder(wave_id=invite.id, days=12)]
        )
        db.session.commit()
        closed_id, invite_id = closed.id, invite.id
    add_user(app, "analyst@council.example", Role.ANALYST)
    problems: dict[str, list[str]] = {}
    context = chromium.new_context(viewport={"width": 1280, "height": 800})
    page = context.new_page()
    sign_in(page, live_server, "analyst@council.example")
    page.wait_for_url(f"{live_server}/dashboard/")  # staff land on the scorecard

    page.goto(f"{live_server}/programme/group-sizes")
    audit_widths(page, output_dir, "group-sizes", problems)
    page.select_option("#audience", "staff")
    page.set_input_files(
        "#file",
        files=[
            {
                "name": "sizes.csv",
                "mimeType": "text/csv",
                "buffer": b"attribute,value,size\ndirectorate,Place,400\ndirectorate,Nowhere,5\n",
            }
        ],
    )
    page.click("#main-content button[type=submit]")
    expect(page.locator(".govuk-error-summary")).to_contain_text("Row 3")
    audit_widths(page, output_dir, "group-sizes-errors", problems)
    sizes = b"attribute,value,size\ndirectorate,Place,400\ndirectorate,Children's Services,100\n"
    sizes += b"directorate,Corporate and Strategy,50\n"
    page.set_input_files(
        "#file", files=[{"name": "sizes.csv", "mimeType": "text/csv", "buffer": sizes}]
    )
    page.select_option("#audience", "staff")
    page.click("#main-content button[type=submit]")
    expect(page.locator(".govuk-notification-banner")).to_contain_text("3 group sizes")
    audit_widths(page, output_dir, "group-sizes-held", problems)
    with app.app_context():  # who responded is computed with the results, and stored
        from survey_app.results import compute_results

        compute_results()

    page.goto(f"{live_server}/programme/waves/{closed_id}")
    expect(page.locator("body")).to_contain_text("Who responded by directorate")
    audit_widths(page, output_dir, "wave-who-responded", problems)
    page.goto(f"{live_server}/programme/waves/{invite_id}")
    expect(page.locator("body")).to_contain_text("Scheduled reminders")
    expect(page.locator("body")).to_contain_text("Due now")
    audit_widths(page, output_dir, "wave-reminders", problems)
    context.close()
    assert not problems, problems
