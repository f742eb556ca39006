"""Survey forms built from an instrument definition.

An instrument is split into pages: consecutive questions that share a ``section`` make one
page (questions without a section join the page before them, or start one), and the optional
"about you" attributes make a last page. Each page is a Flask-WTF form class made on the fly,
from the questions asked (:mod:`instruments.routing`: a question whose ``show_if`` does not
hold on the answers so far is left off; a page with nothing asked is skipped): scale and
choice questions are GOV.UK radios, multi questions GOV.UK checkboxes (an exclusive choice
after an "or" divider), numbers a GOV.UK text input with ``inputmode`` and the unit as its
suffix, a grid one radios fieldset per statement, free text a GOV.UK textarea. Texts are in
the respondent's language (:class:`instruments.translation.Localised`), values never are.

Stored values follow the export format: a scale answer is its 1-based position as a string,
don't-know is ``dk``, a choice is its (English) label, a multi answer the ticked 1-based
positions joined by commas (``"1,3"``), a number its decimal text, free text is stripped and
redacted; a question not asked is ``na`` (:data:`instruments.routing.NOT_ASKED`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from typing import Any, ClassVar

from flask import render_template
from flask_wtf import FlaskForm
from govuk_frontend_wtf.wtforms_widgets import (
    GovCheckboxesInput,
    GovRadioInput,
    GovSubmitInput,
    GovTextArea,
    GovTextInput,
)
from markupsafe import Markup
from wtforms import (
    EmailField,
    HiddenField,
    RadioField,
    SelectMultipleField,
    StringField,
    SubmitField,
    TextAreaField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import Email, InputRequired, Length, Optional, StopValidation

from analysis.text.redaction import redact
from instruments import Instrument
from instruments.routing import MULTI_SEPARATOR, NOT_ASKED, is_asked, ticked_positions
from instruments.schema import Attribute, Question
from instruments.translation import Localised

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
        """The ids answers on this page are stored under (a grid's statements, not the grid)."""
        return [fid for q in self.questions for fid in q.field_ids] + [
            a.id for a in self.attributes
        ]

    @property
    def items(self) -> list[Question | Attribute]:
        """What is answered on this page, in order: a grid's statements in place of the grid."""
        found: list[Question | Attribute] = []
        for question in self.questions:
            found.extend(question.statement_items() if question.type == "grid" else [question])
        return [*found, *self.attributes]

    @property
    def multi_ids(self) -> set[str]:
        return {q.id for q in self.questions if q.type == "multi"}


@dataclass
class Problem:
    """A validation problem with one answer, for the GOV.UK error summary."""

    field_id: str
    message: str
    page: int = 1


def pages_of(instrument: Instrument) -> list[Page]:
    groups = instrument.page_groups()
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


def asked_on(instrument: Instrument, page: Page, answers: dict[str, str]) -> Page:
    """``page`` with only the questions and attributes asked, given the answers so far (a
    condition only uses earlier pages, so this page's own answers never matter)."""
    return Page(
        number=page.number,
        heading=page.heading,
        questions=tuple(q for q in page.questions if is_asked(instrument, q, answers)),
        attributes=tuple(a for a in page.attributes if is_asked(instrument, a, answers)),
        hint=page.hint,
    )


def page_of_field(instrument: Instrument, field_id: str) -> int:
    for page in pages_of(instrument):
        if field_id in page.field_ids:
            return page.number
    raise KeyError(field_id)


# --------------------------------------------------------------------------- values


def scale_choices(
    instrument: Instrument, question: Question, texts: Localised | None = None
) -> list[SelectChoice]:
    texts = texts or Localised(instrument)
    scale = instrument.scale_of(question)
    name = question.scale or ""
    choices = [SelectChoice(str(i + 1), texts.scale_label(name, i)) for i in range(scale.k)]
    if scale.dont_know:
        choices.append(SelectChoice(DONT_KNOW, texts.dont_know(name)))
    return choices


@lru_cache(maxsize=64)
def scale_values(points: int, dont_know: bool) -> frozenset[str]:
    """The stored values a scale question can take: positions "1".."k", and "dk"."""
    return frozenset([str(i + 1) for i in range(points)] + ([DONT_KNOW] if dont_know else []))


def display_value(
    instrument: Instrument, field_id: str, value: str | None, texts: Localised | None = None
) -> str | None:
    """The text a respondent chose, for the check-answers page."""
    if value is None or value == NOT_ASKED:
        return None
    texts = texts or Localised(instrument)
    attribute = next((a for a in instrument.attributes if a.id == field_id), None)
    if attribute is not None:
        choices = attribute.choices
        return texts.choice(attribute, choices.index(value)) if value in choices else value
    try:
        question = instrument.question(field_id)
    except KeyError:
        return value
    if question.type == "scale":
        for choice in scale_choices(instrument, question, texts):
            if choice.value == value:
                return choice.label
    if question.type == "choice" and value in (question.choices or []):
        return texts.choice(question, (question.choices or []).index(value))
    if question.type == "multi":
        count = len(question.choices or [])
        labels = [texts.choice(question, p - 1) for p in ticked_positions(value) if p <= count]
        return ", ".join(labels) or None
    if question.type == "number":
        unit = texts.unit(question)
        return f"{value} {unit}" if unit else value
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
    if question.type == "multi":
        return clean_multi(question, value)
    if question.type == "number":
        return clean_number(question, value)
    text = value.strip()
    if len(text) > question.max_length:
        raise ValueError(f"longer than {question.max_length} characters")
    # Redacted again (redaction is idempotent) for the channels that bring text not
    # entered through a draft: the original text is never stored.
    return _redacted(text) or None


def clean_multi(question: Question, value: str) -> str | None:
    """A multi answer's stored form (ticked positions, ascending), or ``ValueError`` saying
    what is wrong: an unknown position, an exclusive choice ticked with others, too few or
    too many ticks."""
    choices = question.choices or []
    try:
        positions = sorted(set(ticked_positions(value)))
    except ValueError:
        raise ValueError("not one of the options") from None
    if not positions:
        return None
    if any(not 1 <= p <= len(choices) for p in positions):
        raise ValueError("not one of the options")
    exclusive = [p for p in positions if choices[p - 1] in question.exclusive]
    if exclusive and len(positions) > 1:
        raise ValueError(f"“{choices[exclusive[0] - 1]}” cannot be selected with other options")
    if not exclusive:
        if question.min is not None and len(positions) < question.min:
            raise ValueError(f"select at least {int(question.min)} options")
        if question.max is not None and len(positions) > question.max:
            raise ValueError(f"select no more than {int(question.max)} options")
    return MULTI_SEPARATOR.join(str(p) for p in positions)


def clean_number(question: Question, value: str) -> str:
    """A number answer's stored form (plain decimal text, no exponent), or ``ValueError``."""
    text = value.strip().replace(",", "")
    try:
        number = Decimal(text)
    except InvalidOperation:
        raise ValueError("a number") from None
    if not number.is_finite() or len(text) > 30:
        raise ValueError("a number")
    if question.integer and number != number.to_integral_value():
        raise ValueError("a whole number")
    if question.min is not None and number < Decimal(str(question.min)):
        raise ValueError(f"{question.min:g} or more")
    if question.max is not None and number > Decimal(str(question.max)):
        raise ValueError(f"{question.max:g} or less")
    if number == number.to_integral_value():
        return str(int(number))
    return format(number.normalize(), "f")


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
    for question in page.items:
        if not isinstance(question, Question):
            continue
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
    known = {q.id for q in instrument.answer_items} | {a.id for a in instrument.attributes}
    for field_id in answers:
        if field_id not in known:
            problems.append(
                Problem(field_id, "An answer was given to a question that is not in this survey")
            )
    given: dict[str, str] = {}  # the valid answers so far, which later conditions read
    for page in pages_of(instrument):
        for item in page.items:
            store = questions if isinstance(item, Question) else attributes
            if not is_asked(instrument, item, given):
                # Not asked: stored as such. An answer left from before an earlier answer
                # changed is dropped, never stored for a question the respondent did not see.
                store[item.id] = NOT_ASKED
                continue
            try:
                value = _clean_item(instrument, item, answers.get(item.id))
            except ValueError:
                problems.append(Problem(item.id, f"Answer {quoted(item.text)} again", page.number))
                continue
            if value is None:
                if isinstance(item, Question) and item.required:
                    problems.append(Problem(item.id, f"Answer {quoted(item.text)}", page.number))
            else:
                store[item.id] = value
                given[item.id] = value
    if not any(v != NOT_ASKED for v in questions.values()) and instrument.questions:
        # An empty send says nothing and would still be counted: refuse it, first.
        problems.insert(0, Problem(instrument.answer_items[0].id, NOTHING_ANSWERED, 1))
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
        found = {}
        for fid in self.page_field_ids:
            data = self[fid].data
            if isinstance(data, list):  # a multi question's ticked positions
                data = MULTI_SEPARATOR.join(data)
            if data not in (None, ""):
                found[fid] = data
        return found


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


class SurveyCheckboxes(GovCheckboxesInput):
    """GOV.UK checkboxes whose exclusive options ("None of these") come after an "or"
    divider and untick the others (GOV.UK Frontend's ``behaviour: exclusive``, with the
    same rule checked on the server, where it holds without JavaScript)."""

    def __init__(self, exclusive: set[str]) -> None:
        self.exclusive = exclusive

    def map_gov_params(self, field, **kwargs):
        params = super().map_gov_params(field, **kwargs)
        items = params["items"]
        first = next(
            (i for i, item in enumerate(items) if item.get("value") in self.exclusive), None
        )
        for item in items:
            if item.get("value") in self.exclusive:
                item["behaviour"] = "exclusive"
        if first:
            items.insert(first, {"divider": "or"})
        return params


class MultiField(SelectMultipleField):
    """A multi question: the draft holds ``"1,3"``, the form a list of positions."""

    def process_data(self, value):
        if isinstance(value, str):
            value = [p for p in value.split(MULTI_SEPARATOR) if p]
        super().process_data(value)

    def pre_validate(self, form):
        pass  # positions are checked by the question's own validator, with its message


class _MultiRule:
    def __init__(self, question: Question, label: str) -> None:
        self.question, self.label = question, label

    def __call__(self, form, field):  # noqa: ARG002 (WTForms' validator signature)
        joined = MULTI_SEPARATOR.join(field.data or [])
        if not joined:
            if self.question.required:
                raise StopValidation(f"Select at least one answer to {quoted(self.label)}")
            return
        try:
            clean_multi(self.question, joined)
        except ValueError as exc:
            raise StopValidation(f"For {quoted(self.label)}, {exc}") from None


class _NumberRule:
    def __init__(self, question: Question, label: str) -> None:
        self.question, self.label = question, label

    def __call__(self, form, field):  # noqa: ARG002 (WTForms' validator signature)
        if not (field.data or "").strip():
            if self.question.required:
                raise StopValidation(f"Enter a number for {quoted(self.label)}")
            return
        try:
            clean_number(self.question, field.data)
        except ValueError as exc:
            raise StopValidation(f"{quoted(self.label)} must be {exc}") from None


def number_hint(question: Question, hint: str | None) -> str | None:
    """The question's hint and, when it has one, its range (so the rule is not a surprise)."""
    low, high = question.min, question.max
    kind = "a whole number" if question.integer else "a number"
    if low is not None and high is not None:
        rule = f"Enter {kind} from {low:g} to {high:g}."
    elif low is not None:
        rule = f"Enter {kind}, {low:g} or more."
    elif high is not None:
        rule = f"Enter {kind}, {high:g} or less."
    else:
        rule = None
    return " ".join(p for p in (hint, rule) if p) or None


def _question_field(instrument: Instrument, question: Question, texts: Localised) -> Any:
    label, hint = texts.text(question), texts.hint(question)
    if question.type == "scale":
        return _radio(label, hint, scale_choices(instrument, question, texts), question.required)
    choices = question.choices or []
    if question.type == "choice":
        return _radio(
            label,
            hint,
            [SelectChoice(c, texts.choice(question, i)) for i, c in enumerate(choices)],
            question.required,
        )
    if question.type == "multi":
        return MultiField(
            label,
            choices=[
                SelectChoice(str(i + 1), texts.choice(question, i)) for i in range(len(choices))
            ],
            description=hint or "",
            validators=[_MultiRule(question, label)],
            widget=SurveyCheckboxes(
                {str(i + 1) for i, c in enumerate(choices) if c in question.exclusive}
            ),
        )
    if question.type == "number":
        return StringField(
            label,
            description=number_hint(question, hint) or "",
            validators=[_NumberRule(question, label)],
            widget=GovTextInput(),
            filters=[lambda v: v.strip() if isinstance(v, str) else v],
            render_kw={
                "inputmode": "numeric" if question.integer else "decimal",
                "spellcheck": False,
                "autocomplete": "off",
            },
        )
    limit = question.max_length
    hint = f"{hint + ' ' if hint else ''}You can enter up to {limit:,} characters."
    validators = (
        [_StripRequired(f"Enter an answer to {quoted(label)}")]
        if question.required
        else [Optional()]
    )
    validators.append(
        Length(
            max=limit,
            message=f"Your answer to {quoted(label)} must be {limit:,} characters or fewer",
        )
    )
    return TextAreaField(
        label,
        validators=validators,
        description=hint,
        widget=GovTextArea(),
        filters=[lambda v: v.strip() if isinstance(v, str) else v],
    )


def page_form(
    instrument: Instrument,
    page: Page,
    submit_text: str = "Continue",
    texts: Localised | None = None,
) -> type[SurveyPageForm]:
    texts = texts or Localised(instrument)
    attrs: dict[str, Any] = {"page_field_ids": page.field_ids}
    for item in page.items:
        if isinstance(item, Question):
            attrs[item.id] = _question_field(instrument, item, texts)
        else:
            choices = [
                SelectChoice(c, texts.choice(item, i)) for i, c in enumerate(item.choices)
            ] + [SelectChoice(PREFER_NOT_TO_SAY)]
            attrs[item.id] = _radio(texts.text(item), texts.hint(item), choices, False)
    attrs[SUBMIT_FIELD] = SubmitField(submit_text, widget=GovSubmitInput())
    return type(f"Page{page.number}Form", (SurveyPageForm,), attrs)


class CheckAnswersForm(FlaskForm):
    # Random per render and remembered in the session: the same submission posted twice
    # (double click, retry, back button) is stored once (see store.py).
    submission_key = HiddenField()
    # The held row this page's answers would become, sealed and signed by the server
    # (survey_app.ingestion.prepared): sending it needs no second read of the draft.
    prepared = HiddenField()
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
