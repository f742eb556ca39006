"""Links the service hands out (e-mails, mail-merge files, QR posters), built from ``BASE_URL``.

``url_for(..., _external=True)`` would take the host from the request's ``Host`` (or a
forwarded host), which whoever sends the request chooses: a reset requested with
``Host: evil.example`` would mail the victim a link to the attacker's site carrying a
valid reset token. So every link that leaves the service starts with the configured
address instead, and without one no link is made.
"""

from __future__ import annotations

from typing import Any

from flask import current_app

from .config import ConfigError


class BaseUrlNotSet(ConfigError):
    """No ``BASE_URL``: the service does not know its public address."""

    def __init__(self) -> None:
        super().__init__(
            "BASE_URL is not set, so links to this service cannot be made. "
            "Set BASE_URL to its public address, e.g. https://pulse.example.gov.uk"
        )


def base_url() -> str | None:
    """The configured public address, without a trailing slash (``None`` when unset)."""
    return current_app.config.get("BASE_URL")


def public_url(endpoint: str, **values: Any) -> str:
    """The full address of ``endpoint`` under ``BASE_URL``.

    Raises
    ------
    BaseUrlNotSet
        When ``BASE_URL`` is not configured.
    """
    base = base_url()
    if not base:
        raise BaseUrlNotSet
    # Built from the URL map alone: the same in a request, a CLI command or a background
    # job, and never from the request's host or script root (BASE_URL names the root).
    adapter = current_app.url_map.bind("", script_name="/")
    return base + adapter.build(endpoint, values)
