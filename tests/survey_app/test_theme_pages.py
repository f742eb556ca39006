"""Themes on the outcome page and in the quarterly report: the share of commenting
respondents with its interval, change and sentiment in words; a row under
``min_comment_group_size`` says why and shows no figure; viewers see published waves only."""

from __future__ import annotations

import datetime as dt
import html
import re

from sqlalchemy import select
from statsmodels.stats.proportion import proportion_confint

from instruments import load_definitions
from survey_app import clock
from survey_app.extensions import db
from survey_app.models import Role, Wave
from survey_app.results import compute_results

from .helpers import add_user, member_wave_with, sign_in

MENTION = "Better communication from officers please"
OTHER = "Nothing else to add"
PAGE = "/dashboard/outcomes/O2/members"  # the communication theme maps to O2
LABEL = load_definitions().codebook.themes[0].label


def _members(comments: list[str | None]) -> list[dict[str, str]]:
    instrument = load_definitions().instruments["member-pulse"]
    rows = []
    for comment in comments:
        answers = {q.id: "4" for q in instrument.scale_questions}
        if comment is not None:
            answers["M90"] = comment
        rows.append(answers)
    return rows


def _text(response) -> str:
    assert response.status_code == 200
    return html.unescape(
        re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", response.get_data(as_text=True)))
    )


def _client(app, email: str, role: Role):
    add_user(app, email, role)
    client = app.test_client()
    assert sign_in(client, email).status_code == 302
    return client


def test_outcome_page_and_report_show_theme_share_interval_and_sentiment(db_app) -> None:
    with db_app.app_context():
        member_wave_with(_members([MENTION] * 6 + [OTHER] * 6 + [None] * 3))
        compute_results()
    analyst = _client(db_app, "analyst@council.example", Role.ANALYST)
    page = _text(analyst.get(PAGE))
    low, high = proportion_confint(6, 12, method="wilson")
    row = re.search(re.escape(LABEL) + r" \(member-pulse\) (.*?) (?:Download|$)", page)
    assert row, page
    assert row.group(1).startswith(f"12 50% {100 * low:.0f}% to {100 * high:.0f}%")
    assert "no earlier wave to compare" in row.group(1)
    assert "on average (" in row.group(1)
    report = _text(analyst.get("/dashboard/report.html"))
    assert f"{LABEL} 50% of 12 {100 * low:.0f}% to {100 * high:.0f}%" in report


def test_too_few_commenting_respondents_show_no_figure(db_app) -> None:
    minimum = load_definitions().framework.min_comment_group_size
    with db_app.app_context():
        # enough respondents to report the outcome, one commenter short of the minimum
        member_wave_with(_members([MENTION] * (minimum - 1) + [None] * 10))
        compute_results()
    analyst = _client(db_app, "analyst@council.example", Role.ANALYST)
    page = _text(analyst.get(PAGE))
    assert f"{LABEL} (member-pulse) not reported: fewer than {minimum} people commented" in page
    assert "Share mentioning it" in page and "100%" not in page.split("Themes in comments")[1]
    report = _text(analyst.get("/dashboard/report.html"))
    assert f"Every theme not reported: fewer than {minimum} people commented" in report


def test_viewer_sees_themes_of_published_waves_only(db_app) -> None:
    with db_app.app_context():
        wave = db.session.get(Wave, member_wave_with(_members([MENTION] * 12)))
        wave.closes_on = clock.today() + dt.timedelta(days=30)  # still in fieldwork
        db.session.commit()
        compute_results()
    viewer = _client(db_app, "viewer@council.example", Role.VIEWER)
    analyst = _client(db_app, "analyst@council.example", Role.ANALYST)
    assert f"{LABEL} (member-pulse) 12 100%" in _text(analyst.get(PAGE))
    assert "Themes in comments" not in _text(viewer.get(PAGE))
    with db_app.app_context():
        wave = db.session.scalars(select(Wave)).one()
        wave.closes_on = clock.today() - dt.timedelta(days=1)
        db.session.commit()
        compute_results()  # publishes the closed wave
    page = _text(viewer.get(PAGE))
    assert "Themes in comments" in page and f"{LABEL} (member-pulse) 12 100%" in page


def test_coding_page_suggests_topics_without_applying_them(db_app) -> None:
    from sqlalchemy import func

    from survey_app.comments.flags import flag_comments
    from survey_app.models import Answer, CommentCoding

    comments = ["Parking permits cost too much"] * 4 + ["Potholes on every road"] * 4
    comments += ["I was bullied by my manager and I am afraid to report it"]
    with db_app.app_context():
        wave_id = member_wave_with(_members(comments))
        flag_comments([r for (r,) in db.session.execute(select(Answer.response_id).distinct())])
        db.session.commit()
        response_id = db.session.scalar(
            select(Answer.response_id).where(Answer.value == comments[0]).limit(1)
        )
    analyst = _client(db_app, "analyst@council.example", Role.ANALYST)
    page = _text(analyst.get(f"/comments/waves/{wave_id}/M90/code/{response_id}"))
    assert "Possible new themes" in page
    assert re.search(r"Topic \d: [^.]*parking", page) and re.search(
        r"Topic \d: [^.]*potholes", page
    )
    assert "“Potholes on every road”" in page
    assert "bullied" not in page  # a comment withheld for safeguarding is never an example
    with db_app.app_context():  # looking is not coding
        assert db.session.scalar(select(func.count()).select_from(CommentCoding)) == 0
