"""The session cookie, in Flask's own format, read and written with less work.

Respondents' sessions hold the handle of their sealed, server-side draft (see
``survey_app/survey/progress.py``), so every survey request reads the cookie and many write it.
Flask's :class:`~flask.json.tag.TaggedJSONSerializer` asks each of its eight tags about
every value in the session, and :class:`~flask.sessions.SecureCookieSessionInterface`
builds a new signing serializer for every read and every write, whose SHA-1 (wrapped in a
Python function) keeps :mod:`hmac` off OpenSSL's fast path. Here plain JSON values skip the
tag questions, the signing serializer is built once per key set and the HMAC is given
``hashlib.sha1`` itself. The cookie is byte for byte what Flask writes, so cookies issued
before a deployment still open after it, and answers in progress are never lost to an
upgrade.

Two lifetimes: a permanent session (staff, signed in) ends after ``PERMANENT_SESSION_LIFETIME``
without a request, as Flask's does; any other session (a respondent's) is accepted for
``RESPONDENT_SESSION_LIFETIME``, so a respondent who stops for a few hours still finds their
answers (the staff idle limit would otherwise throw away the draft's handle).
"""

from __future__ import annotations

import hashlib
import time
from typing import Any

from flask import Flask, Request
from flask.json import loads
from flask.json.tag import TaggedJSONSerializer
from flask.sessions import SecureCookieSession, SecureCookieSessionInterface
from itsdangerous import BadSignature, URLSafeTimedSerializer

_PLAIN = frozenset({str, int, float, bool, type(None)})


class QuickTaggedJSONSerializer(TaggedJSONSerializer):
    """Flask's tagged JSON with a short cut for values that need no tag. Exact types only:
    a ``str`` subclass such as ``Markup``, a tuple, bytes, datetimes, UUIDs and a dict whose
    single key looks like a tag all go through Flask's tags, as before."""

    def tag(self, value: Any) -> Any:
        kind = type(value)
        if kind in _PLAIN:
            return value
        if kind is dict and not (len(value) == 1 and next(iter(value)) in self.tags):
            return {key: self.tag(item) for key, item in value.items()}
        if kind is list:
            return [self.tag(item) for item in value]
        return super().tag(value)

    def loads(self, value: str) -> Any:
        # The JSON decoder hands over every object innermost first, which is the order
        # Flask's own scan untags them in.
        return loads(value, object_hook=self.untag)


class QuickSecureCookieSessionInterface(SecureCookieSessionInterface):
    """Flask's signed cookie session, with :class:`QuickTaggedJSONSerializer` and one
    signing serializer per app and key set (rebuilt if ``SECRET_KEY`` or its fallbacks
    change)."""

    serializer = QuickTaggedJSONSerializer()
    digest_method = staticmethod(hashlib.sha1)

    def get_signing_serializer(self, app: Flask) -> URLSafeTimedSerializer | None:
        keys = (tuple(app.config["SECRET_KEY_FALLBACKS"] or ()), app.secret_key)
        cache = app.extensions.setdefault("pulse_session_signers", {})
        if keys not in cache:
            cache.clear()
            cache[keys] = super().get_signing_serializer(app)
        return cache[keys]

    def open_session(self, app: Flask, request: Request) -> SecureCookieSession | None:
        """Flask's ``open_session``, with the two lifetimes of the module docstring: a
        cookie is accepted for the longer respondent lifetime, and a permanent (staff)
        one only while it is younger than ``PERMANENT_SESSION_LIFETIME``."""
        signer = self.get_signing_serializer(app)
        if signer is None:
            return None
        cookie = request.cookies.get(self.get_cookie_name(app))
        if not cookie:
            return self.session_class()
        longest = max(
            app.permanent_session_lifetime.total_seconds(),
            float(app.config.get("RESPONDENT_SESSION_LIFETIME") or 0),
        )
        try:
            data, signed_at = signer.loads(cookie, max_age=int(longest), return_timestamp=True)
        except BadSignature:
            return self.session_class()
        age = time.time() - signed_at.timestamp()  # the clock itsdangerous itself reads
        if data.get("_permanent") and age > app.permanent_session_lifetime.total_seconds():
            return self.session_class()
        return self.session_class(data)
