"""Helpers shared by the staff-side tests: users, sign-in, CSRF tokens, received e-mail."""

from __future__ import annotations

import email
import email.policy
import re

from sqlalchemy import select

from survey_app.extensions import db
from survey_app.models import AuditEntry, Role, User
from survey_app.security import hash_password

PASSWORD = "correct horse battery staple"


def add_user(app, email: str, role: Role, active: bool = True) -> int:
    with app.app_context():
        user = User(
            email=email,
            name=email.split("@")[0].title(),
            role=role,
            active=active,
            password_hash=hash_password(PASSWORD),
        )
        db.session.add(user)
        db.session.commit()
        return user.id


def csrf(client, path: str) -> str:
    html = client.get(path).get_data(as_text=True)
    return re.search(r'name="csrf_token"[^>]*value="([^"]+)"', html).group(1)


def sign_in(client, email: str, password: str = PASSWORD, next_url: str | None = None):
    path = "/auth/sign-in" + (f"?next={next_url}" if next_url else "")
    return client.post(
        path,
        data={"csrf_token": csrf(client, "/auth/sign-in"), "email": email, "password": password},
    )


def audit_actions(app) -> list[str]:
    with app.app_context():
        return [e.action for e in db.session.scalars(select(AuditEntry).order_by(AuditEntry.id))]


def bodies(mailbox) -> list[str]:
    """The decoded text of every message a test SMTP server received."""
    return [
        email.message_from_bytes(m.content, policy=email.policy.default).get_content()
        for m in mailbox.messages
    ]


def member_wave_with(answers: list[dict[str, str]]) -> int:
    """A 2026-Q3 open member-pulse wave with one response per dict of answers (call inside an
    app context); returns the wave id. For small groups that must be suppressed."""
    import datetime as dt

    from instruments import load_definitions
    from survey_app.definitions import load_instruments
    from survey_app.models import Answer, InstrumentVersion, Response, Wave, WaveMode

    load_instruments(load_definitions())
    version = db.session.scalar(
        select(InstrumentVersion).where(InstrumentVersion.instrument_id == "member-pulse")
    )
    wave = Wave(
        label="2026-Q3",
        instrument_version=version,
        audience="members",
        mode=WaveMode.OPEN,
        opens_on=dt.date(2026, 7, 1),
        closes_on=dt.date(2026, 7, 31),
    )
    db.session.add(wave)
    db.session.flush()
    for given in answers:
        db.session.add(
            Response(
                wave_id=wave.id,
                submitted_on=dt.date(2026, 7, 3),
                answers=[Answer(question_id=q, value=v) for q, v in given.items()],
            )
        )
    db.session.commit()
    return wave.id


def figures_near(text: str, value: float, within: float = 0.5) -> list[str]:
    """Every number written in ``text`` that is within ``within`` of ``value``: how a figure
    would appear whatever its rounding ("86", "85.7", "85.71%", "86.0"). A check that a
    suppressed figure is absent uses this, with a control showing the same figure is found
    when the group is large enough."""
    numbers = re.findall(r"(?<![\d.])\d{1,3}(?:\.\d+)?(?![\d])", text)
    return [n for n in numbers if abs(float(n) - value) < within]


def age_jobs(app, seconds: float) -> None:
    """Time passes for the background jobs: every job was queued ``seconds`` earlier."""
    import datetime as dt

    from survey_app.models import Job

    with app.app_context():
        for job in db.session.scalars(select(Job)):
            job.enqueued_at -= dt.timedelta(seconds=seconds)
        db.session.commit()


def reword_in_wave(instrument_id: str, position: int, text: str, label: str) -> None:
    """Field wave ``label`` of an instrument with a new version in which question number
    ``position`` is reworded: a breaking difference, so its change into that wave is not
    compared (call inside an app context; commits)."""
    from instruments import Instrument
    from survey_app.definitions import store_instrument_version
    from survey_app.models import InstrumentVersion, Wave

    old = db.session.scalar(
        select(InstrumentVersion).where(InstrumentVersion.instrument_id == instrument_id)
    )
    data = old.instrument.model_dump(mode="json")
    data["questions"][position]["text"] = text
    store_instrument_version(Instrument.model_validate(data))
    db.session.flush()
    newer = db.session.scalar(
        select(InstrumentVersion).where(
            InstrumentVersion.instrument_id == instrument_id, InstrumentVersion.id != old.id
        )
    )
    db.session.scalar(
        select(Wave).where(Wave.instrument_version_id == old.id, Wave.label == label)
    ).instrument_version = newer
    db.session.commit()


def shrink_ward(instrument_id: str, label: str, ward: str, size: int, elsewhere: str) -> None:
    """Leave ``size`` respondents of an instrument's wave ``label`` in ``ward`` (the rest of
    its respondents there move to ``elsewhere``): a group below the minimum reporting size
    (inside an app context; commits)."""
    from survey_app.models import InstrumentVersion, Response, Wave

    wave = db.session.scalar(
        select(Wave)
        .join(InstrumentVersion)
        .where(InstrumentVersion.instrument_id == instrument_id, Wave.label == label)
    )
    responses = db.session.scalars(select(Response).where(Response.wave_id == wave.id)).all()
    kept = responses[:size]
    for response in kept:
        response.attributes = {**response.attributes, "ward": ward}
    for response in responses[size:]:
        if response.attributes.get("ward") == ward:
            response.attributes = {**response.attributes, "ward": elsewhere}
    db.session.commit()
