"""``flask --app survey_app ...`` commands: instruments, demo, export."""

from __future__ import annotations

import sys
from pathlib import Path

import click
from flask import Flask, current_app
from flask.cli import AppGroup, with_appcontext
from flask_migrate import upgrade
from sqlalchemy import select

from instruments import (
    AUDIENCES,
    DefinitionsError,
    diff_instruments,
    load_instrument,
    version_of,
)
from instruments.__main__ import run_validate

from .definitions import current_definitions, latest_version, load_instruments
from .extensions import db
from .models import InstrumentVersion, Role, User, Wave

instruments_cli = AppGroup("instruments", help="Validate, inspect and load instrument definitions.")
export_cli = AppGroup("export", help="Export anonymous responses in the analysis file format.")
survey_cli = AppGroup(
    "survey", help="Respondent side: release held invite submissions, event QR codes."
)


def _definitions_or_exit():
    try:
        return current_definitions()
    except DefinitionsError as exc:
        for error in exc.errors:
            click.echo(f"error  {error}", err=True)
        raise click.exceptions.Exit(1) from None


@instruments_cli.command("validate")
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
def validate_command(paths: tuple[Path, ...]) -> None:
    """Validate definition folders or files (default: the configured definitions)."""
    from flask import current_app

    default = current_app.config.get("INSTRUMENTS_DIR")
    targets = list(paths) or ([Path(default)] if default else [])
    sys.exit(run_validate(targets))


@instruments_cli.command("show")
@click.argument("instrument_id")
def show_command(instrument_id: str) -> None:
    """Show an instrument of the definitions folder: version, scales and questions."""
    definitions = _definitions_or_exit()
    try:
        instrument = definitions.instrument(instrument_id)
    except KeyError as exc:
        raise click.BadParameter(str(exc.args[0]), param_hint="INSTRUMENT_ID") from None
    click.echo(f"{instrument.id}: {instrument.title}")
    click.echo(f"audience: {instrument.audience}   version: {version_of(instrument)}")
    for name, scale in instrument.scales.items():
        dk = f" + {scale.dont_know!r}" if scale.dont_know else ""
        click.echo(f"scale {name}: {' | '.join(scale.labels)}{dk}; positive {scale.positive}")
    for attribute in instrument.attributes:
        click.echo(f"about you {attribute.id}: {attribute.text} [{' | '.join(attribute.choices)}]")
    for q in instrument.questions:
        flags = [q.type if q.type != "scale" else f"scale {q.scale}"]
        flags += ["reverse"] * q.reverse + ["required"] * q.required
        flags += [f"index {q.index}"] if q.index else []
        flags += [f"outcomes {','.join(q.outcomes)}"] if q.outcomes else []
        click.echo(f"  {q.id:<6} {q.text}  ({'; '.join(flags)})")


@instruments_cli.command("diff")
@click.argument("first")
@click.argument("second", required=False)
def diff_command(first: str, second: str | None) -> None:
    """Compare two versions: `diff OLD.yaml NEW.yaml`, or `diff ID` (the newest version
    stored in the database against the definitions folder)."""
    definitions = _definitions_or_exit()
    if second is not None:
        try:
            old = load_instrument(Path(first), definitions.framework)
            new = load_instrument(Path(second), definitions.framework)
        except DefinitionsError as exc:
            raise click.ClickException(str(exc)) from None
    else:
        try:
            new = definitions.instrument(first)
        except KeyError as exc:
            raise click.BadParameter(str(exc.args[0]), param_hint="ID") from None
        stored = latest_version(first)
        if stored is None:
            raise click.ClickException(
                f"no version of {first} is stored yet: run `instruments load`"
            )
        old = stored.instrument
    diff = diff_instruments(old, new)
    for line in diff.lines():
        click.echo(line)
    if diff.breaking:
        click.echo(f"comparability broken for: {', '.join(diff.breaking)}")


@instruments_cli.command("import-xlsform")
@click.argument("form", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--out",
    "out",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Definitions folder to write <id>.yaml into.",
)
@click.option(
    "--audience",
    required=True,
    type=click.Choice(list(AUDIENCES)),
    help="Who the survey is for (XLSForm has no such setting).",
)
@click.option("--id", "instrument_id", help="Instrument id (default: the form_id setting).")
def import_xlsform_command(form: Path, out: Path, audience: str, instrument_id: str | None) -> None:
    """Convert an XLSForm (ODK/Kobo .xlsx) into an instrument YAML file, listing every row it
    cannot convert. The file is written only if the result validates."""
    import yaml

    from instruments.loader import parse_instrument_text
    from instruments.xlsform import convert

    definitions = _definitions_or_exit()
    try:
        conversion = convert(form, audience=audience, instrument_id=instrument_id)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None
    for line in conversion.skipped:
        click.echo(f"not converted  {line}", err=True)
    text = yaml.safe_dump(conversion.instrument, sort_keys=False, allow_unicode=True, width=100)
    name = f"{conversion.instrument['id']}.yaml"
    try:
        instrument = parse_instrument_text(text, name, definitions.framework)
    except DefinitionsError as exc:
        for error in exc.errors:
            click.echo(f"error  {error}", err=True)
        raise click.ClickException(
            "the converted form does not validate: nothing written"
        ) from None
    out.mkdir(parents=True, exist_ok=True)
    target = out / name
    target.write_text(
        f"# Converted from {form.name} by `flask instruments import-xlsform`.\n" + text,
        encoding="utf-8",
    )
    click.echo(
        f"Wrote {target}: {len(instrument.questions)} questions, "
        f"{len(conversion.skipped)} rows not converted"
    )


@instruments_cli.command("load")
def load_command() -> None:
    """Import new instrument versions from the definitions folder (known ones are kept)."""
    results = load_instruments(_definitions_or_exit())
    for r in results:
        click.echo(f"{'added ' if r.created else 'known '} {r.instrument_id} {r.version[:12]}")


def _demo_base_url() -> str:
    import os

    return f"http://127.0.0.1:{os.environ.get('PORT') or 5000}"


@click.command("demo")
@with_appcontext
@click.option("--seed", default=2026, show_default=True, help="Random seed for the synthetic data.")
@click.option("--reset", is_flag=True, help="Drop all data and seed again.")
@click.option(
    "--base-url",
    default=_demo_base_url,
    show_default="http://127.0.0.1:$PORT (5000)",
    help="Where the demo is served, for the addresses printed.",
)
def demo_command(seed: int, reset: bool, base_url: str) -> None:
    """Seed the configured database with the demo council (creating the schema if needed)
    and print its sign-ins and the addresses of its live surveys."""
    import time

    from .demo import (
        DEMO_USERS,
        demo_links,
        ensure_demo_second_factors,
        ensure_demo_users,
        is_seeded,
        seed_demo,
    )

    definitions = _definitions_or_exit()
    base_url = base_url.rstrip("/")
    if reset:
        db.drop_all()
        with db.engine.begin() as connection:
            connection.exec_driver_sql("DROP TABLE IF EXISTS alembic_version")
    upgrade()
    if is_seeded():
        click.echo(
            "The database already holds waves: demo data not added (use --reset to start again)."
        )
    else:
        click.echo("Seeding the demo council and computing its results (about 20 seconds)...")
        started = time.monotonic()
        counts = seed_demo(definitions, seed=seed)
        from .results import compute_results

        compute_results()  # so the dashboard has results to read from the start
        click.echo(
            f"Seeded the demo council in {time.monotonic() - started:.0f} s: {counts['waves']} waves, "
            f"{counts['responses']} responses, {counts['answers']} answers, "
            f"{counts['invitations']} invitations."
        )
    ensure_demo_users()
    db.session.commit()
    click.echo(f"\nStaff sign-in: {base_url}/auth/sign-in")
    for user in DEMO_USERS:
        click.echo(f"  {user.role.value + ':':<14}{user.email} / {user.password}")
    if current_app.config.get("MFA_CODE_COMMAND"):
        needing = ensure_demo_second_factors()
        if needing:
            click.echo(
                f"{', '.join(needing)} also need a 6-digit code after the password (two-factor "
                "sign-in). Without an authenticator app, print the current one in another terminal:\n"
                f"  PULSE_CONFIG=development .venv/bin/flask --app survey_app users totp-code {needing[0]}"
            )
    links = demo_links()
    if links:
        click.echo("\nAnswer a live survey:")
        for description, path in links:
            click.echo(f"  {base_url}{path}  {description}")


@export_cli.command("responses")
@click.option("--wave", "wave_label", help="Only waves with this label (e.g. 2026-Q3).")
@click.option("--instrument", "instrument_id", help="Only waves of this instrument.")
@click.option(
    "--out", "out", default="-", show_default=True, help="CSV file to write, or - for stdout."
)
@click.option(
    "--definitions",
    "definitions_folder",
    type=click.Path(file_okay=False, path_type=Path),
    help="Also write every instrument version answered, and framework.yaml, into this folder.",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["csv", "sav", "dta"]),
    default="csv",
    show_default=True,
    help="csv (the analysis file), or a labelled SPSS (sav) or Stata (dta) file.",
)
def export_responses_command(
    wave_label: str | None,
    instrument_id: str | None,
    out: str,
    definitions_folder: Path | None,
    fmt: str,
) -> None:
    """Export anonymous responses (all waves unless filtered) as the analysis CSV, or as a
    labelled SPSS or Stata file."""
    from .definitions import write_definitions
    from .export import fielded_instruments, labelled_bytes, responses_frame, write_csv

    if fmt != "csv" and out == "-":
        raise click.BadParameter(f"a .{fmt} file needs --out FILE", param_hint="--out")

    query = select(Wave.id).join(InstrumentVersion)
    if wave_label:
        query = query.where(Wave.label == wave_label)
    if instrument_id:
        query = query.where(InstrumentVersion.instrument_id == instrument_id)
    wave_ids = db.session.scalars(query).all()
    if (wave_label or instrument_id) and not wave_ids:
        raise click.BadParameter("no wave matches", param_hint="--wave/--instrument")
    frame = responses_frame(wave_ids)
    if definitions_folder is not None:
        written = write_definitions(
            zip(frame["instrument"], frame["version"], strict=True), definitions_folder
        )
        click.echo(f"Wrote {len(written)} definition files to {definitions_folder}", err=True)
    if out == "-":
        write_csv(frame, sys.stdout)
    else:
        target = Path(out)
        if not target.parent.is_dir():
            raise click.BadParameter(f"folder {target.parent} does not exist", param_hint="--out")
        partial = target.with_name(target.name + ".partial")
        if fmt == "csv":
            write_csv(frame, partial)
        else:
            try:
                partial.write_bytes(labelled_bytes(frame, fielded_instruments(wave_ids), fmt))
            except ValueError as exc:
                raise click.ClickException(str(exc)) from None
        partial.replace(target)  # never leave a half-written export under the real name
        click.echo(f"Wrote {len(frame)} responses to {target}", err=True)


@survey_cli.command("release")
@click.option("--wave", "wave_id", type=int, help="Only this wave (its database id).")
@click.option(
    "--all",
    "release_all",
    is_flag=True,
    help="Release every held submission, even batches smaller than the minimum.",
)
@click.option(
    "--min-batch",
    default=5,
    show_default=True,
    type=click.IntRange(min=1),
    help="Smallest batch released from a wave that is still open.",
)
@click.option(
    "--recompute/--no-recompute",
    default=True,
    show_default=True,
    help="Then recompute the stored results if the data changed (queued for the "
    "worker when JOBS_REDIS_URL is set, else computed here).",
)
def release_command(
    wave_id: int | None, release_all: bool, min_batch: int, recompute: bool
) -> None:
    """Move held invite submissions into the response table in shuffled batches (all of a
    closed wave's, and an open wave's once at least --min-batch are held), then bring the
    stored results up to date."""
    from .recompute import recompute_from_command
    from .survey.store import release_held

    if wave_id is not None and db.session.get(Wave, wave_id) is None:
        raise click.BadParameter(f"no wave has id {wave_id}", param_hint="--wave")
    released = release_held(wave_id, min_batch=min_batch, force=release_all)
    click.echo(f"Released {released} held submission{'' if released == 1 else 's'}.")
    if recompute:
        _report_recompute(recompute_from_command(only_if_stale=True))


def _report_recompute(state) -> None:
    if state is None:
        return
    if state.active:
        click.echo(f"Results: recomputation {state.status} as job {state.id}.")
    elif state.status == "failed":
        click.echo(f"Results: the recomputation failed: {state.error}", err=True)
    else:
        click.echo("Results: up to date.")


@survey_cli.command("remind")
@click.option(
    "--due",
    "due",
    is_flag=True,
    help="Send every reminder whose day has come (run it daily from cron).",
)
def remind_command(due: bool) -> None:
    """Send the scheduled reminders that are due, each once, to invitations not used yet."""
    from .reminders import send_due

    if not due:  # the only mode for now; asked for by name so a cron line says what it does
        raise click.UsageError("Say --due to send the reminders whose day has come")

    sent = send_due()
    for reminder in sent:
        wave = reminder.wave
        what = f"Wave {wave.label} ({wave.instrument_version.title}), day {reminder.days}"
        if reminder.error:
            click.echo(f"{what}: not sent: {reminder.error}", err=True)
        else:
            click.echo(f"{what}: {reminder.sent_count} reminders sent.")
    if not sent:
        click.echo("No reminders are due.")
    if any(r.error for r in sent):
        raise SystemExit(1)


@survey_cli.command("qr")
@click.argument("code")
@click.option(
    "--base-url",
    help="The service's public address, e.g. https://pulse.example.gov.uk (default: BASE_URL)",
)
@click.option(
    "--out",
    "out",
    required=True,
    type=click.Path(path_type=Path),
    help="File to write: .svg or .png",
)
def qr_command(code: str, base_url: str | None, out: Path) -> None:
    """Write the QR code of a roadshow event's short link, for a poster or slide."""
    from flask import current_app

    from .models import Event
    from .survey.qr import event_url, qr_code

    base_url = base_url or current_app.config.get("BASE_URL")
    if not base_url:
        raise click.UsageError("give --base-url or set BASE_URL to the service's public address")
    if db.session.scalar(select(Event).where(Event.code == code.lower())) is None:
        raise click.BadParameter(f"no event has code {code!r}", param_hint="CODE")
    kind = out.suffix.lower().lstrip(".")
    if kind not in ("svg", "png"):
        raise click.BadParameter("the file name must end in .svg or .png", param_hint="--out")
    url = event_url(base_url, code.lower())
    out.write_bytes(qr_code(url, kind))
    click.echo(f"Wrote the QR code of {url} to {out}")


@survey_cli.command("bursts")
@click.option("--wave", "wave_id", type=int, help="Only this wave (its database id).")
@click.option(
    "--min",
    "minimum",
    default=5,
    show_default=True,
    type=click.IntRange(min=2),
    help="Smallest group of identical submissions on one day to list.",
)
def bursts_command(wave_id: int | None, minimum: int) -> None:
    """List groups of identical submissions (same wave, day, answers) for review."""
    from .survey.review import identical_bursts

    text_ids = frozenset(
        q.id
        for version in db.session.scalars(select(InstrumentVersion))
        for q in version.instrument.questions
        if q.type == "text"
    )
    bursts = identical_bursts(wave_id, minimum, text_ids)
    if not bursts:
        click.echo(f"No group of {minimum} or more identical submissions on one day.")
    for burst in bursts:
        wave = db.session.get_one(Wave, burst.wave_id)  # the burst was read from its responses
        note = " with identical free text" if burst.has_text else ""
        click.echo(
            f"{wave.instrument_id} {wave.label} {burst.day}: {burst.count} identical "
            f"submissions{note}: {burst.answers}"
        )


users_cli = AppGroup("users", help="Staff accounts.")


@users_cli.command("create")
@click.option("--email", required=True, help="The person's e-mail address (their sign-in name).")
@click.option("--name", required=True, help="Their full name.")
@click.option(
    "--role",
    type=click.Choice([r.value for r in Role]),
    default=Role.ADMIN.value,
    show_default=True,
)
@click.option(
    "--password",
    prompt=True,
    hide_input=True,
    confirmation_prompt=True,
    help="Asked for when not given (never put a real password on a command line).",
)
def create_user_command(email: str, name: str, role: str, password: str) -> None:
    """Create a staff account: the first admin, or anyone when no one can sign in."""
    from email_validator import EmailNotValidError, validate_email

    from .audit import record
    from .auth.forms import MIN_PASSWORD
    from .security import hash_password

    try:
        email = validate_email(email, check_deliverability=False).normalized
    except EmailNotValidError as exc:
        raise click.BadParameter(str(exc), param_hint="--email") from None
    if len(password) < MIN_PASSWORD:
        raise click.BadParameter(
            f"must be at least {MIN_PASSWORD} characters", param_hint="--password"
        )
    if db.session.scalar(select(User).where(db.func.lower(User.email) == email.lower())):
        raise click.ClickException(f"there is already an account for {email}")
    user = User(
        email=email, name=name.strip(), role=Role(role), password_hash=hash_password(password)
    )
    db.session.add(user)
    db.session.flush()
    record("user created", target=user.id, role=role, via="command line")
    db.session.commit()
    click.echo(f"Created {role} {email}.")


@click.command("results")
@with_appcontext
@click.option("--if-stale", is_flag=True, help="Only when the data changed since the last results.")
def results_command(if_stale: bool) -> None:
    """Recompute and store the analysis results the dashboard and reports read (here, not
    in the background; refused while a computation is queued or running elsewhere)."""
    from .recompute import compute_here
    from .results import latest_results, newest_results, note_count

    if if_stale:  # only then: the staleness check is a pass over every response and answer
        latest, stale = latest_results()
        if not stale and latest is not None:  # not stale: there are results
            click.echo(f"Results from {latest.computed_at:%Y-%m-%d %H:%M} UTC are up to date.")
            return
    state = compute_here()
    if state is None:
        raise click.ClickException("the computation left no job record")
    if state.active:
        raise click.ClickException(
            f"a computation is already {state.status} (job {state.id}, asked for at "
            f"{state.enqueued_at:%Y-%m-%d %H:%M} UTC); it was not started again"
        )
    if state.status == "failed":
        raise click.ClickException(f"the computation failed: {state.error}")
    stored = newest_results()
    if stored is None:
        raise click.ClickException("the computation stored no results")
    notes = note_count(stored)
    click.echo(
        f"Computed results for {stored.responses:,} responses "
        f"({len(stored.tables['indicators']):,} indicator rows, {notes:,} note{'s' if notes != 1 else ''})."
    )


# --------------------------------------------------------------------------- backups


def _database_url():
    from sqlalchemy.engine import make_url

    return make_url(db.engine.url.render_as_string(hide_password=False))


def _libpq(url) -> tuple[str, dict[str, str]]:
    """A libpq connection string without the password (which goes in PGPASSWORD, so it never
    shows in the process list) and the environment for pg_dump/pg_restore."""
    import os

    env = dict(os.environ)
    if url.password:
        env["PGPASSWORD"] = str(url.password)
    plain = url.set(drivername="postgresql", password=None)
    return plain.render_as_string(hide_password=False), env


def _sqlite_copy(source_path: str | Path, target_path: str | Path) -> None:
    """Copy one SQLite database file to another with the online backup API (consistent
    while the service writes)."""
    import sqlite3

    source, target = sqlite3.connect(source_path), sqlite3.connect(target_path)
    try:
        with target:
            source.backup(target)
    finally:
        target.close()
        source.close()


def _has_tables() -> bool:
    from sqlalchemy import inspect

    return bool(inspect(db.engine).get_table_names())


@click.command("db-backup")
@click.option(
    "--out",
    "out",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="Backup file to write (PostgreSQL: pg_dump custom format; SQLite: a copy).",
)
@with_appcontext
def db_backup_command(out: Path) -> None:
    """Back up the configured database (DATABASE_URL) to a file, consistently, while the
    service runs."""
    import subprocess

    url = _database_url()
    if url.get_backend_name() == "sqlite":
        _sqlite_copy(url.database, out)
    else:
        dsn, env = _libpq(url)
        subprocess.run(
            [
                "pg_dump",
                "--format=custom",
                "--no-owner",
                "--no-privileges",
                f"--file={out}",
                f"--dbname={dsn}",
            ],
            check=True,
            env=env,
        )
    click.echo(f"Backed up {url.render_as_string(hide_password=True)} to {out}")


@click.command("db-restore")
@click.argument("backup", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--force", is_flag=True, help="Replace the tables of a database that is not empty.")
@with_appcontext
def db_restore_command(backup: Path, force: bool) -> None:
    """Restore a db-backup file into the configured database (DATABASE_URL). Refuses to
    overwrite a database that has tables unless --force is given."""
    import subprocess

    url = _database_url()
    if _has_tables() and not force:
        click.echo(
            f"{url.render_as_string(hide_password=True)} is not empty: restore into an "
            "empty database, or add --force to replace its tables.",
            err=True,
        )
        raise click.exceptions.Exit(1)
    db.session.remove()
    db.engine.dispose()
    if url.get_backend_name() == "sqlite":
        _sqlite_copy(backup, url.database)
    else:
        dsn, env = _libpq(url)
        command = [
            "pg_restore",
            "--no-owner",
            "--no-privileges",
            "--exit-on-error",
            "--single-transaction",
            f"--dbname={dsn}",
        ]
        if force:
            command += ["--clean", "--if-exists"]
        subprocess.run([*command, str(backup)], check=True, env=env)
    click.echo(f"Restored {backup} into {url.render_as_string(hide_password=True)}")


report_cli = AppGroup("report", help="Reports built from the stored results.")


@report_cli.command("quarterly")
@click.option("--wave", help="The wave the report is for (default: the latest with results).")
@click.option(
    "--out", "out", required=True, type=click.Path(path_type=Path), help="Folder to write into."
)
@click.option("--pptx", is_flag=True, help="Also write the slides for a board pack (PowerPoint).")
def quarterly_report_command(wave: str | None, out: Path, pptx: bool) -> None:
    """Write the quarterly progress report as HTML and a tagged PDF (and slides with --pptx)."""
    from rich.progress import Progress

    from .reports.quarterly import ReportError, build_report, write_report
    from .results import latest_results

    if out.exists() and not out.is_dir():
        raise click.BadParameter(f"{out} exists and is not a folder", param_hint="--out")
    with Progress(transient=True) as progress:
        task = progress.add_task("Building the report", total=3)
        result, stale = latest_results()
        try:
            report = build_report(result, wave)
        except ReportError as exc:
            raise click.ClickException(str(exc)) from None
        progress.update(task, advance=1, description="Rendering the PDF")
        paths = write_report(report, out, ("html", "pdf", "pptx") if pptx else ("html", "pdf"))
        progress.update(task, advance=2)
    if stale:
        click.echo(
            "Note: the data changed after these results were computed; run `flask results` to refresh."
        )
    click.echo("Wrote " + ", ".join(str(path) for path in paths))


jobs_cli = AppGroup("jobs", help="Background jobs (see survey_app.jobs).")


@jobs_cli.command("worker")
@click.option("--burst", is_flag=True, help="Stop once the queue is empty.")
def jobs_worker_command(burst: bool) -> None:
    """Run queued jobs from Redis (JOBS_REDIS_URL) in this process until stopped."""
    from flask import current_app

    from .config import ConfigError
    from .jobs import run_worker

    try:
        run_worker(current_app._get_current_object(), burst=burst)  # type: ignore[attr-defined]
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None


def register(app: Flask) -> None:
    app.cli.add_command(jobs_cli)
    from . import two_factor_cli  # noqa: F401  (adds its commands to the users group)

    app.cli.add_command(report_cli)
    app.cli.add_command(db_backup_command)
    app.cli.add_command(db_restore_command)
    app.cli.add_command(results_command)
    app.cli.add_command(users_cli)
    app.cli.add_command(survey_cli)
    app.cli.add_command(instruments_cli)
    app.cli.add_command(export_cli)
    app.cli.add_command(demo_command)
