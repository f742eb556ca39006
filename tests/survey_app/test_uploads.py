"""Uploaded CSV files (invitation lists, typed-up returns) are read within fixed bounds: an
oversized value, a file the CSV reader cannot read, or too many rows is refused with a clear
message naming the row, and nothing from the file is stored."""

from __future__ import annotations

import datetime as dt
import io

import pytest
from sqlalchemy import func, select

from survey_app.extensions import db
from survey_app.models import Invitation, Response, Wave
from survey_app.uploads import MAX_FIELD_CHARS, CsvUploadError, read_csv_upload

from .helpers import csrf
from .test_programme import _analyst, _resident_wave, _version_id, create_wave

TODAY = dt.date.today()


def test_rows_are_numbered_as_a_spreadsheet_shows_them() -> None:
    upload = read_csv_upload(
        b'\xef\xbb\xbfEmail,Name\na@x.example,Ann\n\n"b@x.example","Bob\nJr"\nc@x.example\n',
        10,
        lower_headers=True,
    )
    assert upload.headers == ["email", "name"]
    assert upload.rows == [
        (2, {"email": "a@x.example", "name": "Ann"}),
        (4, {"email": "b@x.example", "name": "Bob\nJr"}),
        (5, {"email": "c@x.example"}),
    ]


@pytest.mark.parametrize(
    ("data", "problem"),
    [
        (
            b"a,b\n1,2\n3," + b"x" * (MAX_FIELD_CHARS + 1) + b"\n",
            "Row 3: a value in column 'b' is longer than 10,000 characters",
        ),
        (
            b'a,b\n1,2\n3,"' + b"x" * 300_000 + b'"\n',
            "Row 3: a value is longer than 10,000 characters",
        ),
        (
            b"a," + b"h" * (MAX_FIELD_CHARS + 1) + b"\n1,2\n",
            "Row 1: a value is longer than 10,000 characters",
        ),
        (
            b'a,b\n1,2\n3,"4\n5,6\n',
            "Row 3: the file cannot be read as CSV (unexpected end of data)",
        ),
        (b'a,b\n1,2\n3,"4"x\n5,6\n', "Row 3: the file cannot be read as CSV"),
        (b"a,b\n" + b"1,2\n" * 6, "The file has more than 5 rows"),
        (b"a,b\n\xff\xfe\n", "The file is not UTF-8 text"),
    ],
)
def test_bad_files_are_refused_with_the_row(data: bytes, problem: str) -> None:
    with pytest.raises(CsvUploadError) as caught:
        read_csv_upload(data, 5)
    assert caught.value.problem.startswith(problem)
    assert "xxxxxxxxxx" not in caught.value.problem  # the value itself is never echoed


def test_an_invitation_list_with_an_oversized_value_is_refused_and_nothing_stored(
    app, client
) -> None:
    _analyst(app, client)
    create_wave(
        client, _version_id(app, "member-pulse"), "Q", "invite", TODAY, TODAY + dt.timedelta(days=9)
    )
    with app.app_context():
        wave_id = db.session.scalar(select(Wave.id))
    for name in ("N" * (MAX_FIELD_CHARS + 1), "N" * 500_000):
        data = f"name,email\nAnn,ann@council.example\n{name},bob@council.example\n".encode()
        token = csrf(client, f"/programme/waves/{wave_id}")
        response = client.post(
            f"/programme/waves/{wave_id}/invitations",
            content_type="multipart/form-data",
            data={"csrf_token": token, "file": (io.BytesIO(data), "invitations.csv")},
        )
        page = response.get_data(as_text=True)
        assert response.status_code == 400
        assert "Row 3: a value" in page and "is longer than 10,000 characters" in page
        assert "NNNNNNNNNN" not in page
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Invitation)) == 0


def test_a_returns_file_with_an_oversized_comment_is_refused_and_nothing_stored(
    app, client
) -> None:
    wave_id = _resident_wave(app, client)
    token = csrf(client, f"/programme/waves/{wave_id}/returns/new")
    data = ("P01,P02\n4,5\n3,2\n" + "2," + "y" * (MAX_FIELD_CHARS + 1) + "\n").encode()
    response = client.post(
        f"/programme/waves/{wave_id}/returns/import",
        content_type="multipart/form-data",
        data={"csrf_token": token, "file": (io.BytesIO(data), "returns.csv")},
    )
    page = response.get_data(as_text=True)
    assert (
        response.status_code == 400
        and "Row 4: a value in column &#39;P02&#39; is longer than 10,000" in page
    )
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Response)) == 0
