"""Serving benchmark: the app under gunicorn on 127.0.0.1, respondents answering a real
survey, against two baselines measured in the same run on the same gunicorn settings.

    .venv/bin/python benchmarks/serving.py                      # PostgreSQL, 10/50/200 users
    .venv/bin/python benchmarks/serving.py --levels 10 --seconds 5   # quick look

For each concurrency level N it measures, for ``--seconds`` each:

* the survey: N respondents, each starting a survey, GETting and POSTing every page, GETting
  the check page, POSTing the submit (CSRF token, idempotency key) and GETting the
  confirmation, then starting again as a new respondent; each pauses ``--think`` seconds on
  average (0.5 to 1.5 times it) before every request after the first, as people read a page
  before answering it (``--think 0`` sends at once). Reported: completed surveys/s, submit
  POSTs/s, p50/p95/p99 per step, errors;
* the submit alone: respondents brought to the check page first (not timed), then N
  threads POSTing submits back to back, no pauses: submits/s and latency;
* ``GET /bare`` of a bare Flask app (the ceiling for any request) and ``POST /write`` of a
  bare Flask app inserting one row in its own transaction (the ceiling for a durable write),
  N threads back to back, no pauses;
* the app's floor: ``GET /s/<slug>/done`` without a session, the app's cheapest survey
  request (a redirect to the start page that reads nothing from the database, through
  every hook a submit passes: proxy handling, session, CSRF, rate-limit filter, security
  headers, request log), N threads back to back: what any request of the app costs before
  it does its own work;

and the ratios of the submit-alone throughput to each baseline (target: >= 0.5 of the
durable write). Like for like: all three are one kind of request sent back to back by N
threads, over one keep-alive connection each, through the same HTTP client, for the same
time, in ``--rounds`` interleaved rounds (both apps stay up), so that the shared machine's
changing load weighs on all three alike. A whole survey is eight requests, so survey-level
submits/s cannot be compared with a one-request baseline.

PostgreSQL: a database of its own (``pulse_bench_<random>``) on ``--server-url`` (default
``TEST_DATABASE_URL``), dropped at the end. ``--sqlite-level N`` also runs level N on a
SQLite file. The load generator is a threaded Python client on the same machine: it
competes with gunicorn and PostgreSQL for the cores, so the figures are a floor.
Results: printed, and written as JSON to ``benchmarks/output/serving/``.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import sys
import tempfile
import threading
import time
from collections import Counter
from functools import partial
from pathlib import Path
from urllib.parse import urlencode

import urllib3
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))
import loadgen  # noqa: E402 - after the sys.path lines above

FORM_TYPE = "application/x-www-form-urlencoded"


def pct(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))] * 1000


def summary(values: list[float]) -> dict:
    return {
        "n": len(values),
        "p50_ms": pct(values, 50),
        "p95_ms": pct(values, 95),
        "p99_ms": pct(values, 99),
    }


def run_users(user, users: int) -> float:
    """Run ``users`` copies of ``user`` in threads until they return; the seconds it took."""
    began = time.monotonic()
    threads = [threading.Thread(target=user) for _ in range(users)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return time.monotonic() - began


def back_to_back(users: int, seconds: float, new_sender, succeeded, cap: int | None = None) -> dict:
    """``users`` threads each sending one request after another, with no pause, for at most
    ``seconds`` (and ``cap`` requests in all). ``new_sender()`` gives a thread its function
    that sends one request and returns the response (``None`` when there is nothing left to
    send); ``succeeded(response)`` says whether it counts. Failures are counted by reason."""
    timings: list[float] = []
    failures: Counter[str] = Counter()
    lock = threading.Lock()
    stop = time.monotonic() + seconds

    def user() -> None:
        send = new_sender()
        mine: list[float] = []
        failed: Counter[str] = Counter()
        while time.monotonic() < stop and (cap is None or len(timings) + len(mine) < cap):
            started = time.perf_counter()
            try:
                response = send()
            except urllib3.exceptions.HTTPError as exc:
                failed[type(exc).__name__] += 1
                continue
            if response is None:
                break
            if succeeded(response):
                mine.append(time.perf_counter() - started)
            else:
                failed[f"HTTP {response.status}"] += 1
        with lock:
            timings.extend(mine)
            failures.update(failed)

    return {**measured(timings, run_users(user, users), failures), "timings": timings}


def measured(timings: list[float], seconds: float, failures: Counter[str]) -> dict:
    """Rate, errors by reason and latency percentiles of ``timings`` over ``seconds``."""
    return {
        "requests_per_s": len(timings) / seconds,
        "seconds": seconds,
        "errors": sum(failures.values()),
        "error_reasons": dict(failures),
        **summary(timings),
    }


def combine(rounds: list[dict]) -> dict:
    """Rounds of one measurement as one: requests over the summed time, pooled latencies."""
    failures: Counter[str] = Counter()
    for r in rounds:
        failures.update(r["error_reasons"])
    return {
        **measured(
            [t for r in rounds for t in r["timings"]], sum(r["seconds"] for r in rounds), failures
        ),
        "rounds": len(rounds),
        "per_round": [round(r["requests_per_s"], 1) for r in rounds],
    }


def hammer(base: str, method: str, path: str, users: int, seconds: float, cap: int) -> dict:
    """A baseline endpoint, sent back to back by ``users`` threads."""

    def new_sender():
        connection = keep_alive(base)
        return lambda: connection.urlopen(method, path, redirect=False)

    return back_to_back(users, seconds, new_sender, lambda r: r.status < 400, cap)


def survey_load(
    base: str, plan: loadgen.Plan, users: int, seconds: float, cap: int, think: float = 0.0
) -> dict:
    """``users`` respondents, each answering the whole survey and then starting again as a
    new respondent, pausing ``think`` seconds on average before each request."""
    outcomes: list[loadgen.Outcome] = []
    lock = threading.Lock()
    stop = time.monotonic() + seconds

    def user() -> None:
        while time.monotonic() < stop:
            with lock:
                if len(outcomes) >= cap:
                    return
            outcome = loadgen.Respondent(base, plan, retry=False, think=think).run()
            with lock:
                outcomes.append(outcome)

    elapsed = run_users(user, users)
    steps: dict[str, list[float]] = {}
    for outcome in outcomes:
        for step, values in outcome.timings.items():
            steps.setdefault(step, []).extend(values)
    completed = sum(o.confirmed for o in outcomes)
    errors = [o.error for o in outcomes if o.error]
    return {
        "seconds": elapsed,
        "completed_surveys": completed,
        "surveys_per_s": completed / elapsed,
        "submit_per_s": len(steps.get("submit", [])) / elapsed,
        "errors": len(errors),
        "error_examples": sorted(set(errors))[:3],
        "steps": {step: summary(values) for step, values in steps.items()},
    }


def prepare_submits(
    base: str, plan: loadgen.Plan, count: int, users: int
) -> list[tuple[dict, bytes]]:
    """``count`` respondents brought to the check page (not timed): each answers every page
    (answers in progress are a sealed draft per browser, so a copy of another respondent's
    cookie would share, and be emptied by, that one's draft) and GETs the check page for its
    own CSRF token and idempotency key. Returns each one's (headers with its session cookie,
    encoded form), encoded here and not while timed, so that the client spends on a submit
    about what it spends on a baseline request."""
    prepared: list[tuple[dict[str, str], bytes]] = []
    lock = threading.Lock()
    claimed = 0

    def prepare() -> None:
        nonlocal claimed
        while True:
            with lock:
                if claimed >= count:
                    return
                claimed += 1
            respondent = loadgen.Respondent(base, plan)
            respondent.answer_pages(loadgen.Outcome(marker=loadgen.new_marker()))
            form = respondent.check_form(loadgen.Outcome(marker=""))
            cookies = "; ".join(f"{k}={v}" for k, v in respondent.http.cookies.get_dict().items())
            with lock:
                prepared.append(
                    ({"Cookie": cookies, "Content-Type": FORM_TYPE}, urlencode(form).encode())
                )
            respondent.http.close()

    run_users(prepare, min(users, 20))
    return prepared


def submit_capacity(
    base: str, plan: loadgen.Plan, users: int, seconds: float, prepared: list[tuple[dict, bytes]]
) -> dict:
    """The submit endpoint's own throughput: ``users`` threads POST the ``prepared``
    respondents' submits one after another, with nothing else in between, for at most
    ``seconds`` (or until none is left: ``ran_out``). Each POST does everything a real one
    does: CSRF and session checks, validation, redaction, the rate-limit count, the
    idempotency key, the response and its answers, the redirect."""
    path = f"/s/{plan.slug}/check"
    lock = threading.Lock()
    count = len(prepared)

    def new_sender():
        # Each thread keeps its own connection alive, as the baselines do, and sends each
        # prepared respondent's cookies with that respondent's form.
        connection = keep_alive(base)

        def send_next():
            with lock:
                if not prepared:
                    return None
                headers, body = prepared.pop()
            return connection.urlopen("POST", path, body=body, headers=headers, redirect=False)

        return send_next

    result = back_to_back(users, seconds, new_sender, lambda r: r.status == 303)
    return {**result, "prepared": count, "ran_out": not prepared}


def cpu_per_request(rounds: list[dict]) -> dict:
    """Milliseconds of CPU per successful request, by kind of process, over all rounds."""
    requests = sum(len(r["timings"]) for r in rounds)
    spent = {kind: sum(r["cpu"][kind] for r in rounds) for kind in loadgen.CpuMeter.KINDS}
    per = {kind: 1000 * seconds / requests if requests else None for kind, seconds in spent.items()}
    server = [per[k] for k in ("app", "baseline", "postgres") if per[k] is not None]
    return {
        "cpu_ms": per,
        "cpu_ms_total": sum(v for v in per.values() if v is not None) if requests else None,
        "cpu_ms_server": sum(server) if requests else None,
    }


def keep_alive(base: str) -> urllib3.HTTPConnectionPool:
    """One keep-alive connection to ``base`` for a thread sending back to back, through
    urllib3 (which requests is built on) without requests' extras: a requests Session,
    even with ``allow_redirects=False``, prepares the request a redirect would lead to
    (copying it, parsing its Set-Cookie into a cookie jar) on every submit (a 303), work on
    the shared cores that no baseline request (a 200) causes. No retries: a failure counts."""
    url = urllib3.util.parse_url(base)
    return urllib3.HTTPConnectionPool(
        url.host, url.port, maxsize=1, block=True, retries=False, timeout=30
    )


def serving_settings(args) -> dict[str, str]:
    """The environment both apps run with. ``--quiet-logs`` switches off gunicorn's access
    log and the app's request log (production has both on); the rate-limit storage is the
    one a deployment with several workers needs (Redis) unless ``--ratelimit-storage`` says
    otherwise."""
    settings = {"RATELIMIT_STORAGE_URI": args.ratelimit_storage}
    if args.quiet_logs:
        settings.update(GUNICORN_ACCESSLOG="none", PULSE_LOGLEVEL="WARNING")
    else:
        settings.update(GUNICORN_ACCESSLOG="-", PULSE_LOGLEVEL="INFO")
    return settings


def measure_rounds(
    app_base: str,
    baseline_base: str,
    plan: loadgen.Plan,
    users: int,
    args,
    meter: loadgen.CpuMeter,
) -> dict:
    """Submit alone, bare, write and the app's floor, ``--rounds`` times each for
    ``--seconds / --rounds``,
    interleaved (the order turns each round), so that a change in the shared machine's load
    during the run weighs on all three alike. Before each round enough respondents are
    brought to the check page to keep the submit threads busy for the whole round (judged
    from the previous round's rate; the first round starts from ``--submits``)."""
    per_round = args.seconds / args.rounds
    rounds: dict[str, list[dict]] = {"submit": [], "floor": [], "bare": [], "write": []}
    count = args.submits
    for number in range(args.rounds):
        prepared = prepare_submits(app_base, plan, count, users)
        runs = {
            "submit": partial(submit_capacity, app_base, plan, users, per_round, prepared),
            "bare": partial(
                hammer, baseline_base, "GET", "/bare", users, per_round, args.max_requests
            ),
            "write": partial(
                hammer, baseline_base, "POST", "/write", users, per_round, args.max_requests
            ),
            "floor": partial(
                hammer, app_base, "GET", f"/s/{plan.slug}/done", users, per_round, args.max_requests
            ),
        }
        turn = number % len(runs)
        order = list(runs)[turn:] + list(runs)[:turn]
        for name in order:
            # One second after each run before the CPU is read: a submit's release runs
            # after its reply (RELEASE_DELAY_SECONDS, 0.5 s), and is part of its cost.
            measured, spent = meter.measure(runs[name], settle=1.0)
            rounds[name].append({**measured, "cpu": spent})
        submit = rounds["submit"][-1]
        count = int(submit["requests_per_s"] * per_round * 1.5) + users
    result = {
        name: {**combine(measured), **cpu_per_request(measured)}
        for name, measured in rounds.items()
    }
    result["submit"]["ran_out_rounds"] = sum(r["ran_out"] for r in rounds["submit"])
    return result


def run_level(database_url: str, plan: loadgen.Plan, users: int, args, log: Path) -> dict:
    result: dict = {"users": users, "think": args.think}
    settings = serving_settings(args)
    baseline, baseline_base = loadgen.start_gunicorn(
        database_url,
        workers=args.workers,
        threads=args.threads,
        log=log,
        app="baseline_app:create_app()",
        PYTHONPATH=f"{HERE}{os.pathsep}{HERE.parent}",
        **settings,
    )
    try:
        server, base = loadgen.start_gunicorn(
            database_url, workers=args.workers, threads=args.threads, log=log, **settings
        )
        try:
            # Warm-up, not measured: every worker imports templates and definitions on first use.
            hammer(baseline_base, "GET", "/bare", users, 1, args.workers * 20)
            hammer(baseline_base, "POST", "/write", users, 1, args.workers * 20)
            survey_load(base, plan, args.workers * 2, 60, args.workers * 4)
            result["survey"] = survey_load(
                base, plan, users, args.seconds, args.max_surveys, think=args.think
            )
            meter = loadgen.CpuMeter(server.pid, baseline.pid, database_url)
            try:
                result.update(measure_rounds(base, baseline_base, plan, users, args, meter))
            finally:
                meter.close()
        finally:
            loadgen.stop_gunicorn(server)
    finally:
        loadgen.stop_gunicorn(baseline)
    submit = result["submit"]["requests_per_s"]
    result["submit_vs_bare"] = submit / result["bare"]["requests_per_s"]
    result["submit_vs_write"] = submit / result["write"]["requests_per_s"]
    # What the throughput ratio tends to when every process competes for the same cores.
    result["write_cpu_vs_submit_cpu"] = (
        result["write"]["cpu_ms_total"] / result["submit"]["cpu_ms_total"]
    )
    result["floor_cpu_vs_write_cpu"] = (
        result["floor"]["cpu_ms_total"] / result["write"]["cpu_ms_total"]
    )
    return result


def print_level(database: str, r: dict) -> None:
    s = r["survey"]
    print(f"\n{database}, {r['users']} concurrent users")
    print(
        f"  respondents answering the survey ({s['seconds']:.0f} s, think {r['think']} s):"
        f" surveys completed/s {s['surveys_per_s']:.1f}, submit POST/s {s['submit_per_s']:.1f},"
        f" errors {s['errors']} {s['error_examples'] or ''}"
    )
    print(
        f"  submit alone, app floor, bare and write: {r['submit']['rounds']} interleaved rounds of"
        f" {r['submit']['seconds'] / r['submit']['rounds']:.1f} s each"
        + (
            f" (submits ran out in {r['submit']['ran_out_rounds']})"
            if r["submit"]["ran_out_rounds"]
            else ""
        )
    )
    for name, label in (
        ("submit", "submit alone"),
        ("floor", "app floor"),
        ("bare", "baseline bare"),
        ("write", "baseline write"),
    ):
        b = r[name]
        print(
            f"  {label:<14} req/s {b['requests_per_s']:8.1f}   p50 {b['p50_ms'] or 0:6.1f} ms"
            f"  p95 {b['p95_ms'] or 0:6.1f}  p99 {b['p99_ms'] or 0:6.1f}   errors {b['errors']}"
            f" {b['error_reasons'] or ''}  (rounds: {', '.join(map(str, b['per_round']))})"
        )
    print(
        f"  submit/bare {r['submit_vs_bare']:.3f}   submit/write {r['submit_vs_write']:.3f}"
        "  (target >= 0.5 of write)"
    )
    print("  CPU per request, ms (app or baseline workers, its database's backends, client):")
    for name in ("submit", "floor", "write", "bare"):
        cpu = r[name]["cpu_ms"]
        worker = cpu["app"] if name in ("submit", "floor") else cpu["baseline"]
        print(
            f"    {name:<7} workers {worker:6.3f}  postgres {cpu['postgres']:6.3f}"
            f"  client {cpu['client']:6.3f}  total {r[name]['cpu_ms_total']:6.3f}"
        )
    print(f"  CPU of a write / CPU of a submit {r['write_cpu_vs_submit_cpu']:.3f}")
    print(
        f"  CPU of the app's floor / CPU of a write {r['floor_cpu_vs_write_cpu']:.3f}"
        "  (the app's cheapest request, which stores nothing, against the durable write)"
    )
    print("  per step while answering the survey:")
    for step, t in s["steps"].items():
        print(
            f"    {step:<9} n={t['n']:<6} p50 {t['p50_ms']:7.1f} ms  p95 {t['p95_ms']:7.1f}"
            f"  p99 {t['p99_ms']:7.1f}"
        )


def prepare_database(url: str) -> loadgen.Plan:
    plan = loadgen.prepare(url)
    engine = create_engine(url)
    with engine.begin() as connection:
        kind = "bigserial" if engine.dialect.name == "postgresql" else "integer"
        connection.execute(text(f"CREATE TABLE bench_write (id {kind} PRIMARY KEY, payload text)"))
    engine.dispose()
    return plan


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--server-url",
        default=os.environ.get(
            "TEST_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
        ),
    )
    parser.add_argument("--levels", default="10,50,200")
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--max-surveys", type=int, default=20_000)
    parser.add_argument("--max-requests", type=int, default=200_000)
    parser.add_argument(
        "--think",
        type=float,
        default=1.0,
        help="mean seconds a respondent spends on a page before the next request",
    )
    parser.add_argument(
        "--submits",
        type=int,
        default=3000,
        help="respondents brought to the check page for the first submit-alone "
        "round (later rounds: enough for 1.5 times the last round's rate)",
    )
    parser.add_argument(
        "--rounds",
        type=int,
        default=3,
        help="interleaved rounds of submit alone, app floor, bare and write",
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=(os.cpu_count() or 1) + 1,
        help="gunicorn workers (default as gunicorn.conf.py: cores + 1)",
    )
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--sqlite-level", type=int, default=10, help="0 to skip SQLite")
    parser.add_argument(
        "--ratelimit-storage",
        default="redis://127.0.0.1:6379",
        help="RATELIMIT_STORAGE_URI for the app (memory:// is per worker)",
    )
    parser.add_argument(
        "--quiet-logs",
        action="store_true",
        help="no access log and no request log (production logs both)",
    )
    parser.add_argument("--out", type=Path, default=HERE / "output" / "serving")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%dT%H%M%S")
    log = args.out / f"gunicorn-{stamp}.log"
    report = {
        "cores": os.cpu_count(),
        "workers": args.workers,
        "threads": args.threads,
        "seconds_per_run": args.seconds,
        "settings": serving_settings(args),
        "note": "load generator (threaded Python) runs on the same machine",
        "runs": [],
    }
    print(
        f"{os.cpu_count()} cores; gunicorn {args.workers} workers x {args.threads} threads; "
        "the load generator shares the machine"
    )
    print(
        "logs: "
        + (
            "none (--quiet-logs)"
            if args.quiet_logs
            else "gunicorn access log and the app's request log, as in production"
        )
        + f"; rate-limit storage {args.ratelimit_storage}"
    )

    server = make_url(args.server_url)
    name = f"pulse_bench_{secrets.token_hex(6)}"
    admin = create_engine(server, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        url = server.set(database=name).render_as_string(hide_password=False)
        plan = prepare_database(url)
        for users in [int(x) for x in args.levels.split(",")]:
            result = run_level(url, plan, users, args, log)
            report["runs"].append({"database": "postgresql", **result})
            print_level("PostgreSQL", result)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()

    if args.sqlite_level:
        with tempfile.TemporaryDirectory() as folder:
            url = f"sqlite:///{folder}/bench.db"
            plan = prepare_database(url)
            result = run_level(url, plan, args.sqlite_level, args, log)
            report["runs"].append({"database": "sqlite", **result})
            print_level("SQLite", result)

    path = args.out / f"serving-{stamp}.json"
    path.write_text(json.dumps(report, indent=2))
    print(f"\nwritten {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
