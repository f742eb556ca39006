"""The subtraction attack on published counts, shared by the CLI's and the app's tests of
two-way suppression (issue 18, section 1): no suppressed crossed cell may be determined, nor
a small sum of hidden cells disclosed, by any combination of the counts the tables publish."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np
import pandas as pd

CROSS = "*"


def published_counts(tables: Iterable[pd.DataFrame], unit: Sequence[str]) -> pd.DataFrame:
    """Every count the tables publish, per unit and (``by``, ``group``), a blank ``by`` for
    the whole audience: a count any table shows is known (the largest, should two differ)."""
    columns = [*unit, "by", "group"]
    frame = pd.concat([t[[*columns, "n"]] for t in tables], ignore_index=True)
    frame[["by", "group"]] = frame[["by", "group"]].fillna("")
    frame["n"] = pd.to_numeric(frame["n"], errors="coerce")
    return frame.groupby(columns, as_index=False)["n"].max()


def members(by: str, group: str, cells: list[str], crossed: str) -> list[str]:
    """The cells of the two-way breakdown ``crossed`` (``a*b``) that a published count of
    ``by`` (blank: the whole audience; ``a`` or ``b``: a one-way group; ``crossed``: a cell)
    adds up."""
    if by == "":
        return cells
    if by == crossed:
        return [group]
    side = crossed.split(CROSS).index(by)
    return [c for c in cells if c.split(CROSS)[side] == group]


def attack(unit: pd.DataFrame, cells: list[str], min_n: int, crossed: str) -> list[str]:
    """What subtraction discloses in one unit (an item, index or outcome of an audience-wave).

    The unknowns are the counts of the two-way cells; every published count (the whole
    audience, a one-way group, a cell) is an equation over them. A hidden cell is recovered
    when its count is a linear combination of the equations (rank test); a small group is
    disclosed when the hidden cells of one equation add up to fewer than ``min_n``. A hidden
    cell's estimate could only come from its sum of values, whose equations are these over
    the sets with a published estimate, so a cell whose count is not determined has no
    determined estimate either."""
    published = {
        (r.by, r.group): r.n
        for r in unit.itertuples()
        if not np.isnan(r.n) and r.by in ("", crossed, *crossed.split(CROSS))
    }
    position = {c: i for i, c in enumerate(cells)}
    equations = []
    problems = []
    for (by, group), n in published.items():
        included = members(by, group, cells, crossed)
        row = np.zeros(len(cells))
        row[[position[c] for c in included if c in position]] = 1
        equations.append(row)
        hidden = [c for c in included if (crossed, c) not in published]
        rest = n - sum(published.get((crossed, c), 0) for c in included)
        if hidden and rest < min_n:
            problems.append(f"hidden cells {hidden} of {by or 'all'} {group} add up to {rest}")
    if not equations:
        return problems
    matrix = np.array(equations)
    rank = np.linalg.matrix_rank(matrix)
    for cell in cells:
        if (crossed, cell) in published:
            continue
        alone = np.zeros((1, len(cells)))
        alone[0, position[cell]] = 1
        if np.linalg.matrix_rank(np.vstack([matrix, alone])) == rank:
            problems.append(f"cell {cell} recovered")
    return problems
