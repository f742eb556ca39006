"""Answers in progress: server-side, sealed to the respondent's browser, redacted as they
enter, never in the cookie, kept through a long pause, deleted with the submission, and out
of reach of staff who can rebuild a personal link. SQLite and PostgreSQL where the database
is involved."""

from __future__ import annotations

import csv
import datetime as dt
import io
import time
from pathlib import Path

import pytest
from sqlalchemy import func, select, text, update
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError

from instruments import Instrument
from survey_app.extensions import db
from survey_app.models import Draft, HeldSubmission, Response, Role
from survey_app.programme.invitations import Contact, add_invitations

from .helpers import add_user, sign_in
from .survey_helpers import answer_pages, csrf_of, listening, make_wave, release_all, send

LONG = Instrument.model_validate(
    {
        "id": "long-comments",
        "title": "Long comments survey",
        "audience": "staff",
        "scales": {"yn": {"labels": ["No", "Yes"], "positive": [2]}},
        "questions": [
            {"id": "L01", "text": "Was the roadshow useful?", "scale": "yn"},
            {
                "id": "L90",
                "type": "text",
                "text": "What went well?",
                "max_length": 10000,
                "section": "Comments",
            },
            {"id": "L91", "type": "text", "text": "What could be better?", "max_length": 10000},
            {"id": "L92", "type": "text", "text": "Anything else?", "max_length": 10000},
        ],
    }
)
MARKER = "Zqx7marker"


def _long_comment(seed: int, length: int = 10000) -> str:
    words = f"{MARKER}{seed} needs more evening sessions near the library "
    return (words * (length // len(words) + 1))[:length].strip()


def _long_wave(app) -> str:
    with app.app_context():
        return make_wave("long-comments", instrument=LONG, label="long").slug


def _session_cookie(client) -> str:
    return client.get_cookie("session").value


def _drafts(app) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(Draft))


def _raw_database_bytes(app, database_url: str) -> bytes:
    """What a reader of the database's files would see: SQLite's main file and its -wal;
    PostgreSQL's heap file of ``draft`` and the current WAL segment (read as superuser)."""
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite":
        path = Path(url.database)
        return b"".join(p.read_bytes() for p in (path, Path(f"{path}-wal")) if p.exists())
    with app.app_context():
        connection = db.session.connection()
        connection.execute(text("CHECKPOINT"))
        heap = connection.execute(
            text("SELECT pg_read_binary_file(pg_relation_filepath('draft'))")
        ).scalar_one()
        wal = connection.execute(
            text("SELECT pg_read_binary_file('pg_wal/' || pg_walfile_name(pg_current_wal_lsn()))")
        ).scalar_one()
        db.session.rollback()
    return bytes(heap) + bytes(wal)


def test_long_comments_live_in_a_sealed_draft_not_the_cookie(db_app, database_url) -> None:
    slug = _long_wave(db_app)
    short, long = db_app.test_client(), db_app.test_client()
    answer_pages(short, slug, LONG, {"L01": "2", "L90": "ok", "L91": "ok", "L92": "ok"})
    comments = {f"L9{i}": _long_comment(i) for i in range(3)}
    check = answer_pages(long, slug, LONG, {"L01": "2", **comments})
    # The cookie stays small whatever the answers: it holds a handle, not the answers.
    assert len(_session_cookie(long)) < 1200
    assert abs(len(_session_cookie(long)) - len(_session_cookie(short))) < 80
    for comment in comments.values():
        assert comment in check  # every character is on the check page
    # A database reader sees padded ciphertext only: no marker in the files or the WAL.
    assert MARKER.encode() not in _raw_database_bytes(db_app, database_url)
    with db_app.app_context():
        sizes = sorted(len(s) for s in db.session.scalars(select(Draft.sealed)))
    assert sizes[0] == 2048 + 28 and sizes[1] == 131072 + 28  # pad class + nonce and tag
    assert send(long, slug, check).status_code == 303
    assert release_all(db_app) == 1  # held, sealed, until a release
    with db_app.app_context():
        stored = dict(
            db.session.execute(
                text("SELECT question_id, value FROM answer WHERE question_id LIKE 'L9%'")
            ).all()
        )
    assert stored == comments
    assert _drafts(db_app) == 1  # the sent one went with its submission; the other waits


def test_comments_are_redacted_as_they_enter_the_draft(app, client) -> None:
    slug = _long_wave(app)
    typed = "Ask jo.bloggs@example.org or ring 01375 652 652 about Cllr Whitfield."
    check = answer_pages(client, slug, LONG, {"L01": "1", "L90": typed})
    assert "example.org" not in check and "652" not in check and "Whitfield" not in check
    assert "[email]" in check and "[phone]" in check and "[name]" in check
    page = client.get(f"/s/{slug}/2").get_data(as_text=True)  # the form shows it redacted too
    assert "[email]" in page and "example.org" not in page
    with app.app_context():
        path = Path(make_url(db.engine.url).database)
    assert b"example.org" not in path.read_bytes() + Path(f"{path}-wal").read_bytes()


def test_a_comment_that_redaction_makes_too_long_is_refused_with_a_reason(app, client) -> None:
    slug = _long_wave(app)
    answer_pages(client, slug, LONG, {"L01": "1"})
    page = client.get(f"/s/{slug}/2").get_data(as_text=True)
    # 10,000 characters as typed, the limit; the postcode "AB1 2CD" (7) becomes
    # "[postcode]" (10), three characters longer.
    typed = "x" * 9992 + " AB1 2CD"
    assert len(typed) == 10000
    refused = client.post(f"/s/{slug}/2", data={"csrf_token": csrf_of(page), "L90": typed})
    body = refused.get_data(as_text=True)
    assert refused.status_code == 200 and "once personal details are replaced" in body
    assert 'href="#L90"' in body and typed in body  # nothing typed is lost
    assert "[postcode]" not in client.get(f"/s/{slug}/check").get_data(as_text=True)


def test_a_respondent_idle_for_two_hours_loses_nothing(app, client, monkeypatch) -> None:
    """Past the staff idle limit (30 minutes) the session cookie used to be refused, and the
    answers with it. A moved clock, no sleeping."""
    slug = _long_wave(app)
    page = client.get(f"/s/{slug}/1").get_data(as_text=True)
    assert (
        client.post(f"/s/{slug}/1", data={"csrf_token": csrf_of(page), "L01": "2"}).status_code
        == 303
    )
    comments_page = client.get(f"/s/{slug}/2").get_data(as_text=True)
    moved = time.time() + 2 * 3600 + 60
    monkeypatch.setattr(time, "time", lambda: moved)
    posted = client.post(
        f"/s/{slug}/2", data={"csrf_token": csrf_of(comments_page), "L90": "Written after lunch"}
    )
    assert posted.status_code == 303, posted.get_data(as_text=True)[:300]
    check = client.get(f"/s/{slug}/check").get_data(as_text=True)
    assert "Yes" in check and "Written after lunch" in check
    assert send(client, slug, check).status_code == 303
    with app.app_context():
        assert (
            db.session.scalar(select(func.count()).select_from(Response))
            + db.session.scalar(select(func.count()).select_from(HeldSubmission))
            == 1
        )


def test_a_staff_session_still_ends_after_its_idle_limit(app, monkeypatch) -> None:
    add_user(app, "analyst@council.example", Role.ANALYST)
    staff = app.test_client()
    assert sign_in(staff, "analyst@council.example").status_code == 302
    assert staff.get("/dashboard/").status_code == 200
    moved = time.time() + 31 * 60
    monkeypatch.setattr(time, "time", lambda: moved)
    assert staff.get("/dashboard/").status_code == 302  # sent to sign in again


def test_the_draft_is_deleted_in_the_transaction_that_stores_the_answers(db_app) -> None:
    """If deleting the draft fails, nothing is stored, and the answers are still there."""
    slug = _long_wave(db_app)
    client = db_app.test_client()
    check = answer_pages(client, slug, LONG, {"L01": "2", "L90": "Keep me"})

    def fail_the_draft_delete(conn, cursor, statement, *args) -> None:
        # On its own, or (PostgreSQL) in the one statement that holds the submission
        if "DELETE FROM DRAFT" in statement.upper():
            raise OperationalError(statement, {}, Exception("disk I/O error"))

    with listening(db_app, "before_cursor_execute", fail_the_draft_delete):
        failed = send(client, slug, check)
    assert failed.status_code == 503 and "Keep me" in failed.get_data(as_text=True)
    with db_app.app_context():
        assert (
            db.session.scalar(select(func.count()).select_from(Response))
            + db.session.scalar(select(func.count()).select_from(HeldSubmission))
            == 0
        )
    assert _drafts(db_app) == 1
    assert send(client, slug, failed.get_data(as_text=True)).status_code == 303
    with db_app.app_context():
        assert (
            db.session.scalar(select(func.count()).select_from(Response))
            + db.session.scalar(select(func.count()).select_from(HeldSubmission))
            == 1
        )
    assert _drafts(db_app) == 0


def test_a_tampered_or_foreign_draft_opens_nothing(app) -> None:
    slug = _long_wave(app)
    owner, other = app.test_client(), app.test_client()
    answer_pages(owner, slug, LONG, {"L01": "2", "L90": "Mine"})
    answer_pages(other, slug, LONG, {"L01": "1", "L90": "Theirs"})
    with owner.session_transaction() as session:
        mine = dict(session["pulse"][slug])
    with other.session_transaction() as session:  # another browser's id with its own secret
        session["pulse"][slug] = {**session["pulse"][slug], "d": mine["d"]}
    page = other.get(f"/s/{slug}/2")
    assert page.status_code == 200 and "Mine" not in page.get_data(as_text=True)
    with app.app_context():  # a flipped byte in the ciphertext
        sealed = db.session.scalars(select(Draft.sealed)).all()
        db.session.execute(update(Draft).values(sealed=b"\x00" + sealed[0][1:]))
        db.session.commit()
    for client in (owner, other):
        assert client.get(f"/s/{slug}/check").status_code == 200


def test_drafts_sealed_before_a_key_rotation_still_open(tmp_path) -> None:
    from flask_migrate import upgrade

    from tests.conftest import make_app

    url = f"sqlite:///{tmp_path / 'rotated.db'}"
    before = make_app(url, SECRET_KEY="the-first-secret-key-of-this-council")
    with before.app_context():
        upgrade()
    slug = _long_wave(before)
    client = before.test_client()
    answer_pages(client, slug, LONG, {"L01": "2", "L90": "Before the rotation"})
    after = make_app(
        url,
        SECRET_KEY="the-second-secret-key-of-this-council",
        SECRET_KEY_FALLBACKS=["the-first-secret-key-of-this-council"],
    )
    moved = after.test_client()
    moved.set_cookie("session", _session_cookie(client))
    assert "Before the rotation" in moved.get(f"/s/{slug}/check").get_data(as_text=True)
    without = make_app(url, SECRET_KEY="the-second-secret-key-of-this-council")
    stranger = without.test_client()
    stranger.set_cookie("session", moved.get_cookie("session").value)
    assert "Before the rotation" not in stranger.get(f"/s/{slug}/check").get_data(as_text=True)
    for each in (before, after, without):
        with each.app_context():
            db.session.remove()
            db.engine.dispose()


@pytest.mark.parametrize("signed_in", [True, False])
def test_staff_with_the_mail_merge_never_see_a_respondents_draft(db_app, signed_in) -> None:
    with db_app.app_context():
        wave = make_wave("member-pulse")
        add_invitations(wave, [Contact("cllr.a@council.example", "Cllr A")])
        db.session.commit()
        wave_id, slug, instrument = wave.id, wave.slug, wave.instrument_version.instrument
    add_user(db_app, "analyst@council.example", Role.ANALYST)
    analyst = db_app.test_client()
    sign_in(analyst, "analyst@council.example")
    merge = analyst.get(f"/programme/waves/{wave_id}/invitations.csv").get_data(as_text=True)
    (row,) = list(csv.DictReader(io.StringIO(merge)))
    path = "/" + row["link"].split("/", 3)[3]
    councillor = db_app.test_client()
    councillor.get(path)
    answer_pages(councillor, slug, instrument, {"M01": "4", "M90": "Unsent thoughts"})
    opener = analyst if signed_in else db_app.test_client()
    assert opener.get(path).status_code == 303
    start = opener.get(f"/s/{slug}").get_data(as_text=True)
    assert "Continue where you left off" not in start
    check = opener.get(f"/s/{slug}/check").get_data(as_text=True)
    assert "Unsent thoughts" not in check and "Strongly agree" not in check
    assert "Unsent thoughts" in councillor.get(f"/s/{slug}/check").get_data(as_text=True)


def test_a_draft_of_a_closed_wave_never_opens(app, client) -> None:
    slug = _long_wave(app)
    answer_pages(client, slug, LONG, {"L01": "2", "L90": "Before closing"})
    with app.app_context():
        db.session.execute(
            text("UPDATE wave SET closes_on = :d WHERE slug = :s"),
            {"d": dt.date.today() - dt.timedelta(days=1), "s": slug},
        )
        db.session.commit()
    assert "has closed" in client.get(f"/s/{slug}/check").get_data(as_text=True)
    assert _drafts(app) == 1
    result = app.test_cli_runner().invoke(args=["survey", "release"])  # the daily job
    assert result.exit_code == 0, result.output
    assert _drafts(app) == 0


def test_migration_0008_replaces_invite_draft_and_goes_back(db_app) -> None:
    from flask_migrate import downgrade, upgrade
    from sqlalchemy import inspect
    from sqlalchemy.exc import OperationalError as NoSuchColumn

    with db_app.app_context():
        downgrade(revision="0005")
        tables = inspect(db.engine).get_table_names()
        assert "invite_draft" in tables and "draft" not in tables
        upgrade()
        tables = inspect(db.engine).get_table_names()
        assert "draft" in tables and "invite_draft" not in tables
        if db.engine.dialect.name == "sqlite":  # no hidden insertion-ordered key
            with pytest.raises(NoSuchColumn):
                db.session.execute(text("SELECT rowid FROM draft"))
            db.session.rollback()
