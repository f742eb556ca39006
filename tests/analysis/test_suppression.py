"""The one suppression rule: primary suppression below the minimum group size, and
complementary suppression until a family's hidden groups are at least two and add up to at
least the minimum."""

from __future__ import annotations

import pandas as pd
import pytest

from analysis.suppression import suppress


def _family(ns: list[int], min_n: int | dict[str, int] = 10, audience: str = "staff") -> list[bool]:
    table = pd.DataFrame(
        {
            "wave": "W1",
            "by": "team",
            "group": [f"g{i}" for i in range(len(ns))],
            "n": ns,
            "estimate": [50.0] * len(ns),
            "audience": audience,
        }
    )
    out = suppress(table, min_n, family=["wave", "by"], group_column="group", blank=["estimate"])
    assert out["n"].isna().tolist() == out["suppressed"].tolist() == out["estimate"].isna().tolist()
    return out["suppressed"].tolist()


@pytest.mark.parametrize(
    "ns, hidden",
    [
        ([40, 30, 20], [False, False, False]),  # nothing small: nothing hidden
        ([40, 12, 3], [False, True, True]),  # one small group: the next smallest goes with it
        ([40, 12, 6, 5], [False, False, True, True]),  # two small groups adding up to 11: enough
        ([40, 12, 2, 1], [False, True, True, True]),  # two small groups adding up to 3: one more
        ([40, 12, 0, 0], [False, True, True, True]),  # empty groups count as small
        ([4, 3], [True, True]),  # every group small
    ],
)
def test_hidden_groups_are_never_alone_nor_a_small_sum(ns, hidden) -> None:
    assert _family(ns) == hidden


def test_the_threshold_is_the_audiences() -> None:
    assert _family([40, 12, 6, 5], {"staff": 12, "default": 10}) == [False, True, True, True]
    assert _family([40, 12, 6, 5], {"members": 12, "default": 10}) == [False, False, True, True]


def test_whole_audience_rows_take_no_part() -> None:
    table = pd.DataFrame(
        {
            "wave": "W1",
            "by": ["team", "team", "team", None],
            "n": [40, 12, 3, 55],
            "group": ["a", "b", "c", None],
            "audience": "staff",
        }
    )
    out = suppress(table, 10, family=["wave", "by"], group_column="group")
    assert out["suppressed"].tolist() == [False, True, True, False]
