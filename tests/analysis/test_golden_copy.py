"""The repository's copy of the golden reference files is the one in shared/golden.

The SHA-256 of each shared file is recorded here, so a clone anywhere (CI, a temporary
folder) checks its copy against the reference; where shared/golden is beside the checkout,
the reference itself is checked against the recorded digest too, so a change to it shows."""

from __future__ import annotations

import hashlib

import pytest

from tests.conftest import GOLDEN_DIR, SHARED

SHARED_DIGESTS = {
    "apistrat.csv": "d6d94c1d4c2106bc3b9c3bcf531e2da2ce68de351e89e2753e1d510f919369dd",
    "apiclus1.csv": "607846716eb039260bb6a2bdd22a258ce9854ec6bc42f67094962f0dc9c356c1",
    "alpha_items.csv": "b3f648f017841a7ee46e08c14c4db939fe4845f3ff7f3067a55afdadc4d8f494",
    "README.md": "e98d09f9ac7800292a71094c062cf39dbc08a5700603c5108f6673142cf499bd",
}


def _digest(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.parametrize("name", sorted(SHARED_DIGESTS))
def test_golden_copy_matches_shared(name: str) -> None:
    assert _digest(GOLDEN_DIR / name) == SHARED_DIGESTS[name]
    shared = SHARED / "golden" / name
    if shared.exists():  # beside the shared folder: the reference is still the one recorded
        assert _digest(shared) == SHARED_DIGESTS[name]
