"""Heatmap, key-driver and who-responded tables are stored with the results and published per wave
(issue 18, section 3): viewers get them only for closed, published waves."""

from __future__ import annotations

from sqlalchemy import select

from instruments import load_definitions
from survey_app.extensions import db
from survey_app.models import InstrumentVersion, Wave
from survey_app.results import table


def test_heatmap_and_drivers_are_stored_and_published_with_their_wave(db_app) -> None:
    from survey_app.demo import seed_demo
    from survey_app.publication import published_results
    from survey_app.results import compute_results

    with db_app.app_context():
        seed_demo(load_definitions(), seed=2)
        stored = compute_results()
        heatmap, drivers = table(stored, "heatmap"), table(stored, "drivers")
        assert {"directorate", "grade"} <= set(heatmap["by"])
        shown = heatmap[~heatmap["suppressed"]]
        assert len(shown) and (shown["n"] >= 10).all()
        assert heatmap.loc[heatmap["suppressed"], "estimate"].isna().all()
        assert len(drivers)
        totals = drivers.groupby(["instrument", "wave", "target_level", "target_id"])[
            "importance"
        ].sum()
        assert ((totals - 100).abs() < 1e-6).all()
        published = published_results()
        still_open = {
            (w.instrument_version.instrument_id, w.label)
            for w in db.session.scalars(select(Wave).join(InstrumentVersion))
            if w.is_open()
        }
        assert len(table(stored, "who_responded"))  # the demo's staff establishment
        for name in ("heatmap", "drivers", "who_responded"):
            everything = table(stored, name)
            computed = set(zip(everything["instrument"], everything["wave"], strict=True))
            viewer = table(published, name)
            assert len(viewer), name
            shown_waves = set(zip(viewer["instrument"], viewer["wave"], strict=True))
            assert shown_waves <= computed
            assert not (shown_waves & still_open), name
