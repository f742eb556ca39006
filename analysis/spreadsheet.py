"""CSV and Excel files that are data, not code: the one writer and reader of every table the
app, the ``flask`` commands and ``pulse-analysis`` produce.

A spreadsheet evaluates a cell whose text starts with ``=``, ``+``, ``-`` or ``@`` (and, in
some programs, a tab or carriage return followed by one of them), so a comment such as
``=HYPERLINK("http://...")`` would become a live link or a call to a web service when an
officer opens the file. Following OWASP's "CSV Injection" guidance, every *text* cell that
starts with one of those characters is written with a single quote (``'``) in front of it:

* ``=SUM(A1)`` is written ``'=SUM(A1)``; ``-1+1`` is written ``'-1+1``; a tab-led text keeps
  its tab after the quote;
* numbers (``int``, ``float``, numpy numbers, booleans) are never changed: a negative number
  stays a number, in the CSV and as a numeric Excel cell;
* text that already starts with a quote followed by something that would need one
  (``'=x``) gets one more, so :func:`restore` gives back exactly what was written:
  ``restore(neutralise(x)) == x`` for every text.

In Excel files every text cell is also written with the string type (never a formula), so
even a program that ignored the quote could not evaluate it; characters that the file format
cannot hold (control characters other than tab, line feed and carriage return) become U+FFFD.

:func:`read_csv` (and :func:`restore_frame`) strip the quote again, so the analysis package
reads the app's own export unchanged.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping
from pathlib import Path
from typing import IO, Any

import numpy as np
import pandas as pd

#: Characters that make a spreadsheet evaluate a cell when they start its text (OWASP).
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
#: What is put in front of such a text to make the spreadsheet show it as text.
TEXT_PREFIX = "'"

EXCEL_MIME = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
EXCEL_MAX_SHEET_NAME = 31


def needs_prefix(text: str) -> bool:
    """Whether :func:`neutralise` puts :data:`TEXT_PREFIX` in front of ``text``: it starts
    with a formula trigger, or with quotes followed by one (so that the quote is reversible)."""
    stripped = text.lstrip(TEXT_PREFIX)
    return stripped.startswith(FORMULA_TRIGGERS)


def neutralise(value: Any) -> Any:
    """The cell value to write: text a spreadsheet would evaluate gets the ``'`` prefix;
    anything that is not text (numbers, booleans, blanks, dates) is returned unchanged."""
    if isinstance(value, str) and needs_prefix(value):
        return TEXT_PREFIX + value
    return value


def restore(value: Any) -> Any:
    """The inverse of :func:`neutralise`: the text as it was before it was written."""
    if isinstance(value, str) and value.startswith(TEXT_PREFIX) and needs_prefix(value[1:]):
        return value[1:]
    return value


def _map_text_cells(column: pd.Series, change) -> pd.Series:
    """Apply ``change`` to the text cells of an object column, looking at each distinct value
    once (a million-row column of scale codes has a handful), and only where it changes one."""
    if column.dtype != object and not isinstance(column.dtype, pd.StringDtype):
        return column
    try:
        distinct = pd.unique(column.to_numpy())
    except TypeError:  # unhashable cells (e.g. lists): look at each one
        return column.map(change)
    mapping = {}
    for value in distinct:
        if isinstance(value, str):
            changed = change(value)
            if changed != value:
                mapping[value] = changed
    if not mapping:
        return column
    hit = column.isin(list(mapping))
    return column.where(~hit, column[hit].map(mapping))


def neutralise_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``frame`` with every text cell (and column name) passed through
    :func:`neutralise`; numeric columns are untouched."""
    out = frame.copy(deep=False)
    for position in range(out.shape[1]):
        out.isetitem(position, _map_text_cells(out.iloc[:, position], neutralise))
    out.columns = [neutralise(c) for c in out.columns]
    return out


def restore_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with every text cell (and column name) passed through :func:`restore`."""
    out = frame.copy(deep=False)
    for position in range(out.shape[1]):
        out.isetitem(position, _map_text_cells(out.iloc[:, position], restore))
    out.columns = [restore(c) if isinstance(c, str) else c for c in out.columns]
    return out


def write_csv(
    frame: pd.DataFrame, target: str | Path | IO[str], *, float_format: str | None = "%.17g"
) -> None:
    """Write ``frame`` as UTF-8 CSV with neutralised text cells, blanks for missing values and
    (by default) every float at full precision (``%.17g``, which reads back bit for bit).

    Records end in CRLF, as RFC 4180 has it: Python's writer quotes a field holding any
    character of the line terminator, so with CRLF a carriage return inside a comment is
    quoted too (with a bare LF terminator it was not, and a spreadsheet started a new row,
    and so a new cell, at it)."""
    neutralise_frame(frame).to_csv(
        target, index=False, na_rep="", float_format=float_format, lineterminator="\r\n"
    )


def csv_bytes(frame: pd.DataFrame, *, float_format: str | None = "%.17g") -> bytes:
    """:func:`write_csv` into memory, encoded as UTF-8 (for a download)."""
    import io

    buffer = io.StringIO()
    write_csv(frame, buffer, float_format=float_format)
    return buffer.getvalue().encode("utf-8")


def read_csv(source: str | Path | IO[str], **options: Any) -> pd.DataFrame:
    """``pandas.read_csv`` followed by :func:`restore_frame`, so our own CSV files read back
    with the values they were written from."""
    return restore_frame(pd.read_csv(source, **options))


# --------------------------------------------------------------------------- Excel


def _excel_value(value: Any) -> Any:
    """A Python value openpyxl can store: blanks as ``None``, numpy scalars as numbers."""
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (np.integer, np.floating)):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None  # Excel has no NaN or infinity; blank, as in the CSV
    if isinstance(value, pd.Timestamp):
        return value.to_pydatetime()
    if isinstance(value, (str, int, float, dt.date, dt.time)):
        return value
    return str(value)  # a list or any other object: its text, as the CSV would show it


def write_workbook(sheets: Mapping[str, pd.DataFrame], target: str | Path | IO[bytes]) -> None:
    """Write one sheet per ``{name: frame}`` (header row, then one row per record) to an
    ``.xlsx`` file. Text cells are neutralised and typed as strings, so none is a formula;
    numbers are numeric cells; blanks are empty cells. Sheet names are cut to Excel's 31
    characters."""
    from openpyxl import Workbook
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

    # A normal (not write-only) workbook, so the file records each sheet's size, which
    # readers in read-only mode rely on to give every row its trailing blank cells.
    book = Workbook()
    book.remove(book.active)
    for name, frame in sheets.items():
        sheet = book.create_sheet(title=name[:EXCEL_MAX_SHEET_NAME])
        rows = [list(map(str, frame.columns)), *frame.itertuples(index=False, name=None)]
        for row_number, row in enumerate(rows, start=1):
            for column_number, raw in enumerate(row, start=1):
                value = _excel_value(raw)
                if value is None:
                    continue
                if isinstance(value, str):
                    value = ILLEGAL_CHARACTERS_RE.sub("\ufffd", neutralise(value))
                cell = sheet.cell(row=row_number, column=column_number, value=value)
                if isinstance(value, str):
                    cell.data_type = "s"  # openpyxl makes a text that starts with "=" a formula
    book.save(target)


def workbook_bytes(sheets: Mapping[str, pd.DataFrame]) -> bytes:
    """:func:`write_workbook` into memory (for a download)."""
    import io

    buffer = io.BytesIO()
    write_workbook(sheets, buffer)
    return buffer.getvalue()
