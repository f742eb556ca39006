"""An instrument's strings in the respondent's language, falling back to English.

Stored answers never depend on the language: a scale answer is a position and a choice is
stored by its English label, so only what is shown is translated.
"""

from __future__ import annotations

from dataclasses import dataclass

from .languages import ENGLISH, NATIVE_NAMES, is_rtl
from .schema import (
    Attribute,
    Instrument,
    ItemTexts,
    LabelTexts,
    Question,
    Translation,
    label_position,
)


def _label(texts: LabelTexts | None, labels: list[str], position: int) -> str | None:
    """The translation of ``labels[position]`` in ``texts``, if it has one."""
    if texts is None:
        return None
    if isinstance(texts, list):
        return texts[position] if position < len(texts) else None
    for key, text in texts.items():
        if label_position(labels, key) == position:
            return text
    return None


@dataclass(frozen=True)
class Localised:
    """The strings of ``instrument`` in ``language`` (English when it has no translation)."""

    instrument: Instrument
    language: str = ENGLISH

    @property
    def translation(self) -> Translation:
        return self.instrument.translations.get(self.language) or Translation()

    @property
    def rtl(self) -> bool:
        return is_rtl(self.language)

    @property
    def title(self) -> str:
        return self.translation.title or self.instrument.title

    @property
    def description(self) -> str | None:
        return self.translation.description or self.instrument.description

    def section(self, title: str) -> str:
        return self.translation.sections.get(title) or title

    def _texts(self, item: Question | Attribute) -> tuple[ItemTexts, str | None]:
        """The item's translated strings, and for a grid statement its statement id."""
        if isinstance(item, Attribute):
            return self.translation.attributes.get(item.id) or ItemTexts(), None
        grid = self.instrument.grid_of(item.id)
        if grid is not None:
            return self.translation.questions.get(grid.id) or ItemTexts(), item.id
        return self.translation.questions.get(item.id) or ItemTexts(), None

    def text(self, item: Question | Attribute) -> str:
        texts, statement = self._texts(item)
        if statement is not None:
            return texts.statements.get(statement) or item.text
        return texts.text or item.text

    def hint(self, item: Question | Attribute) -> str | None:
        texts, statement = self._texts(item)
        if statement is not None:
            return item.hint  # a statement's hint is not translated separately
        return texts.hint or item.hint

    def unit(self, question: Question) -> str | None:
        return self._texts(question)[0].unit or question.unit

    def choice(self, item: Question | Attribute, position: int) -> str:
        """The label of choice ``position`` (0-based) of a choice, multi or attribute item."""
        labels = item.choices or []
        return _label(self._texts(item)[0].choices, labels, position) or labels[position]

    def scale_label(self, scale_name: str, position: int) -> str:
        scale = self.instrument.scales[scale_name]
        texts = self.translation.scales.get(scale_name)
        return (
            _label(texts.labels if texts else None, scale.labels, position)
            or scale.labels[position]
        )

    def dont_know(self, scale_name: str) -> str | None:
        texts = self.translation.scales.get(scale_name)
        return (texts.dont_know if texts else None) or self.instrument.scales[scale_name].dont_know


def languages(instrument: Instrument) -> list[tuple[str, str]]:
    """``(code, name in itself)`` of English and every translation, English first."""
    found = [(ENGLISH, NATIVE_NAMES[ENGLISH])]
    for code, translation in instrument.translations.items():
        found.append((code, translation.name or NATIVE_NAMES.get(code, code)))
    return found


def missing_strings(instrument: Instrument) -> list[str]:
    """Every string a translation leaves in English, as ``"pl: questions.P01.hint"``."""
    missing: list[str] = []
    for code, translation in instrument.translations.items():

        def need(present: object, path: str, code: str = code) -> None:
            if not present:
                missing.append(f"{code}: {path}")

        need(translation.title, "title")
        if instrument.description:
            need(translation.description, "description")
        for name, scale in instrument.scales.items():
            scale_texts = translation.scales.get(name)
            for position in range(scale.k):
                need(
                    scale_texts and _label(scale_texts.labels, scale.labels, position),
                    f"scales.{name}.labels[{position + 1}]",
                )
            if scale.dont_know:
                need(scale_texts and scale_texts.dont_know, f"scales.{name}.dont_know")
        for kind, items in (
            ("questions", instrument.questions),
            ("attributes", instrument.attributes),
        ):
            for item in items:
                item_texts = getattr(translation, kind).get(item.id) or ItemTexts()
                need(item_texts.text, f"{kind}.{item.id}.text")
                if item.hint:
                    need(item_texts.hint, f"{kind}.{item.id}.hint")
                for position in range(len(item.choices or [])):
                    need(
                        _label(item_texts.choices, item.choices or [], position),
                        f"{kind}.{item.id}.choices[{position + 1}]",
                    )
                if isinstance(item, Question) and item.unit:
                    need(item_texts.unit, f"{kind}.{item.id}.unit")
                for statement in getattr(item, "statements", []):
                    need(
                        item_texts.statements.get(statement.id),
                        f"{kind}.{item.id}.statements.{statement.id}",
                    )
        for title in dict.fromkeys(q.section for q in instrument.questions if q.section):
            need(translation.sections.get(title), f"sections.{title}")
    return missing
