"""Convert an XLSForm (the ODK / Kobo spreadsheet format) into our instrument YAML.

Converted: ``select_one LIST`` (a choice question), ``select_multiple LIST`` (multi; a choice
named ``none`` becomes exclusive), ``integer`` and ``decimal`` (number, with ``constraint``
bounds like ``. >= 0 and . <= 100``), ``text``, ``begin group`` / ``end group`` (the group's
label is the section of its questions), ``required``, ``hint``, simple ``relevant``
expressions (``${q} = 'name'``, ``${q} != 'name'``, ``selected(${q}, 'name')``, ``${q} >= 3``
and the like, joined by ``and`` / ``or``, and ``not(...)``), and ``label::<language>`` /
``hint::<language>`` columns (``label::Polish (pl)`` or ``label::pl``) as translations.
Every row that cannot be converted is listed with the reason; nothing is dropped silently.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

LANGUAGE_CODES = {
    "english": "en",
    "welsh": "cy",
    "polish": "pl",
    "romanian": "ro",
    "urdu": "ur",
    "arabic": "ar",
    "bengali": "bn",
    "punjabi": "pa",
    "lithuanian": "lt",
    "portuguese": "pt",
    "somali": "so",
    "turkish": "tr",
    "ukrainian": "uk",
    "easy read": "en-easyread",
}
SKIPPED_TYPES = {
    "note": "a note shows text and asks nothing",
    "calculate": "calculations are not part of the instrument format",
    "begin repeat": "repeated groups are not supported",
    "end repeat": "repeated groups are not supported",
    "geopoint": "locations are never collected (anonymity)",
    "geotrace": "locations are never collected (anonymity)",
    "geoshape": "locations are never collected (anonymity)",
    "image": "files and media are not collected",
    "audio": "files and media are not collected",
    "video": "files and media are not collected",
    "file": "files and media are not collected",
    "barcode": "barcodes are not supported",
    "date": "dates are not collected (they can identify people)",
    "datetime": "dates are not collected (they can identify people)",
    "time": "times are not collected (they can identify people)",
}
METADATA_TYPES = {"start", "end", "today", "deviceid", "phonenumber", "username", "email", "audit"}


@dataclass
class Conversion:
    """The instrument as plain data (ready for YAML) and every row not converted."""

    instrument: dict[str, Any]
    skipped: list[str] = field(default_factory=list)


def _language(column: str) -> str | None:
    """``label::Polish (pl)`` -> ``pl``; ``label`` -> None (English)."""
    if "::" not in column:
        return None
    name = column.split("::", 1)[1].strip()
    code = re.search(r"\(([A-Za-z-]+)\)\s*$", name)
    if code:
        return code.group(1).lower()
    return LANGUAGE_CODES.get(name.lower(), name.lower())


def _sheet(book, name: str) -> list[dict[str, Any]]:
    if name not in book.sheetnames:
        return []
    rows = list(book[name].iter_rows(values_only=True))
    if not rows:
        return []
    header = [str(h).strip() if h is not None else "" for h in rows[0]]
    out = []
    for number, row in enumerate(rows[1:], start=2):
        record = {
            h: (str(v).strip() if v is not None else "")
            for h, v in zip(header, row, strict=False)
            if h
        }
        if any(record.values()):
            record["_row"] = str(number)
            out.append(record)
    return out


def _english(record: dict[str, Any], key: str) -> str:
    """The default-language value of ``key`` (``label``, else ``label::English (en)``)."""
    if record.get(key):
        return record[key]
    for column, value in record.items():
        if column.startswith(f"{key}::") and _language(column) in ("en", "english") and value:
            return value
    return ""


_COMPARISON = re.compile(
    r"^\$\{(\w+)\}\s*(=|!=|>=|<=|>|<)\s*('([^']*)'|\"([^\"]*)\"|-?\d+(\.\d+)?)$"
)
_SELECTED = re.compile(r"^selected\(\s*\$\{(\w+)\}\s*,\s*('([^']*)'|\"([^\"]*)\")\s*\)$")


class _Unsupported(ValueError):
    pass


def _split(text: str, word: str) -> list[str]:
    """Split at a top-level `` and `` / `` or `` (outside brackets and quotes)."""
    parts, depth, quote, start = [], 0, "", 0
    i = 0
    token = f" {word} "
    while i < len(text):
        ch = text[i]
        if quote:
            quote = "" if ch == quote else quote
        elif ch in "'\"":
            quote = ch
        elif ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        elif depth == 0 and text[i : i + len(token)] == token:
            parts.append(text[start:i])
            start = i + len(token)
            i += len(token)
            continue
        i += 1
    parts.append(text[start:])
    return [p.strip() for p in parts]


def _condition(
    expression: str, questions: dict[str, dict[str, Any]], lists: dict[str, dict[str, str]]
) -> dict[str, Any]:
    text = expression.strip()
    while text.startswith("(") and text.endswith(")") and _balanced(text[1:-1]):
        text = text[1:-1].strip()
    for word, key in (("or", "any"), ("and", "all")):
        parts = _split(text, word)
        if len(parts) > 1:
            return {key: [_condition(p, questions, lists) for p in parts]}
    if text.startswith("not(") and text.endswith(")"):
        return {"not": _condition(text[4:-1], questions, lists)}
    selected = _SELECTED.match(text)
    if selected:
        name, value = selected.group(1), selected.group(3) or selected.group(4)
        return {"question": name, "in": [_choice_label(name, value, questions, lists)]}
    comparison = _COMPARISON.match(text)
    if not comparison:
        raise _Unsupported(f"relevant {expression!r} is not a simple comparison")
    name, operator, literal = comparison.group(1), comparison.group(2), comparison.group(3)
    if literal[0] in "'\"":
        label = _choice_label(name, literal[1:-1], questions, lists)
        if operator == "=":
            return {"question": name, "in": [label]}
        if operator == "!=":
            return {"not": {"question": name, "in": [label]}}
        raise _Unsupported(f"relevant {expression!r} compares text with {operator}")
    number = float(literal)
    number_out: float | int = int(number) if number == int(number) else number
    step = 1 if questions.get(name, {}).get("integer") else 0
    if operator == ">=":
        return {"question": name, "at_least": number_out}
    if operator == "<=":
        return {"question": name, "at_most": number_out}
    if operator == ">" and step:
        return {"question": name, "at_least": number_out + 1}
    if operator == "<" and step:
        return {"question": name, "at_most": number_out - 1}
    if operator == "=":
        return {"question": name, "at_least": number_out, "at_most": number_out}
    raise _Unsupported(f"relevant {expression!r}: use >= or <= for a decimal")


def _balanced(text: str) -> bool:
    depth = 0
    for ch in text:
        depth += {"(": 1, ")": -1}.get(ch, 0)
        if depth < 0:
            return False
    return depth == 0


def _choice_label(
    name: str, value: str, questions: dict[str, dict[str, Any]], lists: dict[str, dict[str, str]]
) -> str:
    question = questions.get(name)
    if question is None:
        raise _Unsupported(
            f"relevant refers to {name!r}, which is not an earlier converted question"
        )
    labels = lists.get(question.get("_list", ""), {})
    if value not in labels:
        raise _Unsupported(f"relevant: {value!r} is not a choice of {name}")
    return labels[value]


_BOUND = re.compile(r"^\.\s*(>=|<=|>|<)\s*(-?\d+(\.\d+)?)$")


def _bounds(constraint: str) -> dict[str, float | int]:
    found: dict[str, float | int] = {}
    for part in _split(constraint, "and"):
        match = _BOUND.match(part.strip())
        if not match:
            raise _Unsupported(f"constraint {constraint!r} is not simple bounds on the number")
        value = float(match.group(2))
        number: float | int = int(value) if value == int(value) else value
        found["min" if match.group(1).startswith(">") else "max"] = number
    return found


def convert(path: str | Path, *, audience: str, instrument_id: str | None = None) -> Conversion:
    """Read an XLSForm ``.xlsx`` and convert it (see the module docstring). Raises
    ``ValueError`` for a file that is not an XLSForm (no ``survey`` sheet)."""
    import openpyxl  # the spreadsheet reader is only needed here

    try:
        book = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # noqa: BLE001 - any unreadable file gets one message
        raise ValueError(f"{path}: not a readable .xlsx file ({exc})") from None
    if "survey" not in book.sheetnames:
        raise ValueError(f"{path}: no 'survey' sheet: not an XLSForm")
    survey, choices, settings = (
        _sheet(book, "survey"),
        _sheet(book, "choices"),
        _sheet(book, "settings"),
    )
    lists: dict[str, dict[str, str]] = {}
    list_translations: dict[str, dict[str, dict[str, str]]] = {}
    for row in choices:
        name = row.get("list_name") or row.get("list name", "")
        lists.setdefault(name, {})[row.get("name", "")] = _english(row, "label") or row.get(
            "name", ""
        )
        for column, value in row.items():
            code = _language(column) if column.startswith("label::") else None
            if code and code != "en" and value:
                list_translations.setdefault(code, {}).setdefault(name, {})[
                    _english(row, "label")
                ] = value
    form = settings[0] if settings else {}
    skipped: list[str] = []
    questions: list[dict[str, Any]] = []
    by_name: dict[str, dict[str, Any]] = {}
    translations: dict[str, dict[str, Any]] = {}
    groups: list[str] = []
    page: set[str] = set()  # the question names on the page being filled
    section: str | None = None
    part = 1
    for row in survey:
        where = f"survey row {row['_row']}"
        kind = row.get("type", "").strip()
        name = row.get("name", "")
        head = kind.split()[0] if kind else ""
        if kind in ("begin group", "begin_group"):
            groups.append(_english(row, "label") or name)
            section, page, part = groups[-1], set(), 1
            continue
        if kind in ("end group", "end_group"):
            if groups:
                groups.pop()
            section, page, part = (groups[-1] if groups else None), set(), 1
            continue
        if head in METADATA_TYPES:
            skipped.append(
                f"{where} ({name}): type {kind} is device metadata, never collected (anonymity)"
            )
            continue
        if kind in SKIPPED_TYPES or head in SKIPPED_TYPES:
            skipped.append(
                f"{where} ({name}): type {kind}: {SKIPPED_TYPES.get(kind) or SKIPPED_TYPES[head]}"
            )
            continue
        question: dict[str, Any] = {"id": name, "text": _english(row, "label")}
        if not name or not question["text"]:
            skipped.append(f"{where}: no name or no label")
            continue
        if head in ("select_one", "select_multiple"):
            parts = kind.split()
            if len(parts) != 2 or parts[1] not in lists:
                skipped.append(
                    f"{where} ({name}): type {kind!r} names no list of the choices sheet"
                )
                continue
            question["type"] = "choice" if head == "select_one" else "multi"
            question["choices"] = list(lists[parts[1]].values())
            question["_list"] = parts[1]
            if head == "select_multiple":
                none = [
                    label
                    for value, label in lists[parts[1]].items()
                    if value.lower() in ("none", "none_of_these")
                ]
                if none:
                    question["exclusive"] = none
        elif head in ("integer", "decimal"):
            question["type"] = "number"
            if head == "integer":
                question["integer"] = True
            if row.get("constraint"):
                try:
                    question.update(_bounds(row["constraint"]))
                except _Unsupported as exc:
                    skipped.append(f"{where} ({name}): {exc}; converted without bounds")
        elif head == "text":
            question["type"] = "text"
        else:
            skipped.append(f"{where} ({name}): type {kind!r} is not supported")
            continue
        hint = _english(row, "hint")
        if hint:
            question["hint"] = hint
        if row.get("required", "").lower() in ("yes", "true", "true()", "1"):
            question["required"] = True
        if row.get("relevant"):
            try:
                question["show_if"] = _condition(row["relevant"], by_name, lists)
            except _Unsupported as exc:
                skipped.append(f"{where} ({name}): {exc}; converted without the condition")
        used = {t for t in re.findall(r"\$\{(\w+)\}", row.get("relevant", ""))}
        if "show_if" in question and used & page:
            # A condition can only use earlier pages (pages are evaluated on the server):
            # the question starts a new page of its group.
            part += 1
            base = groups[-1] if groups else "Questions"
            section, page = f"{base} (part {part})", set()
        if section:
            question["section"] = section
        page.add(name)
        for column, value in row.items():
            if not value or "::" not in column:
                continue
            key, code = column.split("::", 1)[0], _language(column)
            if code in (None, "en") or key not in ("label", "hint"):
                continue
            texts = (
                translations.setdefault(code, {"questions": {}})
                .setdefault("questions", {})
                .setdefault(name, {})
            )
            texts["text" if key == "label" else "hint"] = value
            if "_list" in question and code in list_translations:
                texts["choices"] = dict(list_translations[code].get(question["_list"], {}))
        questions.append(question)
        by_name[name] = question
    for question in questions:
        question.pop("_list", None)
    instrument: dict[str, Any] = {
        "id": instrument_id or form.get("form_id") or Path(path).stem,
        "title": form.get("form_title") or Path(path).stem,
        "audience": audience,
        "questions": questions,
    }
    if translations:
        instrument["translations"] = translations
    return Conversion(instrument, skipped)
