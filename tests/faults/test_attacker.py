"""The attacker test: someone who can read the whole database, its files and the logs tries
to read answers outside ``answer``, to pair responses with invitations, and to put
responses in submission order. On SQLite (a file of the test's own) and on PostgreSQL (a
throwaway cluster, as the fault test's, so its heap files and WAL can be read).

The wave: 20 personal-link submissions (member survey) and 20 open ones (staff survey),
interleaved, each comment carrying a unique marker; 3 more invitees leave a saved draft
with a marker and never send; an audit entry is written after every submission (a staff
action whose time brackets it). The attacker snapshots the database after every
submission (at least as strong as bracketing by ``audit_log`` times, which fall between
the same submissions). Then both waves close and are released, PostgreSQL is VACUUMed
and CHECKPOINTed so that freed space and the heap files are on disk.

What the test reads, and what it asserts:

* **every table** (all rows, every column, via SQL): no marker anywhere but ``answer``;
* **raw files**: PostgreSQL: every file of the data directory except ``pg_wal`` (heap,
  TOAST, indexes, free space and visibility maps, system catalogs); SQLite: the database
  file, ``-wal`` and ``-shm``. A marker may appear only in pages of the ``answer`` table
  (PostgreSQL: its relation files; SQLite: pages ``dbstat`` assigns to ``answer``, for
  ``-wal`` frames by the page number in the frame header; a free page is not ``answer``'s);
* **WAL**: every segment in ``pg_wal``, each marker occurrence located in the record
  that holds it (``pg_waldump``: LSN and block references): only records of ``answer``'s
  relation may hold one;
* **the logs**: everything logged while the app ran (root logger at DEBUG);
* **candidates**: for each released invite response, the invitations that the snapshots
  show marked used in the same step as it appeared, and (PostgreSQL) the used invitations
  with the same ``xmin``: never fewer than the batch minimum (5);
* **order**: Spearman rank correlation between submission order and the response rows'
  physical order (PostgreSQL ``ctid`` and ``xmin``; SQLite has no ``rowid`` on the table, and
  its b-tree order is its random key's), and between each response's and its own
  invitation's physical order: none significant (p > 0.001).
"""

from __future__ import annotations

import datetime as dt
import logging
import re
import sqlite3
from dataclasses import dataclass
from pathlib import Path

import pytest
from flask_migrate import upgrade
from scipy.stats import spearmanr
from sqlalchemy import create_engine, inspect, select, text, update
from sqlalchemy.exc import OperationalError

from survey_app.extensions import db
from survey_app.ingestion import MIN_BATCH
from survey_app.models import AuditEntry, Invitation, Response, Wave
from survey_app.security import hash_token, new_token
from survey_app.survey.store import release_held
from tests.conftest import make_app
from tests.survey_app.survey_helpers import answer_pages, full_answers, make_wave, send

from .cluster import Cluster

N = 20
DRAFTS = 3
SIGNIFICANT = 0.001
SEGMENT = 16 * 1024 * 1024


@dataclass
class Target:
    url: str
    cluster: Cluster | None = None
    sqlite_file: Path | None = None


@pytest.fixture(
    params=["sqlite", pytest.param("postgresql", marks=[pytest.mark.faults, pytest.mark.slow])]
)
def target(request, tmp_path):
    if request.param == "sqlite":
        path = tmp_path / "pulse.db"
        yield Target(url=f"sqlite:///{path}", sqlite_file=path)
        return
    # WAL kept whole (no segment recycled by the checkpoint), so every record can be read
    cluster = Cluster(settings="-c wal_keep_size=1024")
    try:
        yield Target(url=cluster.url, cluster=cluster)
    finally:
        cluster.destroy()


def _marker(i: int, kind: str) -> str:
    letters = "bcdfghjkmnpqrstvwxz"
    code = "".join(letters[(i * 7 + k * 3 + len(kind)) % len(letters)] for k in range(6))
    return f"zq{kind}{code}{letters[i % len(letters)]}{letters[i // len(letters)]}"


def _snapshot(wave_id: int) -> tuple[set[int], set[str]]:
    used = set(
        db.session.scalars(
            select(Invitation.id).where(Invitation.wave_id == wave_id, Invitation.used.is_(True))
        )
    )
    responses = set(db.session.scalars(select(Response.id).where(Response.wave_id == wave_id)))
    db.session.rollback()
    return used, responses


def test_a_database_reader_cannot_read_pair_or_order_responses(target, tmp_path) -> None:
    log_file = tmp_path / "everything.log"
    handler = logging.FileHandler(log_file)
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        app = make_app(target.url)
        with app.app_context():
            upgrade()
        markers, order, snapshots, truth = _run_the_wave(app)
        with app.app_context():
            _close_and_release(app, target)
            _check_tables(markers)
            _check_candidates(app, snapshots, truth, target)
            _check_order(order, truth, target)
            # the files as they are while the app runs (SQLite removes -wal when the last
            # connection closes)
            if target.cluster is not None:
                _check_postgres_files(target.cluster, markers)
            else:
                _check_sqlite_files(target.sqlite_file, markers)
            db.session.remove()
            db.engine.dispose()
        handler.flush()
        logged = log_file.read_bytes()
        if target.cluster is not None:  # and the database server's own log
            logged += (target.cluster.root / "log").read_bytes()
        assert logged, "nothing was logged: the log check would prove nothing"
        assert not [m for m in markers if m.encode() in logged], "a marker was logged"
    finally:
        root.removeHandler(handler)
        root.setLevel(old_level)
        handler.close()


def _run_the_wave(app):
    """40 interleaved submissions and 3 drafts; returns (every marker, submission order by
    wave, the attacker's snapshots after each submission, the truth: marker -> invitation
    id for invite submissions)."""
    with app.app_context():
        invite = make_wave("member-pulse")
        open_wave = make_wave("staff-pulse")
        tokens = [new_token() for _ in range(N + DRAFTS)]
        invitations = [
            Invitation(
                wave_id=invite.id,
                token_hash=hash_token(t),
                email=f"person{i}@council.example",
                name=f"Person {i}",
            )
            for i, t in enumerate(tokens)
        ]
        db.session.add_all(invitations)
        db.session.commit()
        ids = [i.id for i in invitations]
        waves = {
            "invite": (invite.id, invite.slug, invite.instrument_version.instrument),
            "open": (open_wave.id, open_wave.slug, open_wave.instrument_version.instrument),
        }
    markers: list[str] = []
    order: dict[str, list[str]] = {"invite": [], "open": []}
    truth: dict[str, int] = {}
    snapshots: list[tuple[set[int], set[str]]] = []

    def answers_with(kind: str, i: int, marker: str) -> dict[str, str]:
        instrument = waves[kind][2]
        text_id = next(q.id for q in instrument.questions if q.type == "text")
        return full_answers(instrument, seed=i) | {text_id: f"Comment {marker} here"}

    for i in range(N):
        for kind in ("invite", "open"):
            wave_id, slug, instrument = waves[kind]
            marker = _marker(i, kind)
            markers.append(marker)
            client = app.test_client()
            if kind == "invite":
                assert client.get(f"/i/{tokens[i]}").status_code == 303
                truth[marker] = ids[i]
            check = answer_pages(client, slug, instrument, answers_with(kind, i, marker))
            assert send(client, slug, check).status_code == 303
            order[kind].append(marker)
            with app.app_context():
                db.session.add(AuditEntry(action="monitor viewed", detail={"wave": wave_id}))
                db.session.commit()
                snapshots.append(_snapshot(waves["invite"][0]))
    for i in range(N, N + DRAFTS):  # answered every page, never sent: a saved draft
        marker = _marker(i, "draft")
        markers.append(marker)
        client = app.test_client()
        assert client.get(f"/i/{tokens[i]}").status_code == 303
        _, slug, instrument = waves["invite"]
        answer_pages(client, slug, instrument, answers_with("invite", i, marker))
    return markers, order, snapshots, truth


def _close_and_release(app, target: Target) -> None:
    # the waves opened three days ago (make_wave): closing them yesterday keeps the dates in order
    db.session.execute(update(Wave).values(closes_on=dt.date.today() - dt.timedelta(days=1)))
    db.session.commit()
    assert release_held() > 0
    if target.cluster is not None:
        engine = create_engine(target.url, isolation_level="AUTOCOMMIT")
        with engine.connect() as connection:
            connection.execute(text("VACUUM"))
            connection.execute(text("CHECKPOINT"))
        engine.dispose()


def _check_tables(markers: list[str]) -> None:
    """Every row of every table but ``answer``, every column, as text."""
    for table in inspect(db.engine).get_table_names():
        rows = " ".join(
            str(tuple(row)) for row in db.session.execute(text(f'SELECT * FROM "{table}"'))
        )
        found = [m for m in markers if m in rows]
        if table == "answer":
            sent = [m for m in markers if "draft" not in m]
            assert set(found) == set(sent), "every sent comment is in answer, no draft"
        else:
            assert not found, f"markers in table {table}: {found[:3]}"
    db.session.rollback()


def _check_candidates(app, snapshots, truth: dict[str, int], target: Target) -> None:
    """Whom could each released invite response have come from?"""
    answer_of = {
        value.split()[1]: rid
        for rid, value in db.session.execute(
            text("SELECT response_id, value FROM answer WHERE question_id = 'M90'")
        )
    }
    previous_used: set[int] = set()
    previous_responses: set[str] = set()
    steps = []
    for used, responses in snapshots:
        new_used, new_responses = used - previous_used, responses - previous_responses
        assert len(new_used) == len(new_responses)  # a batch marks exactly its own
        if new_responses:
            steps.append((new_used, new_responses))
        previous_used, previous_responses = used, responses
    for new_used, new_responses in steps:
        assert len(new_used) >= MIN_BATCH, "a release during fieldwork narrowed the candidates"
        for marker, invitation_id in truth.items():
            if answer_of[marker] in new_responses:
                assert invitation_id in new_used  # the true sender is among them
    if target.cluster is not None:
        response_xmin = dict(
            db.session.execute(
                text(
                    "SELECT id, xmin::text FROM response WHERE wave_id = (SELECT wave_id FROM invitation LIMIT 1)"
                )
            ).all()
        )
        invitation_xmin = [
            x for (x,) in db.session.execute(text("SELECT xmin::text FROM invitation WHERE used"))
        ]
        for xid in response_xmin.values():
            assert invitation_xmin.count(xid) >= MIN_BATCH, "xmin narrowed the candidates"
    db.session.rollback()


def _ctid_rank(ctids: dict[str, str]) -> dict[str, tuple[int]]:
    """Each row's place in physical order, from its ``ctid`` ``(page,item)``."""
    place = {
        key: tuple(int(part) for part in value.strip("()").split(","))
        for key, value in ctids.items()
    }
    ordered = sorted(place, key=place.__getitem__)
    return {key: (ordered.index(key),) for key in place}


def _check_order(order: dict[str, list[str]], truth: dict[str, int], target: Target) -> None:
    """No significant rank correlation between submission order and physical order."""
    comments = {
        value.split()[1]: rid
        for rid, value in db.session.execute(
            text("SELECT response_id, value FROM answer WHERE question_id IN ('M90', 'S90')")
        )
    }
    if target.cluster is not None:
        physical = {
            "ctid": _ctid_rank(
                dict(db.session.execute(text("SELECT id, ctid::text FROM response")).all())
            ),
            "xmin": {
                rid: (int(x),)
                for rid, x in db.session.execute(text("SELECT id, xmin::text FROM response"))
            },
        }
        invitation_ctid = _ctid_rank(
            {
                str(i): c
                for i, c in db.session.execute(text("SELECT id, ctid::text FROM invitation"))
            }
        )
    else:
        with pytest.raises(OperationalError, match="rowid"):
            db.session.execute(text("SELECT rowid FROM response"))
        db.session.rollback()
        stored = list(db.session.scalars(text("SELECT id FROM response")))  # b-tree order
        physical = {"b-tree": {rid: (n,) for n, rid in enumerate(stored)}}
        invitation_ctid = None
    for how, position in physical.items():
        for kind, markers in order.items():
            places = [position[comments[m]] for m in markers]
            if len(set(places)) == 1:
                continue  # one position for all (e.g. one xmin): no order at all
            rho, p = spearmanr(range(len(markers)), [sorted(set(places)).index(x) for x in places])
            assert p > SIGNIFICANT, (
                f"{kind} responses by {how} follow submission order (rho {rho:.2f})"
            )
    if invitation_ctid is not None:  # a response's place against its own invitation's
        pairs = [
            (physical["ctid"][comments[m]][0], invitation_ctid[str(i)][0]) for m, i in truth.items()
        ]
        rho, p = spearmanr([a for a, _ in pairs], [b for _, b in pairs])
        assert p > SIGNIFICANT, f"responses and their invitations share an order (rho {rho:.2f})"
    db.session.rollback()


# --------------------------------------------------------------------------- raw files


def _occurrences(data: bytes, marker: bytes) -> list[int]:
    return [m.start() for m in re.finditer(re.escape(marker), data)]


def _check_postgres_files(cluster: Cluster, markers: list[str]) -> None:
    engine = create_engine(cluster.url)
    with engine.connect() as connection:
        answer_files = [
            row[0]
            for row in connection.execute(
                text(
                    "SELECT pg_relation_filepath(c.oid) FROM pg_class c WHERE c.relname = 'answer' "
                    "OR c.oid = (SELECT reltoastrelid FROM pg_class WHERE relname = 'answer')"
                )
            )
        ]
        answer_nodes = {path.rsplit("/", 1)[1] for path in answer_files}
        database = connection.execute(
            text("SELECT oid FROM pg_database WHERE datname = current_database()")
        ).scalar_one()
    engine.dispose()
    encoded = [m.encode() for m in markers]
    wal_dir = cluster.data / "pg_wal"
    scanned = 0
    for path in cluster.data.rglob("*"):
        if not path.is_file() or wal_dir in path.parents:
            continue
        scanned += 1
        data = path.read_bytes()
        hits = [m for m in encoded if m in data]
        relation = path.name.split(".")[0].split("_")[0]
        if hits and not (path.parent.name == str(database) and relation in answer_nodes):
            raise AssertionError(f"markers in {path.relative_to(cluster.data)}: {hits[:3]}")
    assert scanned > 100
    _check_wal(cluster, encoded, answer_nodes)


_RECORD = re.compile(r"lsn: ([0-9A-F]+)/([0-9A-F]+),.*?desc: (.*)$")
_BLOCK_REL = re.compile(r"rel \d+/\d+/(\d+)")


def _check_wal(cluster: Cluster, markers: list[bytes], answer_nodes: set[str]) -> None:
    """Each marker occurrence in a WAL segment lies in a record of ``answer``'s relation."""
    segments = sorted(
        p for p in (cluster.data / "pg_wal").iterdir() if re.fullmatch(r"[0-9A-F]{24}", p.name)
    )
    dump = cluster.output(
        "pg_waldump", "-p", str(cluster.data / "pg_wal"), segments[0].name, segments[-1].name
    )
    records = []  # (absolute LSN, relations the record touches)
    for line in dump.splitlines():
        match = _RECORD.search(line)
        if match:
            lsn = (int(match.group(1), 16) << 32) | int(match.group(2), 16)
            records.append((lsn, set(_BLOCK_REL.findall(line))))
    assert records
    starts = [lsn for lsn, _ in records]
    found = 0
    for segment in segments:
        number = int(segment.name[8:16], 16) * 0x100 + int(segment.name[16:24], 16)
        data = segment.read_bytes()
        for marker in markers:
            for offset in _occurrences(data, marker):
                found += 1
                position = number * SEGMENT + offset
                index = (
                    max(i for i, start in enumerate(starts) if start <= position)
                    if starts[0] <= position
                    else None
                )
                assert index is not None, f"marker in WAL before the first record: {segment.name}"
                relations = records[index][1]
                assert relations and relations <= answer_nodes, (
                    f"marker {marker!r} in a WAL record of relations {relations} ({segment.name})"
                )
    assert found, "no marker in the WAL at all: the WAL check would prove nothing"


def _check_sqlite_files(path: Path, markers: list[str]) -> None:
    connection = sqlite3.connect(path)
    page_size = connection.execute("PRAGMA page_size").fetchone()[0]
    owner = dict(connection.execute("SELECT pageno, name FROM dbstat").fetchall())
    connection.close()  # (the WAL is not checkpointed by a reader that only reads)
    encoded = [m.encode() for m in markers]
    files = {kind: Path(f"{path}{kind}") for kind in ("", "-wal", "-shm")}
    assert files["-wal"].exists(), "no -wal file: the check would prove nothing"
    for kind, file in files.items():
        if not file.exists():
            continue
        data = file.read_bytes()
        for marker in encoded:
            for offset in _occurrences(data, marker):
                if kind == "":
                    page = offset // page_size + 1
                elif kind == "-wal":
                    frame = (offset - 32) // (24 + page_size)
                    start = 32 + frame * (24 + page_size)
                    page = int.from_bytes(data[start : start + 4], "big")
                else:
                    page = None
                assert owner.get(page) == "answer", (
                    f"marker {marker!r} in {file.name}, page {page} ({owner.get(page, 'free')})"
                )
