from __future__ import annotations

from flask_wtf import FlaskForm
from govuk_frontend_wtf.wtforms_widgets import GovCheckboxInput, GovSubmitInput, GovTextInput
from wtforms import BooleanField, StringField, SubmitField
from wtforms.validators import InputRequired, Length, ValidationError

from ...two_factor import RECOVERY_ALPHABET, RECOVERY_CODE_LENGTH, normal_code, normal_recovery_code


def _six_digits(_form: FlaskForm, field: StringField) -> None:
    code = normal_code(field.data or "")
    if len(code) != 6 or not code.isdigit():
        raise ValidationError("Enter the code as 6 numbers, for example 123456")


def _recovery_code_shape(_form: FlaskForm, field: StringField) -> None:
    code = normal_recovery_code(field.data or "")
    if len(code) != RECOVERY_CODE_LENGTH or set(code) - set(RECOVERY_ALPHABET):
        raise ValidationError(
            f"Enter a recovery code as {RECOVERY_CODE_LENGTH} letters and numbers, "
            "for example abcde-23456"
        )


def _authenticator_code(label: str) -> StringField:
    return StringField(
        label,
        widget=GovTextInput(),
        description="The 6-digit code your authenticator app shows now.",
        validators=[
            InputRequired(message="Enter the 6-digit code from your authenticator app"),
            Length(max=20, message="Enter the code as 6 numbers, for example 123456"),
            _six_digits,
        ],
    )


class CodeForm(FlaskForm):
    code = _authenticator_code("Code from your authenticator app")
    remember = BooleanField("Do not ask for a code on this browser", widget=GovCheckboxInput())
    submit = SubmitField("Continue", widget=GovSubmitInput())


class RecoveryCodeForm(FlaskForm):
    code = StringField(
        "Recovery code",
        widget=GovTextInput(),
        description="One of the recovery codes you saved when you set up two-factor sign-in. "
        "Each code works once.",
        validators=[
            InputRequired(message="Enter a recovery code"),
            Length(
                max=40,
                message="Enter a recovery code as 10 letters and numbers, for example abcde-23456",
            ),
            _recovery_code_shape,
        ],
    )
    submit = SubmitField("Continue", widget=GovSubmitInput())


class SetUpForm(FlaskForm):
    code = _authenticator_code("Code from your authenticator app")
    submit = SubmitField("Turn on two-factor sign-in", widget=GovSubmitInput())


class ResetForm(FlaskForm):
    """The admin's confirmation: a button only (CSRF protected)."""

    submit = SubmitField("Reset two-factor sign-in", widget=GovSubmitInput())
