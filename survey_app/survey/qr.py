"""QR codes for roadshow events: the event's short link (``/e/<code>``) as SVG or PNG, for a
poster or a slide. Made with segno; nothing is fetched from the network."""

from __future__ import annotations

import io

import segno


def event_url(base_url: str, code: str) -> str:
    return f"{base_url.rstrip('/')}/e/{code}"


def qr_code(url: str, kind: str = "svg", scale: int = 10) -> bytes:
    """The QR code of ``url`` as SVG or PNG bytes (error correction M, a quiet zone of 4)."""
    if kind not in ("svg", "png"):
        raise ValueError(f"unknown QR code format {kind!r} (use svg or png)")
    buffer = io.BytesIO()
    options = {"title": url} if kind == "svg" else {}
    segno.make(url, error="m").save(buffer, kind=kind, scale=scale, border=4, **options)
    return buffer.getvalue()
