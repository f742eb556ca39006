"""Blank and repeat sends: nothing blank is stored, Back and reload after a send say it was
sent (never a live Send button), and a shared device takes the next person on the same
roadshow event. Finishing a personal-link survey on another device via an e-mailed,
one-time resume link."""

from __future__ import annotations

import re

from sqlalchemy import func, select

from survey_app.extensions import db
from survey_app.models import Draft, HeldSubmission, Response

from .helpers import bodies
from .survey_helpers import (
    answer_pages,
    csrf_of,
    full_answers,
    make_tokens,
    make_wave,
    release_all,
    send,
)

SENT = "Your answers have been sent"
NEXT_PERSON = "Start again for the next person"


def _stored(app) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(Response)) + db.session.scalar(
            select(func.count()).select_from(HeldSubmission)
        )


def _start_again(client, slug: str, page: str):
    return client.post(f"/s/{slug}/again", data={"csrf_token": csrf_of(page)})


def test_a_send_with_no_answered_question_is_refused(app, client) -> None:
    with app.app_context():
        wave = make_wave("resident-perception")
        slug, instrument = wave.slug, wave.instrument_version.instrument
    # "About you" answered, no question: still nothing said
    check = answer_pages(client, slug, instrument, {"age_band": "16-34"})
    refused = send(client, slug, check)
    body = refused.get_data(as_text=True)
    assert refused.status_code == 200 and "You have not answered any questions" in body
    assert "There is a problem" in body and f'href="/s/{slug}/1?change=1#P01"' in body
    assert _stored(app) == 0
    # the respondent can go back, answer, and send
    page = client.get(f"/s/{slug}/1?change=1").get_data(as_text=True)
    client.post(f"/s/{slug}/1?change=1", data={"csrf_token": csrf_of(page), "P01": "4"})
    assert (
        send(client, slug, client.get(f"/s/{slug}/check").get_data(as_text=True)).status_code == 303
    )
    assert _stored(app) == 1


def test_back_and_reload_after_a_send_show_it_was_sent(app, client) -> None:
    with app.app_context():
        wave = make_wave("staff-pulse")
        slug, instrument = wave.slug, wave.instrument_version.instrument
    check = answer_pages(client, slug, instrument, full_answers(instrument))
    assert send(client, slug, check).headers["Location"] == f"/s/{slug}/done"
    done = client.get(f"/s/{slug}/done").get_data(as_text=True)
    assert "Answers sent" in done and SENT in done
    for path in (f"/s/{slug}/check", f"/s/{slug}/2", f"/s/{slug}/1", f"/s/{slug}"):  # Back
        shown = client.get(path).get_data(as_text=True)
        assert SENT in shown and "Send my answers" not in shown and "Continue" not in shown, path
    assert SENT in client.get(f"/s/{slug}/done").get_data(as_text=True)  # reload
    # a page posted from a stale tab stores nothing and starts nothing
    stale = client.post(f"/s/{slug}/1", data={"csrf_token": csrf_of(check), "S01": "1"})
    assert SENT in stale.get_data(as_text=True)
    again = send(client, slug, check)  # the old check page's form, sent again
    assert again.headers["Location"] == f"/s/{slug}/done"
    assert _stored(app) == 1


def test_a_roadshow_kiosk_takes_the_next_person_on_the_same_event(app, client) -> None:
    with app.app_context():
        wave = make_wave("staff-roadshow")
        slug, instrument, event = wave.slug, wave.instrument_version.instrument, wave.events[1]
        code, event_id, place = event.code, event.id, event.place
    client.get(f"/e/{code}")
    assert (
        send(client, slug, answer_pages(client, slug, instrument, {"R01": "4"})).status_code == 303
    )
    done = client.get(f"/s/{slug}/done").get_data(as_text=True)
    assert NEXT_PERSON in done
    restarted = _start_again(client, slug, done)
    assert restarted.status_code == 303 and restarted.headers["Location"] == f"/s/{slug}"
    start = client.get(f"/s/{slug}").get_data(as_text=True)
    assert "Start now" in start and place in start and SENT not in start
    assert "Not answered" in client.get(f"/s/{slug}/check").get_data(as_text=True)
    assert (
        send(client, slug, answer_pages(client, slug, instrument, {"R01": "2"})).status_code == 303
    )
    # the same from the "sent" page that Back shows
    sent = client.get(f"/s/{slug}/check").get_data(as_text=True)
    assert NEXT_PERSON in sent
    _start_again(client, slug, sent)
    assert (
        send(client, slug, answer_pages(client, slug, instrument, {"R01": "5"})).status_code == 303
    )
    assert release_all(app) == 3
    with app.app_context():
        rows = db.session.execute(select(Response.event_id)).scalars().all()
    assert rows == [event_id] * 3


def test_a_personal_link_offers_no_next_person(app, client) -> None:
    with app.app_context():
        wave = make_wave("partner-survey")
        (token,) = make_tokens(wave, 1)
        slug, instrument = wave.slug, wave.instrument_version.instrument
    client.get(f"/i/{token}")
    send(client, slug, answer_pages(client, slug, instrument, full_answers(instrument)))
    done = client.get(f"/s/{slug}/done").get_data(as_text=True)
    sent = client.get(f"/s/{slug}/check").get_data(as_text=True)
    assert NEXT_PERSON not in done and NEXT_PERSON not in sent
    assert SENT in sent and "used once" in sent
    refused = client.post(f"/s/{slug}/again", data={})  # no button, even if posted by hand
    assert SENT in refused.get_data(as_text=True)
    assert "already been used" in client.get(f"/i/{token}").get_data(as_text=True)


# --------------------------------------------------------------------------- resume links


def _resume_link(mailbox) -> str:
    (body,) = bodies(mailbox)
    return re.search(r"http://pulse\.test(/i/\S+)", body).group(1)


def test_a_resume_link_moves_the_draft_to_another_device_once(db_app, smtp) -> None:
    controller, mailbox = smtp
    db_app.config.update(MAIL_SERVER="127.0.0.1", MAIL_PORT=controller.port)
    with db_app.app_context():
        wave = make_wave("member-pulse")
        (token,) = make_tokens(wave, 1)
        slug, instrument = wave.slug, wave.instrument_version.instrument
    laptop, phone, later = db_app.test_client(), db_app.test_client(), db_app.test_client()
    laptop.get(f"/i/{token}")
    answer_pages(laptop, slug, instrument, {"M01": "4", "M90": "Started on the laptop"})
    page = laptop.get(f"/s/{slug}/resume-link").get_data(as_text=True)
    assert "Email me a link" in page
    bad = laptop.post(f"/s/{slug}/resume-link", data={"csrf_token": csrf_of(page), "email": "nope"})
    assert "Enter an email address like" in bad.get_data(as_text=True) and not mailbox.messages
    sent = laptop.post(
        f"/s/{slug}/resume-link",
        data={"csrf_token": csrf_of(page), "email": "cllr.b@council.example"},
    )
    assert sent.status_code == 200 and "Check your email" in sent.get_data(as_text=True)
    assert mailbox.messages[0].rcpt_tos == ["cllr.b@council.example"]
    link = _resume_link(mailbox)
    assert token in link and "resume=" in link
    with db_app.app_context():  # the server keeps neither the address nor the link's secret
        (row,) = db.session.execute(select(Draft.lookup, Draft.sealed)).all()
    secret = link.split("resume=")[1].split(".")[1]
    assert secret not in row.lookup and b"council.example" not in row.sealed

    opened = phone.get(link)
    assert opened.status_code == 303 and opened.headers["Location"] == f"/s/{slug}"
    assert "Started on the laptop" in phone.get(f"/s/{slug}/check").get_data(as_text=True)
    # the link works once, and the answers are no longer in the laptop's browser
    used = later.get(link).get_data(as_text=True)
    assert "already been used" in used and "Started on the laptop" not in used
    assert "Started on the laptop" not in later.get(f"/s/{slug}/check").get_data(as_text=True)
    assert "Started on the laptop" not in laptop.get(f"/s/{slug}/check").get_data(as_text=True)
    check = answer_pages(phone, slug, instrument, {"M01": "4", "M90": "Finished on the phone"})
    assert send(phone, slug, check).status_code == 303
    assert _stored(db_app) == 1


def test_a_resume_link_without_mail_set_up_says_so(app, client) -> None:
    with app.app_context():
        wave = make_wave("member-pulse")
        (token,) = make_tokens(wave, 1)
        slug, instrument = wave.slug, wave.instrument_version.instrument
    client.get(f"/i/{token}")
    answer_pages(client, slug, instrument, {"M01": "4"})
    page = client.get(f"/s/{slug}/resume-link").get_data(as_text=True)
    refused = client.post(
        f"/s/{slug}/resume-link",
        data={"csrf_token": csrf_of(page), "email": "cllr.c@council.example"},
    )
    assert refused.status_code == 503 and "cannot send email" in refused.get_data(as_text=True)
    kept = client.get(f"/s/{slug}/check").get_data(as_text=True)
    assert "Agree" in kept and "Not answered" in kept  # M01 = 4 is still in the draft


def test_open_waves_have_no_resume_links(app, client) -> None:
    with app.app_context():
        slug = make_wave("staff-pulse").slug
    assert "Email me a link" not in client.get(f"/s/{slug}/1").get_data(as_text=True)
    assert client.get(f"/s/{slug}/resume-link").status_code == 404
