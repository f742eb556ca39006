from __future__ import annotations

from flask_wtf import FlaskForm
from govuk_frontend_wtf.wtforms_widgets import (
    GovCheckboxesInput,
    GovCheckboxInput,
    GovSelect,
    GovSubmitInput,
    GovTextArea,
    GovTextInput,
)
from wtforms import (
    BooleanField,
    IntegerField,
    SelectField,
    SelectMultipleField,
    SubmitField,
    TextAreaField,
)
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, ValidationError

from .queries import DEFAULT_SAMPLE, MAX_SAMPLE


class FlagActionForm(FlaskForm):
    action = TextAreaField(
        "What was done",
        widget=GovTextArea(),
        description="For example: referred to HR, case 123; passed to the designated safeguarding lead.",
        filters=[lambda value: value.strip() if isinstance(value, str) else value],
        validators=[
            DataRequired(message="Enter what was done about this comment"),
            Length(max=2000, message="What was done must be 2,000 characters or fewer"),
        ],
    )
    submit = SubmitField("Record action", widget=GovSubmitInput())


class _QueryForm(FlaskForm):
    """A GET form (filters in the address): nothing changes, so no CSRF token."""

    class Meta:
        csrf = False


class SampleForm(_QueryForm):
    n = IntegerField(
        "Sample size",
        widget=GovTextInput(),
        default=DEFAULT_SAMPLE,
        description=f"How many comments to code (1 to {MAX_SAMPLE:,}). Every coder gets the same sample.",
        validators=[
            InputRequired(message="Enter the sample size as a whole number"),
            NumberRange(
                min=1, max=MAX_SAMPLE, message=f"Sample size must be between 1 and {MAX_SAMPLE:,}"
            ),
        ],
    )
    submit = SubmitField("Show sample", widget=GovSubmitInput())


class CodingForm(FlaskForm):
    themes = SelectMultipleField(
        "Themes in this comment",
        widget=GovCheckboxesInput(),
        choices=[],
        description="Suggested themes from the codebook are ticked. Untick any that "
        "do not apply and tick any others that do.",
        validate_choice=True,
    )
    quotable = BooleanField(
        "Safe to quote: it identifies no one and can be read out of context",
        widget=GovCheckboxInput(),
    )
    submit = SubmitField("Save and next", widget=GovSubmitInput())


class AgreementForm(_QueryForm):
    coder_a = SelectField(
        "First coder",
        widget=GovSelect(),
        coerce=int,
        validators=[InputRequired(message="Choose the first coder")],
    )
    coder_b = SelectField(
        "Second coder",
        widget=GovSelect(),
        coerce=int,
        validators=[InputRequired(message="Choose the second coder")],
    )
    submit = SubmitField("Compare", widget=GovSubmitInput())

    def validate_coder_b(self, field: SelectField) -> None:
        if field.data == self.coder_a.data:
            raise ValidationError("Choose two different coders")
