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
) -> pd.DataFrame:
    """Responses to ``instrument`` for each wave label, in the export schema (strings).

    ``trends`` maps outcome id to the latent shift per wave (e.g. ``{"O10": -0.15}``); items
    take the mean of their outcomes' trends (default +0.12 per wave). ``attribute_weights``
    maps an attribute id to the sampling probability of each of its choices (default equal),
    so a sample can be made unrepresentative on purpose (for weighting). ``wave_days`` maps a
    wave to the ISO dates responses may carry (default: blank ``submitted_on``).
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
    for question in instrument.questions:
        if question.type == "text":
            values = np.full(n, None, dtype=object)
            if comments:
                says = rng.random(n) < comment_rate
                values[says] = np.asarray(comments, dtype=object)[
                    rng.integers(0, len(comments), says.sum())
                ]
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
    return pd.DataFrame(out)
