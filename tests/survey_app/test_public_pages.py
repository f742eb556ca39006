"""The pages a public body must publish (privacy notice, accessibility statement) and the
safeguarding signposting respondents see, all from configuration (issue 17 §5)."""

from __future__ import annotations

import re

import pytest

from survey_app.survey.forms import pages_of

from ..conftest import make_app
from .survey_helpers import answer_pages, full_answers, make_wave, send

SIGNPOST = "This survey is anonymous, so no one can reply to what you write."


def _text(html: str) -> str:
    return " ".join(re.sub(r"<[^>]+>", " ", html).split())


def test_privacy_notice_covers_article_13_and_states_retention_as_the_code_does(
    tmp_path,
) -> None:
    app = make_app(
        f"sqlite:///{tmp_path / 'p.db'}",
        PRIVACY_CONTACT="dpo@borough.example, 01234 567890",
        PRIVACY_CONTROLLER="Borough of Example",
        PRIVACY_RECIPIENTS="Only the insight team.",
        RETENTION_YEARS=3,
    )
    text = _text(app.test_client().get("/privacy").get_data(as_text=True))
    assert "Borough of Example is the data controller" in text
    assert "dpo@borough.example, 01234 567890" in text and "Only the insight team." in text
    assert "Public task" in text  # the parts not configured keep their defaults
    for heading in (
        "Why we ask",
        "Lawful basis",
        "Who sees it",
        "How long we keep it",
        "Your rights",
        "How to complain",
    ):
        assert heading in text
    # retention as the code does it: drafts go automatically, the rest by hand
    assert "deleted automatically once the survey has closed" in text
    assert "an analyst removes them from the wave's invitations page" in text
    assert "Survey answers are kept for 3 years" in text and "older than 3 years" in text
    assert "Information Commissioner's Office" in text and "ico.org.uk" in text
    assert "groups of at least 10 people" in text  # the framework's smallest group size


def test_accessibility_statement_follows_the_model_statement(tmp_path) -> None:
    app = make_app(
        f"sqlite:///{tmp_path / 'a.db'}",
        ACCESSIBILITY_CONTACT="Email access@borough.example or call 01234 000000.",
        ACCESSIBILITY_PREPARED="3 March 2027",
        ACCESSIBILITY_REVIEWED="4 April 2027",
        COUNCIL_NAME="Borough of Example",
    )
    text = _text(app.test_client().get("/accessibility").get_data(as_text=True))
    assert "This service is run by Borough of Example" in text
    assert text.count("Email access@borough.example or call 01234 000000.") == 2
    for part in (
        "How accessible this service is",
        "Feedback and contact information",
        "Reporting accessibility problems",
        "Enforcement procedure",
        "Equality and Human Rights Commission (EHRC)",
        "Equality Commission for Northern Ireland (ECNI)",
        "Compliance status",
        "partially compliant",
        "Non-accessible content",
        "Preparation of this accessibility statement",
        "prepared on 3 March 2027",
        "last reviewed on 4 April 2027",
        "axe-core",
    ):
        assert part in text, part


@pytest.mark.parametrize(
    "instrument_id, whistleblowing",
    [("staff-pulse", True), ("resident-perception", False)],
)
def test_every_free_text_question_and_the_confirmation_signpost_help(
    db_app, instrument_id: str, whistleblowing: bool
) -> None:
    db_app.config.update(
        SAFEGUARDING_CONTACT="Safeguarding: call 01234 111111.",
        WHISTLEBLOWING_CONTACT="Whistleblowing: hr@borough.example.",
        EMERGENCY_CONTACT="In an emergency call 999.",
    )
    client = db_app.test_client()
    with db_app.app_context():
        wave = make_wave(instrument_id)
        instrument = wave.instrument_version.instrument
        slug = wave.slug
    client.get(f"/s/{slug}")
    text_ids = {q.id for q in instrument.questions if q.type == "text"}
    pages = pages_of(instrument)
    assert any(text_ids & set(p.field_ids) for p in pages)
    for page in pages:
        shown = _text(client.get(f"/s/{slug}/{page.number}").get_data(as_text=True))
        has_text_question = bool(text_ids & set(page.field_ids))
        assert (SIGNPOST in shown) is has_text_question, page.number
        if has_text_question:
            assert "Safeguarding: call 01234 111111." in shown
            assert "In an emergency call 999." in shown
            assert ("Whistleblowing: hr@borough.example." in shown) is whistleblowing
    check = answer_pages(client, slug, instrument, full_answers(instrument))
    assert send(client, slug, check).status_code == 303
    done = _text(client.get(f"/s/{slug}/done").get_data(as_text=True))
    assert SIGNPOST in done and "Safeguarding: call 01234 111111." in done
    again = _text(client.get(f"/s/{slug}").get_data(as_text=True))  # sent already
    assert "Your answers have been sent" in again and SIGNPOST in again
