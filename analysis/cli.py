"""``pulse-analysis``: the analysis package from the command line.

pulse-analysis indicators --responses FILE.csv --instruments DIR [--population FILE.csv]
                          [--by COLUMN ...] [--min-n N | --min-n AUDIENCE=N ...]
                          [--waves W1,W2,...] [--drop-incomplete] [--no-fpc]
                          [--trim-weights LOWER,UPPER] [--no-drivers] --out OUTDIR
"""

from __future__ import annotations

import argparse
import contextlib
import sys
import time
from pathlib import Path

from rich.console import Console

from instruments import DefinitionsError, load_definitions

from .pipeline import Results, run
from .responses import read_population, read_responses

LARGE_INPUT = 200_000


def _min_n(values: list[str] | None) -> int | dict[str, int] | None:
    if not values:
        return None
    plain = [v for v in values if "=" not in v]
    per_audience = dict(v.split("=", 1) for v in values if "=" in v)
    try:
        if plain and per_audience:
            return {"default": int(plain[-1]), **{k: int(n) for k, n in per_audience.items()}}
        if plain:
            return int(plain[-1])
        return {k: int(n) for k, n in per_audience.items()}
    except ValueError:
        raise ValueError(
            f"--min-n takes N or AUDIENCE=N with whole numbers, not {' '.join(values)}"
        ) from None


def _trim(value: str | None) -> tuple[float, float] | None:
    if value is None:
        return None
    parts = value.split(",")
    try:
        lower, upper = (float(p) for p in parts)
    except ValueError:
        raise ValueError(f"--trim-weights takes LOWER,UPPER (e.g. 0.3,3), not {value}") from None
    return lower, upper


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="pulse-analysis", description="Improvement Pulse analysis."
    )
    sub = parser.add_subparsers(dest="command", required=True)
    ind = sub.add_parser("indicators", help="indicators, changes, trends and reliability tables")
    ind.add_argument("--responses", required=True, type=Path, help="the export CSV")
    ind.add_argument(
        "--instruments",
        required=True,
        type=Path,
        help="definitions folder with framework.yaml and instrument files",
    )
    ind.add_argument(
        "--population",
        type=Path,
        help="population margins CSV (audience, variable, category, population)",
    )
    ind.add_argument(
        "--by", nargs="+", action="extend", default=[], metavar="COLUMN", help="breakdown column(s)"
    )
    ind.add_argument(
        "--min-n",
        nargs="+",
        action="extend",
        metavar="N|AUDIENCE=N",
        help="minimum group size (default: framework.yaml, else 10)",
    )
    ind.add_argument("--waves", help="comma-separated waves to analyse, in order")
    ind.add_argument(
        "--drop-incomplete",
        action="store_true",
        help="leave out respondents with blank or unknown raking categories",
    )
    ind.add_argument(
        "--no-fpc",
        action="store_true",
        help="no finite population correction for waves with an audience_size",
    )
    ind.add_argument(
        "--trim-weights",
        metavar="LOWER,UPPER",
        help="trim final weights to LOWER and UPPER x the audience-wave's mean weight",
    )
    ind.add_argument(
        "--no-drivers",
        action="store_true",
        help="skip the key drivers (drivers.csv is then empty): their bootstrap is slow",
    )
    ind.add_argument("--out", required=True, type=Path, help="folder for the CSV tables")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    console = Console(stderr=True)
    started = time.perf_counter()
    try:
        definitions = load_definitions(args.instruments, versions=True)
        responses = read_responses(args.responses)
        population = read_population(args.population) if args.population else None
        waves = [w.strip() for w in args.waves.split(",") if w.strip()] if args.waves else None
        if args.out.exists() and not args.out.is_dir():
            raise ValueError(f"--out {args.out} exists and is not a folder")  # noqa: TRY301 - reported like every input error
        # a live status line only where the wait is long enough to need one
        status = console.status("analysing") if len(responses) >= LARGE_INPUT else None
        with status or contextlib.nullcontext():
            results = run(
                responses,
                definitions,
                population,
                by=args.by,
                min_n=_min_n(args.min_n),
                waves=waves,
                drop_incomplete=args.drop_incomplete,
                fpc=not args.no_fpc,
                trim_weights=_trim(args.trim_weights),
                progress=(lambda m: status.update(f"analysing {m}")) if status else None,
                drivers=not args.no_drivers,
            )
        written = results.write(args.out)
    except DefinitionsError as exc:
        for error in exc.errors:
            console.print(f"error: {error}", markup=False, highlight=False, soft_wrap=True)
        return 2
    except ValueError as exc:
        console.print(f"error: {exc}", markup=False, highlight=False, soft_wrap=True)
        return 2
    _summary(console, results, len(responses), written, time.perf_counter() - started)
    return 0


def _summary(
    console: Console, results: Results, n_rows: int, written: list[Path], seconds: float
) -> None:
    ind = results.indicators
    significant = results.changes["significant"].eq(True).sum()
    console.print(
        f"{n_rows:,} responses, {ind['instrument'].nunique()} instruments, waves {', '.join(results.wave_order)}\n"
        f"{len(ind):,} indicator rows ({int(ind['suppressed'].sum()):,} suppressed), "
        f"{len(results.changes):,} changes ({int(significant):,} significant after BH), "
        f"{len(results.trends):,} trends, {len(results.reliability):,} reliability rows, "
        f"{len(results.notes):,} notes",
        markup=False,
        highlight=False,
    )
    for note in results.notes.itertuples(index=False):
        where = " ".join(
            str(v) for v in (note.instrument, note.wave, note.level, note.id) if isinstance(v, str)
        )
        console.print(f"note: {where}: {note.note}", markup=False, highlight=False)
    console.print(
        f"wrote {', '.join(str(p) for p in written)} in {seconds:.1f} s",
        markup=False,
        highlight=False,
    )


if __name__ == "__main__":
    sys.exit(main())
