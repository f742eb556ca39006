"""Fixtures of the fault and attacker tests."""

from __future__ import annotations

import pytest

from .cluster import Cluster


@pytest.fixture
def cluster():
    made = Cluster()
    try:
        yield made
    finally:
        made.destroy()
