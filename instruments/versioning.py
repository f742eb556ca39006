"""Instrument versions and the comparability of two versions.

A version is the SHA-256 of the canonical JSON of the *validated* model, so formatting,
comments, key order and defaults spelt out or left implicit never make a new version. Keys
added to the format later (each model's ``LATER_KEYS``: ``show_if``, ``translations``, the
multi, number and grid keys...) are left out while at their default, so every definition
stored before they existed keeps its version.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel

from .schema import Instrument, Question


def _without_later_defaults(model: BaseModel, data: Any) -> Any:
    """``data`` (``model`` dumped) without the later keys that are at their default."""
    if not isinstance(data, dict):
        return data
    later: frozenset[str] = getattr(type(model), "LATER_KEYS", frozenset())
    out = {}
    for name, info in type(model).model_fields.items():
        value = getattr(model, name)
        if name in later and value == info.get_default(call_default_factory=True):
            continue
        out[name] = _nested(value, data[name])
    return out


def _nested(value: Any, data: Any) -> Any:
    if isinstance(value, BaseModel):
        return _without_later_defaults(value, data)
    if isinstance(value, list | tuple):
        return [_nested(v, d) for v, d in zip(value, data, strict=True)]
    if isinstance(value, dict):
        return {k: _nested(value[k], d) for k, d in zip(value, data.values(), strict=True)}
    return data


def canonical_json(instrument: BaseModel) -> str:
    return json.dumps(
        _without_later_defaults(instrument, instrument.model_dump(mode="json")),
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
    )


def version_of(instrument: BaseModel) -> str:
    """The full 64-hex-digit version of an instrument (or of a codebook)."""
    return hashlib.sha256(canonical_json(instrument).encode("utf-8")).hexdigest()


def _meaning(instrument: Instrument, question: Question) -> dict:
    """What a respondent saw and could answer: a change here breaks comparability."""
    scale = instrument.scales.get(question.scale) if question.scale else None
    meaning: dict[str, Any] = {
        "text": question.text,
        "type": question.type,
        "scale": scale.model_dump(mode="json") if scale else None,
        "choices": question.choices,
        "reverse": question.reverse,
    }
    # Who was asked: a question shown to fewer (or other) people is not the same measure.
    shown_if = [
        c.model_dump(mode="json", by_alias=True)
        for c in (instrument.section_condition(instrument.section_of(question)), question.show_if)
        if c is not None
    ]
    if shown_if:
        meaning["show_if"] = shown_if
    if question.type == "multi":
        meaning.update(exclusive=question.exclusive, min=question.min, max=question.max)
    if question.type == "number":
        meaning.update(
            min=question.min, max=question.max, integer=question.integer, unit=question.unit
        )
    return meaning


@dataclass(frozen=True)
class QuestionChange:
    id: str
    fields: tuple[str, ...]
    breaking: bool

    def __str__(self) -> str:
        mark = "BREAKS COMPARABILITY" if self.breaking else "comparable"
        return f"{self.id}: {', '.join(self.fields)} changed ({mark})"


@dataclass(frozen=True)
class InstrumentDiff:
    old_version: str
    new_version: str
    added: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()
    changed: tuple[QuestionChange, ...] = field(default_factory=tuple)
    # languages added, removed or changed: their wording never breaks comparability
    translations: tuple[str, ...] = ()

    @property
    def breaking(self) -> tuple[str, ...]:
        """Question ids whose wording, type or scale changed under the same id."""
        return tuple(c.id for c in self.changed if c.breaking)

    @property
    def identical(self) -> bool:
        return self.old_version == self.new_version

    def lines(self) -> list[str]:
        if self.identical:
            return ["identical versions"]
        out = [f"{self.old_version[:12]} -> {self.new_version[:12]}"]
        out += [f"+ {q}: added" for q in self.added]
        out += [f"- {q}: removed" for q in self.removed]
        out += [f"~ {c}" for c in self.changed]
        if self.translations:
            out.append(f"~ translations: {', '.join(self.translations)} changed (comparable)")
        if not (self.added or self.removed or self.changed or self.translations):
            out.append("questions unchanged (title, description or other metadata changed)")
        return out


def diff_instruments(old: Instrument, new: Instrument) -> InstrumentDiff:
    """Compare two versions of one instrument question by question.

    Wording, type, scale (labels, positive positions, don't-know) or reverse-coding changes
    under the same question id break comparability: trends must not join across them.
    So does adding, changing or removing a ``show_if`` (the question's or its section's):
    the people asked are no longer the same. Changes to outcomes, index membership, hints,
    ``required`` or translations do not. A grid's statements are compared as items.
    """
    old_q = {q.id: q for q in old.answer_items}
    new_q = {q.id: q for q in new.answer_items}
    changed = []
    for qid in (q.id for q in new.answer_items if q.id in old_q):
        before, after = old_q[qid].model_dump(), new_q[qid].model_dump()
        meaning_before, meaning_after = _meaning(old, old_q[qid]), _meaning(new, new_q[qid])
        fields = sorted(
            {k for k in before if before[k] != after[k] and k != "scale"}
            | {
                k
                for k in meaning_before | meaning_after
                if meaning_before.get(k) != meaning_after.get(k)
            }
        )
        if fields:
            breaking = meaning_before != meaning_after
            changed.append(QuestionChange(qid, tuple(fields), breaking))
    return InstrumentDiff(
        old_version=version_of(old),
        new_version=version_of(new),
        added=tuple(q for q in new_q if q not in old_q),
        removed=tuple(q for q in old_q if q not in new_q),
        changed=tuple(changed),
        translations=tuple(
            sorted(
                code
                for code in set(old.translations) | set(new.translations)
                if old.translations.get(code) != new.translations.get(code)
            )
        ),
    )
