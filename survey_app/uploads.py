"""Reading an uploaded CSV file (invitation lists, typed-up returns) within fixed bounds.

Every upload is read here, so every one gets the same limits and the same messages: the file
must be UTF-8 (a spreadsheet's "CSV UTF-8", byte-order mark allowed); no value may be longer
than :data:`MAX_FIELD_CHARS` characters (the longest answer an instrument may allow, a text
question's ``max_length`` of at most 10,000); the file may hold at most the caller's number of
rows; and a file the CSV reader cannot read (a quote left open, text after a closing quote)
is refused with the row where it failed. Rows are numbered as a spreadsheet shows them: the
header is row 1.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass

MAX_FIELD_CHARS = 10_000


class CsvUploadError(ValueError):
    """The file cannot be read as a whole; ``problem`` says what and where."""

    def __init__(self, problem: str) -> None:
        self.problem = problem
        super().__init__(problem)


@dataclass(frozen=True)
class CsvUpload:
    headers: list[str]
    rows: list[tuple[int, dict[str, str]]]  # (row number, {header: value})


def read_csv_upload(data: bytes, max_rows: int, *, lower_headers: bool = False) -> CsvUpload:
    """The header row and every non-blank data row of an uploaded CSV file, or
    :class:`CsvUploadError`. ``lower_headers`` strips the column names and folds them to lower
    case. A row with fewer values than headers lacks the missing keys; extra values are dropped
    (the callers check the columns they need)."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise CsvUploadError(
            "The file is not UTF-8 text: save it as 'CSV UTF-8' and try again"
        ) from None
    # strict: a quote left open or text after a closing quote is an error, not a silent merge
    # of the rest of the file into one value
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    last_read = 0  # the row number of the last row read whole
    headers: list[str] = []
    rows: list[tuple[int, dict[str, str]]] = []
    try:
        headers = next(reader, [])
        if lower_headers:
            headers = [h.strip().lower() for h in headers]
        _check_lengths(headers, [], 1)
        last_read = 1
        for values in reader:
            number = last_read + 1
            if number - 1 > max_rows:
                raise CsvUploadError(f"The file has more than {max_rows:,} rows")
            _check_lengths(values, headers, number)
            if any(v.strip() for v in values):
                rows.append((number, dict(zip(headers, values, strict=False))))
            last_read = number
    except csv.Error as exc:
        # The csv module stops at its own field limit (131,072 characters) before we can look.
        if "field larger than field limit" in str(exc):
            raise CsvUploadError(_too_long(last_read + 1)) from None
        raise CsvUploadError(
            f"Row {last_read + 1}: the file cannot be read as CSV ({exc})"
        ) from None
    return CsvUpload(headers, rows)


def _too_long(row_number: int, column: str | None = None) -> str:
    where = f" in column '{column[:40]}'" if column else ""
    return f"Row {row_number}: a value{where} is longer than {MAX_FIELD_CHARS:,} characters"


def _check_lengths(values: list[str], headers: list[str], row_number: int) -> None:
    for position, value in enumerate(values):
        if len(value) > MAX_FIELD_CHARS:
            raise CsvUploadError(
                _too_long(row_number, headers[position] if position < len(headers) else None)
            )
