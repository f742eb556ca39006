"""Answering each default instrument through HTTP, in its wave's mode, without JavaScript."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select

from survey_app.extensions import db
from survey_app.models import Answer, HeldSubmission, Invitation, Response, Wave, WaveMode
from survey_app.security import hash_token
from survey_app.survey.forms import pages_of
from survey_app.survey.store import release_held

from .survey_helpers import (
    answer_pages,
    csrf_of,
    full_answers,
    make_tokens,
    make_wave,
    release_all,
    send,
)

INSTRUMENTS = [
    "member-pulse",
    "partner-survey",
    "staff-pulse",
    "resident-perception",
    "staff-roadshow",
]


def _enter(client, wave: Wave, token: str | None = None) -> None:
    """Come in the way a respondent of this wave's mode does."""
    if wave.mode is WaveMode.INVITE:
        response = client.get(f"/i/{token}")
        assert response.status_code == 303
        assert response.headers["Location"] == f"/s/{wave.slug}"  # the token is gone
    elif wave.mode is WaveMode.EVENT:
        response = client.get(f"/e/{wave.events[1].code}")
        assert response.status_code == 303 and response.headers["Location"] == f"/s/{wave.slug}"
    start = client.get(f"/s/{wave.slug}")
    assert start.status_code == 200
    text = start.get_data(as_text=True)
    assert "Start now" in text and "anonymous" in text and "/privacy" in text


@pytest.mark.parametrize("instrument_id", INSTRUMENTS)
def test_each_instrument_is_answered_end_to_end_in_its_mode(db_app, instrument_id) -> None:
    client = db_app.test_client()
    with db_app.app_context():
        wave = make_wave(instrument_id)
        tokens = make_tokens(wave, 1) if wave.mode is WaveMode.INVITE else [None]
        instrument = wave.instrument_version.instrument
        slug, wave_id, mode = wave.slug, wave.id, wave.mode
        event_id = wave.events[1].id if wave.events else None
        _enter(client, wave, tokens[0])
    answers = full_answers(instrument)
    pages = pages_of(instrument)
    first = client.get(f"/s/{slug}/1").get_data(as_text=True)
    if len(pages) > 1:
        assert f"Page 1 of {len(pages)}" in first
    check = answer_pages(client, slug, instrument, answers)
    assert "Check your answers" in check and check.count("Change") >= len(answers)
    sent = send(client, slug, check)
    assert sent.status_code == 303 and sent.headers["Location"] == f"/s/{slug}/done"
    done = client.get(f"/s/{slug}/done")
    assert done.status_code == 200 and "Answers sent" in done.get_data(as_text=True)

    with db_app.app_context():
        # every mode is held first; an invitation is marked used only when released
        if mode is WaveMode.INVITE:
            assert db.session.scalar(select(Invitation.used)) is False
        assert db.session.scalar(select(func.count()).select_from(Response)) == 0
        assert db.session.scalar(select(func.count()).select_from(HeldSubmission)) == 1
        assert release_held(wave_id) == 0  # a small pool and the wave is open
        assert release_held(wave_id, force=True) == 1
        if mode is WaveMode.INVITE:
            assert db.session.scalar(select(Invitation.used)) is True
        response = db.session.scalar(select(Response))
        assert response.wave_id == wave_id and response.event_id == event_id
        stored = dict(db.session.execute(select(Answer.question_id, Answer.value)).all())
        attributes = {a.id for a in instrument.attributes}
        assert stored == {k: v for k, v in answers.items() if k not in attributes}
        assert response.attributes == {k: v for k, v in answers.items() if k in attributes}
        assert db.session.scalar(select(func.count()).select_from(HeldSubmission)) == 0


def test_answers_survive_going_back_and_changing(app, client) -> None:
    with app.app_context():
        wave = make_wave("staff-pulse")
        instrument, slug = wave.instrument_version.instrument, wave.slug
    answers = full_answers(instrument)
    check = answer_pages(client, slug, instrument, answers)
    assert "Fully" not in check
    # change one answer from the check page: the page shows the old answer checked
    page = client.get(f"/s/{slug}/1?change=1").get_data(as_text=True)
    assert f'name="S01" type="radio" value="{answers["S01"]}" checked' in page
    posted = client.post(
        f"/s/{slug}/1?change=1",
        data={
            "csrf_token": csrf_of(page),
            "S01": "5",
            "S02": answers["S02"],
            "S03": answers["S03"],
        },
    )
    assert posted.headers["Location"] == f"/s/{slug}/check"
    check = client.get(f"/s/{slug}/check").get_data(as_text=True)
    assert send(client, slug, check).status_code == 303
    assert release_all(app) == 1
    with app.app_context():
        assert db.session.scalar(select(Answer.value).where(Answer.question_id == "S01")) == "5"


def test_optional_questions_may_be_left_and_dont_know_is_stored_as_dk(app, client) -> None:
    with app.app_context():
        wave = make_wave("resident-perception")
        instrument, slug = wave.instrument_version.instrument, wave.slug
    check = answer_pages(client, slug, instrument, {"P01": "dk", "P90": "  "})
    assert "Not answered" in check and ("Don&#39;t know" in check or "Don't know" in check)
    assert send(client, slug, check).status_code == 303
    assert release_all(app) == 1
    with app.app_context():
        assert dict(db.session.execute(select(Answer.question_id, Answer.value)).all()) == {
            "P01": "dk"
        }
        assert db.session.scalar(select(Response.attributes)) == {}


def test_free_text_is_redacted_at_ingest(app, client) -> None:
    with app.app_context():
        wave = make_wave("staff-roadshow")
        instrument, slug = wave.instrument_version.instrument, wave.slug
    text = (
        "Ask jo.bloggs@example.org or call 01375 652 652, I live at RM17 6SL. Cllr Whitfield knows."
    )
    check = answer_pages(client, slug, instrument, {"R90": text})
    send(client, slug, check)
    assert release_all(app) == 1
    with app.app_context():
        stored = db.session.scalar(select(Answer.value).where(Answer.question_id == "R90"))
    assert "example.org" not in stored and "652" not in stored and "RM17" not in stored
    assert "Whitfield" not in stored  # a name on the configured list (redaction.yaml)
    assert {"[email]", "[phone]", "[postcode]", "[name]"} <= set(re.findall(r"\[\w+\]", stored))


def test_ways_in_explain_themselves(app, client) -> None:
    with app.app_context():
        invite = make_wave("member-pulse")
        token, used = make_tokens(invite, 2)
        db.session.execute(
            Invitation.__table__.update()
            .where(Invitation.token_hash == hash_token(used))
            .values(used=True)
        )
        db.session.commit()
        upcoming = make_wave("staff-pulse", opens=5, closes=20, label="2027-Q1")
        closed = make_wave("resident-perception", opens=-40, closes=-10, label="2026-Q3")
        invite_slug, upcoming_slug, closed_slug = invite.slug, upcoming.slug, closed.slug
    unknown = client.get("/i/not-a-real-token")
    assert unknown.status_code == 404 and "not recognised" in unknown.get_data(as_text=True)
    used_page = client.get(f"/i/{used}")
    assert used_page.status_code == 200 and "already been used" in used_page.get_data(as_text=True)
    # an invite wave cannot be answered without a personal link
    no_link = client.get(f"/s/{invite_slug}")
    assert no_link.status_code == 403 and "personal link" in no_link.get_data(as_text=True)
    assert client.get(f"/s/{invite_slug}/1").status_code == 403
    not_yet = client.get(f"/s/{upcoming_slug}").get_data(as_text=True)
    assert "not open yet" in not_yet and "opens on" in not_yet
    gone = client.get(f"/s/{closed_slug}").get_data(as_text=True)
    assert "has closed" in gone and "closed on" in gone
    assert client.get("/s/no-such-survey").status_code == 404
    assert client.get("/e/nosuchevent").status_code == 404
    assert client.get(f"/s/{closed_slug}/99").status_code == 200  # closed explains first
    # the personal link works, and the token never appears in a page after the redirect
    entered = client.get(f"/i/{token}")
    assert entered.status_code == 303 and token not in entered.headers["Location"]
    assert token not in client.get(f"/s/{invite_slug}").get_data(as_text=True)


def test_already_answered_on_this_device_is_noted(app, client) -> None:
    with app.app_context():
        wave = make_wave("staff-roadshow")
        instrument, slug = wave.instrument_version.instrument, wave.slug
    assert "already answered" not in client.get(f"/s/{slug}").get_data(as_text=True)
    send(client, slug, answer_pages(client, slug, instrument, {"R01": "4"}))
    assert "already answered this survey on this device" in client.get(f"/s/{slug}").get_data(
        as_text=True
    )


def test_demo_prints_working_links_into_each_live_wave(app, runner) -> None:
    result = runner.invoke(args=["demo", "--seed", "3"], env={"PORT": "8123"})
    assert result.exit_code == 0, result.output
    base = "http://127.0.0.1:8123"
    assert f"Staff sign-in: {base}/auth/sign-in" in result.output
    links = [line.split()[0] for line in result.output.splitlines() if line.startswith("  http")]
    assert links and all(link.startswith(base + "/") for link in links)  # full addresses, on PORT
    paths = [link.removeprefix(base) for link in links]
    assert {p[:3] for p in paths} == {"/i/", "/s/", "/e/"}
    client = app.test_client()
    for path in paths:
        entered = client.get(path)
        if path.startswith("/s/"):
            assert entered.status_code == 200, path
        else:
            assert entered.status_code == 303, path
            assert client.get(entered.headers["Location"]).status_code == 200, path
    with app.app_context():
        invitations = db.session.scalar(select(func.count()).select_from(Invitation))
    again = runner.invoke(args=["demo"])  # fresh personal links, same number of invitations
    assert "already holds waves" in again.output and "/i/" in again.output
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Invitation)) == invitations


def test_event_qr_codes_are_written_as_svg_and_png(app, runner, tmp_path) -> None:
    with app.app_context():
        code = make_wave("staff-roadshow").events[0].code
    svg, png = tmp_path / "poster.svg", tmp_path / "poster.png"
    for out in (svg, png):
        result = runner.invoke(
            args=["survey", "qr", code, "--base-url", "https://pulse.example/", "--out", str(out)]
        )
        assert result.exit_code == 0, result.output
        assert f"https://pulse.example/e/{code}" in result.output
    assert svg.read_text().lstrip().startswith("<?xml") and "<svg" in svg.read_text()
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    bad = runner.invoke(
        args=["survey", "qr", "nosuch", "--base-url", "https://x", "--out", str(svg)]
    )
    assert bad.exit_code != 0 and "no event has code" in bad.output


def test_bursts_of_identical_submissions_are_listed_for_review(app, runner) -> None:
    with app.app_context():
        wave = make_wave("staff-roadshow")
        slug, instrument, wave_id = wave.slug, wave.instrument_version.instrument, wave.id
    stuffed = {"R01": "5", "R02": "5", "R03": "5", "R04": "5", "R90": "Vote for me"}
    for i in range(6):
        client = app.test_client()
        answers = stuffed if i < 5 else {**stuffed, "R90": "Something else"}
        send(client, slug, answer_pages(client, slug, instrument, answers))
    assert release_all(app) == 6  # bursts are found among released responses
    result = runner.invoke(args=["survey", "bursts", "--wave", str(wave_id)])
    assert result.exit_code == 0, result.output
    assert "5 identical submissions with identical free text" in result.output
    quiet = runner.invoke(args=["survey", "bursts", "--min", "6"])
    assert "No group of 6 or more" in quiet.output
