"""Bad input is rejected and stores nothing; nothing a respondent typed is lost (expired
CSRF token, double submit, database failure)."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from sqlalchemy import func, select, text, update
from sqlalchemy.exc import OperationalError

from instruments import Instrument
from survey_app.extensions import db
from survey_app.models import (
    Draft,
    HeldSubmission,
    Invitation,
    Response,
    Role,
    SubmissionKey,
    Wave,
)

from .helpers import add_user, csrf, sign_in
from .survey_helpers import (
    answer_pages,
    csrf_of,
    full_answers,
    key_of,
    listening,
    make_tokens,
    make_wave,
    send,
)


def _stored(app) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(Response)) + db.session.scalar(
            select(func.count()).select_from(HeldSubmission)
        )


def _drafts(app) -> int:
    """How many drafts are stored (a refused page saves nothing into one)."""
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(Draft))


def _send_with_fault(app, client, slug: str, check_page: str, event_name: str, fault):
    """Send the check page's form with ``fault`` listening to the engine's ``event_name``
    for this one request."""
    with listening(app, event_name, fault):
        return send(client, slug, check_page)


def _staff_wave(app):
    with app.app_context():
        wave = make_wave("staff-pulse")
        return wave.slug, wave.instrument_version.instrument


REQUIRED = Instrument.model_validate(
    {
        "id": "tiny",
        "title": "Tiny survey",
        "audience": "staff",
        "scales": {"yn": {"labels": ["No", "Yes"], "positive": [2]}},
        "questions": [
            {"id": "T01", "text": "Is this required?", "scale": "yn", "required": True},
            {
                "id": "T02",
                "text": "Where do you work?",
                "type": "choice",
                "choices": ["Office", "Home"],
            },
            {
                "id": "T90",
                "text": "Anything else?",
                "type": "text",
                "max_length": 20,
                "required": True,
            },
        ],
    }
)


@pytest.mark.parametrize(
    "instrument_id,field,value",
    [
        ("staff-pulse", "S01", "9"),  # out-of-range code
        ("staff-pulse", "S01", "0"),
        ("staff-roadshow", "R01", "dk"),  # no don't-know on this scale
        ("staff-pulse", "S01", "Agree"),  # a label, not a code
        ("staff-pulse", "S01", "1.0"),  # wrong type
    ],
)
def test_out_of_range_answers_are_refused(app, client, instrument_id, field, value) -> None:
    message = "Select one of the options shown"
    with app.app_context():
        slug = make_wave(instrument_id).slug
    page = client.get(f"/s/{slug}/1").get_data(as_text=True)
    refused = client.post(f"/s/{slug}/1", data={"csrf_token": csrf_of(page), field: value})
    text = refused.get_data(as_text=True)
    assert refused.status_code == 200 and message in text and "There is a problem" in text
    assert f'href="#{field}"' in text  # the error summary links to the field
    assert text.count("<title>Error: ") == 1
    assert _drafts(app) == 0
    assert _stored(app) == 0


def test_unknown_and_repeated_fields_are_refused(app, client) -> None:
    slug, _ = _staff_wave(app)
    page = client.get(f"/s/{slug}/1").get_data(as_text=True)
    for data in (
        {"S01": "4", "S99": "5"},
        {"S01": "4", "S04": "5"},
        {"S01": ["4", "5"]},
        {"S01": "4", "directorate": "Place"},
    ):
        refused = client.post(f"/s/{slug}/1", data={"csrf_token": csrf_of(page), **data})
        assert refused.status_code == 400
        assert "does not ask for" in refused.get_data(as_text=True)
    assert _drafts(app) == 0
    assert _stored(app) == 0


def test_required_and_over_long_answers_are_refused(app, client) -> None:
    with app.app_context():
        wave = make_wave("tiny", instrument=REQUIRED)
        slug = wave.slug
    page = client.get(f"/s/{slug}/1").get_data(as_text=True)
    refused = client.post(f"/s/{slug}/1", data={"csrf_token": csrf_of(page), "T90": "x" * 21})
    text = refused.get_data(as_text=True)
    assert "Select an answer" in text and "20 characters or fewer" in text
    assert 'href="#T01"' in text and 'href="#T90"' in text
    # posting the check page with nothing answered names what is missing and stores nothing
    check = client.get(f"/s/{slug}/check").get_data(as_text=True)
    missing = send(client, slug, check).get_data(as_text=True)
    assert "There is a problem" in missing and "Is this required?" in missing
    assert _stored(app) == 0
    check = answer_pages(client, slug, REQUIRED, {"T01": "2", "T02": "Home", "T90": "ok"})
    assert send(client, slug, check).status_code == 303
    assert _stored(app) == 1


def test_a_tampered_old_style_cookie_cannot_store_invalid_values(app, client) -> None:
    """A session cookie from before answers moved server-side carries them itself (``a``):
    they move into a sealed draft on the next request, and are validated like any other."""
    slug, instrument = _staff_wave(app)
    answer_pages(client, slug, instrument, full_answers(instrument))
    with client.session_transaction() as session:
        session["pulse"][slug]["a"] = {
            **full_answers(instrument),
            "S01": "42",
            "ZZ9": "1",
            "S90": "Mail me at old.cookie@example.org",
        }
        session.modified = True
    check = client.get(f"/s/{slug}/check").get_data(as_text=True)
    with client.session_transaction() as session:
        assert "a" not in session["pulse"][slug]  # moved out of the cookie ...
    assert "[email]" in check and "old.cookie" not in check  # ... redacted on the way
    refused = send(client, slug, check).get_data(as_text=True)
    assert "There is a problem" in refused and "not in this survey" in refused
    assert _stored(app) == 0


def test_a_token_for_another_wave_is_refused(app, client) -> None:
    with app.app_context():
        members = make_wave("member-pulse")
        partners = make_wave("partner-survey")
        (member_token,) = make_tokens(members, 1)
        (partner_token,) = make_tokens(partners, 1)
        slug, instrument = partners.slug, partners.instrument_version.instrument
    client.get(f"/i/{partner_token}")
    with client.session_transaction() as session:  # swap in the other wave's token
        session["pulse"][slug]["tok"] = member_token
        session.modified = True
    check = answer_pages(client, slug, instrument, full_answers(instrument))
    refused = send(client, slug, check)
    assert refused.status_code == 200 and "already been used" in refused.get_data(as_text=True)
    with app.app_context():
        assert db.session.scalars(select(Invitation.used)).all() == [False, False]
    assert _stored(app) == 0


def test_expired_csrf_token_on_a_page_keeps_the_answers(app, client) -> None:
    slug, _ = _staff_wave(app)
    client.get(f"/s/{slug}/1")
    kept = client.post(f"/s/{slug}/1", data={"csrf_token": "expired", "S01": "4", "S02": "2"})
    text = kept.get_data(as_text=True)
    assert kept.status_code == 200 and "session timed out" in text
    assert 'name="S01" type="radio" value="4" checked' in text
    assert 'name="S02" type="radio" value="2" checked' in text
    # a fresh token is on the re-shown page; continuing works
    posted = client.post(f"/s/{slug}/1", data={"csrf_token": csrf_of(text), "S01": "4", "S02": "2"})
    assert posted.status_code == 303


def test_lost_session_on_a_page_keeps_the_answers(app) -> None:
    slug, _ = _staff_wave(app)
    client = app.test_client()
    page = client.get(f"/s/{slug}/1").get_data(as_text=True)
    client.delete_cookie("session")  # the browser lost the session cookie
    kept = client.post(f"/s/{slug}/1", data={"csrf_token": csrf_of(page), "S03": "5"})
    assert kept.status_code == 200
    assert 'name="S03" type="radio" value="5" checked' in kept.get_data(as_text=True)


def test_expired_csrf_token_at_check_keeps_the_answers(app, client) -> None:
    slug, instrument = _staff_wave(app)
    check = answer_pages(client, slug, instrument, full_answers(instrument))
    kept = client.post(
        f"/s/{slug}/check", data={"csrf_token": "x", "submission_key": key_of(check)}
    )
    text = kept.get_data(as_text=True)
    assert kept.status_code == 200 and "session timed out" in text
    assert "Strongly agree" in text or "Agree" in text
    assert _stored(app) == 0
    assert send(client, slug, text).status_code == 303
    assert _stored(app) == 1


def test_double_submit_stores_one_response(cached_app) -> None:
    app, client = cached_app, cached_app.test_client()
    slug, instrument = _staff_wave(app)
    check = answer_pages(client, slug, instrument, full_answers(instrument))
    before = client.get_cookie("session").value
    first = send(client, slug, check)
    second = send(client, slug, check)  # the same form again, with the new cookie
    assert first.headers["Location"] == second.headers["Location"] == f"/s/{slug}/done"
    client.set_cookie("session", before)  # a retry that raced the first: the old cookie
    third = send(client, slug, check)
    assert third.status_code == 303 and third.headers["Location"] == f"/s/{slug}/done"
    assert client.get(f"/s/{slug}/done").status_code == 200
    assert _stored(app) == 1
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(SubmissionKey)) == 1


def test_database_failure_at_submit_keeps_the_answers(cached_app) -> None:
    app, client = cached_app, cached_app.test_client()
    slug, instrument = _staff_wave(app)
    answers = full_answers(instrument)
    check = answer_pages(client, slug, instrument, answers)

    def fail(conn, cursor, statement, *args):
        if (
            "INSERT INTO HELD_SUBMISSION" in statement.upper()
        ):  # PostgreSQL's is inside one statement
            raise OperationalError(statement, {}, Exception("disk I/O error"))

    failed = _send_with_fault(app, client, slug, check, "before_cursor_execute", fail)
    text = failed.get_data(as_text=True)
    assert (
        failed.status_code == 503
        and "your answers were not saved, please try again" in text.lower()
    )
    assert answers["S90"] in text  # the answers are still there
    assert _stored(app) == 0
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(SubmissionKey)) == 0
    assert send(client, slug, text).status_code == 303
    assert _stored(app) == 1


def test_a_failed_store_logs_no_answer(cached_app, caplog) -> None:
    """The database refuses the answers: the error is logged, but not what was typed (the
    database's error message would otherwise carry the statement's parameters)."""
    app, client = cached_app, cached_app.test_client()
    slug, instrument = _staff_wave(app)
    answers = full_answers(instrument)
    answers["S90"] = "Private words about my manager"
    check = answer_pages(client, slug, instrument, answers)
    with app.app_context():
        db.session.execute(
            text("DROP TABLE held_submission")
        )  # a real failure, raised by the database
        db.session.commit()
    failed = send(client, slug, check)
    assert failed.status_code == 503 and answers["S90"] in failed.get_data(as_text=True)
    assert "could not be stored" in caplog.text
    assert answers["S90"] not in caplog.text


@pytest.mark.parametrize("prepared", [True, False], ids=["prepared", "ordinary"])
def test_a_send_stored_but_not_acknowledged_is_stored_once_when_sent_again(
    cached_app, prepared: bool
) -> None:
    """The database commits, then the connection breaks before it says so. A form with its
    prepared submission is sent again at once the ordinary way, which finds it stored and
    says it was sent; a form without one (as after a failed send) says "not saved", is
    sent again from that page, and the response is stored once either way."""
    app, client = cached_app, cached_app.test_client()
    slug, instrument = _staff_wave(app)
    check = answer_pages(client, slug, instrument, full_answers(instrument))
    assert 'name="prepared"' in check  # an open link's check page prepares its send
    if not prepared:
        check = re.sub(r'<input[^>]*name="prepared"[^>]*>', "", check)

    lost = OperationalError("COMMIT", {}, Exception("server closed the connection unexpectedly"))

    def lose_the_commit_acknowledgement(conn) -> None:
        conn.connection.commit()  # the database commits (the response and the draft's
        raise lost  # deletion, in one transaction) ...

    def lose_the_statement_acknowledgement(conn, cursor, statement, *args) -> None:
        if "INSERT INTO held_submission" in statement:
            raise lost  # ... or, on PostgreSQL, the one statement that commits by itself

    with app.app_context():
        postgres = db.engine.dialect.name == "postgresql"
    if postgres:
        failed = _send_with_fault(
            app, client, slug, check, "after_cursor_execute", lose_the_statement_acknowledgement
        )
    else:
        failed = _send_with_fault(
            app, client, slug, check, "commit", lose_the_commit_acknowledgement
        )
    if prepared:
        assert failed.status_code == 303 and failed.headers["Location"] == f"/s/{slug}/done"
        assert _stored(app) == 1
        return
    text = failed.get_data(as_text=True)
    assert failed.status_code == 503 and "not saved" in text
    assert key_of(text) == key_of(check)  # the page sent again is the same submission
    assert 'name="prepared"' not in text  # a page shown after a failed send sends ordinarily
    assert _stored(app) == 1
    again = send(client, slug, text)
    assert again.status_code == 303 and again.headers["Location"] == f"/s/{slug}/done"
    assert _stored(app) == 1


def test_submissions_from_one_address_are_rate_limited_without_losing_answers(tmp_path) -> None:
    from flask_migrate import upgrade

    from tests.conftest import make_app

    app = make_app(f"sqlite:///{tmp_path / 'limited.db'}", SURVEY_SUBMIT_RATE_LIMIT="2 per hour")
    with app.app_context():
        upgrade()
    slug, instrument = _staff_wave(app)
    for _ in range(2):
        client = app.test_client()
        assert (
            send(client, slug, answer_pages(client, slug, instrument, {"S01": "4"})).status_code
            == 303
        )
    client = app.test_client()
    limited = send(
        client, slug, answer_pages(client, slug, instrument, {"S01": "5", "S90": "kept"})
    )
    text = limited.get_data(as_text=True)
    assert limited.status_code == 429 and "have not been sent yet" in text and "kept" in text
    assert _stored(app) == 2
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


def test_a_send_to_a_wave_closed_since_it_was_read_stores_nothing(cached_app) -> None:
    """A process answers respondents' pages from its copy of the wave; when the wave closes
    elsewhere (another worker, or the database directly), a send still open in a browser
    stores nothing: the storing statement checks the wave's dates itself."""
    app, client = cached_app, cached_app.test_client()
    slug, instrument = _staff_wave(app)
    check = answer_pages(client, slug, instrument, full_answers(instrument))
    with app.app_context():
        db.session.execute(
            update(Wave)
            .where(Wave.slug == slug)
            .values(closes_on=dt.date.today() - dt.timedelta(days=1))
        )
        db.session.commit()
    assert client.get(f"/s/{slug}/check").status_code == 200  # still this process's copy
    sent = send(client, slug, check)
    assert "has closed" in sent.get_data(as_text=True)
    assert _stored(app) == 0
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(SubmissionKey)) == 0
    assert "has closed" in client.get(f"/s/{slug}").get_data(as_text=True)  # copy forgotten


def test_closing_a_wave_takes_effect_at_once_in_the_process_that_closed_it(cached_app) -> None:
    app, respondent, analyst = cached_app, cached_app.test_client(), cached_app.test_client()
    slug, _ = _staff_wave(app)
    assert "has closed" not in respondent.get(f"/s/{slug}").get_data(as_text=True)
    add_user(app, "analyst@council.example", Role.ANALYST)
    sign_in(analyst, "analyst@council.example")
    with app.app_context():
        wave_id = db.session.scalar(select(Wave.id).where(Wave.slug == slug))
    token = csrf(analyst, f"/programme/waves/{wave_id}/close-now")
    assert (
        analyst.post(
            f"/programme/waves/{wave_id}/close-now", data={"csrf_token": token}
        ).status_code
        == 302
    )
    # "Close now" closes at the end of today (London): the respondent's page shows the new
    # last day at once, not the cached copy's
    from survey_app import clock

    today = clock.today()
    assert f"The survey closes on {today.day} {today:%B %Y}" in respondent.get(
        f"/s/{slug}"
    ).get_data(as_text=True)


def test_sends_go_ahead_when_the_rate_limit_storage_is_down(tmp_path, caplog) -> None:
    """The per-address brake needs its counter storage; without it (Redis down) the
    answers are stored anyway, and the failure is logged."""
    from flask_migrate import upgrade

    from tests.conftest import make_app

    app = make_app(
        f"sqlite:///{tmp_path / 'pulse.db'}", RATELIMIT_STORAGE_URI="redis://127.0.0.1:1"
    )
    with app.app_context():
        upgrade()
    slug, instrument = _staff_wave(app)
    client = app.test_client()
    assert (
        send(client, slug, answer_pages(client, slug, instrument, {"S01": "4"})).status_code == 303
    )
    assert _stored(app) == 1
    assert "rate-limit storage failed" in caplog.text
    with app.app_context():
        db.session.remove()
        db.engine.dispose()
