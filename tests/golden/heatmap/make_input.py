"""Writes heatmap_responses.csv, the fixed input of heatmap.R (run once; the CSV is committed).

The instruments of ``tests/golden/fpc/definitions``: ``census`` (members, wave W1 of 150
respondents from an audience of 400 with the FPC, W2 of 120 with no known size) and
``weighted`` (residents, one wave of 160 with uneven weights and an audience of 2,000). Two
attributes, ``role`` and ``grade``, with blanks, for one- and two-way heatmaps."""

from pathlib import Path

import numpy as np
import pandas as pd

rng = np.random.default_rng(18)
rows = []


def add(instrument: str, audience: str, wave: str, n: int, size: str, weights=None) -> None:
    roles = rng.choice(["cabinet", "backbench", "opposition", ""], n, p=[0.25, 0.4, 0.3, 0.05])
    grades = rng.choice(["A", "B", ""], n, p=[0.55, 0.4, 0.05])
    for i in range(n):
        # answers lean with the role, so that some groups differ from the rest
        lean = {"cabinet": 0.15, "opposition": -0.15}.get(str(roles[i]), 0.0)
        p = np.array([0.1, 0.15, 0.2, 0.3, 0.15, 0.05, 0.05]) + lean * np.array(
            [-0.05, -0.05, 0, 0.05, 0.05, 0, 0]
        )
        answers = {
            q: rng.choice(["1", "2", "3", "4", "5", "dk", ""], p=p / p.sum())
            for q in ("Q1", "Q2", "Q3", "Q4")
        }
        rows.append(
            {
                "response_id": f"{instrument}-{wave}-{i}",
                "instrument": instrument,
                "version": "",
                "audience": audience,
                "wave": wave,
                "submitted_on": "",
                "weight": "" if weights is None else repr(float(weights[i])),
                "audience_size": size,
                "role": roles[i],
                "grade": grades[i],
                **answers,
            }
        )


add("census", "members", "W1", 150, "400")
add("census", "members", "W2", 120, "")
add(
    "weighted", "residents", "T1", 160, "2000", weights=np.round(rng.lognormal(0, 0.7, 160) * 12, 3)
)
pd.DataFrame(rows).to_csv(Path(__file__).with_name("heatmap_responses.csv"), index=False)
