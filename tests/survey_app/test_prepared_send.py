"""The check page of an open or event link prepares its send (survey_app.ingestion.prepared):
sending it holds, in one statement, exactly what the page was made from, and anything that
does not match (a draft changed in another tab, a forged or borrowed form, a new day) is
sent the ordinary way, from the draft as it is now. On SQLite and PostgreSQL."""

from __future__ import annotations

import base64
import datetime as dt
import re

from sqlalchemy import func, select

from survey_app.extensions import db
from survey_app.models import Draft, HeldSubmission, Response

from .survey_helpers import (
    answer_pages,
    csrf_of,
    full_answers,
    listening,
    make_tokens,
    make_wave,
    release_all,
    released_answers,
    send,
    send_form_of,
)

PREPARED = re.compile(r'<input[^>]*name="prepared"[^>]*>')


def _counts(app) -> tuple[int, int, int]:
    with app.app_context():
        return tuple(  # type: ignore[return-value]
            db.session.scalar(select(func.count()).select_from(table))
            for table in (HeldSubmission, Response, Draft)
        )


def _staff_wave(app):
    with app.app_context():
        wave = make_wave("staff-pulse")
        return wave.slug, wave.instrument_version.instrument


def test_a_prepared_send_holds_what_the_check_page_showed(db_app) -> None:
    app, client = db_app, db_app.test_client()
    slug, instrument = _staff_wave(app)
    answers = full_answers(instrument, seed=3)
    check = answer_pages(client, slug, instrument, answers)
    prepared = send_form_of(check, slug)["prepared"]
    statements: list[str] = []

    def seen(_connection, _cursor, statement, *_args) -> None:
        statements.append(statement)

    with listening(app, "before_cursor_execute", seen):
        sent = send(client, slug, check)
    assert sent.status_code == 303 and sent.headers["Location"] == f"/s/{slug}/done"
    assert _counts(app) == (1, 0, 0)  # held, and the draft deleted with it
    # The row held is the page's prepared one, byte for byte (an ordinary send seals the
    # draft afresh, under a new id and nonce) ...
    raw = base64.urlsafe_b64decode(prepared + "=" * (-len(prepared) % 4))
    with app.app_context():
        held = db.session.execute(select(HeldSubmission.id, HeldSubmission.sealed)).one()
    assert (held.id, bytes(held.sealed)) == (raw[:16].hex(), raw[80:])
    with app.app_context():
        postgres = db.engine.dialect.name == "postgresql"
    if postgres:  # ... and on PostgreSQL one statement held it
        (holding,) = [s for s in statements if "draft" in s]
        assert "sha256(draft.sealed)" in holding and "INSERT INTO held_submission" in holding
    (stored,) = released_answers(app)
    assert stored == {q.id: answers[q.id] for q in instrument.questions}
    # the same form again: already sent, nothing more stored
    assert send(client, slug, check).headers["Location"] == f"/s/{slug}/done"
    assert _counts(app) == (0, 1, 0)


def test_a_prepared_send_keeps_the_roadshow_event(db_app) -> None:
    app, client = db_app, db_app.test_client()
    with app.app_context():
        wave = make_wave("staff-roadshow")
        slug, instrument = wave.slug, wave.instrument_version.instrument
        code, event_id = wave.events[1].code, wave.events[1].id
    client.get(f"/e/{code}")
    check = answer_pages(client, slug, instrument, {"R01": "4"})
    assert "prepared" in send_form_of(check, slug)
    assert send(client, slug, check).status_code == 303
    release_all(app)
    with app.app_context():
        assert db.session.scalars(select(Response.event_id)).all() == [event_id]


def test_a_draft_changed_after_the_check_page_is_sent_as_it_is_now(db_app) -> None:
    """Two tabs: the check page shown in one, an answer changed in the other, then Send in
    the first. The answers sent are the draft's latest, never the page's older copy."""
    app, client = db_app, db_app.test_client()
    slug, instrument = _staff_wave(app)
    answers = full_answers(instrument)
    check = answer_pages(client, slug, instrument, answers)
    page = client.get(f"/s/{slug}/1?change=1").get_data(as_text=True)
    first = instrument.questions[0]
    changed = "1" if answers[first.id] != "1" else "2"
    assert (
        client.post(
            f"/s/{slug}/1?change=1", data={"csrf_token": csrf_of(page), first.id: changed}
        ).status_code
        == 303
    )
    assert send(client, slug, check).status_code == 303
    (stored,) = released_answers(app)
    assert stored[first.id] == changed


def _tampered(prepared: str) -> str:
    raw = bytearray(base64.urlsafe_b64decode(prepared + "=" * (-len(prepared) % 4)))
    raw[-1] ^= 1  # one bit of the sealed row
    return base64.urlsafe_b64encode(bytes(raw)).rstrip(b"=").decode("ascii")


def test_a_forged_or_borrowed_prepared_send_is_never_held(db_app, caplog) -> None:
    """An altered prepared row, or another respondent's, fails the server's HMAC: the send
    goes the ordinary way, storing the sender's own draft, and every held row opens."""
    app = db_app
    slug, instrument = _staff_wave(app)
    alice, bob = app.test_client(), app.test_client()
    alice_answers, bob_answers = full_answers(instrument, seed=1), full_answers(instrument, seed=2)
    alice_check = answer_pages(alice, slug, instrument, alice_answers)
    bob_check = answer_pages(bob, slug, instrument, bob_answers)

    forged = send_form_of(alice_check, slug)
    forged["prepared"] = _tampered(forged["prepared"])
    assert alice.post(f"/s/{slug}/check", data=forged).status_code == 303

    borrowed = send_form_of(bob_check, slug)
    borrowed["prepared"] = send_form_of(alice_check, slug)["prepared"]
    assert bob.post(f"/s/{slug}/check", data=borrowed).status_code == 303

    questions = [q.id for q in instrument.questions]
    stored = sorted(released_answers(app), key=lambda a: a[questions[0]] + a[questions[-1]])
    expected = sorted(
        ({q: a[q] for q in questions} for a in (alice_answers, bob_answers)),
        key=lambda a: a[questions[0]] + a[questions[-1]],
    )
    assert stored == expected
    assert _counts(app) == (0, 2, 0)
    assert "do not open" not in caplog.text


def test_a_check_page_shown_one_day_and_sent_the_next_is_sent_that_day(app_with) -> None:
    now = [dt.datetime(2026, 11, 30, 23, 59, tzinfo=dt.UTC)]
    app = app_with(CLOCK=lambda: now[0])
    client = app.test_client()
    slug, instrument = _staff_wave(app)
    check = answer_pages(client, slug, instrument, full_answers(instrument))
    now[0] += dt.timedelta(minutes=2)  # past midnight in London
    assert send(client, slug, check).status_code == 303
    release_all(app)
    with app.app_context():
        assert db.session.scalars(select(Response.submitted_on)).all() == [dt.date(2026, 12, 1)]


def test_a_personal_link_check_page_prepares_nothing(db_app) -> None:
    """An invitation's send marks its link used and seals its invitation with it: it
    always goes the ordinary way."""
    app, client = db_app, db_app.test_client()
    with app.app_context():
        wave = make_wave("member-pulse")
        (token,) = make_tokens(wave, 1)
        slug, instrument = wave.slug, wave.instrument_version.instrument
    client.get(f"/i/{token}")
    check = answer_pages(client, slug, instrument, full_answers(instrument))
    assert PREPARED.search(check) is None
    assert send(client, slug, check).status_code == 303
    assert _counts(app) == (1, 0, 0)
