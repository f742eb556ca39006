"""The repository's copy of the golden reference files is the one in shared/golden."""

from __future__ import annotations

import pytest

from tests.conftest import GOLDEN_DIR, SHARED


@pytest.mark.parametrize("name", ["apistrat.csv", "apiclus1.csv", "alpha_items.csv", "README.md"])
def test_golden_copy_matches_shared(name: str) -> None:
    shared = SHARED / "golden" / name
    if not shared.exists():
        pytest.skip("shared/golden is not beside this checkout")
    assert (GOLDEN_DIR / name).read_bytes() == shared.read_bytes()
