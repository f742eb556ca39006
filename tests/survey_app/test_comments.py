"""Free-text comments on the staff side: the safeguarding queue and its role, flags made
wherever responses are stored, coding by two independent coders and their agreement, quotes
only when quotable and from groups big enough, and migration 0005 redacting old comments."""

from __future__ import annotations

import datetime as dt
import html
import re

import pytest
from sqlalchemy import event, func, select
from sqlalchemy.exc import OperationalError

from instruments import load_definitions
from survey_app import clock
from survey_app.comments.flags import flag_comments
from survey_app.extensions import db
from survey_app.models import (
    Answer,
    CommentCoding,
    FlagStatus,
    HeldSubmission,
    Response,
    Role,
    SafeguardingFlag,
)
from survey_app.results import compute_results

from ..conftest import make_app
from .helpers import add_user, audit_actions, csrf, member_wave_with, sign_in
from .survey_helpers import answer_pages, full_answers, make_wave, release_all, send

FLAGGED = "I was bullied by my manager and I am afraid to report it"
CODEBOOK = load_definitions().codebook
THEME = CODEBOOK.themes[0]  # communication: outcomes O2, O4, O5


def _wave_with_comments(
    comments: list[str], extra_responses: int = 0
) -> tuple[int, dict[str, str]]:
    """A member wave with one response per comment (plus ``extra_responses`` without one),
    flagged the way ingestion flags them (call inside an app context). Returns the wave id and
    the response id of each comment."""
    wave_id = member_wave_with(
        [{"M01": "4", "M90": text} for text in comments] + [{"M01": "4"}] * extra_responses
    )
    ids = {
        value: rid
        for rid, value in db.session.execute(
            select(Answer.response_id, Answer.value).where(Answer.question_id == "M90")
        )
    }
    flag_comments(list(ids.values()))
    db.session.commit()
    return wave_id, ids


def _signed_in(app, email: str, role: Role):
    add_user(app, email, role)
    client = app.test_client()
    assert sign_in(client, email).status_code == 302
    return client


def _text(response) -> str:
    return html.unescape(
        re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", response.get_data(as_text=True)))
    )


def _code(client, wave_id: int, response_id: str, themes: list[str], quotable: bool = False):
    path = f"/comments/waves/{wave_id}/M90/code/{response_id}"
    data = {"csrf_token": csrf(client, path), "themes": themes}
    if quotable:
        data["quotable"] = "y"
    return client.post(path, data=data)


def _report(client) -> str:
    response = client.get("/dashboard/report.html")
    assert response.status_code == 200
    return response.get_data(as_text=True)


# --------------------------------------------------------------------------- safeguarding


def test_reviewer_queue_is_for_reviewers_and_an_action_is_required(db_app) -> None:
    with db_app.app_context():
        _, ids = _wave_with_comments([FLAGGED, "The new leader is listening at last"])
    flagged = ids[FLAGGED]
    analyst = _signed_in(db_app, "analyst@council.example", Role.ANALYST)
    viewer = _signed_in(db_app, "viewer@council.example", Role.VIEWER)
    for client in (analyst, viewer):
        assert client.get("/comments/safeguarding").status_code == 403
        assert client.get(f"/comments/safeguarding/{flagged}/M90").status_code == 403

    add_user(db_app, "reviewer@council.example", Role.SAFEGUARDING)
    reviewer = db_app.test_client()
    landed = sign_in(reviewer, "reviewer@council.example")
    assert landed.headers["Location"] == "/comments/safeguarding"  # the queue is their start page
    queue = reviewer.get("/comments/safeguarding")
    assert queue.status_code == 200
    text = _text(queue)
    assert FLAGGED in text and "afraid to report, bullied" in text
    assert "listening at last" not in text  # only flagged comments
    assert reviewer.get("/staff/").status_code == 403  # and nothing else
    assert reviewer.get("/comments/").status_code == 403

    path = f"/comments/safeguarding/{flagged}/M90"
    empty = reviewer.post(path, data={"csrf_token": csrf(reviewer, path), "action": "  "})
    assert empty.status_code == 400
    page = empty.get_data(as_text=True)
    assert "There is a problem" in page and 'href="#action"' in page
    assert "Enter what was done about this comment" in page
    done = reviewer.post(
        path, data={"csrf_token": csrf(reviewer, path), "action": "Referred to HR case 123"}
    )
    assert done.status_code == 302 and done.headers["Location"] == "/comments/safeguarding"
    with db_app.app_context():
        flag = db.session.get(SafeguardingFlag, (flagged, "M90"))
        assert flag.status is FlagStatus.ACTIONED and flag.action == "Referred to HR case 123"
        assert flag.actioned_on == clock.today() and type(flag.actioned_on) is dt.date
    assert "safeguarding flag actioned" in audit_actions(db_app)
    assert "Referred to HR case 123" in _text(reviewer.get("/comments/safeguarding"))
    assert reviewer.get("/comments/safeguarding/no-such-response/M90").status_code == 404


def test_admin_can_give_the_safeguarding_role(app, client) -> None:
    add_user(app, "admin@council.example", Role.ADMIN)
    sign_in(client, "admin@council.example")
    form = client.get("/admin/users/new").get_data(as_text=True)
    assert 'value="safeguarding"' in form and "Safeguarding reviewer" in form
    nav = client.get("/comments/safeguarding").get_data(as_text=True)
    assert nav.index("Safeguarding review") < nav.index("Scorecard")  # first in the navigation


def test_flags_are_made_when_held_submissions_are_released(db_app) -> None:
    respondent = db_app.test_client()
    with db_app.app_context():
        wave = make_wave("staff-pulse")
        slug, instrument = wave.slug, wave.instrument_version.instrument
        text_id = next(q.id for q in instrument.questions if q.type == "text")
    answers = full_answers(instrument) | {text_id: "Whistleblowing here gets you moved on"}
    assert respondent.get(f"/s/{slug}").status_code == 200
    sent = send(respondent, slug, answer_pages(respondent, slug, instrument, answers))
    assert sent.status_code == 303
    with db_app.app_context():
        assert db.session.scalar(select(func.count()).select_from(SafeguardingFlag)) == 0  # held
    result = db_app.test_cli_runner().invoke(args=["survey", "release", "--all"])
    assert result.exit_code == 0, result.output
    with db_app.app_context():
        flags = db.session.scalars(select(SafeguardingFlag)).all()
        assert [(f.question_id, f.signals, f.status) for f in flags] == [
            (text_id, ["whistleblowing"], FlagStatus.OPEN)
        ]


def test_a_flagged_submission_is_released_with_its_flag_or_not_at_all(cached_app) -> None:
    """If the flag cannot be stored, the release stores nothing: the submission stays held
    (the respondent was told it was sent, and it was), and the next release takes it with
    its flag."""
    app, respondent = cached_app, cached_app.test_client()
    with app.app_context():
        wave = make_wave("staff-pulse")
        slug, instrument = wave.slug, wave.instrument_version.instrument
        text_id = next(q.id for q in instrument.questions if q.type == "text")
        engine = db.engine
    answers = full_answers(instrument) | {text_id: "Whistleblowing here gets you moved on"}
    assert (
        send(respondent, slug, answer_pages(respondent, slug, instrument, answers)).status_code
        == 303
    )

    def refuse_flags(conn, cursor, statement, *args) -> None:
        if "INSERT INTO safeguarding_flag" in statement:
            raise OperationalError(statement, {}, Exception("disk full"))

    event.listen(engine, "before_cursor_execute", refuse_flags)
    try:
        with pytest.raises(OperationalError):
            release_all(app)
    finally:
        event.remove(engine, "before_cursor_execute", refuse_flags)
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Response)) == 0
        assert db.session.scalar(select(func.count()).select_from(HeldSubmission)) == 1
    assert release_all(app) == 1
    with app.app_context():
        stored = db.session.scalar(select(Response.id))
        flag = db.session.get(SafeguardingFlag, (stored, text_id))
        assert flag is not None and flag.signals == ["whistleblowing"]


def test_flags_are_made_for_imported_paper_returns(app) -> None:
    with app.app_context():
        wave_id = make_wave("member-pulse").id
    analyst = _signed_in(app, "analyst@council.example", Role.ANALYST)
    path = f"/programme/waves/{wave_id}/returns/new"
    upload = analyst.post(
        f"/programme/waves/{wave_id}/returns/import",
        data={
            "csrf_token": csrf(analyst, path),
            "file": (
                __import__("io").BytesIO(b"M01,M90\n4,There is abuse of power here\n5,Fine\n"),
                "r.csv",
            ),
        },
        content_type="multipart/form-data",
    )
    assert upload.status_code == 302, upload.get_data(as_text=True)
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Response)) == 2
        assert [f.signals for f in db.session.scalars(select(SafeguardingFlag))] == [["abuse"]]


# --------------------------------------------------------------------------- coding


def test_flagged_comment_is_withheld_from_coding_and_quotes_until_actioned(db_app) -> None:
    comments = [
        FLAGGED,
        "Quote me: the leader listens now",
        "Quote me too: briefings improved",
        "Please do not quote this one",
    ]
    with db_app.app_context():
        wave_id, ids = _wave_with_comments(comments, extra_responses=8)  # 12 responses >= 10
        compute_results()
    analyst = _signed_in(db_app, "analyst@council.example", Role.ANALYST)
    sample = _text(analyst.get(f"/comments/waves/{wave_id}/M90"))
    assert "Quote me: the leader listens now" in sample and FLAGGED not in sample
    assert "1 held for safeguarding review" in sample
    assert analyst.get(f"/comments/waves/{wave_id}/M90/code/{ids[FLAGGED]}").status_code == 404
    for text in comments[1:]:
        assert (
            _code(
                analyst, wave_id, ids[text], [THEME.id], quotable=text.startswith("Quote")
            ).status_code
            == 302
        )
    with db_app.app_context():  # as if coded quotable before a later flag (e.g. migration 0005)
        db.session.add(
            CommentCoding(
                response_id=ids[FLAGGED],
                question_id="M90",
                coder_id=1,
                themes=[THEME.id],
                quotable=True,
                coded_on=dt.date.today(),
            )
        )
        db.session.commit()

    report = _report(analyst)
    assert (
        "Quote me: the leader listens now" in report
        and "Quote me too: briefings improved" in report
    )
    assert "Please do not quote this one" not in report  # not marked quotable
    assert "bullied by my manager" not in report  # open flag
    outcome = _text(analyst.get(f"/dashboard/outcomes/{THEME.outcomes[0]}/members"))
    assert "Quote me: the leader listens now" in outcome and "bullied by my manager" not in outcome

    reviewer = _signed_in(db_app, "reviewer@council.example", Role.SAFEGUARDING)
    path = f"/comments/safeguarding/{ids[FLAGGED]}/M90"
    reviewer.post(
        path, data={"csrf_token": csrf(reviewer, path), "action": "Passed to the safeguarding lead"}
    )
    assert "bullied by my manager" in _report(analyst)
    assert FLAGGED in _text(analyst.get(f"/comments/waves/{wave_id}/M90"))


def _agreement_row(page: str, label: str) -> list[str]:
    row = re.search(
        rf"<tr[^>]*>\s*<t[dh][^>]*>{re.escape(label)}</t[dh]>(.*?)</tr>", page, re.DOTALL
    ).group(1)
    return [
        html.unescape(re.sub(r"<[^>]+>", "", cell)).strip()
        for cell in re.findall(r"<td[^>]*>(.*?)</td>", row, re.DOTALL)
    ]


def test_two_coders_code_independently_and_their_agreement_is_reported(db_app) -> None:
    comments = ["Comment one", "Comment two", "Comment three", "Comment four"]
    with db_app.app_context():
        wave_id, ids = _wave_with_comments(comments)
    a = _signed_in(db_app, "a@council.example", Role.ANALYST)
    b = _signed_in(db_app, "b@council.example", Role.ANALYST)
    # The theme decisions: A says yes for comments 1-3, B for comments 1-2.
    for text, a_yes, b_yes in zip(comments, (1, 1, 1, 0), (1, 1, 0, 0), strict=True):
        assert _code(a, wave_id, ids[text], [THEME.id] if a_yes else []).status_code == 302
        page = b.get(f"/comments/waves/{wave_id}/M90/code/{ids[text]}").get_data(as_text=True)
        assert re.search(rf'value="{THEME.id}"[^>]*checked', page) is None  # never A's codes
        assert _code(b, wave_id, ids[text], [THEME.id] if b_yes else []).status_code == 302
    mine = a.get(f"/comments/waves/{wave_id}/M90/code/{ids['Comment one']}").get_data(as_text=True)
    assert re.search(
        rf'value="{THEME.id}"[^>]*checked', mine
    )  # a coder sees their own coding again

    with db_app.app_context():
        coder_ids = sorted(db.session.scalars(select(CommentCoding.coder_id).distinct()))
    page = a.get(
        f"/comments/waves/{wave_id}/M90/agreement?coder_a={coder_ids[0]}&coder_b={coder_ids[1]}"
    )
    assert page.status_code == 200
    body = page.get_data(as_text=True)
    # Theme: 4 comments, agree on 3. p_o = 3/4; A says yes 3/4, B 2/4, so
    # p_e = 3/4*2/4 + 1/4*2/4 = 1/2 and kappa = (3/4 - 1/2) / (1 - 1/2) = 0.50.
    # Alpha (nominal): 8 values (5 yes, 3 no), one disagreeing unit:
    # 1 - (8 - 1) * 2 / (2 * 5 * 3) = 1 - 14/30 = 0.53.
    assert _agreement_row(body, THEME.label) == ["4", "75%", "0.50", "0.53"]
    # Overall: 10 themes x 4 comments = 40 decisions, 39 agree; A says yes 3, B 2:
    # p_e = 3/40*2/40 + 37/40*38/40 = 1412/1600, kappa = (39/40 - 1412/1600) / (1 - 1412/1600) = 0.79.
    n_themes = len(CODEBOOK.themes)
    p_o, p_e = (
        1 - 1 / (4 * n_themes),
        (3 * 2 + (4 * n_themes - 3) * (4 * n_themes - 2)) / (4 * n_themes) ** 2,
    )
    overall = _agreement_row(body, "All themes")
    assert overall[:3] == ["4", f"{100 * p_o:.0f}%", f"{(p_o - p_e) / (1 - p_e):.2f}"]
    other = _agreement_row(body, CODEBOOK.themes[1].label)
    assert other[2].startswith("not defined:") and "same decision on every comment" in other[2]

    same = a.get(
        f"/comments/waves/{wave_id}/M90/agreement?coder_a={coder_ids[0]}&coder_b={coder_ids[0]}"
    )
    assert same.status_code == 400 and "Choose two different coders" in same.get_data(as_text=True)
    bad = a.get(f"/comments/waves/{wave_id}/M90/agreement?coder_a=abc&coder_b=1")
    assert bad.status_code == 400 and "There is a problem" in bad.get_data(as_text=True)


def test_bad_addresses_and_forms_are_404_or_errors_never_500(app) -> None:
    with app.app_context():
        wave_id, ids = _wave_with_comments(["Comment one"])
    analyst = _signed_in(app, "analyst@council.example", Role.ANALYST)
    for path in (
        "/comments/waves/999/M90",
        f"/comments/waves/{wave_id}/M01",
        f"/comments/waves/{wave_id}/NOPE/agreement",
        f"/comments/waves/{wave_id}/M90/code/not-a-response",
    ):
        assert analyst.get(path).status_code == 404, path
    for n in ("0", "abc", "100000"):
        page = analyst.get(f"/comments/waves/{wave_id}/M90?n={n}")
        assert page.status_code == 400 and 'href="#n"' in page.get_data(as_text=True), n
    bad_theme = _code(analyst, wave_id, ids["Comment one"], ["no-such-theme"])
    assert bad_theme.status_code == 400 and "There is a problem" in bad_theme.get_data(as_text=True)


# --------------------------------------------------------------------------- quotes


def test_no_quote_from_a_group_under_the_minimum_size(db_app) -> None:
    minimum = load_definitions().framework.min_n("members")
    with db_app.app_context():
        wave_id, ids = _wave_with_comments(
            ["A quotable remark about briefings"], extra_responses=minimum - 2
        )
        compute_results()
    analyst = _signed_in(db_app, "analyst@council.example", Role.ANALYST)
    _code(analyst, wave_id, ids["A quotable remark about briefings"], [THEME.id], quotable=True)
    assert "A quotable remark about briefings" not in _report(analyst)  # minimum - 1 responses
    assert "A quotable remark" not in _text(
        analyst.get(f"/dashboard/outcomes/{THEME.outcomes[0]}/members")
    )
    with db_app.app_context():
        db.session.add(Response(wave_id=wave_id, submitted_on=dt.date(2026, 7, 3)))
        db.session.commit()
    assert "A quotable remark about briefings" in _report(analyst)  # exactly the minimum


# --------------------------------------------------------------------------- migration


def test_migration_0005_redacts_and_flags_existing_comments(database_url) -> None:
    from flask_migrate import downgrade, upgrade

    app = make_app(database_url)
    original = "Email jo.bloggs@example.org or ring 07700 900123: Whitfield bullied me"
    with app.app_context():
        upgrade(revision="0004")
        member_wave_with([{"M90": original, "M01": "4"}])
        response_id = db.session.scalar(select(Response.id))
        db.session.commit()
        db.session.remove()
        upgrade()
        stored = dict(db.session.execute(select(Answer.question_id, Answer.value)).all())
        assert stored["M90"] == "Email [email] or ring [phone]: [name] bullied me"
        assert stored["M01"] == "4"
        flag = db.session.get(SafeguardingFlag, (response_id, "M90"))
        assert flag.status is FlagStatus.OPEN and flag.signals == ["bullied"]
        db.session.remove()
        downgrade(revision="0004")  # drops the tables; the redaction stays
        assert db.session.scalar(
            select(Answer.value).where(Answer.question_id == "M90")
        ).startswith("Email [email]")
        db.session.remove()
        db.engine.dispose()


def test_deleting_a_response_deletes_its_flags_and_codings(db_app) -> None:
    # Retention deletes responses with plain DELETEs: the database must take the rest with them.
    from sqlalchemy import delete

    with db_app.app_context():
        _, ids = _wave_with_comments([FLAGGED])
        db.session.add(
            CommentCoding(
                response_id=ids[FLAGGED],
                question_id="M90",
                coder_id=add_user(db_app, "a@council.example", Role.ANALYST),
                themes=[],
                quotable=False,
                coded_on=dt.date.today(),
            )
        )
        db.session.commit()
        db.session.execute(delete(Answer))
        db.session.execute(delete(Response))
        db.session.commit()
        assert db.session.scalar(select(func.count()).select_from(SafeguardingFlag)) == 0
        assert db.session.scalar(select(func.count()).select_from(CommentCoding)) == 0
