"""The session cookie, in Flask's own format, read and written with less work.

Respondents' answers in progress live in the signed session cookie (see
``survey_app/survey/routes.py``), so every survey request reads it and most write it.
Flask's :class:`~flask.json.tag.TaggedJSONSerializer` asks each of its eight tags about
every value in the session, and :class:`~flask.sessions.SecureCookieSessionInterface`
builds a new signing serializer for every read and every write, whose SHA-1 (wrapped in a
Python function) keeps :mod:`hmac` off OpenSSL's fast path. Here plain JSON values skip the
tag questions, the signing serializer is built once per key set and the HMAC is given
``hashlib.sha1`` itself. The cookie is byte for byte what Flask writes, so cookies issued
before a deployment still open after it, and answers in progress are never lost to an
upgrade.
"""

from __future__ import annotations

import hashlib
from typing import Any

from flask import Flask
from flask.json import loads
from flask.json.tag import TaggedJSONSerializer
from flask.sessions import SecureCookieSessionInterface
from itsdangerous import URLSafeTimedSerializer

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
