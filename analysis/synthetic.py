"""Synthetic responses in the export schema, for the demo council and the benchmarks.

Each respondent has a latent disposition; each item's latent mean moves by its outcomes'
trend every wave, so indicators move plausibly over time (some outcomes improve, one falls).
Answers are cut from the latent score into scale positions; reverse items are mirrored.
Deterministic given ``seed``; vectorised, so a million rows take seconds.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from instruments import Instrument
from instruments.routing import NOT_ASKED, asked, is_routed

from .responses import multi_columns

EXPORT_FIXED = [
    "response_id",
    "instrument",
    "version",
    "audience",
    "wave",
    "submitted_on",
    "weight",
]


def _positions(latent: np.ndarray, k: int) -> np.ndarray:
    """Cut latent scores into 1..k with thresholds spread over the standard normal."""
    cuts = np.linspace(-1.6, 1.6, k - 1) if k > 2 else np.array([0.0])
    return np.searchsorted(cuts, latent) + 1


def synthetic_responses(
    instrument: Instrument,
    waves: Sequence[str],
    n_per_wave: int | Sequence[int],
    *,
    seed: int = 0,
    version: str = "",
    trends: Mapping[str, float] | None = None,
    baseline: float = -0.25,
    attribute_weights: Mapping[str, Sequence[float]] | None = None,
    comments: Sequence[str] = (),
    comment_rate: float = 0.3,
    dont_know_rate: float = 0.04,
    blank_rate: float = 0.03,
    wave_days: Mapping[str, Sequence[str]] | None = None,
    stored: bool = False,
) -> pd.DataFrame:
    """Responses to ``instrument`` for each wave label, in the export schema (strings).

    ``trends`` maps outcome id to the latent shift per wave (e.g. ``{"O10": -0.15}``); items
    take the mean of their outcomes' trends (default +0.12 per wave). ``attribute_weights``
    maps an attribute id to the sampling probability of each of its choices (default equal),
    so a sample can be made unrepresentative on purpose (for weighting). ``wave_days`` maps a
    wave to the ISO dates responses may carry (default: blank ``submitted_on``).

    Routed instruments: an item whose ``show_if`` does not hold on the row's earlier answers
    is ``na`` (not asked). Multi questions are one column per choice as exported, or with
    ``stored`` one column of ticked positions (``"1,3"``), as the app stores them; numbers
    are whole numbers within the question's range; grid statements are scale items.
    """
    rng = np.random.default_rng(seed)
    sizes = [n_per_wave] * len(waves) if isinstance(n_per_wave, int) else list(n_per_wave)
    if len(sizes) != len(waves):
        raise ValueError(f"n_per_wave has {len(sizes)} sizes for {len(waves)} waves")
    trends = dict(trends or {})
    wave_index = np.repeat(np.arange(len(waves)), sizes)
    n = int(wave_index.size)
    out: dict[str, np.ndarray] = {
        "response_id": np.array([rng.bytes(16).hex() for _ in range(n)], dtype=object),
        "instrument": np.full(n, instrument.id, dtype=object),
        "version": np.full(n, version, dtype=object),
        "audience": np.full(n, instrument.audience, dtype=object),
        "wave": np.asarray(waves, dtype=object)[wave_index],
        "submitted_on": np.full(n, None, dtype=object),
        "weight": np.full(n, np.nan),
    }
    if wave_days:
        for w, label in enumerate(waves):
            rows = np.flatnonzero(wave_index == w)
            days = np.asarray(wave_days[label], dtype=object)
            out["submitted_on"][rows] = days[rng.integers(0, len(days), size=rows.size)]

    for attribute in instrument.attributes:
        p = np.asarray(
            (attribute_weights or {}).get(attribute.id, np.ones(len(attribute.choices))), float
        )
        if p.size != len(attribute.choices):
            raise ValueError(
                f"attribute_weights[{attribute.id!r}] needs {len(attribute.choices)} values"
            )
        out[attribute.id] = np.asarray(attribute.choices, dtype=object)[
            rng.choice(len(attribute.choices), size=n, p=p / p.sum())
        ]

    disposition = rng.normal(0.0, 0.9, size=n)
    for question in instrument.answer_items:
        if question.type == "text":
            values = np.full(n, None, dtype=object)
            if comments:
                says = rng.random(n) < comment_rate
                values[says] = np.asarray(comments, dtype=object)[
                    rng.integers(0, len(comments), says.sum())
                ]
            out[question.id] = values
            continue
        if question.type == "multi":
            # a required question is always answered (the app refuses a send without it)
            out[question.id] = _multi_answers(
                question, n, rng, 0.0 if question.required else blank_rate
            )
            continue
        if question.type == "number":
            low = question.min if question.min is not None else 0.0
            high = question.max if question.max is not None else low + 20.0
            numbers = np.clip(
                np.round(rng.gamma(2.0, (high - low) / 10.0 + 0.5, n) + low), low, high
            )
            values = np.array([f"{v:g}" for v in numbers], dtype=object)
            values[rng.random(n) < blank_rate] = None
            out[question.id] = values
            continue
        if question.type == "choice":
            assert question.choices is not None  # the schema requires them for type: choice
            values = np.asarray(question.choices, dtype=object)[
                rng.integers(0, len(question.choices), n)
            ]
            values[rng.random(n) < blank_rate] = None
            out[question.id] = values
            continue
        scale = instrument.scale_of(question)
        slope = (
            np.mean([trends.get(o, 0.12) for o in question.outcomes]) if question.outcomes else 0.05
        )
        item_offset = rng.normal(0.0, 0.25)
        latent = disposition + baseline + item_offset + slope * wave_index + rng.normal(0.0, 0.7, n)
        positions = _positions(-latent if question.reverse else latent, scale.k)
        values = positions.astype(str).astype(object)
        draw = rng.random(n)
        if scale.dont_know is not None:
            values[draw < dont_know_rate] = "dk"
        values[(draw >= dont_know_rate) & (draw < dont_know_rate + blank_rate)] = None
        out[question.id] = values
    frame = pd.DataFrame(out)
    if is_routed(instrument):
        frame = _route(frame, instrument)
    if not stored:
        for question in instrument.questions:
            if question.type == "multi":
                at = frame.columns.get_loc(question.id)
                expanded = multi_columns(
                    frame.pop(question.id), question.id, len(question.choices or [])
                )
                frame = pd.concat([frame.iloc[:, :at], expanded, frame.iloc[:, at:]], axis=1)
    return frame


def _multi_answers(question, n: int, rng: np.random.Generator, blank_rate: float) -> np.ndarray:
    """Ticked positions per respondent: each non-exclusive choice with its own chance, an
    exclusive one alone for those who tick nothing else."""
    choices = question.choices or []
    exclusive = [i for i, c in enumerate(choices) if c in question.exclusive]
    others = [i for i in range(len(choices)) if i not in exclusive]
    chance = rng.uniform(0.2, 0.7, len(others))
    ticks = rng.random((n, len(others))) < chance
    values = np.empty(n, dtype=object)
    for row in range(n):
        picked = [others[j] + 1 for j in np.flatnonzero(ticks[row])]
        if question.max is not None:
            picked = picked[: int(question.max)]
        if not picked and exclusive:
            picked = [exclusive[0] + 1]
        values[row] = ",".join(str(p) for p in picked) or None
    values[rng.random(n) < blank_rate] = None
    return values


def _route(frame: pd.DataFrame, instrument: Instrument) -> pd.DataFrame:
    """Items whose condition does not hold on the row's answers become ``na``."""
    items = [q.id for q in instrument.answer_items] + [a.id for a in instrument.attributes]
    values = frame[items].astype(object).where(frame[items].notna(), None)
    routed = []
    for record in values.to_dict("records"):
        given = {k: v for k, v in record.items() if v is not None}
        _, not_asked = asked(instrument, given)
        routed.append({k: (NOT_ASKED if k in not_asked else v) for k, v in record.items()})
    frame = frame.copy()
    frame[items] = pd.DataFrame(routed, index=frame.index, columns=items)
    return frame
