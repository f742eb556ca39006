"""Ballot-stuffing review for analysts, computed from the stored responses on demand: groups of
identical submissions (same wave, same day, same answers and attributes). Nothing about who
answered is stored or needed; for short scales identical answers also happen honestly, so
these are flags to look at, not rejections."""

from __future__ import annotations

import datetime as dt
import json
from collections import defaultdict
from dataclasses import dataclass

from sqlalchemy import select

from ..extensions import db
from ..models import Answer, Response


@dataclass(frozen=True)
class Burst:
    wave_id: int
    day: dt.date
    count: int
    answers: dict[str, str]
    has_text: bool  # identical free text as well: a much stronger signal


def identical_bursts(
    wave_id: int | None = None, minimum: int = 5, text_question_ids: frozenset[str] = frozenset()
) -> list[Burst]:
    query = select(Response.id, Response.wave_id, Response.submitted_on, Response.attributes)
    if wave_id is not None:
        query = query.where(Response.wave_id == wave_id)
    responses = {rid: (wid, day, attrs or {}) for rid, wid, day, attrs in db.session.execute(query)}
    answers: dict[str, dict[str, str]] = defaultdict(dict)
    answer_query = select(Answer.response_id, Answer.question_id, Answer.value)
    if wave_id is not None:
        answer_query = answer_query.join(Response).where(Response.wave_id == wave_id)
    for rid, qid, value in db.session.execute(answer_query):
        answers[rid][qid] = value
    groups: dict[tuple, list[str]] = defaultdict(list)
    for rid, (wid, day, attrs) in responses.items():
        if not answers[rid]:
            continue  # empty submissions say nothing
        fingerprint = json.dumps([answers[rid], attrs], sort_keys=True)
        groups[(wid, day, fingerprint)].append(rid)
    bursts = []
    for (wid, day, fingerprint), members in groups.items():
        if len(members) >= minimum:
            given = json.loads(fingerprint)[0]
            has_text = any(q in given for q in text_question_ids)
            bursts.append(Burst(wid, day, len(members), given, has_text))
    return sorted(bursts, key=lambda b: (-b.has_text, -b.count, b.wave_id, b.day))
