"""Running the programme: waves, events and QR codes, invitation lists, sending and reminders
over a real local SMTP server, purging contact details."""

from __future__ import annotations

import datetime as dt
import io
import re

from sqlalchemy import func, select, update
from werkzeug.datastructures import MultiDict

from instruments import load_definitions
from survey_app import clock
from survey_app.definitions import load_instruments
from survey_app.extensions import db
from survey_app.models import AuditEntry, InstrumentVersion, Invitation, Role, Wave
from survey_app.security import hash_token

from ..conftest import make_app
from .helpers import add_user, audit_actions, bodies, csrf, sign_in
from .survey_helpers import answer_pages, send

TODAY = clock.today()  # the app's day (Europe/London), not the server's


def _date(prefix: str, day: dt.date) -> list[tuple[str, str]]:
    return [(prefix, str(day.day)), (prefix, str(day.month)), (prefix, str(day.year))]


def _version_id(app, instrument_id: str) -> int:
    with app.app_context():
        load_instruments(load_definitions())
        return db.session.scalar(
            select(InstrumentVersion.id).where(InstrumentVersion.instrument_id == instrument_id)
        )


def create_wave(
    client, version_id: int, label: str, mode: str, opens: dt.date, closes: dt.date, size="49"
):
    data = [
        ("csrf_token", csrf(client, "/programme/waves/new")),
        ("instrument_version", str(version_id)),
        ("label", label),
        ("mode", mode),
        ("audience_size", size),
    ]
    data += _date("opens_on", opens) + _date("closes_on", closes)
    return client.post("/programme/waves/new", data=MultiDict(data))


def _analyst(app, client) -> None:
    add_user(app, "analyst@council.example", Role.ANALYST)
    assert sign_in(client, "analyst@council.example").status_code == 302


def test_create_a_wave_and_its_validation(app, client) -> None:
    _analyst(app, client)
    version_id = _version_id(app, "member-pulse")
    created = create_wave(
        client, version_id, "2027-Q1", "invite", TODAY, TODAY + dt.timedelta(days=30)
    )
    assert created.status_code == 302
    again = create_wave(
        client, version_id, "2027-Q1", "invite", TODAY, TODAY + dt.timedelta(days=30)
    )
    assert "already has a wave called 2027-Q1" in again.get_data(as_text=True)
    backwards = create_wave(
        client, version_id, "2027-Q2", "invite", TODAY, TODAY - dt.timedelta(days=3)
    )
    assert "closing date must be on or after the opening date" in backwards.get_data(as_text=True)
    # a post that leaves the date boxes out altogether gets a message, not a crash
    token = csrf(client, "/programme/waves/new")
    missing = client.post(
        "/programme/waves/new",
        data={
            "csrf_token": token,
            "instrument_version": version_id,
            "label": "2027-Q3",
            "mode": "open",
        },
    )
    text = missing.get_data(as_text=True)
    assert missing.status_code == 200 and "Enter the opening date" in text
    bad_day = client.post(
        "/programme/waves/new",
        data=MultiDict(
            [
                ("csrf_token", token),
                ("instrument_version", str(version_id)),
                ("label", "X"),
                ("mode", "open"),
                ("opens_on", "31"),
                ("opens_on", "2"),
                ("opens_on", "2027"),
            ]
            + _date("closes_on", TODAY)
        ),
    )
    assert "must be a real date" in bad_day.get_data(as_text=True)
    with app.app_context():
        assert db.session.scalar(select(db.func.count()).select_from(Wave)) == 1
    assert "wave created" in audit_actions(app)


def test_a_started_wave_keeps_its_version(app, client) -> None:
    _analyst(app, client)
    version_id = _version_id(app, "member-pulse")
    create_wave(
        client,
        version_id,
        "Now",
        "invite",
        TODAY - dt.timedelta(days=1),
        TODAY + dt.timedelta(days=9),
    )
    with app.app_context():
        wave = db.session.scalar(select(Wave))
        old = wave.instrument_version
        newer = InstrumentVersion(
            instrument_id=old.instrument_id,
            version="f" * 64,
            title=old.title,
            audience=old.audience,
            definition=old.definition,
        )
        db.session.add(newer)
        db.session.commit()
        wave_id, newer_id = wave.id, newer.id
    data = [
        ("csrf_token", csrf(client, f"/programme/waves/{wave_id}/edit")),
        ("instrument_version", str(newer_id)),
        ("label", "Now"),
        ("mode", "invite"),
        ("audience_size", "49"),
    ]
    data += _date("opens_on", TODAY - dt.timedelta(days=1)) + _date(
        "closes_on", TODAY + dt.timedelta(days=20)
    )
    refused = client.post(f"/programme/waves/{wave_id}/edit", data=MultiDict(data))
    assert "keeps its survey version" in refused.get_data(as_text=True)
    data[1] = ("instrument_version", str(_version_id(app, "member-pulse")))
    extended = client.post(f"/programme/waves/{wave_id}/edit", data=MultiDict(data))
    assert extended.status_code == 302
    with app.app_context():
        assert db.session.get(Wave, wave_id).closes_on == TODAY + dt.timedelta(days=20)
        change = db.session.scalar(select(AuditEntry).where(AuditEntry.action == "wave changed"))
        assert change.detail["after"]["closes_on"] == (TODAY + dt.timedelta(days=20)).isoformat()


def test_roadshow_events_have_short_links_and_qr_codes(app, client) -> None:
    _analyst(app, client)
    create_wave(
        client,
        _version_id(app, "staff-roadshow"),
        "Roadshow",
        "event",
        TODAY,
        TODAY + dt.timedelta(days=60),
    )
    with app.app_context():
        wave_id = db.session.scalar(select(Wave.id))
    token = csrf(client, f"/programme/waves/{wave_id}/events/new")
    added = client.post(
        f"/programme/waves/{wave_id}/events/new",
        data=MultiDict(
            [("csrf_token", token), ("place", "Civic Offices, Grays")] + _date("held_on", TODAY)
        ),
    )
    assert added.status_code == 302
    page = client.get(f"/programme/waves/{wave_id}").get_data(as_text=True)
    code = re.search(r"/e/([a-z0-9]+)</code>", page).group(1)
    event_id = re.search(r"/programme/events/(\d+)/qr\.svg", page).group(1)
    svg = client.get(f"/programme/events/{event_id}/qr.svg")
    assert (
        svg.mimetype == "image/svg+xml"
        and b"<svg" in svg.data
        and f"/e/{code}".encode() in svg.data
    )
    png = client.get(f"/programme/events/{event_id}/qr.png")
    assert png.mimetype == "image/png" and png.data.startswith(b"\x89PNG")
    assert client.get(f"/e/{code}").status_code in (
        200,
        302,
        303,
    )  # the short link leads to the survey


def _upload(client, wave_id: int, text: str):
    token = csrf(client, f"/programme/waves/{wave_id}")
    return client.post(
        f"/programme/waves/{wave_id}/invitations",
        content_type="multipart/form-data",
        data={"csrf_token": token, "file": (io.BytesIO(text.encode()), "invitations.csv")},
    )


def test_a_bad_invitation_file_stores_nothing_and_names_the_rows(app, client) -> None:
    _analyst(app, client)
    create_wave(
        client, _version_id(app, "member-pulse"), "Q", "invite", TODAY, TODAY + dt.timedelta(days=9)
    )
    with app.app_context():
        wave_id = db.session.scalar(select(Wave.id))
    bad = _upload(
        client,
        wave_id,
        "name,email\nAnn,ann@council.example\nBob,not-an-address\n"
        "Cat,\nAnn again,ANN@council.example\n",
    )
    text = bad.get_data(as_text=True)
    assert bad.status_code == 400 and "Nothing from it was stored" in text
    assert "Row 3: &#39;not-an-address&#39; is not a valid email address" in text
    assert "Row 4: the email address is missing" in text
    assert "Row 5: ANN@council.example is a duplicate of row 2" in text
    no_email_column = _upload(client, wave_id, "name,address\nAnn,x@y.example\n").get_data(
        as_text=True
    )
    assert "including &#39;email&#39;" in no_email_column
    with app.app_context():
        assert db.session.scalar(select(db.func.count()).select_from(Invitation)) == 0
    assert _upload(client, wave_id, "email\nann@council.example\n").status_code == 302
    again = _upload(client, wave_id, "email\nann@council.example\n").get_data(as_text=True)
    assert "already been invited" in again


def test_invitations_and_reminders_reach_only_non_responders(tmp_path, smtp) -> None:
    controller, mailbox = smtp
    app = make_app(
        f"sqlite:///{tmp_path / 'm.db'}", MAIL_SERVER="127.0.0.1", MAIL_PORT=controller.port
    )
    from flask_migrate import upgrade

    with app.app_context():
        upgrade()
    client = app.test_client()
    _analyst(app, client)
    create_wave(
        client, _version_id(app, "member-pulse"), "Q", "invite", TODAY, TODAY + dt.timedelta(days=9)
    )
    with app.app_context():
        wave_id = db.session.scalar(select(Wave.id))
    _upload(
        client,
        wave_id,
        "name,email\nAnn,ann@council.example\nBob,bob@council.example\nCat,cat@council.example\n",
    )
    token = csrf(client, f"/programme/waves/{wave_id}")
    assert (
        client.post(
            f"/programme/waves/{wave_id}/invitations/send", data={"csrf_token": token}
        ).status_code
        == 302
    )
    assert sorted(m.rcpt_tos[0] for m in mailbox.messages) == [
        f"{n}@council.example" for n in ("ann", "bob", "cat")
    ]
    links = {
        m.rcpt_tos[0]: re.search(r"/i/(\S+)", body).group(1)
        for m, body in zip(mailbox.messages, bodies(mailbox), strict=True)
    }
    with app.app_context():  # Bob answers: his link's token marks his invitation used
        db.session.execute(
            update(Invitation)
            .where(Invitation.token_hash == hash_token(links["bob@council.example"]))
            .values(used=True)
        )
        db.session.commit()
        stored = set(db.session.scalars(select(Invitation.token_hash)))
    assert {hash_token(t) for t in links.values()} == stored  # only hashes of the emailed tokens
    # Cat sends her answers: they are held (her invitation is marked used only when they
    # are released), and her link's tag tells reminders to skip her
    cat = app.test_client()
    assert cat.get(f"/i/{links['cat@council.example']}").status_code == 303
    with app.app_context():
        slug, instrument = (
            db.session.get(Wave, wave_id).slug,
            db.session.get(Wave, wave_id).instrument_version.instrument,
        )
    assert send(cat, slug, answer_pages(cat, slug, instrument, {"M01": "4"})).status_code == 303
    with app.app_context():
        assert (
            db.session.scalar(
                select(func.count()).select_from(Invitation).where(Invitation.used.is_(True))
            )
            == 1
        )
    mailbox.messages.clear()
    client.post(
        f"/programme/waves/{wave_id}/invitations/send",
        data={"csrf_token": token, "kind": "reminder"},
    )
    assert sorted(m.rcpt_tos[0] for m in mailbox.messages) == ["ann@council.example"]
    reminder = bodies(mailbox)[0]
    assert (
        "reminder" in reminder and links[mailbox.messages[0].rcpt_tos[0]] in reminder
    )  # the same link again
    merge = (
        client.get(f"/programme/waves/{wave_id}/invitations.csv")
        .get_data(as_text=True)
        .splitlines()
    )
    assert merge[0] == "name,email,link" and len(merge) == 2
    # and a second send from the used link is refused at once, before any page is answered
    again = app.test_client().get(f"/i/{links['cat@council.example']}")
    assert again.status_code == 200 and "already been used" in again.get_data(as_text=True)
    actions = audit_actions(app)
    assert {
        "invitations uploaded",
        "invitations sent",
        "reminders sent",
        "mail-merge file downloaded",
    } <= set(actions)


def test_purge_removes_contacts_keeps_counts_and_is_logged(app, client) -> None:
    _analyst(app, client)
    create_wave(
        client,
        _version_id(app, "partner-survey"),
        "Old",
        "invite",
        TODAY - dt.timedelta(days=40),
        TODAY + dt.timedelta(days=1),
    )
    with app.app_context():
        wave_id = db.session.scalar(select(Wave.id))
    _upload(client, wave_id, "email\na@p.example\nb@p.example\nc@p.example\n")
    token = csrf(client, f"/programme/waves/{wave_id}")
    early = client.post(
        f"/programme/waves/{wave_id}/invitations/purge",
        data={"csrf_token": token},
        follow_redirects=True,
    )
    assert "once the wave has closed" in early.get_data(as_text=True)
    client.post(f"/programme/waves/{wave_id}/close-now", data={"csrf_token": token})
    # it closes at the end of today: the contact details can go tomorrow
    tomorrow = dt.datetime.now(dt.UTC) + dt.timedelta(days=1)
    app.config["CLOCK"] = lambda: tomorrow
    client.post(f"/programme/waves/{wave_id}/invitations/purge", data={"csrf_token": token})
    with app.app_context():
        invitations = db.session.scalars(select(Invitation)).all()
        assert len(invitations) == 3 and all(
            i.email is None and i.name is None for i in invitations
        )
        assert not db.session.get(Wave, wave_id).is_open()
    page = client.get(f"/programme/waves/{wave_id}").get_data(as_text=True)
    assert "3 invited" in page and "0 still have contact details" in page
    assert {"wave closed", "contact details purged"} <= set(audit_actions(app))


def _upload_instrument(client, text: str, name: str = "member-pulse.yaml"):
    token = csrf(client, "/admin/instruments")
    return client.post(
        "/admin/instruments",
        content_type="multipart/form-data",
        data={"csrf_token": token, "file": (io.BytesIO(text.encode()), name)},
    )


def test_instrument_library_upload_shows_breaks_and_refuses_bad_files(app, client) -> None:
    from instruments import SHIPPED_DIR

    add_user(app, "admin@council.example", Role.ADMIN)
    sign_in(client, "admin@council.example")
    _version_id(app, "member-pulse")
    shipped = (SHIPPED_DIR / "member-pulse.yaml").read_text()
    reworded = shipped.replace(
        "Officers withhold information from members.", "Officers keep information from members."
    )
    assert _upload_instrument(client, reworded).status_code == 302
    page = client.get("/admin/instruments").get_data(as_text=True)
    assert "Breaks comparability: M05" in page and "member-pulse.yaml" in page
    same = _upload_instrument(client, reworded)
    assert "already in the library" in client.get(same.headers["Location"]).get_data(as_text=True)
    broken = _upload_instrument(
        client,
        reworded.replace("scale: agree5\n    reverse: true", "scale: agree7\n    reverse: true"),
    )
    text = broken.get_data(as_text=True)
    assert (
        broken.status_code == 400
        and "questions[4].scale" in text
        and "unknown scale &#39;agree7&#39;" in text
    )
    not_yaml = _upload_instrument(client, "x", name="notes.txt")
    assert not_yaml.status_code == 400 and ".yaml or .yml" in not_yaml.get_data(as_text=True)
    with app.app_context():
        assert (
            db.session.scalar(
                select(db.func.count())
                .select_from(InstrumentVersion)
                .where(InstrumentVersion.instrument_id == "member-pulse")
            )
            == 2
        )
    assert audit_actions(app).count("instrument version uploaded") == 1


def _resident_wave(app, client) -> int:
    _analyst(app, client)
    create_wave(
        client,
        _version_id(app, "resident-perception"),
        "Postal",
        "open",
        TODAY - dt.timedelta(days=5),
        TODAY + dt.timedelta(days=20),
        size="128000",
    )
    with app.app_context():
        return db.session.scalar(select(Wave.id))


def test_a_paper_return_is_keyed_in_with_its_channel_and_day(app, client) -> None:
    from survey_app.models import Answer, Response

    wave_id = _resident_wave(app, client)
    path = f"/programme/waves/{wave_id}/returns/new"
    received = TODAY - dt.timedelta(days=2)
    base = [
        ("csrf_token", csrf(client, path)),
        ("channel", "paper"),
        ("P01", "4"),
        ("P03", "dk"),
        ("P90", "Phone me on 01375 652652 about the bins"),
        ("age_band", "55 and over"),
    ]
    saved = client.post(path, data=MultiDict(base + _date("received_on", received)))
    assert saved.status_code == 302
    future = client.post(
        path, data=MultiDict(base + _date("received_on", TODAY + dt.timedelta(days=3)))
    )
    assert "cannot be in the future" in future.get_data(as_text=True)
    tampered = client.post(
        path,
        data=MultiDict(
            [(k, "9" if k == "P01" else v) for k, v in base] + _date("received_on", received)
        ),
    )
    assert tampered.status_code == 200 and "There is a problem" in tampered.get_data(as_text=True)
    with app.app_context():
        (response,) = db.session.scalars(select(Response)).all()
        assert response.channel.value == "paper" and response.submitted_on == received
        assert response.attributes == {"age_band": "55 and over"}
        answers = dict(db.session.execute(select(Answer.question_id, Answer.value)).all())
        assert answers["P01"] == "4" and answers["P03"] == "dk"
        assert "652652" not in answers["P90"] and "[phone]" in answers["P90"]
    assert "return entered" in audit_actions(app)


def test_a_batch_of_returns_is_all_or_nothing(app, client) -> None:
    from survey_app.models import Response

    wave_id = _resident_wave(app, client)
    path = f"/programme/waves/{wave_id}/returns/import"

    def upload(text: str):
        token = csrf(client, f"/programme/waves/{wave_id}/returns/new")
        return client.post(
            path,
            content_type="multipart/form-data",
            data={"csrf_token": token, "file": (io.BytesIO(text.encode()), "returns.csv")},
        )

    bad = upload(
        "P01,P02,channel,received_on,age_band\n4,5,paper,2026-01-02,16-34\n7,2,phone,,\n"
        "3,1,fax,,\n2,2,paper,yesterday,\n1,dk,phone,,Over 100\n"
    )
    text = bad.get_data(as_text=True)
    assert bad.status_code == 400 and "Nothing from the file was stored" in text
    for row in (
        "Row 3, P01",
        "Row 4: channel must be paper or phone",
        "Row 5: received_on must be a date",
        "Row 6, age_band",
    ):
        assert row in text, row
    assert "Unknown column(s) Q99" in upload("P01,Q99\n4,4\n").get_data(as_text=True)
    with app.app_context():
        assert db.session.scalar(select(db.func.count()).select_from(Response)) == 0
    good = upload(
        "P01,P02,channel,received_on,age_band\n4,5,paper,2026-01-02,16-34\n2,dk,phone,,\n"
    )
    assert good.status_code == 302
    with app.app_context():
        channels = sorted(r.channel.value for r in db.session.scalars(select(Response)))
        assert channels == ["paper", "phone"]
    assert "returns imported" in audit_actions(app)


def test_kpi_values_are_validated_recorded_and_corrections_kept(app, client) -> None:
    from survey_app.models import KpiValue

    _analyst(app, client)
    token = csrf(client, "/programme/measures")

    def post(**fields):
        return client.post(
            "/programme/measures",
            data={
                "csrf_token": token,
                "measure": "O9-divested",
                "period": "2026-Q4",
                "value": "81",
                "source": "Treasury report",
                **fields,
            },
        )

    assert "like 2026-Q4" in post(period="Q4 2026").get_data(as_text=True)
    assert "between 0 and 100" in post(value="140").get_data(as_text=True)
    assert "Enter the source" in post(source="").get_data(as_text=True)
    assert "Enter value as a number, like 42" in post(value="lots").get_data(as_text=True)
    assert post().status_code == 302
    assert post(value="83.5", source="Corrected treasury report").status_code == 302
    with app.app_context():
        (kpi,) = db.session.scalars(select(KpiValue)).all()
        assert (kpi.value, kpi.source, kpi.period) == (83.5, "Corrected treasury report", "2026-Q4")
        correction = db.session.scalar(
            select(AuditEntry).where(AuditEntry.action == "KPI value corrected")
        )
        assert correction.detail["before"]["value"] == 81.0
    page = client.get("/programme/measures").get_data(as_text=True)
    assert "83.5% in 2026-Q4" in page


def test_target_changes_keep_who_when_and_why(app, client) -> None:
    _analyst(app, client)
    path = "/programme/measures/O1-members"
    token = csrf(client, path)
    form = {
        "csrf_token": token,
        "baseline": "35",
        "target": "70",
        "direction": "higher",
        "amber_margin": "5",
        "target_date": ["31", "3", "2028"],
    }
    missing_reason = client.post(
        path,
        data=MultiDict(
            [(k, v) for k, vs in form.items() for v in (vs if isinstance(vs, list) else [vs])]
        ),
    )
    assert "Say why the target is changing" in missing_reason.get_data(as_text=True)
    form["reason"] = "Commissioners asked for a stretch target after the Q3 review"
    assert (
        client.post(
            path,
            data=MultiDict(
                [(k, v) for k, vs in form.items() for v in (vs if isinstance(vs, list) else [vs])]
            ),
        ).status_code
        == 302
    )
    page = client.get(path).get_data(as_text=True)
    assert "stretch target" in page and "Analyst" in page and "31 Mar 2028" in page
    overview = client.get("/programme/measures").get_data(as_text=True)
    assert "O1-members, changed" in overview
    with app.app_context():
        change = db.session.scalar(select(AuditEntry).where(AuditEntry.action == "target changed"))
        assert change.detail["before"]["target"] == 65 and change.detail["after"]["target"] == 70


def test_retention_deletes_only_old_responses_and_is_logged(app, client) -> None:
    from survey_app.models import Answer, Response

    add_user(app, "admin@council.example", Role.ADMIN)
    sign_in(client, "admin@council.example")
    version_id = _version_id(app, "member-pulse")
    create_wave(client, version_id, "Old", "open", dt.date(2018, 1, 1), dt.date(2018, 2, 1))
    with app.app_context():
        wave_id = db.session.scalar(select(Wave.id))
        for day in (dt.date(2018, 1, 5), dt.date(2018, 1, 6), TODAY):
            db.session.add(
                Response(
                    wave_id=wave_id,
                    submitted_on=day,
                    answers=[Answer(question_id="M01", value="4")],
                )
            )
        db.session.commit()
    page = client.get("/admin/retention").get_data(as_text=True)
    assert "2 responses are past the retention period" in page
    client.post(
        "/admin/retention/delete", data={"csrf_token": csrf(client, "/admin/retention/delete")}
    )
    with app.app_context():
        assert [r.submitted_on for r in db.session.scalars(select(Response))] == [TODAY]
        assert db.session.scalar(select(db.func.count()).select_from(Answer)) == 1
        entry = db.session.scalar(
            select(AuditEntry).where(AuditEntry.action == "responses past retention deleted")
        )
        assert entry.detail["count"] == 2
