"""Writes fpc_responses.csv, the fixed input of fpc.R (run once; the CSV is committed).

Two instruments in the export schema: ``census`` (members, waves W1 and W2 of an audience of
49, W3 with no known size) and ``weighted`` (residents, one wave of 60 with uneven weights
and an audience of 400) for the FPC with weights and for trimming."""

from pathlib import Path

import numpy as np
import pandas as pd

rng = np.random.default_rng(15)
rows = []


def add(instrument: str, audience: str, wave: str, n: int, size: str, weights=None) -> None:
    roles = rng.choice(["cabinet", "backbench", "opposition", ""], n, p=[0.25, 0.4, 0.3, 0.05])
    for i in range(n):
        answers = {}
        for q in ("Q1", "Q2", "Q3", "Q4"):
            code = rng.choice(
                ["1", "2", "3", "4", "5", "dk", ""], p=[0.1, 0.15, 0.2, 0.3, 0.15, 0.05, 0.05]
            )
            answers[q] = code
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
                **answers,
            }
        )


add("census", "members", "W1", 40, "49")
add("census", "members", "W2", 45, "49")
add("census", "members", "W3", 30, "")
add("weighted", "residents", "T1", 60, "400", weights=np.round(rng.lognormal(0, 0.8, 60) * 6, 3))
pd.DataFrame(rows).to_csv(Path(__file__).with_name("fpc_responses.csv"), index=False)
