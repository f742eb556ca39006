"""Redaction of personal details in free text, and safeguarding signals.

:func:`redact` replaces, in this order,

* URLs that point at a person (social-media profiles, ``/users/...``, ``/in/...``,
  ``/profile...``, ``/@name``, ``~name``, or a query string carrying an id, a user, a name, a
  token or an e-mail address) with ``[url]``; other URLs (``thurrock.gov.uk/council-tax``) stay;
* e-mail addresses with ``[email]``;
* UK telephone numbers (landline, mobile, freephone; ``0...``, ``+44 ...``, ``0044 ...``,
  ``+44 (0)...``; spaces, dashes, dots or brackets between digits) with ``[phone]``;
* full UK postcodes (``RM17 6SL``, ``ss170ab``) with ``[postcode]``;
* street addresses, a house number and a street name ending in a street word (``12 Acacia
  Avenue``, ``14a High St``, ``27-29 London Road``, ``Flat 3, 8 Orsett Close``) with
  ``[address]``. The name is one to three words, none of them a little word such as "the",
  "on" or "in", so "5 minutes down the road" and "3 people in the park" stay as written;
* names on a configured list (case-insensitive, whole words, possessive ``Smith's`` kept as
  ``[name]'s``) with ``[name]``.

Everything is a pure function of the text: no Flask, no I/O. :func:`redact_series` does the
same on a pandas Series with vectorised regular expressions (100k comments in about a second).

A comment the designated reviewer has not yet acted on (an open safeguarding flag) leaves the
app only as :data:`WITHHELD`: the export writes the placeholder, so the CLI needs no flag data
to leave it out, and the flagged text itself never reaches a file.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from functools import lru_cache

import pandas as pd

EMAIL = "[email]"
PHONE = "[phone]"
POSTCODE = "[postcode]"
URL = "[url]"
NAME = "[name]"
ADDRESS = "[address]"
#: What the app's export carries instead of a comment with an open safeguarding flag; the
#: analysis leaves it out of comment counts and themes (:func:`analysis.text.themes.comments_of`).
WITHHELD = "[withheld: safeguarding review]"

_EMAIL_RE = re.compile(
    r"[\w.!#$%&'*+/=?^`{|}~-]+@[\w-]+(?:\.[\w-]+)+",
)
# After a leading 0 (or +44 / 0044 with an optional "(0)"), 9 or 10 more digits with up to
# three separators (spaces, dashes, dots, brackets) between any two of them.
_PHONE_RE = re.compile(
    r"(?<!\d)(?:(?:\+|\b00)\s?44[\s.-]*(?:\(0\)[\s.-]*)?|\(?0)(?:\d[\s.()-]{0,3}){8,9}\d(?!\d)"
)
_POSTCODE_RE = re.compile(
    r"(?<![\w])(?:[A-Z]{1,2}\d[A-Z\d]?|GIR)[ \t]*\d[A-Z]{2}(?![\w])", re.IGNORECASE
)
# Street words (Royal Mail thoroughfare types, with their usual abbreviations), a plural
# never matching ("the main roads"); a name word is not one of the little words that join a
# number to an ordinary noun phrase ("5 minutes down the road").
_STREET_WORDS = (
    "road|rd|street|st|avenue|ave|lane|ln|close|drive|dr|way|crescent|cres|court|ct|place|pl|"
    "gardens|gdns|grove|gr|terrace|terr|hill|park|square|sq|mews|walk|rise|row|parade|view|green|"
    "vale|end|gate|chase|approach|boulevard|wharf|meadow|meadows|quay|yard"
)
_LITTLE_WORDS = (
    "the|a|an|in|on|at|of|to|for|from|by|with|and|or|but|my|our|your|their|his|her|its|this|"
    "that|these|those|is|are|was|were|be|been|has|have|had|it|we|they|you|i|he|she|up|down|"
    "along|over|off|out|into|per|times|years|days|weeks|months|minutes|hours|people|percent"
)
_ADDRESS_RE = re.compile(
    rf"(?<![\w.,])\d{{1,4}}[a-z]?(?:\s?[-–/]\s?\d{{1,4}}[a-z]?)?,?\s+"
    rf"(?:(?!(?:{_LITTLE_WORDS})\b)[a-z][\w'’-]*\s+){{1,3}}"
    rf"(?:{_STREET_WORDS})\b",
    re.IGNORECASE,
)
_URL_RE = re.compile(
    r"(?:\b(?:https?://|www\.)|\b(?:[\w-]+\.)*(?:facebook|fb|twitter|x|instagram|linkedin|tiktok)"
    r"\.com/)[^\s<>\"']+",
    re.IGNORECASE,
)
_PERSONAL_HOSTS = re.compile(
    r"(?:^|\.)(?:facebook\.com|fb\.com|fb\.me|twitter\.com|x\.com|instagram\.com|linkedin\.com|"
    r"tiktok\.com|threads\.net|nextdoor\.co\.uk|nextdoor\.com|wa\.me|t\.me|snapchat\.com|"
    r"youtube\.com/@|pinterest\.[a-z.]+|reddit\.com/u(?:ser)?/|github\.com)$|"
    r"(?:^|\.)(?:facebook|fb|twitter|x|instagram|linkedin|tiktok|threads|nextdoor|snapchat)\.",
    re.IGNORECASE,
)
_PERSONAL_PATH = re.compile(
    r"/(?:users?|in|profile|profiles|people|person|members?|u|author|staff|~)[/.?#=]|/@|/~|"
    r"[?&;](?:[\w-]*(?:id|user|uid|name|email|e-mail|mail|profile|token|account|ref|nhs|member)"
    r"[\w-]*)=|@|%40",
    re.IGNORECASE,
)
_TRAILING = ".,;:!?)]}'\""


def _url_replacement(match: re.Match) -> str:
    url = match.group(0)
    trail = ""
    while url and url[-1] in _TRAILING:
        if url[-1] == ")" and url.count("(") >= url.count(")"):
            break
        trail = url[-1] + trail
        url = url[:-1]
    rest = re.sub(r"^(?:https?://)?", "", url, flags=re.IGNORECASE)
    host, _, path = rest.partition("/")
    host = host.split("?")[0].split("#")[0].lower()
    personal = bool(_PERSONAL_HOSTS.search(host)) or bool(_PERSONAL_PATH.search("/" + path + "/"))
    return (URL if personal else url) + trail


@lru_cache(maxsize=64)
def _names_pattern(names: tuple[str, ...]) -> re.Pattern | None:
    cleaned = sorted({" ".join(n.split()) for n in names if n and n.strip()}, key=len, reverse=True)
    if not cleaned:
        return None
    alternatives = "|".join(r"\s+".join(re.escape(part) for part in n.split(" ")) for n in cleaned)
    return re.compile(rf"(?<![\w\[])(?:{alternatives})(?=['’]s\b|(?![\w\]]))", re.IGNORECASE)


def redact(text: str, names: Iterable[str] = ()) -> str:
    """``text`` with personal details replaced by labelled placeholders (module docstring)."""
    if not isinstance(text, str) or not text:
        return text
    text = _URL_RE.sub(_url_replacement, text)
    text = _EMAIL_RE.sub(EMAIL, text)
    text = _PHONE_RE.sub(PHONE, text)
    text = _POSTCODE_RE.sub(POSTCODE, text)
    text = _ADDRESS_RE.sub(ADDRESS, text)
    pattern = _names_pattern(tuple(names))
    if pattern is not None:
        text = pattern.sub(NAME, text)
    return text


def redact_series(values: pd.Series, names: Iterable[str] = ()) -> pd.Series:
    """:func:`redact` over a Series; blanks (NaN/None) stay blank, other values become text."""
    present = values.notna()
    if not present.any():
        return values
    text = values[present].astype(str)
    text = text.str.replace(_URL_RE, _url_replacement, regex=True)
    text = text.str.replace(_EMAIL_RE, EMAIL, regex=True)
    text = text.str.replace(_PHONE_RE, PHONE, regex=True)
    text = text.str.replace(_POSTCODE_RE, POSTCODE, regex=True)
    text = text.str.replace(_ADDRESS_RE, ADDRESS, regex=True)
    pattern = _names_pattern(tuple(names))
    if pattern is not None:
        text = text.str.replace(pattern, NAME, regex=True)
    out = values.astype(object).copy()
    out[present] = text
    return out


@lru_cache(maxsize=64)
def _signal_patterns(signals: tuple[str, ...]) -> tuple[tuple[str, re.Pattern], ...]:
    return tuple(
        (
            s,
            re.compile(
                r"(?<!\w)" + r"\s+".join(re.escape(p) for p in s.split()) + r"(?!\w)", re.IGNORECASE
            ),
        )
        for s in dict.fromkeys(signals)
        if s and s.strip()
    )


def flag_safeguarding(text: str, signals: Sequence[str]) -> list[str]:
    """The configured safeguarding or whistleblowing signal phrases found in ``text``
    (case-insensitive, whole words, any whitespace between words), in list order."""
    if not isinstance(text, str) or not text:
        return []
    return [signal for signal, pattern in _signal_patterns(tuple(signals)) if pattern.search(text)]
