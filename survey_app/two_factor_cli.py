"""``flask users totp-code`` (the demo's way to get a code) and ``flask users
reset-second-factor`` (for when no admin can sign in to reset it on the web)."""

from __future__ import annotations

import click
from flask import current_app
from sqlalchemy import func, select

from . import two_factor
from .cli import users_cli
from .extensions import db
from .models import User


def _user(email: str) -> User:
    user = db.session.scalar(select(User).where(func.lower(User.email) == email.strip().lower()))
    if user is None:
        raise click.ClickException(f"there is no account for {email}")
    return user


@users_cli.command("totp-code")
@click.argument("email")
def totp_code_command(email: str) -> None:
    """Print the current authenticator code of a demo account (development configuration only)."""
    if not current_app.config.get("MFA_CODE_COMMAND"):
        raise click.ClickException(
            "totp-code only works in the demo (PULSE_CONFIG=development): elsewhere codes come "
            "from the person's own authenticator app"
        )
    user = _user(email)
    factor = two_factor.factor_of(user.id)
    if factor is None:
        raise click.ClickException(f"{user.email} has not set up two-factor sign-in")
    try:
        code = two_factor.current_code(factor)
    except two_factor.SecondFactorUnreadable as exc:
        raise click.ClickException(
            f"{exc}: reset it with `flask users reset-second-factor {user.email}`"
        ) from None
    click.echo(code)


@users_cli.command("reset-second-factor")
@click.argument("email")
def reset_second_factor_command(email: str) -> None:
    """Remove a user's authenticator app and recovery codes (audited), e.g. for the last admin."""
    user = _user(email)
    if not two_factor.reset(user, via="command line"):
        raise click.ClickException(f"{user.email} has not set up two-factor sign-in")
    click.echo(
        f"Reset two-factor sign-in for {user.email}."
        + (" They set it up again at their next sign-in." if two_factor.is_required(user) else "")
    )
