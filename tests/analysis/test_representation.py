"""Who responded (issue 18 section 3): response rates and representation ratios against
group sizes, suppressed below the minimum and never recoverable by subtraction."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest

from analysis.representation import NOT_STATED, who_responded, who_responded_by_wave

SIZES = pd.DataFrame(
    {
        "attribute": ["directorate"] * 3 + ["grade"] * 2,
        "value": ["Place", "Resources", "Adults", "Manager", "Other"],
        "size": [200, 100, 100, 50, 350],
    }
)


def respondents(place: int, resources: int, adults: int, blank: int = 0) -> pd.DataFrame:
    directorate = ["Place"] * place + ["Resources"] * resources + ["Adults"] * adults
    directorate += [None] * blank
    n = len(directorate)
    grade = (["Manager"] * 20 + ["Other"] * n)[:n]
    return pd.DataFrame({"directorate": directorate, "grade": grade})


def test_rates_shares_and_ratios_follow_their_formulas() -> None:
    table = who_responded(respondents(80, 30, 10, blank=20), SIZES, 10)
    rows = table[table["attribute"] == "directorate"].set_index("value")
    stated = 80 + 30 + 10
    # by hand: rate = n / N; share among those who stated; ratio = share / population share
    np.testing.assert_allclose(rows.loc["Place", "response_rate"], 100 * 80 / 200)
    np.testing.assert_allclose(rows.loc["Place", "respondent_share"], 100 * 80 / stated)
    np.testing.assert_allclose(rows.loc["Place", "population_share"], 100 * 200 / 400)
    np.testing.assert_allclose(rows.loc["Place", "representation"], (80 / stated) / (200 / 400))
    np.testing.assert_allclose(rows.loc["Adults", "representation"], (10 / stated) / (100 / 400))
    assert rows.loc[NOT_STATED, "respondents"] == 20
    assert np.isnan(rows.loc[NOT_STATED, "representation"])
    assert not rows["suppressed"].any()
    grade = table[table["attribute"] == "grade"].set_index("value")
    assert grade.loc["Manager", "respondents"] == 20 and NOT_STATED not in grade.index
    # the ratios weighted by population share average to 1 over the stated groups
    stated_rows = rows.drop(NOT_STATED)
    np.testing.assert_allclose(
        (stated_rows["representation"] * stated_rows["population_share"]).sum() / 100, 1
    )


def test_small_groups_and_their_complements_are_suppressed() -> None:
    table = who_responded(respondents(80, 30, 4), SIZES, 10)
    rows = table[table["attribute"] == "directorate"].set_index("value")
    # Adults (4) is small; alone it would be recovered from the total, so Resources goes too
    assert rows.loc[["Adults", "Resources"], "suppressed"].all()
    assert not rows.loc["Place", "suppressed"]
    for column in ("respondents", "response_rate", "respondent_share", "representation"):
        assert rows.loc[["Adults", "Resources"], column].isna().all()
    assert rows.loc["Adults", "population"] == 100  # population figures are not about anyone


@pytest.mark.parametrize("blank", [3, 15])
def test_no_hidden_count_is_recovered_by_subtraction(blank: int) -> None:
    """From everything shown (the wave's total, visible counts and shares), every hidden
    group's count stays undetermined: at least two hidden counts, summing to at least the
    minimum, and no share that gives the number who stated the attribute away."""
    data = respondents(80, 30, 4, blank=blank)
    total = len(data)
    table = who_responded(data, SIZES, 10)
    for attribute, rows in table.groupby("attribute"):
        hidden = rows[rows["suppressed"]]
        if hidden.empty:
            continue
        visible = rows[~rows["suppressed"]]
        assert len(hidden) >= 2
        true = data[attribute].fillna(NOT_STATED).value_counts()
        assert sum(true.get(v, 0) for v in hidden["value"]) >= 10
        # a visible count over its share would give those who stated; total minus that
        # gives "(not stated)": only possible when that row is itself visible
        shares = visible["respondent_share"].dropna()
        if NOT_STATED in set(hidden["value"]):
            assert shares.empty
        # any combination of visible counts subtracted from the total leaves the sum of
        # the hidden ones, never one of them
        left = total - visible["respondents"].sum()
        for size in range(1, len(hidden)):
            for combo in itertools.combinations(hidden["value"], size):
                assert sum(true.get(v, 0) for v in combo) != left or size == len(hidden)


def test_bad_sizes_are_refused_with_what_and_where() -> None:
    with pytest.raises(ValueError, match="needs the columns size"):
        who_responded(respondents(5, 5, 5), SIZES.drop(columns="size"), 10)
    bad = SIZES.assign(size=[200, 0, 100, 50, 350])
    with pytest.raises(ValueError, match="directorate = Resources must be a positive number"):
        who_responded(respondents(5, 5, 5), bad, 10)
    twice = pd.concat([SIZES, SIZES.iloc[[0]]])
    with pytest.raises(ValueError, match="directorate = Place has more than one size"):
        who_responded(respondents(5, 5, 5), twice, 10)


def test_values_outside_the_sizes_and_missing_attributes_are_shown_as_such() -> None:
    # Elsewhere is the largest group, so the complement hidden beside the empty Adults is one
    # of the smaller ones, whichever way ties are broken
    data = respondents(30, 30, 40).assign(
        directorate=lambda d: d["directorate"].replace({"Adults": "Elsewhere"})
    )
    table = who_responded(data.drop(columns="grade"), SIZES, 10)
    rows = table.set_index(["attribute", "value"])
    assert np.isnan(rows.loc[("directorate", "Elsewhere"), "population"])
    assert rows.loc[("directorate", "Elsewhere"), "respondents"] == 40
    # nobody gave Adults: a count of 0 is below the minimum like any other small count
    assert rows.loc[("directorate", "Adults"), "suppressed"]
    # no grade column: nobody stated it; the empty groups hide, and so does their complement
    assert rows.loc[("grade", NOT_STATED), "suppressed"]
    assert rows.xs("grade", level="attribute")["suppressed"].all()


def test_every_wave_of_an_audience_with_sizes_gets_its_own_table() -> None:
    first = respondents(80, 30, 10).assign(instrument="staff-pulse", wave="W1")
    second = respondents(8, 30, 30).assign(instrument="staff-pulse", wave="W2")
    members = respondents(5, 5, 5).assign(instrument="member-pulse", wave="W1")
    frame = pd.concat(
        [
            first.assign(audience="staff"),
            second.assign(audience="staff"),
            members.assign(audience="members"),
        ],
        ignore_index=True,
    )
    sizes = SIZES.assign(audience="staff")
    table = who_responded_by_wave(frame, sizes, {"staff": 10, "default": 3})
    # members have no sizes: no rows; each staff wave as who_responded on its own respondents
    assert set(zip(table["instrument"], table["wave"], strict=True)) == {
        ("staff-pulse", "W1"),
        ("staff-pulse", "W2"),
    }
    for wave, rows in (("W1", first), ("W2", second)):
        alone = who_responded(rows, SIZES, 10)
        mine = table[table["wave"] == wave].drop(columns=["instrument", "audience", "wave"])
        pd.testing.assert_frame_equal(mine.reset_index(drop=True), alone)
    # the audience's own minimum: Place's 8 in W2 is hidden at 10 (a default of 3 would show it)
    w2 = table[table["wave"] == "W2"].set_index(["attribute", "value"])
    assert w2.loc[("directorate", "Place"), "suppressed"]
    with pytest.raises(ValueError, match="needs the columns size"):
        who_responded_by_wave(frame, sizes.drop(columns="size"), 10)
