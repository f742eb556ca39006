"""Respondents of a survey with routing, multi, number and grid questions and translations,
through HTTP without JavaScript: only the questions that apply are asked, and a question not
asked is stored as not asked."""

from __future__ import annotations

import re

import pandas as pd
import pytest
from sqlalchemy import select

from analysis.responses import multi_columns
from instruments import load_definitions
from survey_app.export import responses_frame
from survey_app.extensions import db
from survey_app.models import Answer, Response

from .survey_helpers import csrf_of, make_wave, release_all, send

INSTRUMENT = "resident-services"
# pages of resident-services: 1 services used, 2 the library, 3 waste, 4 the council (grid +
# comment), 5 about you
LIBRARY, WASTE, COUNCIL, ABOUT = 2, 3, 4, 5


@pytest.fixture
def survey(app):
    with app.app_context():
        wave = make_wave(INSTRUMENT)
        return app.test_client(), wave.slug


def _post(client, slug: str, number: int, data: dict, query: str = ""):
    page = client.get(f"/s/{slug}/{number}{query}")
    assert page.status_code == 200, page.status_code
    return client.post(
        f"/s/{slug}/{number}{query}",
        data={"csrf_token": csrf_of(page.get_data(as_text=True)), **data},
    )


def _where(response) -> str:
    assert response.status_code == 303, response.get_data(as_text=True)[:2000]
    return response.headers["Location"]


def test_pages_that_do_not_apply_are_skipped_and_stored_as_not_asked(app, survey) -> None:
    client, slug = survey
    # waste and recycling only: the library page is skipped, straight to waste
    first = _post(client, slug, 1, {"V01": ["2", "3"], "V02": "4"})
    assert _where(first) == f"/s/{slug}/{WASTE}"
    skipped = client.get(f"/s/{slug}/{LIBRARY}")
    assert _where(skipped) == f"/s/{slug}/{WASTE}"
    waste = client.get(f"/s/{slug}/{WASTE}").get_data(as_text=True)
    assert f'href="/s/{slug}/1"' in waste  # Back skips the library page too
    assert _where(_post(client, slug, WASTE, {"V20": "4"})) == f"/s/{slug}/{COUNCIL}"
    council = _post(
        client, slug, COUNCIL, {"V31": "4", "V32": "2", "V33": "dk", "V90": "More bins"}
    )
    assert _where(council) == f"/s/{slug}/{ABOUT}"
    assert _where(_post(client, slug, ABOUT, {"age_band": "16-34"})).startswith(f"/s/{slug}/check")
    check = client.get(f"/s/{slug}/check").get_data(as_text=True)
    assert "library service" not in check  # not asked, so not listed
    assert "Waste and recycling, Parks and open spaces" in check
    assert "4 times" in check
    assert send(client, slug, check).status_code == 303
    release_all(app)
    with app.app_context():
        stored = {a.question_id: a.value for a in db.session.scalars(select(Answer))}
        response = db.session.scalars(select(Response)).one()
    assert stored["V10"] == "na" and stored["V11"] == "na"  # the library page: not asked
    assert stored["V01"] == "2,3" and stored["V02"] == "4" and stored["V20"] == "4"
    assert stored["V31"] == "4" and stored["V33"] == "dk" and stored["V90"] == "More bins"
    assert response.attributes == {"age_band": "16-34"}
    with app.app_context():
        frame = responses_frame()
    row = frame.iloc[0]
    # multi: one column per choice in the question's place, 0/1 when answered
    columns = list(frame.columns)
    assert columns[columns.index("V01_1") : columns.index("V01_5") + 2] == [
        *(f"V01_{p}" for p in range(1, 6)),
        "V02",
    ]
    assert [row[f"V01_{p}"] for p in range(1, 6)] == ["0", "1", "1", "0", "0"]
    assert row["V02"] == "4" and row["V10"] == "na" and row["V11"] == "na"
    assert "V30" not in frame and row["V31"] == "4" and row["V32"] == "2"
    assert pd.isna(row["sex"]) and row["age_band"] == "16-34"


def test_multi_export_tells_not_asked_from_shown_and_left_blank() -> None:
    values = pd.Series(["1,3", None, "na", "2"], index=[10, 11, 12, 13])
    columns = multi_columns(values, "Q2", 3)
    assert list(columns.columns) == ["Q2_1", "Q2_2", "Q2_3"]
    assert columns.loc[10].tolist() == ["1", "0", "1"]
    assert columns.loc[11].isna().all()  # shown, nothing ticked: blank
    assert columns.loc[12].tolist() == ["na", "na", "na"]  # not asked
    assert columns.loc[13].tolist() == ["0", "1", "0"]


def test_changing_an_answer_that_hides_later_ones_removes_them_with_a_message(survey) -> None:
    client, slug = survey
    _post(client, slug, 1, {"V01": ["1"], "V02": "0"})
    assert (
        _where(_post(client, slug, LIBRARY, {"V10": "5", "V11": "Yes"})) == f"/s/{slug}/{COUNCIL}"
    )
    _post(client, slug, COUNCIL, {"V31": "3"})
    _post(client, slug, ABOUT, {})
    check = client.get(f"/s/{slug}/check").get_data(as_text=True)
    assert "library service" in check and "Very satisfied" in check
    changed = _post(client, slug, 1, {"V01": ["4"], "V02": "0"}, query="?change=1")
    location = _where(changed)
    assert location.startswith(f"/s/{slug}/check") and "removed=V10,V11" in location
    check = client.get(location).get_data(as_text=True)
    notice, rows = check.split("govuk-summary-list", 1)
    assert "Your answers to these questions were removed" in notice
    assert "with the library service?" in notice and "Would you recommend the library" in notice
    assert "Very satisfied" not in rows and "Would you recommend" not in rows
    # and the other way: an answer that brings in a page not asked before goes there next
    back_in = _post(client, slug, 1, {"V01": ["1", "2"], "V02": "0"}, query="?change=1")
    assert _where(back_in) == f"/s/{slug}/{LIBRARY}?change=1"
    assert _where(_post(client, slug, LIBRARY, {"V10": "2"}, query="?change=1")) == (
        f"/s/{slug}/{WASTE}?change=1"
    )
    # the address can only name this survey's questions that no longer apply
    forged = client.get(f"/s/{slug}/check?removed=V01,evil").get_data(as_text=True)
    assert "were removed" not in forged and "evil" not in forged


def test_multi_question_uses_checkboxes_with_an_exclusive_or(survey) -> None:
    client, slug = survey
    page = client.get(f"/s/{slug}/1").get_data(as_text=True)
    assert 'type="checkbox"' in page and "govuk-checkboxes__divider" in page
    none_box = re.search(r'<input[^>]*value="5"[^>]*>', page)
    assert none_box and 'data-behaviour="exclusive"' in none_box.group(0)
    both = _post(client, slug, 1, {"V01": ["1", "5"], "V02": "1"})
    assert both.status_code == 200
    assert "“None of these” cannot be selected with other options" in both.get_data(as_text=True)
    required = _post(client, slug, 1, {"V02": "1"}).get_data(as_text=True)
    assert "Select at least one answer to" in required


@pytest.mark.parametrize(
    ("typed", "problem"),
    [
        ("lots", "must be a number"),
        ("2.5", "must be a whole number"),
        ("101", "must be 100 or less"),
    ],
)
def test_number_question_says_what_is_wrong(survey, typed: str, problem: str) -> None:
    client, slug = survey
    page = client.get(f"/s/{slug}/1").get_data(as_text=True)
    box = re.search(r'<input[^>]*name="V02"[^>]*>', page)
    assert box and 'inputmode="numeric"' in box.group(0)
    assert "govuk-input__suffix" in page and ">times<" in page
    posted = _post(client, slug, 1, {"V01": ["1"], "V02": typed})
    assert posted.status_code == 200 and problem in posted.get_data(as_text=True)
    assert f'value="{typed}"' in posted.get_data(as_text=True)  # what was typed stays


def test_grid_is_one_fieldset_per_statement_with_its_own_error(app) -> None:
    base = load_definitions().instrument(INSTRUMENT)
    grid = base.question("V30").model_copy(update={"required": True})
    questions = [grid if q.id == "V30" else q for q in base.questions]
    instrument = base.model_validate(
        {**base.model_dump(), "id": "grid-test", "questions": [q.model_dump() for q in questions]}
    )
    with app.app_context():
        slug = make_wave("grid-test", instrument=instrument).slug
    client = app.test_client()
    _post(client, slug, 1, {"V01": ["5"]})
    page = client.get(f"/s/{slug}/{COUNCIL}").get_data(as_text=True)
    assert page.count("<fieldset") == 3 and "<table" not in page
    posted = _post(client, slug, COUNCIL, {"V31": "2"}).get_data(as_text=True)
    assert (
        'id="V32-error"' in posted and 'id="V33-error"' in posted and 'id="V31-error"' not in posted
    )
    assert "not include your name" not in posted  # the comment (None of these) is not asked


def test_language_choice_is_kept_and_marks_the_page(survey) -> None:
    client, slug = survey
    start = client.get(f"/s/{slug}").get_data(as_text=True)
    assert f'href="/s/{slug}?lang=pl"' in start and 'hreflang="pl"' in start
    assert ">Polski<" in start and ">Easy Read<" in start
    polish = client.get(f"/s/{slug}?lang=pl").get_data(as_text=True)
    assert "Ankieta dotycząca usług dla mieszkańców" in polish and 'lang="pl"' in polish
    page = client.get(f"/s/{slug}/1").get_data(as_text=True)  # kept in the session
    assert "Z których z tych usług rady korzystałeś" in page and "Żadna z tych" in page
    assert '<main class="govuk-main-wrapper" id="main-content" lang="pl"' in page
    easy = client.get(f"/s/{slug}/1?lang=en-easyread").get_data(as_text=True)
    assert "Bins and recycling" in easy and 'lang="en-x-easyread"' in easy
    urdu = client.get(f"/s/{slug}/1?lang=ur").get_data(as_text=True)
    assert 'dir="rtl"' in urdu and 'lang="ur"' in urdu
    assert "Library" in urdu  # untranslated choices fall back to English
    ignored = client.get(f"/s/{slug}/1?lang=xx").get_data(as_text=True)
    assert 'dir="rtl"' in ignored  # an unknown code changes nothing
    # values never depend on the language: a Polish answer is stored in English terms
    _post(client, slug, 1, {"V01": ["1"], "V02": "2"}, query="?lang=pl")
    _post(client, slug, LIBRARY, {"V11": "Yes"})
    check = client.get(f"/s/{slug}/check").get_data(as_text=True)
    assert "Tak" in check and "Biblioteka" in check and "2 razy" in check
