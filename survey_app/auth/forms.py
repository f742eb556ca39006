from __future__ import annotations

from flask_wtf import FlaskForm
from govuk_frontend_wtf.wtforms_widgets import GovPasswordInput, GovSubmitInput, GovTextInput
from wtforms import EmailField, PasswordField, SubmitField
from wtforms.validators import EqualTo, InputRequired, Length

MIN_PASSWORD = 12


def _new_password(label: str) -> PasswordField:
    return PasswordField(
        label,
        widget=GovPasswordInput(),
        description=f"At least {MIN_PASSWORD} characters. A few unrelated words make a strong one.",
        validators=[
            InputRequired(message="Enter a new password"),
            Length(
                min=MIN_PASSWORD,
                max=200,
                message=f"Password must be at least {MIN_PASSWORD} characters",
            ),
        ],
    )


def _confirm() -> PasswordField:
    return PasswordField(
        "Confirm new password",
        widget=GovPasswordInput(),
        validators=[
            InputRequired(message="Confirm the new password"),
            EqualTo("new_password", message="Passwords must match"),
        ],
    )


class SignInForm(FlaskForm):
    # Only something to look up: a format check would add nothing to sign-in.
    email = EmailField(
        "Email address",
        widget=GovTextInput(),
        validators=[InputRequired(message="Enter your email address"), Length(max=320)],
    )
    password = PasswordField(
        "Password",
        widget=GovPasswordInput(),
        validators=[InputRequired(message="Enter your password")],
    )
    submit = SubmitField("Sign in", widget=GovSubmitInput())


class ChangePasswordForm(FlaskForm):
    current_password = PasswordField(
        "Current password",
        widget=GovPasswordInput(),
        validators=[InputRequired(message="Enter your current password")],
    )
    new_password = _new_password("New password")
    confirm = _confirm()
    submit = SubmitField("Change password", widget=GovSubmitInput())


class ResetRequestForm(FlaskForm):
    email = EmailField(
        "Email address",
        widget=GovTextInput(),
        validators=[InputRequired(message="Enter your email address"), Length(max=320)],
    )
    submit = SubmitField("Send a reset link", widget=GovSubmitInput())


class ResetForm(FlaskForm):
    new_password = _new_password("New password")
    confirm = _confirm()
    submit = SubmitField("Set password", widget=GovSubmitInput())
