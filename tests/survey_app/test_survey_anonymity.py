"""One response per token under concurrency, against a real multi-threaded server, and
anonymity of invite submissions after release (schema, stored rows, order, transaction ids),
on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import http.client
import re
import threading
from urllib.parse import urlencode

import pytest
from flask_migrate import upgrade
from sqlalchemy import func, inspect, select, text
from sqlalchemy.exc import OperationalError
from werkzeug.serving import WSGIRequestHandler, make_server

from survey_app.extensions import db
from survey_app.models import Answer, HeldSubmission, Invitation, InviteTag, Response, WaveMode
from survey_app.survey.forms import pages_of
from survey_app.survey.store import release_held

from ..conftest import _reset_postgres, make_app
from .survey_helpers import (
    answer_pages,
    csrf_of,
    full_answers,
    key_of,
    make_tokens,
    make_wave,
    release_all,
    send,
)

CONCURRENT = 20


class QuietHandler(WSGIRequestHandler):
    """No access log lines in the test output."""

    def log_request(self, *args, **kwargs) -> None:
        pass


class Browser:
    """A cookie-keeping HTTP client for a real server (no redirects followed)."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.cookie: str | None = None

    def request(self, method: str, path: str, data: dict | None = None) -> tuple[int, str, str]:
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=120)
        headers = {"Content-Type": "application/x-www-form-urlencoded"} if data is not None else {}
        if self.cookie:
            headers["Cookie"] = f"session={self.cookie}"
        try:
            connection.request(method, path, urlencode(data) if data is not None else None, headers)
            response = connection.getresponse()
            body = response.read().decode()
            for header in response.headers.get_all("Set-Cookie") or []:
                name, _, rest = header.partition("=")
                if name == "session":
                    self.cookie = rest.split(";")[0] or None
            return response.status, response.headers.get("Location", ""), body
        finally:
            connection.close()


def test_one_token_submitted_twenty_times_at_once_stores_one_response(db_app) -> None:
    with db_app.app_context():
        wave = make_wave("partner-survey")
        (token,) = make_tokens(wave, 1)
        slug, instrument = wave.slug, wave.instrument_version.instrument
    server = make_server("127.0.0.1", 0, db_app, threaded=True, request_handler=QuietHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        browsers = [Browser(server.server_port) for _ in range(CONCURRENT)]
        forms = []
        for i, browser in enumerate(browsers):  # the link opened on twenty devices
            status, location, _ = browser.request("GET", f"/i/{token}")
            assert status == 303 and location.endswith(f"/s/{slug}")
            answers = full_answers(instrument, seed=i)
            for page in pages_of(instrument):
                _, _, form = browser.request("GET", f"/s/{slug}/{page.number}")
                data = {"csrf_token": csrf_of(form), **{f: answers[f] for f in page.field_ids}}
                assert browser.request("POST", f"/s/{slug}/{page.number}", data)[0] == 303
            _, _, check = browser.request("GET", f"/s/{slug}/check")
            forms.append({"csrf_token": csrf_of(check), "submission_key": key_of(check)})

        barrier = threading.Barrier(CONCURRENT)
        results: list[tuple[int, str, str] | BaseException] = [None] * CONCURRENT  # type: ignore[list-item]

        def submit(i: int) -> None:
            try:
                barrier.wait(timeout=30)
                results[i] = browsers[i].request("POST", f"/s/{slug}/check", forms[i])
            except BaseException as exc:  # noqa: BLE001 - reported below
                results[i] = exc

        threads = [threading.Thread(target=submit, args=(i,)) for i in range(CONCURRENT)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=180)
    finally:
        server.shutdown()
        thread.join(timeout=10)
    errors = [r for r in results if isinstance(r, BaseException)]
    assert not errors, errors
    stored = [r for r in results if r[0] == 303 and r[1].endswith(f"/s/{slug}/done")]
    refused = [r for r in results if r[0] == 200 and "already been used" in r[2]]
    assert len(stored) == 1 and len(refused) == CONCURRENT - 1, [r[:2] for r in results]
    with db_app.app_context():
        held = db.session.scalar(select(func.count()).select_from(HeldSubmission))
        responses = db.session.scalar(select(func.count()).select_from(Response))
        assert held + responses == 1
        assert db.session.scalar(select(func.count()).select_from(InviteTag)) == 1
        # the invitation is marked used in the release, not when the answers are held
        assert db.session.scalar(select(Invitation.used)) is False
    assert release_all(db_app) == 1
    with db_app.app_context():
        assert db.session.scalar(select(Invitation.used)) is True


IDENTIFYING = re.compile(r"token|ip|addr|agent|user|session|email|name|_at$|time", re.IGNORECASE)


def test_tables_a_submission_passes_through_identify_no_one(db_app) -> None:
    with db_app.app_context():
        inspector = inspect(db.engine)
        expected = {
            "held_submission": {"id", "wave_id", "sealed"},
            "invite_tag": {"tag", "wave_id"},
            "submission_key": {"key_hash", "used_on"},
            "response": {
                "id",
                "wave_id",
                "event_id",
                "submitted_on",
                "channel",
                "attributes",
                "weight",
            },
            "answer": {"response_id", "question_id", "value"},
            "draft": {"lookup", "wave_id", "sealed"},
        }
        for table, columns in expected.items():
            found = {c["name"]: str(c["type"]).upper() for c in inspector.get_columns(table)}
            assert set(found) == columns, table
            assert not any(IDENTIFYING.search(name) for name in found), table
            assert not any("TIME" in kind for kind in found.values()), table  # a day at most
        # none of them refers to an invitation, drafts included
        for table in expected:
            referred = {fk["referred_table"] for fk in inspector.get_foreign_keys(table)}
            assert "invitation" not in referred, table
        assert "invite_draft" not in inspector.get_table_names()


def test_released_invite_responses_cannot_be_paired_with_invitations(db_app) -> None:
    n = 20
    with db_app.app_context():
        wave = make_wave("member-pulse")
        tokens = make_tokens(wave, n)
        slug, wave_id, instrument = wave.slug, wave.id, wave.instrument_version.instrument
        token_hashes = set(db.session.scalars(select(Invitation.token_hash)))
        postgres = db.engine.dialect.name == "postgresql"
    held_ids: set[str] = set()
    batches: list[int] = []
    for i, token in enumerate(tokens):  # respondent i writes "Comment i on M90"
        client = db_app.test_client()
        client.get(f"/i/{token}")
        check = answer_pages(client, slug, instrument, full_answers(instrument, seed=i))
        assert send(client, slug, check).status_code == 303
        with db_app.app_context():
            held_ids |= set(db.session.scalars(select(HeldSubmission.id)))
            held = db.session.scalar(select(func.count()).select_from(HeldSubmission))
            released = db.session.scalar(select(func.count()).select_from(Response))
            used = db.session.scalar(
                select(func.count()).select_from(Invitation).where(Invitation.used.is_(True))
            )
            # a release happens once 20 are held and leaves 10 behind (2 x the minimum 5),
            # marking exactly its own batch's invitations used
            assert held == (i + 1) - released and (held < 20 and held >= min(i + 1, 10))
            assert used == released
            if released > sum(batches):
                batches.append(released - sum(batches))
            if postgres and released:
                xids = dict(
                    db.session.execute(
                        text("SELECT xmin::text, count(*) FROM response GROUP BY xmin::text")
                    ).all()
                )
                invitation_xids = dict(
                    db.session.execute(
                        text(
                            "SELECT xmin::text, count(*) FROM invitation WHERE used GROUP BY xmin::text"
                        )
                    ).all()
                )
                assert xids == invitation_xids  # each batch marks its own invitations
                assert min(xids.values()) >= 10
    assert batches == [10]
    with db_app.app_context():
        assert release_held(wave_id) == 0  # ten held, wave open: kept back
        assert release_held(wave_id, force=True) == 10
        assert db.session.scalar(select(func.count()).select_from(HeldSubmission)) == 0
        comments = db.session.execute(
            select(Answer.response_id, Answer.value).where(Answer.question_id == "M90")
        ).all()
        seed_of = {rid: int(value.split()[1]) for rid, value in comments}
        assert sorted(seed_of.values()) == list(range(n))
        response_ids = set(seed_of)
        assert not response_ids & held_ids  # fresh random ids on release
        # nothing stored with a response mentions a token or its hash
        dump = " ".join(
            str(row)
            for table in ("response", "answer")
            for row in db.session.execute(text(f"SELECT * FROM {table}"))
        )
        assert not any(t in dump for t in tokens) and not any(h in dump for h in token_hashes)
        if postgres:
            # the final release rewrote the whole wave in one transaction: one xmin for
            # every response and used invitation, and physical order shuffled afresh
            xids = set(db.session.scalars(text("SELECT xmin::text FROM response")))
            invitation_xids = set(
                db.session.scalars(text("SELECT xmin::text FROM invitation WHERE used"))
            )
            assert len(xids) == 1 and xids == invitation_xids
        else:  # WITHOUT ROWID: no hidden insertion counter to sort by
            with pytest.raises(OperationalError, match="rowid"):
                db.session.execute(text("SELECT rowid FROM response"))
            db.session.rollback()
        assert (
            db.session.scalar(
                select(func.count()).select_from(Invitation).where(Invitation.used.is_(True))
            )
            == n
        )


def test_release_cli_and_closed_waves(app, runner) -> None:
    with app.app_context():
        wave = make_wave("partner-survey")
        tokens = make_tokens(wave, 3)
        slug, wave_id, instrument = wave.slug, wave.id, wave.instrument_version.instrument

    def answer(i: int) -> None:
        client = app.test_client()
        client.get(f"/i/{tokens[i]}")
        send(client, slug, answer_pages(client, slug, instrument, full_answers(instrument, i)))

    for i in range(2):
        answer(i)
    result = runner.invoke(args=["survey", "release"])
    assert result.exit_code == 0 and "Released 0 held submissions" in result.output
    assert runner.invoke(args=["survey", "release", "--wave", "999"]).exit_code != 0
    result = runner.invoke(args=["survey", "release", "--wave", str(wave_id), "--all"])
    assert result.exit_code == 0 and "Released 2 held submissions" in result.output
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Response)) == 2
    # a closed wave releases whatever is held: here the whole wave is smaller than the
    # minimum (its figures are suppressed anyway)
    answer(2)
    with app.app_context():
        assert release_held(today=dt.date.today() + dt.timedelta(days=60)) == 1
        assert db.session.scalar(select(func.count()).select_from(Response)) == 3


def test_invite_answers_resume_in_the_same_browser_only_and_go_when_sent(db_app) -> None:
    import datetime as dt

    from survey_app.drafts import purge_closed
    from survey_app.models import Draft

    with db_app.app_context():
        wave = make_wave("member-pulse")
        token, other = make_tokens(wave, 2)
        slug, wave_id, instrument = wave.slug, wave.id, wave.instrument_version.instrument
    answers = full_answers(instrument)
    pages = pages_of(instrument)
    first = db_app.test_client()  # answers the first page, then stops
    first.get(f"/i/{token}")
    form = first.get(f"/s/{slug}/1").get_data(as_text=True)
    page_one = {f: answers[f] for f in pages[0].field_ids}
    assert (
        first.post(f"/s/{slug}/1", data={"csrf_token": csrf_of(form), **page_one}).status_code
        == 303
    )
    # the same link on another device (or an analyst's browser) resumes nothing
    elsewhere = db_app.test_client()
    elsewhere.get(f"/i/{token}")
    start = elsewhere.get(f"/s/{slug}").get_data(as_text=True)
    assert "Continue where you left off" not in start and "Start now" in start
    assert " checked" not in elsewhere.get(f"/s/{slug}/1").get_data(as_text=True)
    # while the first browser, opening its link again, finds its answers
    first.get(f"/i/{token}")
    start = first.get(f"/s/{slug}").get_data(as_text=True)
    assert "Continue where you left off" in start and f"/s/{slug}/2" in start
    resumed = first.get(f"/s/{slug}/1").get_data(as_text=True)
    for field, value in page_one.items():
        assert f'name="{field}" type="radio" value="{value}" checked' in resumed
    assert send(first, slug, answer_pages(first, slug, instrument, answers)).status_code == 303
    with db_app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Draft)) == 0
        assert db.session.scalar(select(func.count()).select_from(HeldSubmission)) == 1
    # a draft left when the wave closes never opens, and the purge deletes it
    abandoned = db_app.test_client()
    abandoned.get(f"/i/{other}")
    form = abandoned.get(f"/s/{slug}/1").get_data(as_text=True)
    abandoned.post(f"/s/{slug}/1", data={"csrf_token": csrf_of(form), **page_one})
    with db_app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Draft)) == 1
        assert purge_closed() == 0  # still open
        db.session.execute(
            text("UPDATE wave SET closes_on = :day WHERE id = :id"),
            {"day": dt.date.today(), "id": wave_id},
        )
        db.session.commit()
    assert "Continue where you left off" in abandoned.get(f"/s/{slug}").get_data(as_text=True)
    with db_app.app_context():
        from survey_app.drafts import DraftHandle, load

        with abandoned.session_transaction() as session:
            handle = DraftHandle.from_session(session["pulse"][slug])
        assert load(handle, wave_id, dt.date.today()) == page_one
        assert load(handle, wave_id, dt.date.today() + dt.timedelta(days=1)) is None  # closed
        assert purge_closed(dt.date.today() + dt.timedelta(days=1)) == 1
        assert db.session.scalar(select(func.count()).select_from(Draft)) == 0


def test_staff_see_one_total_received_held_plus_released(db_app) -> None:
    from survey_app.ingestion import received_total

    with db_app.app_context():
        wave = make_wave("staff-pulse")
        other = make_wave("resident-perception")
        slug, wave_id, other_id = wave.slug, wave.id, other.id
        instrument = wave.instrument_version.instrument
        assert received_total(wave_id) == 0
    for i in range(3):
        client = db_app.test_client()
        assert (
            send(
                client,
                slug,
                answer_pages(client, slug, instrument, full_answers(instrument, seed=i)),
            ).status_code
            == 303
        )
        with db_app.app_context():
            assert received_total(wave_id) == i + 1  # counted at once, while still held
    assert release_all(db_app) == 3
    with db_app.app_context():
        assert received_total(wave_id) == 3  # a release moves rows, it does not add any
        assert received_total(other_id) == 0


def test_a_secret_key_change_holds_back_only_what_it_cannot_open(tmp_path, caplog) -> None:
    from flask_migrate import upgrade

    from tests.conftest import make_app

    url = f"sqlite:///{tmp_path / 'keys.db'}"
    before = make_app(url, SECRET_KEY="k" * 40)
    with before.app_context():
        upgrade()
        wave = make_wave("staff-pulse")
        slug, wave_id, instrument = wave.slug, wave.id, wave.instrument_version.instrument
    client = before.test_client()
    assert (
        send(
            client, slug, answer_pages(client, slug, instrument, full_answers(instrument))
        ).status_code
        == 303
    )
    after = make_app(url, SECRET_KEY="n" * 40)  # the key changed, the old one forgotten
    client = after.test_client()
    assert (
        send(
            client, slug, answer_pages(client, slug, instrument, full_answers(instrument, 1))
        ).status_code
        == 303
    )
    with after.app_context():
        assert release_held(wave_id, force=True) == 1  # the new one; the old one stays held
        assert db.session.scalar(select(func.count()).select_from(HeldSubmission)) == 1
    assert "do not open with SECRET_KEY" in caplog.text
    fallback = make_app(url, SECRET_KEY="n" * 40, SECRET_KEY_FALLBACKS=["k" * 40])
    with fallback.app_context():
        assert release_held(wave_id, force=True) == 1  # opens with the fallback
        assert db.session.scalar(select(func.count()).select_from(Response)) == 2
    for app in (before, after, fallback):
        with app.app_context():
            db.session.remove()
            db.engine.dispose()


def test_a_due_release_runs_after_the_reply_in_the_releaser_thread(app_with) -> None:
    """Outside tests (any job backend but eager) the submission that makes a release due is
    answered first; the process's releaser thread then releases a random batch, leaving
    twice the minimum held, and marks the batch's invitations used in its transaction."""
    app = app_with(JOBS_BACKEND="thread")
    with app.app_context():
        wave = make_wave("member-pulse")
        tokens = make_tokens(wave, 20)
        slug, instrument = wave.slug, wave.instrument_version.instrument
    for i, token in enumerate(tokens):
        client = app.test_client()
        client.get(f"/i/{token}")
        check = answer_pages(client, slug, instrument, full_answers(instrument, seed=i))
        assert send(client, slug, check).status_code == 303
    releaser = app.extensions["pulse_releaser"]  # asked by the 20th submission
    assert releaser.wait(timeout=60)
    with app.app_context():
        held = db.session.scalar(select(func.count()).select_from(HeldSubmission))
        released = db.session.scalar(select(func.count()).select_from(Response))
        used = db.session.scalar(
            select(func.count()).select_from(Invitation).where(Invitation.used.is_(True))
        )
    assert (held, released, used) == (10, 10, 10)


@pytest.mark.postgres
def test_sealed_drafts_and_held_rows_stay_out_of_toast_on_postgresql(postgres_database) -> None:
    """A sealed draft or held submission (2,076 bytes at the smallest padding) is written in
    its table's own page: nothing reaches the TOAST tables, so holding a submission costs one
    row, not three (migration 0018)."""
    _reset_postgres(postgres_database)
    app = make_app(postgres_database)
    try:
        with app.app_context():
            upgrade()
            wave = make_wave("staff-pulse", WaveMode.OPEN)
            slug, instrument = wave.slug, wave.instrument_version.instrument
        clients = [app.test_client() for _ in range(3)]
        checks = [
            answer_pages(c, slug, instrument, full_answers(instrument, seed=i))
            for i, c in enumerate(clients)
        ]
        assert send(clients[0], slug, checks[0]).status_code == 303
        with app.app_context():
            held = db.session.scalar(select(func.count()).select_from(HeldSubmission))
            drafts = db.session.scalar(text("SELECT count(*) FROM draft"))
            toast = dict(
                db.session.execute(
                    text(
                        "SELECT relname, pg_relation_size(reltoastrelid) FROM pg_class "
                        "WHERE relname IN ('held_submission', 'draft')"
                    )
                ).all()
            )
            options = dict(
                db.session.execute(
                    text(
                        "SELECT relname, array_to_string(reloptions, ',') FROM pg_class "
                        "WHERE relname IN ('held_submission', 'draft')"
                    )
                ).all()
            )
        assert (held, drafts) == (1, 2)
        assert toast == {"held_submission": 0, "draft": 0}
        assert options == {
            "held_submission": "toast_tuple_target=8160",
            "draft": "toast_tuple_target=8160",
        }
    finally:
        with app.app_context():
            db.session.remove()
            db.engine.dispose()
        _reset_postgres(postgres_database)
