"""Survey forms built from an instrument definition.

An instrument is split into pages: consecutive questions that share a ``section`` make one
page (questions without a section join the page before them, or start one), and the optional
"about you" attributes make a last page. Each page is a Flask-WTF form class made on the fly:
scale and choice questions are GOV.UK radios, free text a GOV.UK textarea.

Stored values follow the export format: a scale answer is its 1-based position as a string,
don't-know is ``dk``, a choice is its label, free text is stripped and redacted.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, ClassVar

from flask import render_template
from flask_wtf import FlaskForm
from govuk_frontend_wtf.wtforms_widgets import (
    GovRadioInput,
    GovSubmitInput,
    GovTextArea,
    GovTextInput,
)
from markupsafe import Markup
from wtforms import EmailField, HiddenField, RadioField, SubmitField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import Email, InputRequired, Length, Optional, StopValidation

from analysis.text.redaction import redact
from instruments import Instrument
from instruments.schema import Attribute, Question

from ..definitions import current_definitions

DONT_KNOW = "dk"
PREFER_NOT_TO_SAY = "Prefer not to say"
SUBMIT_FIELD = "continue_button"
ABOUT_YOU = "About you"
NOTHING_ANSWERED = "You have not answered any questions"


@dataclass(frozen=True)
class Page:
    """One page of a survey: a heading and the questions and attributes on it."""

    number: int
    heading: str
    questions: tuple[Question, ...] = ()
    attributes: tuple[Attribute, ...] = ()
    hint: str | None = None

    @property
    def field_ids(self) -> list[str]:
        return [q.id for q in self.questions] + [a.id for a in self.attributes]


@dataclass
class Problem:
    """A validation problem with one answer, for the GOV.UK error summary."""

    field_id: str
    message: str
    page: int = 1


def pages_of(instrument: Instrument) -> list[Page]:
    groups: list[tuple[str | None, list[Question]]] = []
    for question in instrument.questions:
        if groups and (question.section is None or question.section == groups[-1][0]):
            groups[-1][1].append(question)
        else:
            groups.append((question.section, [question]))
    pages = [
        Page(number=i + 1, heading=section or instrument.title, questions=tuple(questions))
        for i, (section, questions) in enumerate(groups)
    ]
    if instrument.attributes:
        pages.append(
            Page(
                number=len(pages) + 1,
                heading=ABOUT_YOU,
                attributes=tuple(instrument.attributes),
                hint="These questions are optional. They help us check that the answers we get "
                "represent everyone. They are never used to identify you.",
            )
        )
    return pages


def page_of_field(instrument: Instrument, field_id: str) -> int:
    for page in pages_of(instrument):
        if field_id in page.field_ids:
            return page.number
    raise KeyError(field_id)


# --------------------------------------------------------------------------- values


def scale_choices(instrument: Instrument, question: Question) -> list[SelectChoice]:
    scale = instrument.scale_of(question)
    choices = [SelectChoice(str(i + 1), label) for i, label in enumerate(scale.labels)]
    if scale.dont_know:
        choices.append(SelectChoice(DONT_KNOW, scale.dont_know))
    return choices


@lru_cache(maxsize=64)
def scale_values(points: int, dont_know: bool) -> frozenset[str]:
    """The stored values a scale question can take: positions "1".."k", and "dk"."""
    return frozenset([str(i + 1) for i in range(points)] + ([DONT_KNOW] if dont_know else []))


def display_value(instrument: Instrument, field_id: str, value: str | None) -> str | None:
    """The text a respondent chose, for the check-answers page."""
    if value is None:
        return None
    try:
        question = instrument.question(field_id)
    except KeyError:
        return value
    if question.type == "scale":
        for choice in scale_choices(instrument, question):
            if choice.value == value:
                return choice.label
    return value


def clean_value(instrument: Instrument, field_id: str, value: Any) -> str | None:
    """The stored form of an answer, or ``None`` for "not answered"; raises ``ValueError``
    for a value the question cannot take. Used again on the whole submission at the end,
    so a tampered session or skipped page can never store an invalid value."""
    if value is None or value == "":
        return None
    attribute = next((a for a in instrument.attributes if a.id == field_id), None)
    return _clean_item(instrument, attribute or instrument.question(field_id), value)


def _clean_item(instrument: Instrument, item: Question | Attribute, value: Any) -> str | None:
    """:func:`clean_value` for a question or attribute already in hand."""
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise ValueError("not text")  # noqa: TRY004 - callers treat any bad value alike
    if isinstance(item, Attribute):
        if value == PREFER_NOT_TO_SAY:
            return None
        if value not in item.choices:
            raise ValueError("not one of the options")
        return value
    question = item
    if question.type == "scale":
        scale = instrument.scale_of(question)
        if value not in scale_values(len(scale.labels), bool(scale.dont_know)):
            raise ValueError("not one of the options")
        return value
    if question.type == "choice":
        if value not in (question.choices or []):
            raise ValueError("not one of the options")
        return value
    text = value.strip()
    if len(text) > question.max_length:
        raise ValueError(f"longer than {question.max_length} characters")
    # Redacted again (redaction is idempotent) for the channels that bring text not
    # entered through a draft: the original text is never stored.
    return _redacted(text) or None


def _redacted(text: str) -> str:
    # The one redaction function of the product, with the names the council configured.
    return redact(text, current_definitions().redaction.names)


def redact_text_answers(instrument: Instrument, answers: dict[str, str]) -> dict[str, str]:
    """``answers`` with every answer to a text question redacted (others unchanged)."""
    text_ids = {q.id for q in instrument.questions if q.type == "text"}
    return {k: _redacted(v) if k in text_ids else v for k, v in answers.items()}


def redact_for_draft(page: Page, answers: dict[str, str]) -> tuple[dict[str, str], list[Problem]]:
    """A page's posted answers as they enter the draft: free text redacted (so the check
    page, the draft and the response all hold the redacted text, never the original), and
    a problem for any text that redaction made longer than its question allows."""
    entered: dict[str, str] = {}
    problems: list[Problem] = []
    for question in page.questions:
        value = answers.get(question.id)
        if value is None:
            continue
        if question.type == "text":
            value = _redacted(value)
            if len(value) > question.max_length:
                problems.append(
                    Problem(
                        question.id,
                        (
                            f"Your answer to {quoted(question.text)} is longer than "
                            f"{question.max_length:,} characters once personal details are replaced by "
                            "labels such as [email]: shorten it"
                        ),
                        page.number,
                    )
                )
        entered[question.id] = value
    entered.update({a.id: answers[a.id] for a in page.attributes if a.id in answers})
    return entered, problems


def check_answers(instrument: Instrument, answers: dict[str, Any]) -> list[Problem]:
    """Every problem with a complete set of answers (unknown ids, invalid values, missing
    required answers)."""
    return clean_answers(instrument, answers)[2]


def clean_answers(
    instrument: Instrument, answers: dict[str, Any]
) -> tuple[dict[str, str], dict[str, str], list[Problem]]:
    """A complete set of answers in stored form, in one pass: (answers by question id,
    attributes by attribute id, problems). Stored only if there are no problems; a set with
    no question answered (attributes alone do not count) is a problem."""
    problems: list[Problem] = []
    questions: dict[str, str] = {}
    attributes: dict[str, str] = {}
    known = {q.id for q in instrument.questions} | {a.id for a in instrument.attributes}
    for field_id in answers:
        if field_id not in known:
            problems.append(
                Problem(field_id, "An answer was given to a question that is not in this survey")
            )
    for page in pages_of(instrument):
        for item in page.questions + page.attributes:
            try:
                value = _clean_item(instrument, item, answers.get(item.id))
            except ValueError:
                problems.append(Problem(item.id, f"Answer {quoted(item.text)} again", page.number))
                continue
            if value is None:
                if isinstance(item, Question) and item.required:
                    problems.append(Problem(item.id, f"Answer {quoted(item.text)}", page.number))
            elif isinstance(item, Question):
                questions[item.id] = value
            else:
                attributes[item.id] = value
    if not questions and instrument.questions:
        # An empty send says nothing and would still be counted: refuse it, first.
        problems.insert(0, Problem(instrument.questions[0].id, NOTHING_ANSWERED, 1))
    return questions, attributes, problems


# --------------------------------------------------------------------------- forms


class _StripRequired(InputRequired):
    """Required, with a message that names the question (GOV.UK error message style)."""

    def __call__(self, form, field):  # noqa: ARG002 (WTForms' validator signature)
        if not field.raw_data or not str(field.raw_data[0]).strip():
            field.errors[:] = []
            raise StopValidation(self.message)


@dataclass
class FieldSpec:
    kind: str
    label: str
    hint: str | None = None
    choices: list[SelectChoice] = field(default_factory=list)
    max_length: int | None = None


class SurveyPageForm(FlaskForm):
    """Base class; a subclass per page is made by :func:`page_form`."""

    page_field_ids: ClassVar[list[str]] = []

    def answers(self) -> dict[str, str]:
        """The posted answers of this page in the session's (stored) form."""
        return {
            fid: self[fid].data for fid in self.page_field_ids if self[fid].data not in (None, "")
        }


def quoted(text: str, limit: int = 70) -> str:
    """A question's text for an error message, shortened at a word boundary."""
    if len(text) > limit:
        text = text[:limit].rsplit(" ", 1)[0].rstrip(",.;:") + "…"
    return f"“{text}”"


class SurveyRadios(GovRadioInput):
    """GOV.UK radios with an "or" divider before a don't-know or prefer-not-to-say option."""

    def map_gov_params(self, field, **kwargs):
        params = super().map_gov_params(field, **kwargs)
        items = params["items"]
        for position, item in enumerate(items):
            if position and item.get("value") in (DONT_KNOW, PREFER_NOT_TO_SAY):
                items.insert(position, {"divider": "or"})
                break
        return params

    def render(self, params: dict[str, Any]) -> Markup:
        """Rendering the GOV.UK radios macro is most of a question page's cost, and its output
        depends on nothing but these params, which never hold typed text (the values are
        the options, the error message names the question): each distinct one is rendered
        once per process."""
        return _rendered(self.template, json.dumps(params, sort_keys=True))


@lru_cache(maxsize=4096)
def _rendered(template: str, params_json: str) -> Markup:
    return Markup(render_template(template, params=json.loads(params_json)))


def _radio(label: str, hint: str | None, choices: list[SelectChoice], required: bool) -> RadioField:
    validators = (
        [_StripRequired(f"Select an answer to {quoted(label)}")] if required else [Optional()]
    )
    return RadioField(
        label,
        validators=validators,
        choices=choices,
        description=hint or "",
        widget=SurveyRadios(),
        validate_choice=True,
        invalid_choice_message=f"Select one of the options shown for {quoted(label)}",
    )


def page_form(
    instrument: Instrument, page: Page, submit_text: str = "Continue"
) -> type[SurveyPageForm]:
    attrs: dict[str, Any] = {"page_field_ids": page.field_ids}
    for question in page.questions:
        if question.type == "scale":
            attrs[question.id] = _radio(
                question.text, question.hint, scale_choices(instrument, question), question.required
            )
        elif question.type == "choice":
            attrs[question.id] = _radio(
                question.text,
                question.hint,
                [SelectChoice(c) for c in question.choices or []],
                question.required,
            )
        else:
            limit = question.max_length
            hint = f"{question.hint + ' ' if question.hint else ''}You can enter up to {limit:,} characters."
            validators = (
                [_StripRequired(f"Enter an answer to {quoted(question.text)}")]
                if question.required
                else [Optional()]
            )
            validators.append(
                Length(
                    max=limit,
                    message=(
                        f"Your answer to {quoted(question.text)} must be {limit:,} characters or fewer"
                    ),
                )
            )
            attrs[question.id] = TextAreaField(
                question.text,
                validators=validators,
                description=hint,
                widget=GovTextArea(),
                filters=[lambda v: v.strip() if isinstance(v, str) else v],
            )
    for attribute in page.attributes:
        choices = [SelectChoice(c) for c in attribute.choices] + [SelectChoice(PREFER_NOT_TO_SAY)]
        attrs[attribute.id] = _radio(attribute.text, attribute.hint, choices, False)
    attrs[SUBMIT_FIELD] = SubmitField(submit_text, widget=GovSubmitInput())
    return type(f"Page{page.number}Form", (SurveyPageForm,), attrs)


class CheckAnswersForm(FlaskForm):
    # Random per render and remembered in the session: the same submission posted twice
    # (double click, retry, back button) is stored once (see store.py).
    submission_key = HiddenField()
    submit = SubmitField("Send my answers", widget=GovSubmitInput())


class StartAgainForm(FlaskForm):
    """A shared device's "next person" button: a form (with its CSRF token), so a link or
    a prefetch cannot throw away someone's confirmation page."""

    submit = SubmitField("Start again for the next person", widget=GovSubmitInput())


class ResumeLinkForm(FlaskForm):
    """Where to e-mail a link that finishes an invite survey on another device. The address
    is used to send that one message and is not kept."""

    email = EmailField(
        "Your email address",
        widget=GovTextInput(),
        description="We send the link to this address and do not keep it.",
        validators=[
            InputRequired(message="Enter your email address"),
            Length(max=320),
            Email(
                message="Enter an email address like name@example.org", check_deliverability=False
            ),
        ],
    )
    submit = SubmitField("Send me the link", widget=GovSubmitInput())
