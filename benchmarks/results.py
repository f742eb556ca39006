"""Results benchmark: the whole `flask results` (read the responses from PostgreSQL, analyse,
store) against `pulse-analysis indicators` on the same data exported to CSV, in the same run.

    .venv/bin/python benchmarks/results.py [--sizes 100k,1M] [--seed 2026] [--repeat 2]
                                           [--server postgresql+psycopg://postgres@127.0.0.1:5432/postgres]
                                           [--workdir benchmarks/output/results] [--keep-databases]

Per size: the synthetic council of benchmarks/analysis.py (N respondents x 20 agree5 items,
8 waves, members/staff/residents/partners, residents raked on age band and sex) is loaded into
a PostgreSQL database of its own (created on the server, dropped at the end) with COPY:
instrument versions, one open wave per instrument and quarter, responses, answers and the
residents' population margins, exactly as the app stores them. Then, as child processes
(wall time, CPU and each child's own peak RSS from ``os.wait4``):

* ``flask --app survey_app export responses --out FILE`` (the CSV the CLI reads; timed for
  information, not part of the comparison);
* ``pulse-analysis indicators --responses FILE --instruments DIR --population FILE --by age_band
  sex --drop-incomplete --out DIR``: what ``compute_results`` asks of the analysis;
* ``flask --app survey_app results``: the database path, end to end;
* a child that times only the read (``responses_frame()``) and the fingerprint, to show where
  the database path spends its time.

The two contenders alternate (``--repeat`` rounds, best of each), so load from other users of
the machine weighs on both. The stored indicators are compared with the CLI's indicators.csv
(same rows, same estimates), so both did the same work. Targets: ``flask results`` within 2x
the CLI at every size, and its peak RSS under 3 GB at 1M. Nothing is asserted; figures go to
stdout and WORKDIR/results.json (see benchmarks/README.md).
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib.util
import io
import json
import os
import secrets
import shutil
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parents[1]
# Run as a script, this folder is first on sys.path, and benchmarks/analysis.py would shadow
# the `analysis` package: put the project root first instead.
_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]
sys.path.insert(0, str(ROOT))


def _analysis_benchmark():
    """benchmarks/analysis.py as a module (its data generator and child-process timing)."""
    spec = importlib.util.spec_from_file_location("analysis_benchmark", _HERE / "analysis.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    return module


bench = _analysis_benchmark()

DEFAULT_WORKDIR = ROOT / "benchmarks" / "output" / "results"
DEFAULT_SERVER = (
    os.environ.get("TEST_DATABASE_URL") or "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
TARGETS = {"db_over_cli_max": 2.0, "peak_mb_max_at_1m": 3072.0}
BREAKDOWNS = ["age_band", "sex"]  # the generated instruments' "about you" attributes
READ_PROBE = """
import sys, time, json
from survey_app import create_app
from survey_app.export import responses_frame
from survey_app.results import data_fingerprint
app = create_app()
with app.app_context():
    t = time.perf_counter(); frame = responses_frame(); read = time.perf_counter() - t
    t = time.perf_counter(); data_fingerprint(); fingerprint = time.perf_counter() - t
print(json.dumps({"read_seconds": read, "fingerprint_seconds": fingerprint, "rows": len(frame)}))
"""


def log(message: str) -> None:
    bench.log(message)


# --------------------------------------------------------------------------- loading


def _quarter_dates(label: str) -> tuple[dt.date, dt.date]:
    year, quarter = int(label[:4]), int(label[-1])
    opens = dt.date(year, 3 * (quarter - 1) + 1, 1)
    closes = dt.date(year + (quarter == 4), (3 * quarter) % 12 + 1, 1) - dt.timedelta(days=1)
    return opens, closes


def create_database(server: str, name: str | None = None) -> str:
    """A new database on ``server`` (a random name unless given); its URL."""
    name = name or f"pulse_bench_{secrets.token_hex(5)}"
    admin = create_engine(server, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return make_url(server).set(database=name).render_as_string(hide_password=False)


# Written as the database's comment once it is loaded; a database loaded by another version of
# :func:`load_database` (e.g. with another physical order of the answers) is loaded again.
LOADER_VERSION = "pulse results benchmark loader 2: answers grouped by response"


def reusable_database(server: str, n: int, seed: int) -> str | None:
    """The URL of the database a ``--reuse-databases`` run kept for (n, seed), if it holds
    exactly n responses at the app's current schema revision, loaded by this version of the
    loader (:data:`LOADER_VERSION`); else it is dropped."""
    from alembic.script import ScriptDirectory

    name = f"pulse_bench_{n}_seed{seed}"
    url = make_url(server).set(database=name).render_as_string(hide_password=False)
    admin = create_engine(server, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        exists, loader = connection.execute(
            text(
                "SELECT 1, shobj_description(oid, 'pg_database') FROM pg_database "
                "WHERE datname = :name"
            ),
            {"name": name},
        ).first() or (None, None)
    admin.dispose()
    if not exists:
        return None
    heads = ScriptDirectory(str(ROOT / "survey_app" / "migrations")).get_heads()
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            revision = connection.scalar(text("SELECT version_num FROM alembic_version"))
            responses = connection.scalar(text("SELECT count(*) FROM response"))
    except Exception:  # noqa: BLE001 - a half-made database: load it again
        revision = responses = None
    finally:
        engine.dispose()
    if revision in heads and responses == n and loader == LOADER_VERSION:
        return url
    drop_database(server, url)
    return None


def drop_database(server: str, url: str) -> None:
    name = make_url(url).database
    admin = create_engine(server, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def _copy(cursor, statement: str, frame: pd.DataFrame) -> None:
    buffer = io.StringIO()
    frame.to_csv(buffer, index=False, header=False, na_rep="")
    with cursor.copy(statement) as copy:
        copy.write(buffer.getvalue())


def load_database(
    url: str,
    responses_csv: Path,
    definitions: Path,
    population_csv: Path,
    chunk_rows: int = 100_000,
) -> dict[str, Any]:
    """Schema by migration, then instrument versions, waves and margins through the app's
    models, then responses and answers by COPY in chunks (as the app stores them: a scale
    answer is its position, don't know is ``dk``, an unanswered question has no row)."""
    from flask_migrate import upgrade

    from instruments import load_definitions
    from survey_app import create_app
    from survey_app.definitions import load_instruments
    from survey_app.extensions import db
    from survey_app.models import InstrumentVersion, PopulationMargin, Wave, WaveMode

    started = time.perf_counter()
    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "INSTRUMENTS_DIR": str(definitions)})
    with app.app_context():
        upgrade()
        load_instruments(load_definitions(definitions))
        versions = {v.instrument_id: v for v in db.session.query(InstrumentVersion)}
        wave_ids: dict[tuple[str, str], int] = {}
        for instrument_id, version in sorted(versions.items()):
            for label in bench.WAVES:
                opens, closes = _quarter_dates(label)
                wave = Wave(
                    label=label,
                    instrument_version=version,
                    audience=version.audience,
                    mode=WaveMode.OPEN,
                    opens_on=opens,
                    closes_on=closes,
                )
                db.session.add(wave)
                db.session.flush()
                wave_ids[(instrument_id, label)] = wave.id
        for row in pd.read_csv(population_csv).itertuples():
            db.session.add(
                PopulationMargin(
                    audience=row.audience,
                    variable=row.variable,
                    category=row.category,
                    population=row.population,
                )
            )
        db.session.commit()
        engine = db.engine
        raw = engine.raw_connection()
        responses = answers = 0
        try:
            cursor = raw.cursor()
            for chunk in pd.read_csv(
                responses_csv, dtype=str, keep_default_na=False, chunksize=chunk_rows
            ):
                keys = list(zip(chunk["instrument"], chunk["wave"], strict=True))
                attributes = [
                    json.dumps({k: v for k, v in zip(BREAKDOWNS, values, strict=True) if v})
                    for values in zip(*(chunk[c] for c in BREAKDOWNS), strict=True)
                ]
                rows = pd.DataFrame(
                    {
                        "id": chunk["response_id"],
                        "wave_id": [wave_ids[k] for k in keys],
                        "submitted_on": chunk["submitted_on"],
                        "channel": "web",
                        "attributes": attributes,
                    }
                )
                _copy(
                    cursor,
                    "COPY response (id, wave_id, submitted_on, channel, attributes) "
                    "FROM STDIN (FORMAT csv)",
                    rows,
                )
                items = chunk.melt(
                    id_vars=["response_id"],
                    value_vars=bench.ITEM_IDS,
                    var_name="question_id",
                    value_name="value",
                    ignore_index=False,
                )
                # Each response's answers together, as the app writes them (a submission's
                # answers in one statement; a released wave rewritten response by response),
                # not question by question: the physical order decides how much PostgreSQL's
                # parallel workers can aggregate each on its own while the answers are read.
                items = items[items["value"] != ""].sort_index(kind="stable")
                _copy(
                    cursor,
                    "COPY answer (response_id, question_id, value) FROM STDIN (FORMAT csv)",
                    items,
                )
                responses += len(rows)
                answers += len(items)
            raw.commit()
            cursor.execute("ANALYZE")
            name = make_url(url).database
            cursor.execute(f"COMMENT ON DATABASE \"{name}\" IS '{LOADER_VERSION}'")
            raw.commit()
        finally:
            raw.close()
        db.session.remove()
        engine.dispose()
    return {
        "responses": responses,
        "answers": answers,
        "load_seconds": time.perf_counter() - started,
    }


# --------------------------------------------------------------------------- measuring


def _env(url: str, definitions: Path) -> dict[str, str]:
    return {
        **os.environ,
        "DATABASE_URL": url,
        "INSTRUMENTS_DIR": str(definitions),
        "SECRET_KEY": "benchmark-only-" + secrets.token_hex(16),
        "PULSE_CONFIG": "production",
        "PYTHONPATH": str(ROOT),
        "PULSE_INSTANCE_PATH": str(DEFAULT_WORKDIR / "instance"),
    }


# Runs the measured command as its own child and writes that child's rusage to a file. On
# Linux a process started straight from this one (vfork, then exec) is charged this process's
# peak RSS (hundreds of MB after loading the data) as its own; a process forked from the
# small launcher is charged only what it uses itself.
LAUNCHER = """
import json, os, subprocess, sys
child = subprocess.Popen(sys.argv[2:])
_, status, usage = os.wait4(child.pid, 0)
with open(sys.argv[1], "w") as out:
    json.dump({"user_seconds": usage.ru_utime, "system_seconds": usage.ru_stime,
               "peak_rss_mb": usage.ru_maxrss / 1024.0}, out)
sys.exit(os.waitstatus_to_exitcode(status))
"""


def run_child(
    cmd: Sequence[str], env: dict[str, str], log_prefix: Path, timeout: float
) -> dict[str, Any]:
    """Run ``cmd`` with ``env``: wall time from here, CPU and peak RSS of the command alone
    (through :data:`LAUNCHER`)."""
    saved = dict(os.environ)
    os.environ.clear()
    os.environ.update(env)
    usage_file = Path(f"{log_prefix}.rusage.json")
    usage_file.unlink(missing_ok=True)
    try:
        measured = bench.run_measured(
            [sys.executable, "-c", LAUNCHER, str(usage_file), *cmd], log_prefix, timeout
        )
    finally:
        os.environ.clear()
        os.environ.update(saved)
    if usage_file.exists():  # absent if the launcher was killed (timeout)
        measured.update(json.loads(usage_file.read_text()))
    measured["command"] = " ".join(str(c) for c in cmd)
    return measured


def stored_indicators(url: str) -> pd.DataFrame:
    engine = create_engine(url)
    with engine.connect() as connection:
        tables = connection.execute(
            text("SELECT tables FROM analysis_result ORDER BY id DESC LIMIT 1")
        ).scalar_one()
    engine.dispose()
    return pd.DataFrame.from_records(tables["indicators"])


def compare(stored: pd.DataFrame, cli_csv: Path) -> dict[str, Any]:
    """The database path's stored indicators against the CLI's file: same rows, same figures."""
    cli = pd.read_csv(cli_csv, dtype={"group": str, "by": str})
    keys = ["instrument", "wave", "level", "id", "by", "group"]
    for frame in (stored, cli):
        for key in keys:
            frame[key] = frame[key].astype(object).where(frame[key].notna(), "")
            frame[key] = frame[key].astype(str)
    merged = stored.merge(cli, on=keys, how="outer", suffixes=("_db", "_cli"), indicator=True)
    both = merged[merged["_merge"] == "both"]
    diffs = {
        c: float(np.nanmax(np.abs(both[f"{c}_db"].astype(float) - both[f"{c}_cli"].astype(float))))
        if len(both)
        else None
        for c in ("estimate", "se")
        if f"{c}_db" in both
    }
    return {
        "rows_db": len(stored),
        "rows_cli": len(cli),
        "rows_only_one_side": int((merged["_merge"] != "both").sum()),
        "max_abs_diff": diffs,
    }


def measure_size(n: int, args, instruments, definitions: Path, population: Path) -> dict[str, Any]:
    workdir = args.workdir
    logs = workdir / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    responses_csv, generated = bench.ensure_responses(
        workdir, n, args.seed, instruments, args.regenerate
    )
    reused = reusable_database(args.server, n, args.seed) if args.reuse_databases else None
    url = reused or create_database(
        args.server, f"pulse_bench_{n}_seed{args.seed}" if args.reuse_databases else None
    )
    result: dict[str, Any] = {
        "n": n,
        "generated_seconds": generated,
        "database": make_url(url).database,
    }
    try:
        if reused:
            log(f"reusing {make_url(url).database} (kept by an earlier --reuse-databases run)")
            result["load"] = {"reused": True}
        else:
            log(f"loading {n:,} responses into {make_url(url).database}")
            result["load"] = load_database(url, responses_csv, definitions, population)
            log(
                f"  loaded {result['load']['answers']:,} answers in {result['load']['load_seconds']:.0f} s"
            )
        env = _env(url, definitions)
        flask = [sys.executable, "-m", "flask", "--app", "survey_app"]
        export_csv = workdir / f"export-{n}.csv"
        result["export"] = run_child(
            [*flask, "export", "responses", "--out", str(export_csv)],
            env,
            logs / f"export-{n}",
            args.timeout,
        )
        out = workdir / f"out-{n}"
        cli = [
            bench.find_cli(None),
            "indicators",
            "--responses",
            str(export_csv),
            "--instruments",
            str(definitions),
            "--population",
            str(population),
            "--by",
            *BREAKDOWNS,
            "--drop-incomplete",
            "--out",
            str(out),
        ]
        cli_runs, db_runs = [], []
        for round_ in range(args.repeat):
            order = [("cli", cli, cli_runs), ("db", [*flask, "results"], db_runs)]
            for name, cmd, runs in order if round_ % 2 == 0 else order[::-1]:
                if name == "cli" and out.exists():
                    shutil.rmtree(out)
                log(f"  {name} round {round_ + 1}")
                runs.append(
                    run_child(cmd, env, logs / f"{name}-{n}-round{round_ + 1}", args.timeout)
                )
                if runs[-1]["returncode"] != 0:
                    log(f"  {name} failed: {bench.tail(runs[-1]['stderr'])}")
        result["cli"], result["db"] = _best(cli_runs), _best(db_runs)
        probe = run_child([sys.executable, "-c", READ_PROBE], env, logs / f"read-{n}", args.timeout)
        probe_out = Path(probe["stdout"]).read_text().strip().splitlines()
        result["read"] = (
            {**json.loads(probe_out[-1]), "peak_rss_mb": probe["peak_rss_mb"]}
            if probe_out
            else probe
        )
        if result["db"]["returncode"] == 0 and result["cli"]["returncode"] == 0:
            result["agreement"] = compare(stored_indicators(url), out / "indicators.csv")
            result["db_over_cli"] = result["db"]["wall_seconds"] / result["cli"]["wall_seconds"]
            result["db_over_cli_cpu"] = (
                result["db"]["user_seconds"] + result["db"]["system_seconds"]
            ) / (result["cli"]["user_seconds"] + result["cli"]["system_seconds"])
    finally:
        if not (args.keep_databases or args.reuse_databases):
            drop_database(args.server, url)
    return result


def _best(runs: list[dict[str, Any]]) -> dict[str, Any]:
    best = dict(min(runs, key=lambda r: (r["returncode"] != 0, r["wall_seconds"])))
    best["runs_wall_seconds"] = [r["wall_seconds"] for r in runs]
    best["peak_rss_mb"] = max(r["peak_rss_mb"] for r in runs)
    return best


def print_report(sizes: list[dict[str, Any]]) -> None:
    print(
        f"\n{'size':>10} {'flask results':>14} {'CLI':>8} {'ratio':>6} {'CPU ratio':>9} "
        f"{'read':>7} {'fingerprint':>11} {'peak MB db':>10} {'peak MB cli':>11} {'export':>7}  target"
    )
    for r in sizes:
        if "db_over_cli" not in r:
            print(
                f"{r['n']:>10,} failed: see {r.get('db', {}).get('stderr')} / {r.get('cli', {}).get('stderr')}"
            )
            continue
        ok = r["db_over_cli"] <= TARGETS["db_over_cli_max"]
        if r["n"] >= 1_000_000:
            ok = ok and r["db"]["peak_rss_mb"] < TARGETS["peak_mb_max_at_1m"]
        print(
            f"{r['n']:>10,} {r['db']['wall_seconds']:>12.1f} s {r['cli']['wall_seconds']:>6.1f} s "
            f"{r['db_over_cli']:>6.2f} {r['db_over_cli_cpu']:>9.2f} {r['read'].get('read_seconds', float('nan')):>5.1f} s "
            f"{r['read'].get('fingerprint_seconds', float('nan')):>9.2f} s {r['db']['peak_rss_mb']:>10.0f} "
            f"{r['cli']['peak_rss_mb']:>11.0f} {r['export']['wall_seconds']:>5.1f} s  {'met' if ok else 'NOT met'}"
        )
        agreement = r["agreement"]
        print(
            f"{'':>10} stored vs CLI indicators: {agreement['rows_db']:,} / {agreement['rows_cli']:,} rows, "
            f"{agreement['rows_only_one_side']} on one side only, max |diff| {agreement['max_abs_diff']}"
        )
    print(
        f"\ntargets: flask results <= {TARGETS['db_over_cli_max']}x the CLI at every size; "
        f"its peak RSS < {TARGETS['peak_mb_max_at_1m']:.0f} MB at 1M"
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="100000,1000000", type=bench.parse_sizes)
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument(
        "--repeat", type=int, default=2, help="alternating rounds of each contender (best of)"
    )
    parser.add_argument(
        "--server", default=DEFAULT_SERVER, help="PostgreSQL server to create the databases on"
    )
    parser.add_argument("--workdir", type=Path, default=DEFAULT_WORKDIR)
    parser.add_argument("--regenerate", action="store_true")
    parser.add_argument("--keep-databases", action="store_true")
    parser.add_argument(
        "--reuse-databases",
        action="store_true",
        help="keep each size's database under a fixed name and reuse it in later runs",
    )
    parser.add_argument("--timeout", type=float, default=1800)
    args = parser.parse_args(argv)
    args.workdir.mkdir(parents=True, exist_ok=True)
    definitions = args.workdir / "definitions"
    instruments = bench.write_definitions(definitions)
    population = args.workdir / "population.csv"
    bench.write_population(population)
    started = {"at": dt.datetime.now(dt.UTC).isoformat(), "load_average": os.getloadavg()}
    sizes = [measure_size(n, args, instruments, definitions, population) for n in args.sizes]
    print_report(sizes)
    (args.workdir / "results.json").write_text(
        json.dumps({"started": started, "targets": TARGETS, "sizes": sizes}, indent=2, default=str)
    )
    return 0 if all("db_over_cli" in r for r in sizes) else 1


if __name__ == "__main__":
    raise SystemExit(main())
