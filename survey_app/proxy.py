"""Believing a reverse proxy's ``X-Forwarded-*`` headers, and nobody else's.

Behind a TLS-terminating proxy every request arrives from the proxy's address, so without
this every respondent and officer would be one client to the rate limits and sign-in
lockouts. Werkzeug's :class:`~werkzeug.middleware.proxy_fix.ProxyFix` takes the client
address, scheme and host from the last ``TRUSTED_PROXIES`` values of ``X-Forwarded-For``,
``-Proto`` and ``-Host`` (the ones our own proxies appended; anything a client put before
them is ignored). It is applied only to connections from ``FORWARDED_ALLOW_IPS``, the same
list gunicorn uses for its own scheme headers, so a client that reaches the app directly
cannot claim another address by sending the headers itself.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Iterator
from typing import Any

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

from .config import check_trusted_proxies

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


class TrustedProxyFix:
    """WSGI middleware: :class:`ProxyFix` for ``hops`` proxies, for requests whose direct
    peer is in ``networks``; other requests pass through with their own address."""

    def __init__(self, app: Any, hops: int, networks: list[Network]) -> None:
        self.direct = app
        self.networks = networks
        self.fixed = ProxyFix(app, x_for=hops, x_proto=hops, x_host=hops)

    def _from_proxy(self, peer: str | None) -> bool:
        try:
            address = ipaddress.ip_address(peer or "")
        except ValueError:
            return False
        return any(address in network for network in self.networks)

    def __call__(
        self, environ: dict[str, Any], start_response: Any
    ) -> Iterable[bytes] | Iterator[bytes]:
        if self._from_proxy(environ.get("REMOTE_ADDR")):
            return self.fixed(environ, start_response)
        return self.direct(environ, start_response)


def trust_proxies(app: Flask) -> None:
    """Wrap ``app.wsgi_app`` as ``TRUSTED_PROXIES`` says (0: forwarded headers are ignored)."""
    hops = app.config.get("TRUSTED_PROXIES", 0)
    networks = check_trusted_proxies(hops, app.config.get("FORWARDED_ALLOW_IPS") or "")
    if hops:
        app.wsgi_app = TrustedProxyFix(app.wsgi_app, hops, networks)  # type: ignore[method-assign]
