"""Action plans (issue 18 section 4): analysts and admins record and change actions, with
their progress kept as history and every change audited; viewers read them; outcome pages
list them and the scorecard counts them; the public "You said, we did" page shows only
published actions and only figures that are reportable."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from werkzeug.datastructures import MultiDict

from instruments import load_definitions
from survey_app import clock
from survey_app.definitions import load_instruments
from survey_app.extensions import db
from survey_app.models import Action, ActionStatus, AuditEntry, Role, WaveMode
from survey_app.publication import publish_closed_waves
from survey_app.results import compute_results

from .helpers import add_user, audit_actions, csrf, member_wave_with, sign_in

TODAY = clock.today()


def _date(prefix: str, day: dt.date) -> list[tuple[str, str]]:
    return [(prefix, str(day.day)), (prefix, str(day.month)), (prefix, str(day.year))]


def action_form(**given) -> MultiDict:
    """A complete action form (a named officer owns it), with ``given`` fields replaced."""
    due = given.pop("due", TODAY + dt.timedelta(days=60))
    fields = {
        "title": "Monthly member briefings",
        "instrument": "member-pulse",
        "heard_wave": "",
        "heard": "Members do not feel engaged in setting the council's direction.",
        "outcome": "O1",
        "measure": "",
        "theme": "",
        "cell": "",
        "planned": "The chief executive briefs all members monthly on the corporate plan.",
        "owner_user": "",
        "owner_name": "Head of Democratic Services",
        "status": "not started",
        "dropped_reason": "",
        "note": "",
        "evidence_url": "",
    }
    fields.update(given)
    return MultiDict([(k, v) for k, v in fields.items() if v is not None] + _date("due_on", due))


def _post(client, path: str, form: MultiDict):
    form["csrf_token"] = csrf(client, path)
    return client.post(path, data=form)


def _analyst(app, client) -> None:
    with app.app_context():
        load_instruments(load_definitions())
    add_user(app, "analyst@council.example", Role.ANALYST)
    assert sign_in(client, "analyst@council.example").status_code == 302


def _create(client, **given) -> int:
    created = _post(client, "/actions/new", action_form(**given))
    assert created.status_code == 302, created.get_data(as_text=True)
    return int(created.headers["Location"].rsplit("/", 1)[1])


def test_an_analyst_records_an_action_and_every_change_is_audited_and_kept(app, client) -> None:
    _analyst(app, client)
    problems = {
        "Enter a title for the action": action_form(title=""),
        "Choose a staff user or name the officer who owns the action": action_form(owner_name=""),
        "Say why the action was dropped": action_form(status="dropped"),
        "Enter a web address": action_form(evidence_url="not a link"),
        "Choose a measure of outcome O1": action_form(measure="O2-staff"),
        "Enter the due date": _without_date(action_form()),
    }
    for message, form in problems.items():
        refused = _post(client, "/actions/new", form)
        assert refused.status_code == 400, message
        page = refused.get_data(as_text=True)
        assert message in page and "There is a problem" in page
    with app.app_context():
        assert db.session.scalar(select(Action.id)) is None  # nothing half-written

    action_id = _create(client, note="Agreed at the improvement board.")
    page = client.get(f"/actions/{action_id}").get_data(as_text=True)
    assert "Monthly member briefings" in page and "Head of Democratic Services" in page
    assert "Agreed at the improvement board." in page

    changed = _post(
        client,
        f"/actions/{action_id}/edit",
        action_form(status="in progress", note="First briefing held on 3 November."),
    )
    assert changed.status_code == 302
    dropped = _post(
        client,
        f"/actions/{action_id}/edit",
        action_form(status="dropped", dropped_reason="Replaced by the member portal."),
    )
    assert dropped.status_code == 302
    with app.app_context():
        action = db.session.get(Action, action_id)
        assert action.status is ActionStatus.DROPPED
        assert action.dropped_reason == "Replaced by the member portal."
        # the history keeps every note as written, and a status change without a note
        assert [(n.status.value, n.text) for n in action.notes] == [
            ("not started", "Agreed at the improvement board."),
            ("in progress", "First briefing held on 3 November."),
            ("dropped", "Status changed to dropped."),
        ]
        entries = db.session.scalars(
            select(AuditEntry).where(AuditEntry.action.like("action %")).order_by(AuditEntry.id)
        ).all()
        assert [e.action for e in entries] == ["action created", "action changed", "action changed"]
        assert entries[1].detail["before"] == {"status": "not started"}
        assert entries[1].detail["after"] == {"status": "in progress"}
        assert entries[2].detail["after"]["dropped_reason"] == "Replaced by the member portal."
    page = client.get(f"/actions/{action_id}").get_data(as_text=True)
    assert "Replaced by the member portal." in page and "First briefing held" in page

    # an unchanged save adds nothing to the history or the audit log
    before = len(audit_actions(app))
    _post(
        client,
        f"/actions/{action_id}/edit",
        action_form(status="dropped", dropped_reason="Replaced by the member portal."),
    )
    assert len(audit_actions(app)) == before


def _without_date(form: MultiDict) -> MultiDict:
    form.poplist("due_on")
    return form


def test_a_staff_user_can_own_an_action_and_the_wave_must_be_of_the_survey(app, client) -> None:
    _analyst(app, client)
    with app.app_context():
        staff_wave = member_wave_with([])  # a member-pulse wave, 2026-Q3
    owner = add_user(app, "owner@council.example", Role.VIEWER)
    wrong = _post(
        client,
        "/actions/new",
        action_form(instrument="staff-pulse", heard_wave=str(staff_wave), owner_user=str(owner)),
    )
    assert wrong.status_code == 400
    assert "Choose a wave of the survey chosen above" in wrong.get_data(as_text=True)
    action_id = _create(client, heard_wave=str(staff_wave), owner_user=str(owner), owner_name="")
    with app.app_context():
        action = db.session.get(Action, action_id)
        assert action.owner == "Owner" and action.owner_name is None
        assert action.audience == "members" and action.heard_wave_id == staff_wave


def test_viewers_read_actions_but_cannot_change_them(app, client) -> None:
    _analyst(app, client)
    action_id = _create(client)
    client.post("/auth/sign-out", data={"csrf_token": csrf(client, "/actions/")})
    add_user(app, "viewer@council.example", Role.VIEWER)
    assert sign_in(client, "viewer@council.example").status_code == 302
    assert "Monthly member briefings" in client.get("/actions/").get_data(as_text=True)
    detail = client.get(f"/actions/{action_id}").get_data(as_text=True)
    assert "Monthly member briefings" in detail and "Change this action" not in detail
    assert client.get("/actions/new").status_code == 403
    assert client.get(f"/actions/{action_id}/edit").status_code == 403
    token = csrf(client, "/actions/")
    assert client.post("/actions/new", data={"csrf_token": token}).status_code == 403


def test_outcome_pages_list_their_actions_and_the_scorecard_counts_them(app, client) -> None:
    _analyst(app, client)
    _create(client, title="Overdue briefing", due=TODAY - dt.timedelta(days=1))
    _create(client, title="Briefing due soon", due=TODAY + dt.timedelta(days=10))
    _create(client, title="Later briefing", due=TODAY + dt.timedelta(days=90))
    _create(client, title="Finished briefing", status="done")
    _create(client, title="A staff action", instrument="staff-pulse")
    client.get("/actions/")  # shows (and so clears) the "saved" message
    page = client.get("/dashboard/outcomes/O1/members").get_data(as_text=True)
    for title in ("Overdue briefing", "Briefing due soon", "Later briefing", "Finished briefing"):
        assert title in page
    assert "A staff action" not in page  # another audience's
    assert "Overdue" in page
    assert "A staff action" in client.get("/dashboard/outcomes/O1/staff").get_data(as_text=True)
    scorecard = client.get("/dashboard/").get_data(as_text=True)
    assert "Actions: 4 open, 1 due in the next 28 days, 1 overdue." in scorecard
    assert scorecard.count("Actions: none open.") == 11  # the other outcomes


def _positive_members(n: int) -> list[dict[str, str]]:
    from instruments import load_definitions

    instrument = load_definitions().instruments["member-pulse"]
    return [{q.id: "4" for q in instrument.scale_questions} for _ in range(n)]


def _published_wave(app, respondents: int) -> int:
    with app.app_context():
        wave_id = member_wave_with(_positive_members(respondents))
        publish_closed_waves(compute_results())
        return wave_id


def test_the_public_page_shows_published_actions_and_reportable_figures_only(app, client) -> None:
    _analyst(app, client)
    wave_id = _published_wave(app, 12)
    _create(client, title="Published with a figure", heard_wave=str(wave_id), published="y")
    _create(client, title="Not published", heard_wave=str(wave_id))
    client.post("/auth/sign-out", data={"csrf_token": csrf(client, "/actions/")})

    public = client.get("/you-said-we-did/member-pulse")
    assert public.status_code == 200  # no sign-in
    page = public.get_data(as_text=True)
    assert "Published with a figure" in page and "Not published" not in page
    assert "In 2026-Q3, the outcome score was 100% (12 responses)" in page
    assert "Nothing has been published here yet" in client.get(
        "/you-said-we-did/staff-pulse"
    ).get_data(as_text=True)
    assert client.get("/you-said-we-did/no-such-survey").status_code == 404


def test_a_suppressed_or_unpublished_figure_never_reaches_the_public_page(app, client) -> None:
    _analyst(app, client)
    wave_id = _published_wave(app, 4)  # fewer than the minimum of 10
    _create(client, title="Heard from a few", heard_wave=str(wave_id), published="y")
    page = client.get("/you-said-we-did/member-pulse").get_data(as_text=True)
    assert "Heard from a few" in page
    assert "outcome score" not in page and "responses)" not in page
    # a live wave's figures stay off the page even once an analyst has published them early
    from .survey_helpers import make_wave

    with app.app_context():
        live = make_wave("member-pulse", label="2026-Q4").id
    _create(client, title="Heard in a live wave", heard_wave=str(live), published="y")
    page = client.get("/you-said-we-did/member-pulse").get_data(as_text=True)
    assert "Heard in a live wave" in page and "2026-Q4," not in page


def test_the_confirmation_page_links_the_surveys_public_page(app, client) -> None:
    from .survey_helpers import answer_pages, full_answers, make_wave, send

    _analyst(app, client)
    _create(client, title="Published", published="y")
    client.post("/auth/sign-out", data={"csrf_token": csrf(client, "/actions/")})
    with app.app_context():
        wave = make_wave("member-pulse", WaveMode.OPEN)
        slug, instrument = wave.slug, wave.instrument_version.instrument
        staff = make_wave("staff-pulse", WaveMode.OPEN)
        staff_slug, staff_instrument = staff.slug, staff.instrument_version.instrument
    check = answer_pages(client, slug, instrument, full_answers(instrument))
    done = send(client, slug, check)
    page = client.get(done.headers["Location"]).get_data(as_text=True)
    assert "/you-said-we-did/member-pulse" in page
    # a survey with nothing published has no link
    other = app.test_client()
    check = answer_pages(other, staff_slug, staff_instrument, full_answers(staff_instrument))
    done = send(other, staff_slug, check)
    assert "/you-said-we-did/" not in other.get(done.headers["Location"]).get_data(as_text=True)


def test_the_reports_you_said_we_did_and_who_responded_partials(app, client) -> None:
    """What the lead wires into the quarterly report: the published actions per audience,
    figures only where reportable, and the who-responded tables of closed waves."""
    from flask import render_template

    from survey_app.action_plans import you_said_we_did_by_audience
    from survey_app.models import Wave

    _analyst(app, client)
    wave_id = _published_wave(app, 12)
    _create(client, title="For members", heard_wave=str(wave_id), published="y")
    _create(client, title="Kept inside", instrument="staff-pulse")
    with app.app_context():
        grouped = you_said_we_did_by_audience()
        assert list(grouped) == ["members"] and [r.title for r in grouped["members"]] == [
            "For members"
        ]
        with app.test_request_context():
            html = render_template("reports/_you_said_we_did.html")
            assert "For members" in html and "Kept inside" not in html
            assert "In 2026-Q3, the outcome score was 100% (12 responses)" in html
            waves = [db.session.get(Wave, wave_id)]
            assert "Who responded" not in render_template(
                "reports/_who_responded.html", waves=waves
            )
