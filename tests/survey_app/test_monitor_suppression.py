"""The response monitor's counts: only the total received during fieldwork, and afterwards
tables by day and by event from which no hidden count can be recovered by subtraction.

The attacker here reads every number the monitor shows (the overview's total, the wave
page's total and every visible cell of every table) and, for each hidden cell, finds the
smallest and largest value it can take given all of them: a linear programme over the hidden
cells of every table at once, with each table adding up to the total shown and no count
negative. That bound is as tight as any combination of subtracting visible totals and cells
can make it, so "the interval has more than one value" means no subtraction recovers it.
"""

from __future__ import annotations

import datetime as dt
import re
import secrets

import numpy as np
import pytest
from scipy.optimize import linprog
from sqlalchemy import select

from instruments import load_definitions
from survey_app.definitions import load_instruments
from survey_app.extensions import db
from survey_app.models import Event, InstrumentVersion, Invitation, Response, Role, Wave, WaveMode
from survey_app.security import hash_token, new_token
from survey_app.survey.store import release_held, store_submission

from .helpers import add_user, sign_in
from .survey_helpers import full_answers

MIN_N = 10
OPENS, CLOSES = dt.date(2026, 3, 2), dt.date(2026, 3, 8)


def at(year: int, month: int, day: int, hour: int = 12) -> object:
    moment = dt.datetime(year, month, day, hour, tzinfo=dt.UTC)
    return lambda: moment


# --------------------------------------------------------------------------- the attacker


Table = tuple[list[int | None], int | None]  # cells (None: hidden), total (None: hidden)


def hidden_bounds(tables: dict[str, Table]) -> dict[tuple[str, int], tuple[float, float]]:
    """For every hidden cell, the least and greatest value consistent with every visible
    cell and total of every table (each table's cells add up to its total; counts >= 0)."""
    cells = [
        (name, i)
        for name, (row, total) in tables.items()
        if total is not None
        for i, value in enumerate(row)
        if value is None
    ]
    if not cells:
        return {}
    equations, sums = [], []
    for name, (row, total) in tables.items():
        if total is None:
            continue
        equations.append([1.0 if cell[0] == name else 0.0 for cell in cells])
        sums.append(total - sum(v for v in row if v is not None))
    bounds = {}
    for k, cell in enumerate(cells):
        objective = np.zeros(len(cells))
        objective[k] = 1.0
        low = linprog(objective, A_eq=equations, b_eq=sums, bounds=(0, None), method="highs")
        high = linprog(-objective, A_eq=equations, b_eq=sums, bounds=(0, None), method="highs")
        assert low.status == 0 and high.status == 0, "the tables shown contradict each other"
        bounds[cell] = (low.fun, -high.fun)
    return bounds


def assert_nothing_recoverable(tables: dict[str, Table]) -> None:
    for (name, i), (low, high) in hidden_bounds(tables).items():
        assert high - low >= 1, f"{name} row {i} is recovered: it must be {low:g}"
    for name, (row, total) in tables.items():
        hidden_sum = (total or 0) - sum(v for v in row if v is not None)
        if total is not None and None in row:
            assert row.count(None) >= 2, f"{name}: one hidden cell is the total minus the rest"
            assert hidden_sum >= MIN_N, (
                f"{name}: the hidden cells add up to {hidden_sum}, a small group"
            )


def test_the_attacker_recovers_a_count_hidden_on_its_own() -> None:
    """The attack works: hiding small cells one by one gives them away."""
    naive = {"by day": ([20, None, 14], 37)}  # the hidden day must be 3
    assert hidden_bounds(naive) == {("by day", 1): (3.0, 3.0)}
    with pytest.raises(AssertionError, match="recovered"):
        assert_nothing_recoverable(naive)
    with pytest.raises(AssertionError, match="small group"):  # two days, 2 between them
        assert_nothing_recoverable({"by day": ([20, None, None], 22)})


# --------------------------------------------------------------------------- the pages


def _numbers(cells: list[str]) -> list[int | None]:
    return [
        None if c.strip() in ("not shown", "fewer than 10") else int(c.replace(",", ""))
        for c in cells
    ]


def page_tables(html: str) -> dict[str, Table]:
    """Every table of the wave page: its body's count cells and its total."""
    found = {}
    for caption, body in re.findall(
        r"<caption[^>]*>([^<]+)</caption>(.*?)</table>", html, re.DOTALL
    ):
        rows = body[body.index("<tbody") : body.index("</tbody>")]
        cells = re.findall(r'govuk-table__cell--numeric">([^<]+)<', rows)
        total = re.findall(r'govuk-table__cell--numeric">([^<]+)<', body[body.index("<tfoot") :])
        found[caption.strip()] = (_numbers(cells), _numbers(total)[0])
    return found


def _overview_total(client, label: str) -> int | None:
    overview = client.get("/staff/").get_data(as_text=True)
    row = re.search(rf">{label}</a>.*?</tr>", overview, re.DOTALL).group(0)
    return _numbers(re.findall(r'govuk-table__cell--numeric">([^<]+)<', row)[:1])[0]


def _roadshow(app, day_counts: dict[int, list[int]]) -> int:
    """A closed roadshow wave (2-8 March 2026, three events): ``{day of March: [responses at
    event 1, 2, 3, at no event]}``."""
    with app.app_context():
        load_instruments(load_definitions())
        version = db.session.scalar(
            select(InstrumentVersion).where(InstrumentVersion.instrument_id == "staff-roadshow")
        )
        wave = Wave(
            label="2026-R1",
            instrument_version=version,
            audience=version.audience,
            mode=WaveMode.EVENT,
            opens_on=OPENS,
            closes_on=CLOSES,
            events=[Event(code=f"hall{i}", place=f"Hall {i}", held_on=OPENS) for i in (1, 2, 3)],
        )
        db.session.add(wave)
        db.session.flush()
        events = [e.id for e in wave.events] + [None]
        for day, per_event in day_counts.items():
            for event_id, n in zip(events, per_event, strict=True):
                db.session.add_all(
                    Response(wave_id=wave.id, event_id=event_id, submitted_on=dt.date(2026, 3, day))
                    for _ in range(n)
                )
        db.session.commit()
        return wave.id


ROADSHOWS = {
    # one small day (4 March: 3) and one small event (hall 2: 5) among big ones
    "one small cell each": {
        2: [20, 0, 0, 0],
        3: [10, 5, 0, 0],
        4: [0, 0, 3, 0],
        5: [0, 0, 15, 0],
        6: [12, 0, 0, 0],
        7: [0, 0, 11, 0],
        8: [0, 0, 10, 0],
    },
    # every small day together is still a small group (2 + 1 + 1 + 0s): a big day goes too
    "small days adding up to a small group": {
        2: [30, 0, 0, 0],
        3: [0, 1, 0, 1],
        4: [0, 0, 1, 0],
        5: [0, 25, 0, 0],
        6: [0, 0, 14, 0],
    },
    # paper returns (no event) keyed in after the wave closed, on a day of their own
    "late paper returns": {2: [15, 0, 0, 0], 3: [0, 12, 0, 0], 4: [0, 0, 18, 0], 12: [0, 0, 0, 2]},
}


@pytest.mark.parametrize("plan", ROADSHOWS.values(), ids=ROADSHOWS.keys())
def test_no_hidden_count_can_be_recovered_from_the_monitor(db_app, plan) -> None:
    app, client = db_app, db_app.test_client()
    app.config["CLOCK"] = at(2026, 3, 20)
    wave_id = _roadshow(app, plan)
    add_user(app, "analyst@council.example", Role.ANALYST)
    sign_in(client, "analyst@council.example")
    page = client.get(f"/staff/waves/{wave_id}").get_data(as_text=True)
    tables = page_tables(page)
    assert set(tables) == {"Responses by day", "Responses by roadshow event"}
    total = sum(sum(per_event) for per_event in plan.values())
    days, events = tables["Responses by day"], tables["Responses by roadshow event"]
    assert days[1] == events[1] == total == _overview_total(client, "2026-R1")
    # every day from the opening to the last response is listed, empty ones too
    last = max(CLOSES, dt.date(2026, 3, max(plan)))
    assert len(days[0]) == (last - OPENS).days + 1 and len(events[0]) == 4
    assert None in days[0] and None in events[0]  # something was small in every plan
    for name, (cells, _) in tables.items():  # visible cells are the true counts
        truth = (
            [
                sum(plan.get(d.day, [0])) if d.month == 3 else 0
                for d in (OPENS + dt.timedelta(days=i) for i in range(len(cells)))
            ]
            if name == "Responses by day"
            else [sum(p[i] for p in plan.values()) for i in range(4)]
        )
        assert all(shown is None or shown == true for shown, true in zip(cells, truth, strict=True))
        assert all(shown is None for shown, true in zip(cells, truth, strict=True) if true < MIN_N)
    assert_nothing_recoverable(tables)


def _held_invite_wave(app, submissions: int) -> tuple[int, list[str]]:
    """A member-pulse invite wave open 2-8 March 2026 with ``submissions`` sent (and held)."""
    with app.app_context():
        load_instruments(load_definitions())
        version = db.session.scalar(
            select(InstrumentVersion).where(InstrumentVersion.instrument_id == "member-pulse")
        )
        wave = Wave(
            label="2026-M1",
            instrument_version=version,
            audience="members",
            mode=WaveMode.INVITE,
            opens_on=OPENS,
            closes_on=CLOSES,
            audience_size=50,
        )
        tokens = [new_token() for _ in range(submissions)]
        db.session.add(wave)
        db.session.flush()
        db.session.add_all(Invitation(wave_id=wave.id, token_hash=hash_token(t)) for t in tokens)
        db.session.commit()
        for token in tokens:
            store_submission(
                wave,
                version.instrument,
                full_answers(version.instrument),
                submission_key=secrets.token_urlsafe(16),
                token=token,
            )
        return wave.id, tokens


def test_during_fieldwork_staff_see_only_the_total_received(db_app) -> None:
    app, client = db_app, db_app.test_client()
    app.config["CLOCK"] = at(2026, 3, 5)
    wave_id, _ = _held_invite_wave(app, 12)
    add_user(app, "analyst@council.example", Role.ANALYST)
    sign_in(client, "analyst@council.example")
    assert _overview_total(client, "2026-M1") == 12  # held submissions are counted
    page = client.get(f"/staff/waves/{wave_id}").get_data(as_text=True)
    assert 'Responses received</dt><dd class="govuk-summary-list__value">12<' in page
    assert "Responses by day" not in page and "only the total received is shown" in page
    wave_page = client.get(f"/programme/waves/{wave_id}").get_data(as_text=True)
    assert "12 answered (24% of the audience)" in wave_page
    # closed, but not yet released: still only the total
    app.config["CLOCK"] = at(2026, 3, 9)
    assert "Closed, responses being released" in client.get("/staff/").get_data(as_text=True)
    assert "Responses by day" not in client.get(f"/staff/waves/{wave_id}").get_data(as_text=True)
    with app.app_context():
        assert release_held(wave_id) == 12
    released = client.get(f"/staff/waves/{wave_id}").get_data(as_text=True)
    tables = page_tables(released)
    assert tables["Responses by day"][1] == 12 and _overview_total(client, "2026-M1") == 12
    assert_nothing_recoverable(tables)


def test_a_small_wave_total_is_never_shown(app, client) -> None:
    app.config["CLOCK"] = at(2026, 3, 5)
    wave_id, _ = _held_invite_wave(app, 4)
    add_user(app, "analyst@council.example", Role.ANALYST)
    sign_in(client, "analyst@council.example")
    assert _overview_total(client, "2026-M1") is None
    assert "fewer than 10 answered" in client.get(f"/programme/waves/{wave_id}").get_data(
        as_text=True
    )
    app.config["CLOCK"] = at(2026, 3, 9)
    with app.app_context():
        release_held(wave_id)
    tables = page_tables(client.get(f"/staff/waves/{wave_id}").get_data(as_text=True))
    cells, total = tables["Responses by day"]
    assert total is None and all(c is None for c in cells)
