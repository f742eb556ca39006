"""Confirmation pages for actions that cannot be undone (closing a wave, sending e-mail,
removing contact details, deleting responses): a page of their own that states what will
happen, with a GOV.UK warning button that posts (with a CSRF token) to the action, which then
redirects (post, redirect, get). No JavaScript: the page is the confirmation."""

from __future__ import annotations

from dataclasses import dataclass, field

from flask import render_template
from flask_wtf import FlaskForm


@dataclass(frozen=True)
class Confirmation:
    """What the confirmation page says and where its button posts.

    ``consequences`` are the things that will happen, one sentence each; ``warning`` is the
    one that cannot be undone, shown as GOV.UK warning text; ``fields`` are hidden form
    fields posted with the button (e.g. which kind of e-mail to send)."""

    caption: str
    heading: str
    consequences: list[str]
    warning: str
    button: str
    action: str
    cancel: str
    fields: dict[str, str] = field(default_factory=dict)


def confirmation_page(confirmation: Confirmation, form: FlaskForm) -> str:
    return render_template(
        "confirm.html",
        title=confirmation.heading,
        confirmation=confirmation,
        form=form,
        back_link=confirmation.cancel,
    )
