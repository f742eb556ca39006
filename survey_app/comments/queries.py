"""Comments as the coding screen, the agreement page and the quotes see them.

A comment is an ``Answer`` to a ``type: text`` question of its wave's instrument version,
identified by (response id, question id). Only real ``response`` rows are comments (held
invite submissions are not), and a comment with an open safeguarding flag is withheld.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

import pandas as pd
from sqlalchemy import func, select

from analysis.text.agreement import codes_matrix, theme_agreement
from analysis.text.coding import code_comments
from analysis.text.topics import suggest_topics
from instruments import Codebook, Question

from .. import clock
from ..definitions import current_definitions
from ..extensions import db
from ..models import Answer, CommentCoding, InstrumentVersion, Response, User, Wave
from .flags import not_withheld

DEFAULT_SAMPLE = 50
MAX_SAMPLE = 1000


def codebook() -> Codebook | None:
    return current_definitions().codebook


def theme_labels() -> dict[str, str]:
    book = codebook()
    return {t.id: t.label for t in book.themes} if book else {}


def text_questions(wave: Wave) -> list[Question]:
    return [q for q in wave.instrument_version.instrument.questions if q.type == "text"]


def text_question(wave: Wave, question_id: str) -> Question | None:
    return next((q for q in text_questions(wave) if q.id == question_id), None)


def _comments(wave_id: int, question_id: str, withheld_too: bool = False) -> list[Answer]:
    query = (
        select(Answer)
        .join(Response, Response.id == Answer.response_id)
        .where(Response.wave_id == wave_id, Answer.question_id == question_id, Answer.value != "")
    )
    if not withheld_too:
        query = query.where(not_withheld())
    return list(db.session.scalars(query))


def _sample_key(wave_id: int, response_id: str) -> str:
    # Salted with the wave so each wave's sample is a different, but repeatable, draw.
    return hashlib.sha256(f"{wave_id}:{response_id}".encode()).hexdigest()


def coding_sample(wave: Wave, question_id: str, size: int) -> list[Answer]:
    """The first ``size`` comments in hash order, drawn from all comments so that the sample
    does not move when a flag is actioned; comments withheld by an open flag are left out."""
    every = sorted(
        _comments(wave.id, question_id, withheld_too=True),
        key=lambda a: _sample_key(wave.id, a.response_id),
    )[:size]
    visible = {a.response_id for a in _comments(wave.id, question_id)}
    return [a for a in every if a.response_id in visible]


def comment_counts(wave: Wave, question_id: str) -> tuple[int, int]:
    """(comments, comments withheld by an open safeguarding flag), counted in the database."""
    count = (
        select(func.count())
        .select_from(Answer)
        .join(Response, Response.id == Answer.response_id)
        .where(Response.wave_id == wave.id, Answer.question_id == question_id, Answer.value != "")
    )
    every = db.session.scalar(count) or 0
    return every, every - (db.session.scalar(count.where(not_withheld())) or 0)


def suggested_themes(text: str) -> list[str]:
    book = codebook()
    if book is None:
        return []
    coded = code_comments(pd.Series([text], dtype=object), book)
    return [t for t in book.theme_ids if bool(coded.iloc[0][t])]


@dataclass(frozen=True)
class TopicSuggestion:
    """A candidate new theme: NMF's top words and the comments loading most on it."""

    number: int
    top_terms: tuple[str, ...]
    n_comments: int
    examples: tuple[str, ...]

    @property
    def codebook_entry(self) -> str:
        """A codebook entry an analyst can copy, edit and add (``codebook.yaml``) if the
        topic is a real theme; the app never adds it itself."""
        words = ", ".join(f'"{t}"' for t in self.top_terms[:4])
        return (
            f"- id: topic-{self.number}\n  label: {' / '.join(self.top_terms[:3])}\n"
            f"  outcomes: []\n  include: [{words}]"
        )


def topic_suggestions(wave: Wave, question_id: str, n_topics: int = 5) -> list[TopicSuggestion]:
    """Topics in this wave's (not withheld) comments to this question, from the NMF suggester
    (:func:`analysis.text.topics.suggest_topics`), as candidates for new themes."""
    texts = [a.value for a in sorted(_comments(wave.id, question_id), key=lambda a: a.response_id)]
    topics = suggest_topics(pd.Series(texts, dtype=object), n_topics=n_topics)
    return [
        TopicSuggestion(int(t.topic), tuple(t.top_terms), int(t.n_comments), tuple(t.examples))
        for t in topics.itertuples()
        if t.n_comments
    ]


def coding_of(answer: Answer, coder_id: int) -> CommentCoding | None:
    return db.session.get(CommentCoding, (answer.response_id, answer.question_id, coder_id))


def save_coding(
    answer: Answer, coder_id: int, themes: list[str], quotable: bool, today: dt.date | None = None
) -> CommentCoding:
    """Insert or replace this coder's coding of one comment (the caller commits)."""
    coding = coding_of(answer, coder_id)
    if coding is None:
        coding = CommentCoding(
            response_id=answer.response_id, question_id=answer.question_id, coder_id=coder_id
        )
        db.session.add(coding)
    coding.themes = themes
    coding.quotable = quotable
    coding.coded_on = today or clock.today()  # a day only, like everything about a response
    return coding


def coded_by(wave: Wave, question_id: str, coder_id: int) -> set[str]:
    return set(
        db.session.scalars(
            select(CommentCoding.response_id)
            .join(Response, Response.id == CommentCoding.response_id)
            .where(
                Response.wave_id == wave.id,
                CommentCoding.question_id == question_id,
                CommentCoding.coder_id == coder_id,
            )
        )
    )


def coders(wave: Wave, question_id: str) -> list[tuple[User, int]]:
    """Everyone who coded comments of this wave and question, with how many."""
    rows = db.session.execute(
        select(User, func.count())
        .join(CommentCoding, CommentCoding.coder_id == User.id)
        .join(Response, Response.id == CommentCoding.response_id)
        .where(Response.wave_id == wave.id, CommentCoding.question_id == question_id)
        .group_by(User.id)
        .order_by(User.name, User.id)
    ).all()
    return [(user, int(n)) for user, n in rows]


def agreement(wave: Wave, question_id: str, coder_a: int, coder_b: int) -> pd.DataFrame:
    """Per-theme and overall agreement of two coders on the comments both coded (columns of
    :func:`analysis.text.agreement.theme_agreement`)."""
    theme_ids = book.theme_ids if (book := codebook()) else []
    matrices = []
    for coder in (coder_a, coder_b):
        rows = db.session.execute(
            select(CommentCoding.response_id, CommentCoding.themes)
            .join(Response, Response.id == CommentCoding.response_id)
            .where(
                Response.wave_id == wave.id,
                CommentCoding.question_id == question_id,
                CommentCoding.coder_id == coder,
            )
        ).all()
        # a theme since removed from the codebook cannot be compared: leave it out
        matrices.append(
            codes_matrix(
                {rid: [t for t in themes if t in theme_ids] for rid, themes in rows}, theme_ids
            )
        )
    return theme_agreement(*matrices)


# --------------------------------------------------------------------------- quotes


@dataclass(frozen=True)
class Quote:
    text: str
    themes: tuple[str, ...]  # theme labels


@dataclass(frozen=True)
class QuoteGroup:
    instrument_id: str
    title: str
    quotes: tuple[Quote, ...]


def quotes_for_waves(
    waves: Sequence[Wave], only_themes: set[str] | None = None, per_instrument: int = 3
) -> list[QuoteGroup]:
    """Up to ``per_instrument`` quotable comments per instrument across ``waves``: marked
    quotable by at least one coder, no open safeguarding flag, and from an instrument whose
    responses in these waves reach its audience's minimum group size (a smaller group shows
    no quote at all). ``only_themes`` keeps comments some coder gave one of those themes."""
    framework = current_definitions().framework
    labels = theme_labels()
    by_instrument: dict[str, list[Wave]] = defaultdict(list)
    for wave in waves:
        by_instrument[wave.instrument_id].append(wave)
    groups = []
    for instrument_id, group in sorted(by_instrument.items()):
        ids = [w.id for w in group]
        responses = (
            db.session.scalar(
                select(func.count()).select_from(Response).where(Response.wave_id.in_(ids))
            )
            or 0
        )
        if responses < framework.min_n(group[0].audience):
            continue
        quotes = _quotable(ids, only_themes, labels)[:per_instrument]
        if quotes:
            groups.append(
                QuoteGroup(instrument_id, group[0].instrument_version.title, tuple(quotes))
            )
    return groups


def _quotable(
    wave_ids: list[int], only_themes: set[str] | None, labels: dict[str, str]
) -> list[Quote]:
    rows = db.session.execute(
        select(
            Answer.response_id,
            Answer.question_id,
            Answer.value,
            Response.wave_id,
            CommentCoding.themes,
            CommentCoding.quotable,
        )
        .join(Response, Response.id == Answer.response_id)
        .join(
            CommentCoding,
            (CommentCoding.response_id == Answer.response_id)
            & (CommentCoding.question_id == Answer.question_id),
        )
        .where(Response.wave_id.in_(wave_ids), not_withheld())
    ).all()
    themes: dict[tuple[str, str], set[str]] = defaultdict(set)  # every coder's themes
    marked: dict[tuple[str, str], tuple[int, str]] = {}  # quotable comments: wave, text
    for response_id, question_id, value, wave_id, coded, quotable in rows:
        themes[(response_id, question_id)] |= set(coded)
        if quotable:
            marked[(response_id, question_id)] = (wave_id, value)
    # the same repeatable order as the coding sample, not insertion (submission) order
    keys = sorted(marked, key=lambda k: _sample_key(marked[k][0], k[0] + k[1]))
    return [
        Quote(marked[k][1], tuple(label for tid, label in labels.items() if tid in themes[k]))
        for k in keys
        if only_themes is None or themes[k] & only_themes
    ]


def waves_labelled(label: str, audience: str | None = None) -> list[Wave]:
    query = select(Wave).join(InstrumentVersion).where(Wave.label == label)
    if audience is not None:
        query = query.where(Wave.audience == audience)
    return list(db.session.scalars(query.order_by(InstrumentVersion.instrument_id, Wave.id)))


def outcome_themes(outcome_id: str) -> set[str]:
    """The codebook themes mapped to an outcome."""
    book = codebook()
    return {t.id for t in book.themes if outcome_id in t.outcomes} if book else set()
