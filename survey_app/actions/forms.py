from __future__ import annotations

from flask_wtf import FlaskForm
from govuk_frontend_wtf.wtforms_widgets import (
    GovCheckboxInput,
    GovRadioInput,
    GovSelect,
    GovSubmitInput,
    GovTextArea,
    GovTextInput,
)
from wtforms import BooleanField, RadioField, SelectField, StringField, SubmitField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import URL, InputRequired, Length, Optional, ValidationError

from ..models import ActionStatus
from ..programme.forms import DayMonthYearField

STATUS_CHOICES = [SelectChoice(s.value, s.value.capitalize()) for s in ActionStatus]


class ActionForm(FlaskForm):
    """An action: what was heard (from which survey and wave, about which outcome, measure,
    theme or heatmap cell), what will be done, by whom and when, and how it stands."""

    title = StringField(
        "Title",
        widget=GovTextInput(),
        validators=[InputRequired(message="Enter a title for the action"), Length(max=200)],
    )
    instrument = SelectField(
        "Survey",
        widget=GovSelect(),
        validators=[InputRequired(message="Choose the survey it was heard in")],
    )
    heard_wave = SelectField(
        "Wave it was heard in",
        widget=GovSelect(),
        description="Its published figure is shown beside what was heard, when it is reportable.",
        coerce=lambda v: int(v) if v not in (None, "") else None,
        validators=[Optional()],
    )
    heard = TextAreaField(
        "What was heard",
        widget=GovTextArea(),
        validators=[InputRequired(message="Enter what was heard"), Length(max=4000)],
    )
    outcome = SelectField("Outcome", widget=GovSelect(), validators=[Optional()])
    measure = SelectField(
        "Measure",
        widget=GovSelect(),
        description="One of the outcome's measures, if any.",
        validators=[Optional()],
    )
    theme = SelectField("Comment theme", widget=GovSelect(), validators=[Optional()])
    cell = StringField(
        "Heatmap cell",
        widget=GovTextInput(),
        description="For example: S05, directorate Place.",
        validators=[Optional(), Length(max=200)],
    )
    planned = TextAreaField(
        "What will be done",
        widget=GovTextArea(),
        validators=[InputRequired(message="Enter what will be done"), Length(max=4000)],
    )
    owner_user = SelectField(
        "Owner (a staff user)",
        widget=GovSelect(),
        coerce=lambda v: int(v) if v not in (None, "") else None,
        validators=[Optional()],
    )
    owner_name = StringField(
        "Or a named officer",
        widget=GovTextInput(),
        description="For an owner without an account, for example: Head of HR.",
        validators=[Length(max=200)],  # not Optional(): it would skip the owner check
    )
    due_on = DayMonthYearField("Due date", validators=[InputRequired(message="Enter the due date")])
    status = RadioField(
        "Status",
        widget=GovRadioInput(),
        choices=STATUS_CHOICES,
        default=ActionStatus.NOT_STARTED.value,
        validators=[InputRequired(message="Choose the status")],
    )
    dropped_reason = TextAreaField(
        "Why it was dropped",
        widget=GovTextArea(),
        validators=[Length(max=2000)],  # not Optional(): it would skip the reason check
    )
    note = TextAreaField(
        "Progress note",
        widget=GovTextArea(),
        description="Added to the action's history; earlier notes are kept as they were.",
        validators=[Optional(), Length(max=4000)],
    )
    evidence_url = StringField(
        "Evidence link",
        widget=GovTextInput(),
        description="A web address where the evidence can be read, starting https://.",
        validators=[
            Optional(),
            Length(max=500),
            URL(require_tld=False, message="Enter a web address, like https://example.org/report"),
        ],
    )
    published = BooleanField(
        'Show on the public "You said, we did" page', widget=GovCheckboxInput()
    )
    submit = SubmitField("Save action", widget=GovSubmitInput())

    def validate_owner_name(self, field) -> None:
        if not self.owner_user.data and not (field.data or "").strip():
            raise ValidationError("Choose a staff user or name the officer who owns the action")

    def validate_dropped_reason(self, field) -> None:
        if self.status.data == ActionStatus.DROPPED.value and not (field.data or "").strip():
            raise ValidationError("Say why the action was dropped")

    def validate_measure(self, field) -> None:
        if field.data and not self.outcome.data:
            raise ValidationError("Choose the outcome the measure belongs to")

    def validate_evidence_url(self, field) -> None:
        if field.data and not field.data.lower().startswith(("https://", "http://")):
            raise ValidationError("Enter a web address starting https://")
