"""Pydantic models for the outcome framework and for survey instruments.

These models *are* the documented file format (DESIGN.md section 3). Unknown keys are
refused so that a typo such as ``revers: true`` is reported rather than silently ignored;
the optional keys we add beyond the stable contract are listed on each model.
"""

from __future__ import annotations

import datetime as dt
from functools import cached_property
from typing import Annotated, Any, ClassVar, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationInfo,
    field_validator,
    model_validator,
)

from .languages import LanguageCode

AUDIENCES = ("members", "staff", "residents", "partners", "commissioners")
CROSS = "*"  # joins the two attributes of a crossed breakdown, as analysis.suppression.CROSS
Audience = Literal["members", "staff", "residents", "partners", "commissioners"]
IndexName = Literal["confidence", "culture"]
INDEXES: tuple[str, ...] = ("confidence", "culture")

Identifier = Annotated[
    str,
    StringConstraints(strip_whitespace=True, pattern=r"^[A-Za-z][A-Za-z0-9_.-]{0,63}$"),
]
Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2000)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    # Optional keys added to the format after instruments were first stored: left out of the
    # version hash while at their default, so a definition that does not use them keeps the
    # version it always had (see :func:`instruments.versioning.canonical_json`).
    LATER_KEYS: ClassVar[frozenset[str]] = frozenset()


def _no_duplicates(values: list[str], what: str) -> list[str]:
    seen: set[str] = set()
    for value in values:
        if value in seen:
            raise ValueError(f"duplicate {what} {value!r}")
        seen.add(value)
    return values


# --------------------------------------------------------------------------- instruments


class Scale(_Strict):
    """An ordered response scale; ``positive`` holds 1-based positions into ``labels``."""

    labels: list[Text] = Field(min_length=2, max_length=11)
    positive: list[int] = Field(min_length=1)
    dont_know: Text | None = None

    @field_validator("labels")
    @classmethod
    def _unique_labels(cls, labels: list[str]) -> list[str]:
        return _no_duplicates(labels, "label")

    @model_validator(mode="after")
    def _positions_in_range(self) -> Scale:
        k = len(self.labels)
        for position in self.positive:
            if not 1 <= position <= k:
                raise ValueError(
                    f"positive position {position} is out of range: the scale has {k} labels "
                    f"(positions 1 to {k})"
                )
        _no_duplicates([str(p) for p in self.positive], "positive position")
        if len(self.positive) == k:
            raise ValueError("every position is positive: the scale cannot tell anything apart")
        if self.dont_know is not None and self.dont_know in self.labels:
            raise ValueError(f"dont_know label {self.dont_know!r} repeats a scale label")
        return self

    @property
    def k(self) -> int:
        return len(self.labels)


class Condition(_Strict):
    """A ``show_if`` condition on earlier answers. Exactly one form:

    - ``{question: P10, in: [Yes]}``: the answer is one of these labels (a scale label, its
      don't-know label, a choice; for a multi question, at least one of them ticked);
    - ``{question: S20, at_least: 4}`` / ``at_most``: a scale position or a number;
    - ``{all: [...]}``, ``{any: [...]}``, ``{not: ...}``.

    A question that was not answered (or not asked) is in no list and at least nothing.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    question: Identifier | None = None
    in_: list[Text] | None = Field(default=None, alias="in", min_length=1)
    at_least: float | None = None
    at_most: float | None = None
    all_: list[Condition] | None = Field(default=None, alias="all", min_length=1)
    any_: list[Condition] | None = Field(default=None, alias="any", min_length=1)
    not_: Condition | None = Field(default=None, alias="not")

    @field_validator("in_", mode="before")
    @classmethod
    def _yaml_booleans(cls, values: Any) -> Any:
        # YAML 1.1 reads an unquoted Yes / No as a boolean: read it back as the label.
        if isinstance(values, list):
            return [
                {True: "Yes", False: "No"}.get(v, v) if isinstance(v, bool) else v for v in values
            ]
        return values

    @model_validator(mode="after")
    def _one_form(self) -> Condition:
        combined = [k for k in ("all_", "any_", "not_") if getattr(self, k) is not None]
        tests = [k for k in ("in_", "at_least", "at_most") if getattr(self, k) is not None]
        if combined:
            if len(combined) > 1 or tests or self.question is not None:
                raise ValueError("a condition is one of question, all, any or not: split it up")
            return self
        if self.question is None:
            raise ValueError(
                "a condition needs 'question' (with 'in', 'at_least' or 'at_most'), 'all', 'any' or 'not'"
            )
        if not tests:
            raise ValueError(
                f"say what the answer to {self.question} must be: 'in', 'at_least' or 'at_most'"
            )
        if self.in_ is not None and len(tests) > 1:
            raise ValueError("use either 'in' or 'at_least'/'at_most', not both")
        return self

    def tests(self) -> list[Condition]:
        """The question tests inside this condition, depth first."""
        if self.question is not None:
            return [self]
        found: list[Condition] = []
        for child in [*(self.all_ or []), *(self.any_ or []), *([self.not_] if self.not_ else [])]:
            found.extend(child.tests())
        return found


class Statement(_Strict):
    """One statement of a grid: a scale item with its own id."""

    id: Identifier
    text: Text
    hint: Text | None = None
    reverse: bool = False
    outcomes: list[Identifier] = Field(default_factory=list)
    index: IndexName | None = None

    @field_validator("outcomes")
    @classmethod
    def _known_outcomes(cls, outcomes: list[str], info: ValidationInfo) -> list[str]:
        _no_duplicates(outcomes, "outcome")
        return _check_outcomes(outcomes, info)


def _check_outcomes(outcomes: list[str], info: ValidationInfo) -> list[str]:
    known = (info.context or {}).get("outcomes")
    if known is not None:
        for outcome in outcomes:
            if outcome not in known:
                raise ValueError(
                    f"unknown outcome id {outcome!r} (the framework has "
                    f"{', '.join(sorted(known, key=_natural)) or 'no outcomes'})"
                )
    return outcomes


QUESTION_TYPES = ("scale", "choice", "text", "multi", "number", "grid")


class Question(_Strict):
    """One question. Optional keys beyond the contract: ``hint``, ``section``, ``max_length``,
    ``show_if``; ``exclusive``, ``min``, ``max`` (multi: how many ticks; number: the range),
    ``integer`` and ``unit`` (number), ``statements`` (grid)."""

    LATER_KEYS = frozenset({"show_if", "exclusive", "min", "max", "integer", "unit", "statements"})

    id: Identifier
    text: Text
    type: Literal["scale", "choice", "text", "multi", "number", "grid"] = "scale"
    scale: Identifier | None = None
    choices: list[Text] | None = None
    required: bool = False
    reverse: bool = False
    outcomes: list[Identifier] = Field(default_factory=list)
    index: IndexName | None = None
    hint: Text | None = None
    section: Text | None = None
    max_length: int = Field(default=2000, ge=1, le=10000)
    show_if: Condition | None = None
    exclusive: list[Text] = Field(default_factory=list)
    min: float | None = None
    max: float | None = None
    integer: bool = False
    unit: (
        Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=40)] | None
    ) = None
    statements: list[Statement] = Field(default_factory=list)

    @model_validator(mode="after")
    def _keys_fit_type(self) -> Question:
        kind = self.type
        if kind in ("scale", "grid"):
            if self.scale is None:
                raise ValueError(f"a {kind} question needs 'scale' (the name of one of 'scales')")
        elif self.scale is not None:
            raise ValueError(f"'scale' is only for scale and grid questions, not type: {kind}")
        if kind in ("choice", "multi"):
            if not self.choices or len(self.choices) < 2:
                raise ValueError(f"a {kind} question needs 'choices' with at least two entries")
            _no_duplicates(self.choices, "choice")
        elif self.choices is not None:
            raise ValueError("'choices' is only for type: choice or multi")
        if kind != "scale":
            if self.reverse:
                raise ValueError(
                    "'reverse' is only for scale questions (in a grid, put it on the statement)"
                )
            if self.index is not None:
                raise ValueError(
                    "'index' is only for scale questions (in a grid, put it on the statement)"
                )
        if kind == "grid":
            if len(self.statements) < 1:
                raise ValueError("a grid question needs 'statements' (each with an id and text)")
            if self.outcomes:
                raise ValueError("in a grid, 'outcomes' go on each statement")
            _no_duplicates([s.id for s in self.statements], "statement id")
        elif self.statements:
            raise ValueError("'statements' is only for type: grid")
        if kind == "multi":
            self._check_multi()
        elif self.exclusive:
            raise ValueError("'exclusive' is only for type: multi")
        if kind == "number":
            if self.min is not None and self.max is not None and self.min > self.max:
                raise ValueError(f"'min' ({self.min:g}) is more than 'max' ({self.max:g})")
        else:
            if self.integer or self.unit is not None:
                raise ValueError("'integer' and 'unit' are only for type: number")
            if kind != "multi" and (self.min is not None or self.max is not None):
                raise ValueError("'min' and 'max' are only for type: multi or number")
        _no_duplicates(self.outcomes, "outcome")
        return self

    def _check_multi(self) -> None:
        choices = self.choices or []
        for label in self.exclusive:
            if label not in choices:
                raise ValueError(f"exclusive choice {label!r} is not one of the choices")
        for key in ("min", "max"):
            value = getattr(self, key)
            if value is not None and (value != int(value) or not 1 <= value <= len(choices)):
                raise ValueError(
                    f"'{key}' is a number of choices to tick: a whole number from 1 to "
                    f"{len(choices)}, not {value:g}"
                )
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"'min' ({self.min:g}) is more than 'max' ({self.max:g})")

    @field_validator("outcomes")
    @classmethod
    def _known_outcomes(cls, outcomes: list[str], info: ValidationInfo) -> list[str]:
        return _check_outcomes(outcomes, info)

    @property
    def field_ids(self) -> list[str]:
        """The ids answers are stored under: a grid's statements, otherwise the question's."""
        return [s.id for s in self.statements] if self.type == "grid" else [self.id]

    def statement_items(self) -> list[Question]:
        """A grid's statements as scale questions (for forms and analysis), sharing the grid's
        scale, section, condition and ``required``."""
        return [
            Question(
                id=s.id,
                text=s.text,
                type="scale",
                scale=self.scale,
                required=self.required,
                reverse=s.reverse,
                outcomes=s.outcomes,
                index=s.index,
                hint=s.hint,
                section=self.section,
                show_if=self.show_if,
            )
            for s in self.statements
        ]


class Attribute(_Strict):
    """An optional "about you" question whose answer is a respondent attribute (weighting,
    breakdowns), e.g. age band, sex, ward. Never required: declining is always possible.
    Optional: ``hint``, ``show_if``."""

    LATER_KEYS = frozenset({"show_if"})

    id: Identifier
    text: Text
    choices: list[Text] = Field(min_length=2)
    hint: Text | None = None
    show_if: Condition | None = None

    @field_validator("choices")
    @classmethod
    def _unique(cls, choices: list[str]) -> list[str]:
        return _no_duplicates(choices, "choice")


class Section(_Strict):
    """Settings of one section (a page): ``title`` names the ``section`` its questions give."""

    title: Text
    show_if: Condition | None = None


def _keys_as_text(value: Any) -> Any:
    # YAML reads ``1: Tak`` with an integer key; positions and labels are both kept as text.
    return {str(k): v for k, v in value.items()} if isinstance(value, dict) else value


LabelTexts = Annotated[list[Text] | dict[str, Text], BeforeValidator(_keys_as_text)]


class ItemTexts(_Strict):
    """A question's or attribute's strings in one language. ``choices`` (and a grid's
    ``statements``) may be given in full, as a list in the English order, or some of them, by
    1-based position or by the English label."""

    text: Text | None = None
    hint: Text | None = None
    choices: LabelTexts | None = None
    unit: Text | None = None
    statements: dict[Identifier, Text] = Field(default_factory=dict)


class ScaleTexts(_Strict):
    labels: LabelTexts | None = None
    dont_know: Text | None = None


class Translation(_Strict):
    """An instrument's strings in one language; anything missing falls back to English."""

    name: Text | None = None  # the language's name in itself, for the language choice
    title: Text | None = None
    description: Text | None = None
    scales: dict[Identifier, ScaleTexts] = Field(default_factory=dict)
    questions: dict[Identifier, ItemTexts] = Field(default_factory=dict)
    attributes: dict[Identifier, ItemTexts] = Field(default_factory=dict)
    sections: dict[Text, Text] = Field(default_factory=dict)


def label_position(labels: list[str], key: str) -> int | None:
    """The 0-based position a translation key stands for (a 1-based position or an English
    label, the label winning if a label is itself a number), or None if there is none."""
    if key.isdigit() and key not in labels:
        position = int(key) - 1
        return position if 0 <= position < len(labels) else None
    return labels.index(key) if key in labels else None


class Instrument(_Strict):
    """A survey instrument. Optional keys beyond the contract: ``description``, ``minutes``,
    ``attributes``, ``sections``, ``translations``."""

    LATER_KEYS = frozenset({"sections", "translations"})

    id: Identifier
    title: Text
    audience: Audience
    description: Text | None = None
    minutes: int | None = Field(default=None, ge=1, le=120)
    scales: dict[Identifier, Scale] = Field(default_factory=dict)
    questions: list[Question] = Field(min_length=1)
    attributes: list[Attribute] = Field(default_factory=list)
    sections: list[Section] = Field(default_factory=list)
    translations: dict[LanguageCode, Translation] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _consistent(self) -> Instrument:
        seen: set[str] = set()
        for position, question in enumerate(self.questions):
            if question.id in seen:
                raise _located(
                    ("questions", position, "id"), f"duplicate question id {question.id!r}"
                )
            seen.add(question.id)
            for s_position, statement in enumerate(question.statements):
                if statement.id in seen:
                    raise _located(
                        ("questions", position, "statements", s_position, "id"),
                        f"statement id {statement.id!r} repeats a question or statement id",
                    )
                seen.add(statement.id)
            if question.type in ("scale", "grid") and question.scale not in self.scales:
                raise _located(
                    ("questions", position, "scale"),
                    f"unknown scale {question.scale!r} (defined scales: "
                    f"{', '.join(self.scales) or 'none'})",
                )
        for position, attribute in enumerate(self.attributes):
            if attribute.id in seen:
                raise _located(
                    ("attributes", position, "id"),
                    f"attribute id {attribute.id!r} repeats a question or attribute id",
                )
            seen.add(attribute.id)
        self._check_sections()
        self._check_conditions()
        self._check_translations()
        return self

    def _check_sections(self) -> None:
        used = {q.section for q in self.questions if q.section}
        titles: set[str] = set()
        for position, section in enumerate(self.sections):
            if section.title in titles:
                raise _located(
                    ("sections", position, "title"), f"duplicate section {section.title!r}"
                )
            titles.add(section.title)
            if section.title not in used:
                raise _located(
                    ("sections", position, "title"),
                    f"no question has section: {section.title!r}",
                )

    def _check_conditions(self) -> None:
        page_of = {
            fid: number
            for number, (_, qs) in enumerate(self.page_groups())
            for q in qs
            for fid in q.field_ids
        }
        settings = {s.title: s for s in self.sections}
        for number, (title, questions) in enumerate(self.page_groups()):
            section = settings.get(title) if title else None
            if section is not None and section.show_if is not None:
                where = ("sections", self.sections.index(section), "show_if")
                self._check_condition(section.show_if, where, page_of, number, f"section {title!r}")
            for question in questions:
                if question.show_if is not None:
                    where = ("questions", self.questions.index(question), "show_if")
                    self._check_condition(question.show_if, where, page_of, number, question.id)
        last_page = len(self.page_groups())
        for position, attribute in enumerate(self.attributes):
            if attribute.show_if is not None:
                where = ("attributes", position, "show_if")
                self._check_condition(attribute.show_if, where, page_of, last_page, attribute.id)

    def _check_condition(
        self,
        condition: Condition,
        where: tuple[str | int, ...],
        page_of: dict[str, int],
        page: int,
        owner: str,
    ) -> None:
        for test in condition.tests():
            target = test.question or ""
            if target not in page_of:
                raise _located(
                    where,
                    f"show_if of {owner} refers to {target!r}, which is not a question of this instrument",
                )
            if page_of[target] >= page:
                raise _located(
                    where,
                    f"show_if of {owner} refers to {target}, which is not on an earlier page: "
                    "a condition can only use answers given before (give them an earlier section)",
                )
            question = self.question(target)
            if question.type == "text":
                raise _located(
                    where,
                    f"show_if of {owner} refers to {target}, a free-text question: use a scale, choice, multi or number question",
                )
            if test.in_ is not None:
                if question.type == "number":
                    raise _located(
                        where,
                        f"{target} is a number question: use 'at_least' or 'at_most', not 'in'",
                    )
                allowed = self.answer_labels(question)
                for label in test.in_:
                    if label not in allowed:
                        raise _located(
                            where,
                            f"show_if of {owner}: {label!r} is not an answer of {target} "
                            f"(its answers: {', '.join(allowed)})",
                        )
            elif question.type not in ("scale", "number"):
                raise _located(
                    where,
                    f"{target} is a {question.type} question: 'at_least' and 'at_most' are for scale positions and numbers, use 'in'",
                )

    def answer_labels(self, question: Question) -> list[str]:
        """The labels a condition's ``in`` may name for a question."""
        if question.type == "scale":
            scale = self.scale_of(question)
            return [*scale.labels, *([scale.dont_know] if scale.dont_know else [])]
        return list(question.choices or [])

    def _check_translations(self) -> None:
        items: dict[str, Question | Attribute] = {q.id: q for q in self.questions}
        attributes: dict[str, Question | Attribute] = {a.id: a for a in self.attributes}
        used_sections = {q.section for q in self.questions if q.section}
        for code, translation in self.translations.items():
            at: tuple[str | int, ...] = ("translations", code)
            for name, texts in translation.scales.items():
                if name not in self.scales:
                    raise _located((*at, "scales", name), f"unknown scale {name!r}")
                _check_labels(
                    texts.labels, self.scales[name].labels, (*at, "scales", name, "labels")
                )
                if texts.dont_know and not self.scales[name].dont_know:
                    raise _located(
                        (*at, "scales", name, "dont_know"), f"scale {name} has no dont_know"
                    )
            for kind, known in (("questions", items), ("attributes", attributes)):
                for item_id, texts in getattr(translation, kind).items():
                    if item_id not in known:
                        raise _located((*at, kind, item_id), f"no {kind[:-1]} has id {item_id!r}")
                    item = known[item_id]
                    choices = item.choices or []
                    if texts.choices is not None:
                        if not choices:
                            raise _located(
                                (*at, kind, item_id, "choices"), f"{item_id} has no choices"
                            )
                        _check_labels(texts.choices, choices, (*at, kind, item_id, "choices"))
                    statements = {s.id for s in getattr(item, "statements", [])}
                    for statement_id in texts.statements:
                        if statement_id not in statements:
                            raise _located(
                                (*at, kind, item_id, "statements", statement_id),
                                f"{item_id} has no statement {statement_id!r}",
                            )
            for title in translation.sections:
                if title not in used_sections:
                    raise _located((*at, "sections", title), f"no question has section: {title!r}")

    # Convenience views used by the app and the analysis package.
    def page_groups(self) -> list[tuple[str | None, list[Question]]]:
        """The question pages in order: consecutive questions that share a ``section`` make one
        page, and questions without a section join the page before them (or start one)."""
        groups: list[tuple[str | None, list[Question]]] = []
        for question in self.questions:
            if groups and (question.section is None or question.section == groups[-1][0]):
                groups[-1][1].append(question)
            else:
                groups.append((question.section, [question]))
        return groups

    @cached_property
    def _page_sections(self) -> dict[str, str | None]:
        return {q.id: title for title, questions in self.page_groups() for q in questions}

    def section_of(self, question: Question) -> str | None:
        """The section of the page a question is on (a question without ``section`` is on the
        page before it); a grid statement's is its grid's."""
        grid = self.grid_of(question.id)
        return self._page_sections.get((grid or question).id)

    def section_condition(self, title: str | None) -> Condition | None:
        for section in self.sections:
            if section.title == title:
                return section.show_if
        return None

    def question(self, question_id: str) -> Question:
        """A question by id; a grid statement's id gives the statement as a scale question."""
        for question in self.questions:
            if question.id == question_id:
                return question
        for item in self.grid_statements:
            if item.id == question_id:
                return item
        raise KeyError(question_id)

    def grid_of(self, statement_id: str) -> Question | None:
        for question in self.questions:
            if statement_id in {s.id for s in question.statements}:
                return question
        return None

    def scale_of(self, question: Question) -> Scale:
        if question.scale is None:
            raise ValueError(f"question {question.id} has no scale")
        return self.scales[question.scale]

    @cached_property
    def grid_statements(self) -> list[Question]:
        return [item for q in self.questions if q.type == "grid" for item in q.statement_items()]

    @cached_property
    def answer_items(self) -> list[Question]:
        """Every question answers are stored under, in order: a grid's statements in place of
        the grid."""
        return [
            item
            for q in self.questions
            for item in (q.statement_items() if q.type == "grid" else [q])
        ]

    @property
    def scale_questions(self) -> list[Question]:
        """The scale items (grid statements included)."""
        return [q for q in self.answer_items if q.type == "scale"]

    def index_questions(self, index: str) -> list[Question]:
        return [q for q in self.answer_items if q.index == index]

    def outcome_questions(self, outcome: str) -> list[Question]:
        return [q for q in self.scale_questions if outcome in q.outcomes]

    def counted_as(self, question: Question) -> str | None:
        """What a reverse-coded question's "% positive" counts, in words from its scale's
        labels: the mirrored positive positions, named by the one nearest the middle
        ("Disagree" → "% disagreeing"; "Dissatisfied" → "% dissatisfied"). None for a question
        that is not reverse-coded (its percentage is the plain "% positive")."""
        if not question.reverse or question.scale is None:
            return None
        scale = self.scale_of(question)
        mirrored = sorted(scale.k + 1 - p for p in scale.positive)
        middle = (scale.k + 1) / 2
        nearest = min(mirrored, key=lambda p: abs(p - middle))
        word = scale.labels[nearest - 1].split()[-1].lower()
        return f"% {word}ing" if word.endswith("agree") else f"% {word}"

    def result_text(self, question_id: str) -> str:
        """A question as results show it: a reverse-coded one is prefixed with what its
        percentage counts ("% disagreeing: Officers withhold information from members."),
        so a high figure is never read as agreement."""
        question = self.question(question_id)
        counted = self.counted_as(question)
        return f"{counted}: {question.text}" if counted else question.text


def _check_labels(
    texts: LabelTexts | None, labels: list[str], where: tuple[str | int, ...]
) -> None:
    if texts is None:
        return
    if isinstance(texts, list):
        if len(texts) != len(labels):
            raise _located(
                where,
                f"{len(texts)} translations for {len(labels)} labels: give one per label, in order, or map them by position",
            )
        return
    for key in texts:
        if label_position(labels, key) is None:
            raise _located(
                where, f"{key!r} is neither a position (1 to {len(labels)}) nor one of the labels"
            )


class LocatedError(ValueError):
    """A validation error raised at a path deeper than the validator that found it."""

    def __init__(self, loc: tuple[str | int, ...], message: str) -> None:
        super().__init__(message)
        self.loc = loc
        self.message = message


def _located(loc: tuple[str | int, ...], message: str) -> LocatedError:
    return LocatedError(loc, message)


def _natural(identifier: str) -> tuple[str, int]:
    head = identifier.rstrip("0123456789")
    tail = identifier[len(head) :]
    return head, int(tail) if tail else -1


# --------------------------------------------------------------------------- framework


class Measure(_Strict):
    """How an outcome is measured: a survey measure (an audience's outcome score, index or
    item) or a KPI entered by analysts each period. Targets are optional."""

    id: Identifier
    type: Literal["survey", "kpi"]
    title: Text | None = None
    audience: Audience | None = None
    level: Literal["outcome", "index", "item", "number"] = "outcome"
    instrument: Identifier | None = None
    item: Identifier | None = None
    index: IndexName | None = None
    unit: Text = "%"
    baseline: float | None = None
    # when the baseline was measured: the start of the trajectory to the target (default: the
    # closing date of the measure's first wave, or the end of a KPI's first period)
    baseline_date: dt.date | None = None
    target: float | None = None
    target_date: dt.date | None = None
    direction: Literal["higher", "lower"] = "higher"
    amber_margin: float = Field(default=10.0, ge=0)

    @model_validator(mode="after")
    def _keys_fit_type(self) -> Measure:
        if self.type == "survey":
            if self.audience is None:
                raise ValueError("a survey measure needs 'audience'")
            if self.level in ("item", "number") and self.item is None:
                raise ValueError(
                    f"a survey measure with level: {self.level} needs 'item' (a question id)"
                )
            if self.level == "index" and self.index is None:
                raise ValueError("a survey measure with level: index needs 'index'")
        else:
            if self.title is None:
                raise ValueError("a KPI measure needs a 'title' that says what is counted")
            for key in ("audience", "item", "index", "instrument"):
                if getattr(self, key) is not None:
                    raise ValueError(f"'{key}' is only for survey measures")
        return self


class Outcome(_Strict):
    id: Identifier
    title: Text
    measures: list[Measure] = Field(default_factory=list)


class Workstream(_Strict):
    id: Identifier
    title: Text
    outcomes: list[Outcome] = Field(min_length=1)


class Priority(_Strict):
    """A plan priority; cross-cutting outcomes may sit directly under it, with no workstream."""

    id: Identifier
    title: Text
    workstreams: list[Workstream] = Field(default_factory=list)
    outcomes: list[Outcome] = Field(default_factory=list)

    @model_validator(mode="after")
    def _not_empty(self) -> Priority:
        if not self.workstreams and not self.outcomes:
            raise ValueError("a priority needs 'workstreams' or 'outcomes'")
        return self


class Framework(_Strict):
    """Priorities → workstreams → outcomes → measures, and the minimum reporting group size
    per audience (``min_group_size: {default: 10, members: 5}``)."""

    title: Text = "Improvement and Recovery Plan"
    priorities: list[Priority] = Field(min_length=1)
    min_group_size: dict[str, int] = Field(default_factory=lambda: {"default": 10})
    # Key-driver targets (``index:ID`` or ``outcome:ID``) and the fewest listwise respondents
    # to estimate them (issue 18, section 2).
    key_drivers: list[str] = Field(default_factory=lambda: ["index:confidence", "index:culture"])
    min_driver_respondents: int = Field(default=100, ge=2)
    # Theme shares are reported per commenting respondent, a smaller base than the audience:
    # their own threshold, counted in respondents with at least one comment.
    min_comment_group_size: int = Field(default=10, ge=1)
    # Two-way breakdowns the app computes per audience besides every one-way attribute
    # (issue 18, section 1): ``{staff: [directorate*grade]}``, each two attributes that one of
    # the audience's instruments asks (checked against them by ``load_definitions``).
    crossed_breakdowns: dict[str, list[str]] = Field(default_factory=dict)

    @field_validator("crossed_breakdowns")
    @classmethod
    def _crossed(cls, crossed: dict[str, list[str]]) -> dict[str, list[str]]:
        for audience, breakdowns in crossed.items():
            if audience not in AUDIENCES:
                raise ValueError(
                    f"unknown audience {audience!r} in crossed_breakdowns "
                    f"(use one of {', '.join(AUDIENCES)})"
                )
            for index, breakdown in enumerate(breakdowns):
                parts = breakdown.split(CROSS)
                if len(parts) != 2 or not all(p.strip() for p in parts) or parts[0] == parts[1]:
                    raise _located(
                        (audience, index),
                        f"{breakdown!r} is not two different attributes joined by "
                        f"{CROSS} (e.g. directorate{CROSS}grade)",
                    )
            _no_duplicates(breakdowns, f"crossed breakdown of {audience}")
        return crossed

    def crossed_for(self, audience: str) -> list[str]:
        """The audience's two-way breakdowns (``directorate*grade``), none unless listed."""
        return list(self.crossed_breakdowns.get(audience, []))

    @field_validator("min_group_size")
    @classmethod
    def _sizes(cls, sizes: dict[str, int]) -> dict[str, int]:
        for audience, size in sizes.items():
            if audience != "default" and audience not in AUDIENCES:
                raise ValueError(
                    f"unknown audience {audience!r} in min_group_size "
                    f"(use default or one of {', '.join(AUDIENCES)})"
                )
            if size < 1:
                raise ValueError(f"min_group_size for {audience} must be at least 1, not {size}")
        return {"default": 10, **sizes}

    @model_validator(mode="after")
    def _driver_targets(self) -> Framework:
        for target in self.key_drivers:
            level, _, identifier = target.partition(":")
            known = INDEXES if level == "index" else self.outcome_ids if level == "outcome" else ()
            if identifier not in known:
                raise ValueError(
                    f"key_drivers: {target!r} is not index:ID ({', '.join(INDEXES)}) or "
                    "outcome:ID of an outcome of the framework"
                )
        return self

    @model_validator(mode="after")
    def _unique_ids(self) -> Framework:
        _no_duplicates([o.id for o in self.outcomes], "outcome id")
        _no_duplicates([m.id for o in self.outcomes for m in o.measures], "measure id")
        return self

    @property
    def outcomes(self) -> list[Outcome]:
        found: list[Outcome] = []
        for priority in self.priorities:
            found.extend(priority.outcomes)
            for workstream in priority.workstreams:
                found.extend(workstream.outcomes)
        return found

    @property
    def outcome_ids(self) -> list[str]:
        return [o.id for o in self.outcomes]

    def outcome(self, outcome_id: str) -> Outcome:
        for outcome in self.outcomes:
            if outcome.id == outcome_id:
                return outcome
        raise KeyError(outcome_id)

    def min_n(self, audience: str) -> int:
        return self.min_group_size.get(audience, self.min_group_size["default"])
