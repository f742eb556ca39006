from __future__ import annotations

import datetime as dt
from decimal import Decimal

from flask_wtf import FlaskForm
from flask_wtf.file import FileAllowed, FileField, FileRequired
from govuk_frontend_wtf.wtforms_widgets import (
    GovDateInput,
    GovFileInput,
    GovRadioInput,
    GovSelect,
    GovSubmitInput,
    GovTextArea,
    GovTextInput,
)
from wtforms import (
    DateField,
    DecimalField,
    HiddenField,
    IntegerField,
    RadioField,
    SelectField,
    StringField,
    SubmitField,
    TextAreaField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import InputRequired, Length, NumberRange, Optional, Regexp, ValidationError

from ..imports import new_form_key
from ..models import WaveMode


class DayMonthYearField(DateField):
    """A GOV.UK date input (day, month, year boxes sharing one name).

    A post that leaves the boxes out altogether, or sends the wrong number of them, gets a
    field error instead of the widget's ``ValueError``."""

    widget = GovDateInput()

    def __init__(self, label: str, **kwargs) -> None:
        super().__init__(label, format="%d %m %Y", **kwargs)

    def process_formdata(self, valuelist: list[str]) -> None:
        if len(valuelist) != 3:
            self.raw_data = ["", "", ""]
            self.data = None
            raise ValueError(f"Enter {self.label.text.lower()} as a day, month and year")
        day, month, year = (v.strip() for v in valuelist)
        if not (day and month and year):
            self.data = None
            raise ValueError(f"Enter {self.label.text.lower()} as a day, month and year")
        try:
            self.data = dt.date(int(year), int(month), int(day))
        except ValueError:
            self.data = None
            raise ValueError(f"{self.label.text} must be a real date, like 31 3 2027") from None


MODE_CHOICES = [
    SelectChoice(
        WaveMode.INVITE.value, "Personal links (one-time invitations, e.g. members, partners)"
    ),
    SelectChoice(WaveMode.OPEN.value, "Open link (anyone with the link, e.g. residents)"),
    SelectChoice(WaveMode.EVENT.value, "Roadshow events (a short link and QR code per event)"),
]


class WaveForm(FlaskForm):
    instrument_version = SelectField(
        "Survey and version",
        widget=GovSelect(),
        coerce=int,
        validators=[InputRequired(message="Choose a survey")],
    )
    label = StringField(
        "Wave name",
        widget=GovTextInput(),
        description="For example 2027-Q1. Waves are ordered by name.",
        validators=[
            InputRequired(message="Enter a wave name"),
            Length(max=64),
            Regexp(
                r"^[A-Za-z0-9][A-Za-z0-9 ._-]*$",
                message="Use letters, numbers, spaces, dots, dashes or underscores",
            ),
        ],
    )
    mode = RadioField(
        "How people answer",
        widget=GovRadioInput(),
        choices=MODE_CHOICES,
        validators=[InputRequired(message="Choose how people answer")],
    )
    opens_on = DayMonthYearField(
        "Opening date", validators=[InputRequired(message="Enter the opening date")]
    )
    closes_on = DayMonthYearField(
        "Closing date", validators=[InputRequired(message="Enter the closing date")]
    )
    audience_size = IntegerField(
        "Audience size",
        widget=GovTextInput(),
        description="How many people the wave is for (e.g. 49 members), so response rates are known.",
        validators=[
            Optional(),
            NumberRange(
                min=1, max=10_000_000, message="Enter a whole number of people, at least 1"
            ),
        ],
    )
    submit = SubmitField("Save wave", widget=GovSubmitInput())

    def validate_closes_on(self, field) -> None:
        if self.opens_on.data and field.data and field.data < self.opens_on.data:
            raise ValidationError("The closing date must be on or after the opening date")


class EventForm(FlaskForm):
    place = StringField(
        "Place",
        widget=GovTextInput(),
        validators=[InputRequired(message="Enter where the roadshow is held"), Length(max=200)],
    )
    held_on = DayMonthYearField(
        "Date of the event", validators=[InputRequired(message="Enter the date")]
    )
    submit = SubmitField("Add event", widget=GovSubmitInput())


class InvitationUploadForm(FlaskForm):
    file = FileField(
        "Invitation list (CSV)",
        widget=GovFileInput(),
        description="A CSV file with the column names on the first row: 'email', and optionally 'name'.",
        validators=[
            FileRequired(message="Choose a CSV file"),
            FileAllowed(["csv"], message="The file must be a .csv file"),
        ],
    )
    import_key = HiddenField(default=new_form_key)
    submit = SubmitField("Upload invitations", widget=GovSubmitInput())


class ActionForm(FlaskForm):
    submit = SubmitField("Confirm", widget=GovSubmitInput())


class PublishForm(FlaskForm):
    """Publish a wave's figures to viewers; a re-publish says why (it is audited)."""

    reason = TextAreaField(
        "Why are the figures changing?",
        description="For example: 14 late paper returns keyed in on 3 October. Viewers' figures "
        "for this wave change only with a reason, recorded in the audit log.",
        widget=GovTextArea(),
        validators=[Optional(), Length(max=2000)],
    )
    submit = SubmitField("Publish the figures", widget=GovSubmitInput())


class NumberField(DecimalField):
    """A number typed by a person: "12.5", "1,850" and " 40 " are read; anything else gets a
    message that names the field rather than WTForms' "Not a valid decimal value"."""

    widget = GovTextInput()
    data: Decimal | None  # WTForms is untyped: without this, mypy takes the None below as the type

    def __init__(self, label: str, **kwargs) -> None:
        super().__init__(label, places=None, **kwargs)

    def process_formdata(self, valuelist: list[str]) -> None:
        text = (valuelist[0] if valuelist else "").strip().replace(",", "")
        if not text:
            self.data = None
            return
        try:
            super().process_formdata([text])
        except ValueError:
            self.data = None
            raise ValueError(
                f"Enter {self.label.text.lower()} as a number, like 42 or 12.5"
            ) from None


class GroupSizeUploadForm(FlaskForm):
    audience = SelectField(
        "Audience",
        widget=GovSelect(),
        validators=[InputRequired(message="Choose the audience the sizes are for")],
    )
    file = FileField(
        "Group sizes (CSV)",
        widget=GovFileInput(),
        description="A CSV file with the columns attribute, value and size, for example: "
        "directorate, Place, 412. Values are the answers the survey offers. A file replaces "
        "the sizes of the attributes it has.",
        validators=[
            FileRequired(message="Choose a CSV file"),
            FileAllowed(["csv"], message="The file must be a .csv file"),
        ],
    )
    submit = SubmitField("Upload group sizes", widget=GovSubmitInput())


class ReminderDaysForm(FlaskForm):
    days = StringField(
        "Reminder days",
        widget=GovTextInput(),
        description="Days after the wave opens, separated by commas, for example: 5, 10. "
        "Each reminder goes once, to invitations not used by then.",
        validators=[Length(max=100)],
    )
    submit = SubmitField("Save reminder days", widget=GovSubmitInput())

    def validate_days(self, field) -> None:
        self.parsed = parse_days(field.data or "")


def parse_days(text: str) -> list[int]:
    """ "5, 10" as [5, 10]; ``ValidationError`` naming the first entry that is not a whole
    number of days from 1 to 365."""
    days: set[int] = set()
    for part in text.replace(";", ",").split(","):
        part = part.strip()
        if not part:
            continue
        if not part.isdigit() or not 1 <= int(part) <= 365:
            raise ValidationError(
                f"'{part[:20]}' is not a number of days from 1 to 365: write them like 5, 10"
            )
        days.add(int(part))
    return sorted(days)
