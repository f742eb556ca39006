"""The session cookie keeps Flask's exact format: cookies issued before a deployment of the
quicker interface still open after it (answers in progress are never lost), and back."""

from __future__ import annotations

import datetime as dt
import uuid

from flask import Flask
from flask.json.tag import TaggedJSONSerializer
from flask.sessions import SecureCookieSessionInterface
from hypothesis import given, settings
from hypothesis import strategies as st
from markupsafe import Markup

from survey_app.sessions import QuickSecureCookieSessionInterface, QuickTaggedJSONSerializer

TAG_KEYS = [" t", " di", " b", " m", " u", " d"]  # keys that Flask must escape
_leaves = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=False),
    st.text(max_size=20),
    st.binary(max_size=8),
    st.text(max_size=8).map(Markup),
    st.uuids(),
    st.datetimes(timezones=st.just(dt.UTC)).map(lambda d: d.replace(microsecond=0)),
)
_values = st.recursive(
    _leaves,
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.lists(children, max_size=3).map(tuple),
        st.dictionaries(
            st.one_of(st.text(max_size=6), st.sampled_from(TAG_KEYS)), children, max_size=4
        ),
    ),
    max_leaves=12,
)


@settings(max_examples=300, deadline=None)
@given(_values)
def test_quick_serializer_writes_and_reads_what_flask_does(value) -> None:
    app = Flask(__name__)
    with app.app_context():
        flask_json, quick = TaggedJSONSerializer(), QuickTaggedJSONSerializer()
        written = flask_json.dumps(value)
        assert quick.dumps(value) == written
        assert quick.loads(written) == flask_json.loads(written)


def test_cookies_open_across_the_two_interfaces() -> None:
    app = Flask(__name__)
    app.secret_key = "a-test-secret"
    session = {
        "pulse": {"AbC123": {"a": {"Q01": "4", "Q90": "words"}, "keys": ["k1"]}},
        "csrf_token": "t" * 40,
        "when": dt.datetime(2026, 11, 24, tzinfo=dt.UTC),
        "pair": (1, "two"),
        "id": uuid.UUID(int=7),
    }
    flask_side = SecureCookieSessionInterface().get_signing_serializer(app)
    quick_side = QuickSecureCookieSessionInterface().get_signing_serializer(app)
    assert quick_side.loads(flask_side.dumps(session)) == session
    assert flask_side.loads(quick_side.dumps(session)) == session


def test_a_new_secret_key_gets_a_new_signer() -> None:
    app = Flask(__name__)
    app.secret_key = "first-secret"
    interface = QuickSecureCookieSessionInterface()
    cookie = interface.get_signing_serializer(app).dumps({"a": 1})
    app.secret_key = "second-secret"
    app.config["SECRET_KEY_FALLBACKS"] = ["first-secret"]
    rotated = interface.get_signing_serializer(app)
    assert rotated.loads(cookie) == {"a": 1}  # the old key still opens old cookies
    assert SecureCookieSessionInterface().get_signing_serializer(app).loads(
        rotated.dumps({"b": 2})
    ) == {"b": 2}  # and new cookies are signed with the new key
