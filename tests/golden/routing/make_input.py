"""Writes routing_responses.csv, the fixed input of routing.R (run once; the CSV is committed).

One routed instrument (definitions/routed.yaml) in the export schema: Q2 is asked only of
library users (``na`` for the others), the multi question Q3 only of the others (one 0/1
column per choice; blank when shown and nothing ticked), the number Q6 only of library users,
with uneven weights and one wave."""

from pathlib import Path

import numpy as np
import pandas as pd

rng = np.random.default_rng(19)
CODES = ["1", "2", "3", "4", "5", "dk", ""]
P = [0.1, 0.15, 0.2, 0.3, 0.15, 0.05, 0.05]
rows = []
for i in range(240):
    used = rng.choice(["Yes", "No", ""], p=[0.45, 0.5, 0.05])
    row = {
        "response_id": f"r{i}",
        "instrument": "routed",
        "version": "",
        "audience": "residents",
        "wave": "W1",
        "submitted_on": "",
        "weight": repr(float(np.round(rng.uniform(0.5, 3.0), 3))),
        "audience_size": "",
        "Q1": used,
        "Q2": rng.choice(CODES, p=P) if used == "Yes" else "na",
    }
    if used == "Yes":
        ticks = ["na"] * 3
    else:
        choice = rng.choice(
            ["parks", "leisure", "both", "none", "blank"], p=[0.3, 0.2, 0.2, 0.2, 0.1]
        )
        ticks = {
            "parks": ["1", "0", "0"],
            "leisure": ["0", "1", "0"],
            "both": ["1", "1", "0"],
            "none": ["0", "0", "1"],
            "blank": ["", "", ""],
        }[choice]
    row.update({f"Q3_{p}": ticks[p - 1] for p in (1, 2, 3)})
    # Q4 and Q5 are asked of everyone; many leave one blank, so the half rule bites
    row["Q4"] = rng.choice(CODES, p=[0.1, 0.15, 0.15, 0.25, 0.1, 0.05, 0.2])
    row["Q5"] = rng.choice(CODES, p=[0.1, 0.15, 0.15, 0.25, 0.1, 0.05, 0.2])
    # Q6, a number asked of library users only: skewed counts, some left blank
    visits = int(rng.poisson(4) * rng.integers(1, 4))
    row["Q6"] = ("" if rng.random() < 0.08 else str(visits)) if used == "Yes" else "na"
    rows.append(row)
pd.DataFrame(rows).to_csv(Path(__file__).with_name("routing_responses.csv"), index=False)
