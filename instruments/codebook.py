"""The comment codebook (``codebook.yaml``) and the redaction settings (``redaction.yaml``).

Both live in the definitions folder beside ``framework.yaml`` and are validated like
instruments: unknown keys are errors and every problem names the file, the path inside it
and what is wrong. A codebook's version is the SHA-256 of its canonical JSON
(:func:`instruments.version_of`), so coded comments can record which rules coded them.

Theme patterns (``include`` and ``exclude``) are either

* a keyword or phrase, matched case-insensitively as whole words, any whitespace between
  words; a trailing ``*`` matches any ending (``communicat*``: communicate, communication); or
* ``re:`` followed by a Python regular expression, matched case-insensitively anywhere.

A comment gets a theme when any ``include`` pattern matches and no ``exclude`` pattern does.
"""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import Field, StringConstraints, ValidationInfo, field_validator, model_validator

from .schema import Identifier, LocatedError, Text, _natural, _no_duplicates, _Strict

Pattern = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500)]
Phrase = Annotated[str, StringConstraints(strip_whitespace=True, min_length=2, max_length=200)]
REGEX_PREFIX = "re:"


def _keyword_body(pattern: str) -> str:
    words = []
    for word in pattern.split():
        stem = word.endswith("*")
        words.append(re.escape(word.rstrip("*")) + (r"\w*" if stem else ""))
    return r"\s+".join(words)


def pattern_regex(pattern: str) -> str:
    """The regular expression (without flags) that one codebook pattern stands for."""
    if pattern.startswith(REGEX_PREFIX):
        return pattern[len(REGEX_PREFIX) :].strip()
    return r"(?<!\w)" + _keyword_body(pattern) + r"(?!\w)"


def compile_patterns(patterns: list[str]) -> re.Pattern | None:
    """One case-insensitive regular expression matching any of ``patterns`` (None if empty)."""
    if not patterns:
        return None
    return re.compile("|".join(f"(?:{pattern_regex(p)})" for p in patterns), re.IGNORECASE)


def split_patterns(patterns: list[str]) -> tuple[re.Pattern | None, re.Pattern | None]:
    """The same patterns as two faster expressions: keywords, to search in *lower-cased* text
    (one lookaround for the whole alternation, no case folding), and the ``re:`` expressions,
    case-insensitive on the original text. A comment matches when either matches."""
    keywords = [p for p in patterns if not p.startswith(REGEX_PREFIX)]
    regexes = [p for p in patterns if p.startswith(REGEX_PREFIX)]
    keyword_re = (
        re.compile(
            r"(?<!\w)(?:" + "|".join(_keyword_body(p.lower()) for p in keywords) + r")(?!\w)"
        )
        if keywords
        else None
    )
    return keyword_re, compile_patterns(regexes)


def _check_patterns(patterns: list[str]) -> list[str]:
    for position, pattern in enumerate(patterns):
        if pattern.startswith(REGEX_PREFIX) and not pattern_regex(pattern):
            raise LocatedError((position,), f"empty regular expression {pattern!r}")
        if pattern.rstrip("*").strip() == "":
            raise LocatedError((position,), f"pattern {pattern!r} has no letters to match")
        try:
            compiled = re.compile(pattern_regex(pattern), re.IGNORECASE)
        except re.error as exc:
            raise LocatedError((position,), f"bad regular expression {pattern!r}: {exc}") from None
        if compiled.search(""):
            raise LocatedError(
                (position,),
                f"pattern {pattern!r} matches empty text, so it would match every comment",
            )
    seen: set[str] = set()
    for position, pattern in enumerate(patterns):
        if pattern.lower() in seen:
            raise LocatedError((position,), f"duplicate pattern {pattern!r}")
        seen.add(pattern.lower())
    try:
        compile_patterns(patterns)
    except re.error as exc:
        raise ValueError(
            f"patterns cannot be combined into one expression ({exc}); "
            "move inline flags such as (?i) out of them"
        ) from None
    return patterns


class Theme(_Strict):
    id: Identifier
    label: Text
    description: Text | None = None
    outcomes: list[Identifier] = Field(default_factory=list)
    include: list[Pattern] = Field(min_length=1)
    exclude: list[Pattern] = Field(default_factory=list)
    examples: list[Text] = Field(default_factory=list)

    @field_validator("include", "exclude")
    @classmethod
    def _valid_patterns(cls, patterns: list[str]) -> list[str]:
        return _check_patterns(patterns)

    @field_validator("outcomes")
    @classmethod
    def _known_outcomes(cls, outcomes: list[str], info: ValidationInfo) -> list[str]:
        _no_duplicates(outcomes, "outcome")
        known = (info.context or {}).get("outcomes")
        if known is not None:
            for position, outcome in enumerate(outcomes):
                if outcome not in known:
                    raise LocatedError(
                        (position,),
                        f"unknown outcome id {outcome!r} (the framework has "
                        f"{', '.join(sorted(known, key=_natural)) or 'no outcomes'})",
                    )
        return outcomes

    def include_regex(self) -> re.Pattern:
        return compile_patterns(self.include)  # type: ignore[return-value]

    def exclude_regex(self) -> re.Pattern | None:
        return compile_patterns(self.exclude)


class Codebook(_Strict):
    """Themes that comments are coded into; each maps to outcomes of the framework."""

    title: Text = "Comment codebook"
    description: Text | None = None
    themes: list[Theme] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique_ids(self) -> Codebook:
        seen: set[str] = set()
        for position, theme in enumerate(self.themes):
            if theme.id in seen:
                raise LocatedError(("themes", position, "id"), f"duplicate theme id {theme.id!r}")
            seen.add(theme.id)
        return self

    @property
    def theme_ids(self) -> list[str]:
        return [t.id for t in self.themes]

    def theme(self, theme_id: str) -> Theme:
        for theme in self.themes:
            if theme.id == theme_id:
                return theme
        raise KeyError(theme_id)


class RedactionSettings(_Strict):
    """``redaction.yaml``: names replaced by ``[name]`` in every comment (e.g. members and
    senior officers) and the safeguarding or whistleblowing signal phrases whose comments are
    flagged for the designated reviewer."""

    names: list[Phrase] = Field(default_factory=list)
    safeguarding: list[Phrase] = Field(default_factory=list)

    @field_validator("names", "safeguarding")
    @classmethod
    def _unique(cls, values: list[str]) -> list[str]:
        seen: set[str] = set()
        for position, value in enumerate(values):
            key = " ".join(value.lower().split())
            if key in seen:
                raise LocatedError((position,), f"{value!r} is listed twice")
            seen.add(key)
        return values
