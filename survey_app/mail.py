"""Sending e-mail through the SMTP server named in the environment (``MAIL_SERVER`` etc.)."""

from __future__ import annotations

import smtplib
from collections.abc import Iterable
from email.message import EmailMessage

from flask import current_app


class MailNotConfigured(RuntimeError):
    pass


def send(messages: Iterable[tuple[str, str, str]]) -> int:
    """Send ``(to, subject, body)`` messages over one SMTP connection; returns how many."""
    config = current_app.config
    if not config.get("MAIL_SERVER"):
        raise MailNotConfigured("MAIL_SERVER is not set: e-mail cannot be sent")
    sent = 0
    with smtplib.SMTP(
        config["MAIL_SERVER"], int(config.get("MAIL_PORT") or 25), timeout=30
    ) as smtp:
        if config.get("MAIL_USE_TLS"):
            smtp.starttls()
        if config.get("MAIL_USERNAME"):
            smtp.login(config["MAIL_USERNAME"], config.get("MAIL_PASSWORD") or "")
        for to, subject, body in messages:
            message = EmailMessage()
            message["From"] = (
                config.get("MAIL_SENDER") or f"improvement-pulse@{config['MAIL_SERVER']}"
            )
            message["To"] = to
            message["Subject"] = subject
            message.set_content(body)
            smtp.send_message(message)
            sent += 1
    return sent
