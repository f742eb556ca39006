from __future__ import annotations

import ipaddress

from flask_wtf import FlaskForm
from flask_wtf.file import FileAllowed, FileField, FileRequired
from govuk_frontend_wtf.wtforms_widgets import (
    GovCheckboxInput,
    GovFileInput,
    GovRadioInput,
    GovSubmitInput,
    GovTextInput,
)
from wtforms import BooleanField, EmailField, RadioField, StringField, SubmitField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import Email, InputRequired, Length, ValidationError

from ..models import Role

ROLE_CHOICES = [
    SelectChoice(Role.ADMIN.value, "Administrator: everything, including users and instruments"),
    SelectChoice(Role.ANALYST.value, "Analyst: waves, invitations, KPIs, analysis and exports"),
    SelectChoice(Role.VIEWER.value, "Viewer: dashboards and reports only"),
    SelectChoice(Role.SAFEGUARDING.value, "Safeguarding reviewer: flagged comments only"),
]


class UserForm(FlaskForm):
    email = EmailField(
        "Email address",
        widget=GovTextInput(),
        validators=[
            InputRequired(message="Enter an email address"),
            Length(max=320),
            Email(
                message="Enter an email address like name@example.org", check_deliverability=False
            ),
        ],
    )
    name = StringField(
        "Full name",
        widget=GovTextInput(),
        validators=[InputRequired(message="Enter the person's name"), Length(max=200)],
    )
    role = RadioField(
        "Role",
        widget=GovRadioInput(),
        choices=ROLE_CHOICES,
        validators=[InputRequired(message="Choose a role")],
    )
    active = BooleanField(
        "Account is active (can sign in)", widget=GovCheckboxInput(), default=True
    )
    submit = SubmitField("Save", widget=GovSubmitInput())


class ActionForm(FlaskForm):
    """A button-only form: CSRF protection for one-click actions."""

    submit = SubmitField("Confirm", widget=GovSubmitInput())


class AddressWaitForm(FlaskForm):
    """An address whose failed sign-ins an admin forgives (e.g. the office's own)."""

    address = StringField(
        "Lift the sign-in wait for an address",
        widget=GovTextInput(),
        description="The IP address shown to the person who cannot sign in, "
        "for example 203.0.113.5",
        validators=[InputRequired(message="Enter an IP address"), Length(max=64)],
    )
    submit = SubmitField("Lift the wait for this address", widget=GovSubmitInput())

    def validate_address(self, field: StringField) -> None:
        try:
            ipaddress.ip_address(field.data.strip())
        except ValueError:
            raise ValidationError("Enter an IP address like 203.0.113.5 or 2001:db8::1") from None

    def normalised_address(self) -> str:
        return str(ipaddress.ip_address(self.address.data.strip()))


class InstrumentUploadForm(FlaskForm):
    file = FileField(
        "Instrument file (YAML)",
        widget=GovFileInput(),
        description="A new version of an instrument, in the same format as the shipped files.",
        validators=[
            FileRequired(message="Choose a YAML file"),
            FileAllowed(["yaml", "yml"], message="The file must be a .yaml or .yml file"),
        ],
    )
    submit = SubmitField("Check and load", widget=GovSubmitInput())
