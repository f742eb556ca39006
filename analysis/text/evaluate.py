"""Precision, recall and F1 of the codebook's automatic coding against a hand-coded sample.

The sample (``tests/analysis/data/comments_sample.csv``: ``id, audience, comment, themes``
with theme ids separated by ``;``) was written and coded by hand before the codebook's rules
were written, and the rules were not tuned on it afterwards. The same person wrote the comments,
the codes and the rules, though, so the figures are likely optimistic: a sample of real
comments coded by someone else is the better test.
Per theme: precision = TP / (TP + FP), recall = TP / (TP + FN), F1 their harmonic mean
(NaN when undefined); ``micro`` pools every theme's counts, ``macro`` averages the themes.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from instruments import Codebook

from ..spreadsheet import read_csv
from .coding import code_comments

EVALUATION_COLUMNS = [
    "theme",
    "support",
    "predicted",
    "tp",
    "fp",
    "fn",
    "precision",
    "recall",
    "f1",
]


def read_hand_coded(path: str | Path) -> pd.DataFrame:
    """The hand-coded sample; ``themes`` becomes a list of ids."""
    frame = read_csv(path, dtype=str, keep_default_na=False)
    missing = {"comment", "themes"} - set(frame.columns)
    if missing:
        raise ValueError(f"{path}: missing column(s) {', '.join(sorted(missing))}")
    frame["themes"] = frame["themes"].map(lambda s: [t.strip() for t in s.split(";") if t.strip()])
    return frame


def hand_coded_matrix(themes: pd.Series, theme_ids: list[str]) -> pd.DataFrame:
    unknown = sorted({t for ts in themes for t in ts} - set(theme_ids))
    if unknown:
        raise ValueError(f"hand codes use theme(s) not in the codebook: {', '.join(unknown)}")
    return pd.DataFrame(
        {t: themes.map(lambda ts, t=t: t in ts).astype(bool) for t in theme_ids}, index=themes.index
    )


def _ratio(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(b > 0, a / np.where(b > 0, b, 1), np.nan)


def evaluate_codebook(sample: pd.DataFrame, codebook: Codebook) -> pd.DataFrame:
    """Per-theme precision, recall and F1 of ``codebook`` on a hand-coded ``sample``
    (columns ``comment`` and ``themes`` as lists), plus ``micro`` and ``macro`` rows."""
    ids = codebook.theme_ids
    truth = hand_coded_matrix(sample["themes"], ids).to_numpy()
    predicted = code_comments(sample["comment"], codebook).to_numpy()
    tp = (truth & predicted).sum(axis=0).astype(float)
    fp = (~truth & predicted).sum(axis=0).astype(float)
    fn = (truth & ~predicted).sum(axis=0).astype(float)
    table = pd.DataFrame(
        {"theme": ids, "support": tp + fn, "predicted": tp + fp, "tp": tp, "fp": fp, "fn": fn}
    )
    micro = {
        "theme": "micro",
        **{c: table[c].sum() for c in ["support", "predicted", "tp", "fp", "fn"]},
    }
    table = pd.concat([table, pd.DataFrame([micro])], ignore_index=True)
    table["precision"] = _ratio(table["tp"].to_numpy(), (table["tp"] + table["fp"]).to_numpy())
    table["recall"] = _ratio(table["tp"].to_numpy(), (table["tp"] + table["fn"]).to_numpy())
    p, r = table["precision"].to_numpy(), table["recall"].to_numpy()
    table["f1"] = _ratio(2 * p * r, p + r)
    themes = table.iloc[: len(ids)]
    macro = {
        "theme": "macro",
        "support": themes["support"].sum(),
        "predicted": themes["predicted"].sum(),
        "tp": np.nan,
        "fp": np.nan,
        "fn": np.nan,
        "precision": themes["precision"].mean(),
        "recall": themes["recall"].mean(),
        "f1": themes["f1"].mean(),
    }
    table = pd.concat([table, pd.DataFrame([macro])], ignore_index=True)
    for column in ("support", "predicted", "tp", "fp", "fn"):
        table[column] = table[column].astype("Int64")
    return table[EVALUATION_COLUMNS]


def main(argv: list[str] | None = None) -> int:
    """``python -m analysis.text.evaluate SAMPLE.csv [DEFINITIONS]``: print the table."""
    import argparse

    from instruments import load_codebook
    from instruments.loader import definitions_dir

    parser = argparse.ArgumentParser(
        prog="python -m analysis.text.evaluate", description=main.__doc__
    )
    parser.add_argument(
        "sample", type=Path, help="hand-coded CSV: comment, themes (ids separated by ;)"
    )
    parser.add_argument("definitions", type=Path, nargs="?", help="folder with codebook.yaml")
    args = parser.parse_args(argv)
    table = evaluate_codebook(
        read_hand_coded(args.sample), load_codebook(args.definitions or definitions_dir())
    )
    print(table.to_string(index=False, float_format=lambda x: f"{x:.3f}"))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
