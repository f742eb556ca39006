"""Analysis benchmark: `pulse-analysis indicators` at 100k and 1M respondents, and R `survey`.

    .venv/bin/python benchmarks/analysis.py [--sizes 100000,1000000] [--skip-r] [--seed 2026]
                                            [--workdir benchmarks/output/analysis] [--regenerate]

Generates (and caches) synthetic responses in the export schema: N respondents x 20 agree5
scale items, 8 waves (2025-Q1..2026-Q4), 4 audiences (members, staff, residents, partners);
the residents' sample is skewed on age band and sex, and answers depend on age band, so
raking to the population CSV moves the estimates. Then it reports

* the wall time and peak RSS of `pulse-analysis indicators ... --population --no-drivers`
  at each size (the heatmap needs a --by, the drivers are timed on their own below),
  run as a child process (peak RSS from that child's own rusage via ``os.wait4``);
* the ratio of the largest to the smallest size's time against the ratio of the sizes
  (linear scaling: 1M/100k <= 11);
* on the smallest size (100k by default), R `survey` (`svyby(~positive, ~wave+audience,
  design, svymean)` for each of the 20 items) against ours: the R estimation time against
  the in-process `analysis.estimators.grouped_means` on the same indicators (like for
  like), and the whole `Rscript` wall time against our CLI end to end (which does far
  more: indices, outcome scores, changes, trends, reliability, raking);
* on the smallest size, in process, the heatmap (every item, index and outcome x a 10-group
  attribute) and the key drivers (the confidence and culture indices on the other 14 of the
  20 items, 200 bootstrap resamples), beside the CLI's end-to-end time of the same run;
* the time of a bare `pandas.read_csv` of each file, as a same-run baseline for the noise
  of this shared machine.

Results are printed as a table and written to WORKDIR/results.json. Nothing is asserted:
the figures are ratios measured in the same run, read by people (see benchmarks/README.md).
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import os
import platform
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

ROOT = Path(__file__).resolve().parents[1]
# Run as a script, this file's folder is first on sys.path and this file (analysis.py) would
# shadow the `analysis` package: put the project root first instead.
_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]
sys.path.insert(0, str(ROOT))

from analysis.drivers import key_drivers  # noqa: E402 - after the sys.path fix above
from analysis.estimators import grouped_means  # noqa: E402
from analysis.heatmap import heatmap_rows, heatmap_table  # noqa: E402
from analysis.pipeline import respondent_scores  # noqa: E402
from analysis.responses import prepare, read_responses  # noqa: E402
from analysis.synthetic import EXPORT_FIXED, synthetic_responses  # noqa: E402
from instruments import Instrument, load_definitions, version_of  # noqa: E402

# Bump when the generated data change, so cached files are not reused.
GENERATOR_VERSION = 3

WAVES = [f"{year}-Q{quarter}" for year in (2025, 2026) for quarter in (1, 2, 3, 4)]
N_ITEMS = 20
ITEM_IDS = [f"Q{i:02d}" for i in range(1, N_ITEMS + 1)]
OUTCOMES = [f"O{i}" for i in range(1, 13)]

# audience -> (instrument id, title, share of all respondents). The ids are the shipped
# instruments' ids so that the framework's survey measures find their instrument.
AUDIENCES: dict[str, tuple[str, str, float]] = {
    "members": ("member-pulse", "Member pulse survey (benchmark)", 0.10),
    "staff": ("staff-pulse", "Staff pulse survey (benchmark)", 0.40),
    "residents": ("resident-perception", "Resident perception survey (benchmark)", 0.35),
    "partners": ("partner-survey", "Partner survey (benchmark)", 0.15),
}

AGE_BANDS = ["16-34", "35-54", "55 and over"]
SEXES = ["Female", "Male"]
# Residents population (16+) on the two raking variables; both margins sum to 140,000.
POPULATION = {
    "age_band": {"16-34": 44_800, "35-54": 50_400, "55 and over": 44_800},
    "sex": {"Female": 71_400, "Male": 68_600},
}
# The achieved sample over-represents older people and women (as resident surveys do) ...
SAMPLE_AGE_SHARE = {"16-34": 0.14, "35-54": 0.31, "55 and over": 0.55}
SAMPLE_SEX_WEIGHTS = [0.62, 0.38]
# ... and the latent baseline differs by age band, so the unweighted estimates are biased.
AGE_BASELINE = {"16-34": -0.65, "35-54": -0.30, "55 and over": 0.10}
TRENDS = {"O10": -0.12, "O5": 0.02}  # one outcome falls, one is flat; the rest +0.12/wave

DEFAULT_WORKDIR = ROOT / "benchmarks" / "output" / "analysis"
TARGETS = {
    "linear_ratio_max": 11.0,
    "r_over_ours_min": 10.0,
    "largest_seconds_max": 60.0,
    "largest_peak_mb_max": 4096.0,
}


def log(message: str) -> None:
    stamp = dt.datetime.now(dt.UTC).strftime("%H:%M:%S")
    print(f"[{stamp}] {message}", file=sys.stderr, flush=True)


# --------------------------------------------------------------------------- definitions


def build_instrument(audience: str) -> Instrument:
    """20 agree5 items mapped to the 12 outcomes; items 1-6 confidence, 7-12 culture."""
    instrument_id, title, _ = AUDIENCES[audience]
    questions = []
    for i, item in enumerate(ITEM_IDS):
        outcomes = [OUTCOMES[i % 12]]
        if i >= 16:  # a few items count towards two outcomes
            outcomes.append(OUTCOMES[(i + 5) % 12])
        question: dict[str, Any] = {
            "id": item,
            "text": f"Benchmark statement {i + 1} for {audience} about the improvement plan.",
            "scale": "agree5",
            "outcomes": outcomes,
        }
        if i < 6:
            question["index"] = "confidence"
        elif i < 12:
            question["index"] = "culture"
        if i in (7, 10):
            question["reverse"] = True
        questions.append(question)
    data: dict[str, Any] = {
        "id": instrument_id,
        "title": title,
        "audience": audience,
        "description": "Generated by benchmarks/analysis.py; not a real instrument.",
        "scales": {
            "agree5": {
                "labels": [
                    "Strongly disagree",
                    "Disagree",
                    "Neither agree nor disagree",
                    "Agree",
                    "Strongly agree",
                ],
                "positive": [4, 5],
                "dont_know": "Don't know",
            }
        },
        "questions": questions,
    }
    if audience == "residents":
        data["attributes"] = [
            {"id": "age_band", "text": "What is your age?", "choices": AGE_BANDS},
            {"id": "sex", "text": "What is your sex?", "choices": SEXES},
        ]
    return Instrument.model_validate(data)


def write_definitions(folder: Path) -> dict[str, Instrument]:
    """framework.yaml (shipped) + the four generated instruments; returns them by audience."""
    folder.mkdir(parents=True, exist_ok=True)
    for stale in folder.glob("*.yaml"):
        stale.unlink()
    shutil.copyfile(
        ROOT / "instruments" / "definitions" / "framework.yaml", folder / "framework.yaml"
    )
    instruments = {}
    for audience in AUDIENCES:
        instrument = build_instrument(audience)
        text = yaml.safe_dump(
            instrument.model_dump(mode="json", exclude_none=True),
            sort_keys=False,
            allow_unicode=True,
        )
        (folder / f"{instrument.id}.yaml").write_text(text, encoding="utf-8")
        instruments[audience] = instrument
    return instruments


def write_population(path: Path) -> None:
    rows = [
        {"audience": "residents", "variable": variable, "category": category, "population": total}
        for variable, margin in POPULATION.items()
        for category, total in margin.items()
    ]
    pd.DataFrame(rows).to_csv(path, index=False)


# --------------------------------------------------------------------------- responses


def _split(total: int, shares: Sequence[float]) -> list[int]:
    """Integers proportional to ``shares`` that add up to ``total`` (largest remainder)."""
    raw = np.asarray(shares, float) / np.sum(shares) * total
    out = np.floor(raw).astype(int)
    for i in np.argsort(raw - out)[::-1][: total - out.sum()]:
        out[i] += 1
    return out.tolist()


def _wave_days(wave: str) -> list[str]:
    year, quarter = int(wave[:4]), int(wave[-1])
    start = dt.date(year, 3 * (quarter - 1) + 2, 1)  # second month of the quarter
    return [(start + dt.timedelta(days=d)).isoformat() for d in range(21)]


def generate_responses(path: Path, n: int, seed: int, instruments: dict[str, Instrument]) -> None:
    """Write ``n`` responses to ``path`` (CSV, export schema), one audience at a time."""
    columns = [*EXPORT_FIXED, "age_band", "sex", *ITEM_IDS]
    wave_days = {wave: _wave_days(wave) for wave in WAVES}
    per_audience = _split(n, [share for _, _, share in AUDIENCES.values()])
    tmp = path.with_suffix(".csv.partial")
    first = True
    chunk_seed = seed * 1000
    for (audience, instrument), n_audience in zip(instruments.items(), per_audience, strict=True):
        per_wave = _split(n_audience, [1.0] * len(WAVES))
        version = version_of(instrument)
        if audience == "residents":
            chunks = []
            for band in AGE_BANDS:
                sizes = [
                    _split(k, list(SAMPLE_AGE_SHARE.values()))[AGE_BANDS.index(band)]
                    for k in per_wave
                ]
                chunk_seed += 1
                chunks.append(
                    synthetic_responses(
                        instrument,
                        WAVES,
                        sizes,
                        seed=chunk_seed,
                        version=version,
                        trends=TRENDS,
                        baseline=AGE_BASELINE[band],
                        attribute_weights={
                            "age_band": [float(b == band) for b in AGE_BANDS],
                            "sex": SAMPLE_SEX_WEIGHTS,
                        },
                        wave_days=wave_days,
                    )
                )
            frame = pd.concat(chunks, ignore_index=True)
            del chunks
        else:
            chunk_seed += 1
            frame = synthetic_responses(
                instrument,
                WAVES,
                per_wave,
                seed=chunk_seed,
                version=version,
                trends=TRENDS,
                wave_days=wave_days,
            )
        frame = frame.reindex(columns=columns)
        frame.to_csv(tmp, index=False, mode="w" if first else "a", header=first)
        first = False
        del frame
    tmp.replace(path)


def definitions_key(instruments: dict[str, Instrument]) -> str:
    versions = "".join(version_of(i) for i in instruments.values())
    framework = (ROOT / "instruments" / "definitions" / "framework.yaml").read_bytes()
    return hashlib.sha256(versions.encode() + framework).hexdigest()[:12]


def ensure_responses(
    workdir: Path, n: int, seed: int, instruments: dict[str, Instrument], regenerate: bool
) -> tuple[Path, float | None]:
    """Cached responses CSV for (n, seed); returns the path and the generation time (None if
    it came from the cache)."""
    data_dir = workdir / "data"
    data_dir.mkdir(parents=True, exist_ok=True)
    path = data_dir / f"responses-{n}-seed{seed}.csv"
    meta_path = path.with_suffix(".json")
    meta = {
        "n": n,
        "seed": seed,
        "generator": GENERATOR_VERSION,
        "definitions": definitions_key(instruments),
    }
    if not regenerate and path.exists() and meta_path.exists():
        try:
            if json.loads(meta_path.read_text()) == meta:
                return path, None
        except json.JSONDecodeError:
            pass
    log(
        f"generating {n:,} responses -> {path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}"
    )
    started = time.perf_counter()
    generate_responses(path, n, seed, instruments)
    elapsed = time.perf_counter() - started
    meta_path.write_text(json.dumps(meta, indent=2))
    log(f"  generated in {elapsed:.1f} s ({path.stat().st_size / 1e6:.0f} MB)")
    return path, elapsed


# --------------------------------------------------------------------------- child processes


def run_measured(cmd: Sequence[str], log_prefix: Path, timeout: float | None) -> dict[str, Any]:
    """Run ``cmd``; wall time, exit code and the child's own peak RSS (``os.wait4``)."""
    with open(f"{log_prefix}.stdout", "wb") as out, open(f"{log_prefix}.stderr", "wb") as err:
        started = time.perf_counter()
        proc = subprocess.Popen(list(cmd), stdout=out, stderr=err, cwd=ROOT)
        timer = None
        timed_out = threading.Event()
        if timeout:

            def kill() -> None:
                timed_out.set()
                proc.kill()

            timer = threading.Timer(timeout, kill)
            timer.start()
        try:
            _, status, usage = os.wait4(proc.pid, 0)
        finally:
            if timer:
                timer.cancel()
        wall = time.perf_counter() - started
        proc.returncode = os.waitstatus_to_exitcode(status)
    return {
        "command": " ".join(str(c) for c in cmd),
        "returncode": proc.returncode,
        "timed_out": timed_out.is_set(),
        "wall_seconds": wall,
        "user_seconds": usage.ru_utime,
        "system_seconds": usage.ru_stime,
        "peak_rss_mb": usage.ru_maxrss / 1024.0,  # Linux: kilobytes
        "stdout": f"{log_prefix}.stdout",
        "stderr": f"{log_prefix}.stderr",
    }


def tail(path: str, lines: int = 15) -> str:
    try:
        return "\n".join(Path(path).read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


def find_cli(explicit: str | None) -> str | None:
    if explicit:
        return explicit
    beside = Path(sys.executable).parent / "pulse-analysis"
    if beside.exists():
        return str(beside)
    venv = ROOT / ".venv" / "bin" / "pulse-analysis"
    if venv.exists():
        return str(venv)
    return shutil.which("pulse-analysis")


def run_cli(
    cli: str,
    responses: Path,
    definitions: Path,
    population: Path,
    out: Path,
    logs: Path,
    repeat: int,
    timeout: float | None,
) -> dict[str, Any]:
    """Best (minimum wall time) of ``repeat`` runs of `pulse-analysis indicators`."""
    runs = []
    for attempt in range(repeat):
        if out.exists():
            shutil.rmtree(out)
        cmd = [
            cli,
            "indicators",
            "--responses",
            str(responses),
            "--instruments",
            str(definitions),
            "--population",
            str(population),
            # the key drivers are timed on their own (time_heatmap_and_drivers): their
            # bootstrap over every subset of 14 items per audience-wave would swamp the rest
            "--no-drivers",
            "--out",
            str(out),
        ]
        result = run_measured(cmd, logs / f"{out.name}-run{attempt + 1}", timeout)
        runs.append(result)
        if result["returncode"] != 0:
            break
    best = min(runs, key=lambda r: (r["returncode"] != 0, r["wall_seconds"]))
    best = dict(best)
    best["runs_wall_seconds"] = [r["wall_seconds"] for r in runs]
    best["peak_rss_mb"] = max(r["peak_rss_mb"] for r in runs)
    if out.exists():
        files = [p for p in out.rglob("*") if p.is_file()]
        best["output_files"] = len(files)
        best["output_mb"] = sum(p.stat().st_size for p in files) / 1e6
    if best["returncode"] != 0:
        best["stderr_tail"] = tail(best["stderr"])
    return best


# --------------------------------------------------------------------------- R


R_PACKAGES = ["r-base-core", "r-cran-survey"]


def ensure_r() -> tuple[str | None, str]:
    """Path of Rscript with the survey package, installing it from Debian if we are root."""
    rscript = shutil.which("Rscript")

    def has_survey(path: str) -> bool:
        check = subprocess.run(
            [path, "-e", "suppressPackageStartupMessages(library(survey))"],
            capture_output=True,
            check=False,
        )
        return check.returncode == 0

    if rscript and has_survey(rscript):
        return rscript, "found"
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        return None, "not available (Rscript with the survey package is missing; not root)"
    log("installing R from Debian: " + " ".join(R_PACKAGES))
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    update = subprocess.run(["apt-get", "update", "-qq"], capture_output=True, env=env, check=False)
    install = subprocess.run(
        ["apt-get", "install", "-y", "-qq", "--no-install-recommends", *R_PACKAGES],
        capture_output=True,
        env=env,
        check=False,
    )
    rscript = shutil.which("Rscript")
    if update.returncode or install.returncode or not rscript or not has_survey(rscript):
        detail = (install.stderr or update.stderr).decode(errors="replace").strip()[-300:]
        return None, f"not available (apt-get install failed: {detail})"
    return rscript, "installed"


def run_r(rscript: str, responses: Path, workdir: Path, timeout: float | None) -> dict[str, Any]:
    estimates = workdir / f"r-estimates-{responses.stem}.csv"
    result = run_measured(
        [rscript, str(ROOT / "benchmarks" / "analysis_r.R"), str(responses), str(estimates)],
        workdir / "logs" / "r",
        timeout,
    )
    if result["returncode"] != 0:
        result["stderr_tail"] = tail(result["stderr"])
        return result
    for line in Path(result["stdout"]).read_text().splitlines():
        key, _, value = line.partition("=")
        try:
            result[key] = (
                float(value) if key.endswith("seconds") or key in ("rows", "items") else value
            )
        except ValueError:
            result[key] = value
    result["estimates"] = str(estimates)
    return result


# --------------------------------------------------------------------------- ours in process


def positive_indicators(positions: pd.DataFrame) -> pd.DataFrame:
    """Positions 4 and 5 -> 1, other positions -> 0, dk/blank (NaN) -> NaN (as analysis_r.R)."""
    x = positions[ITEM_IDS].to_numpy(dtype=float)
    return pd.DataFrame(np.where(np.isnan(x), np.nan, (x >= 4).astype(float)), columns=ITEM_IDS)


def time_grouped_means(responses: Path, repeat: int) -> tuple[dict[str, Any], pd.DataFrame]:
    """In-process like-for-like of the R script: read, indicators, grouped_means."""
    started = time.perf_counter()
    frame = pd.read_csv(
        responses,
        usecols=["wave", "audience", *ITEM_IDS],
        dtype={"wave": str, "audience": str, **dict.fromkeys(ITEM_IDS, float)},
        na_values=["dk"],
    )
    read = time.perf_counter() - started
    started = time.perf_counter()
    positives = positive_indicators(frame)
    domain = [frame["wave"].rename("wave"), frame["audience"].rename("audience")]
    prepare = time.perf_counter() - started
    times = []
    result = pd.DataFrame()
    for _ in range(repeat):
        started = time.perf_counter()
        result = grouped_means(positives, None, domain=domain, missing="domain")
        times.append(time.perf_counter() - started)
    return {
        "read_seconds": read,
        "prepare_seconds": prepare,
        "estimate_seconds": min(times),
        "estimate_runs_seconds": times,
        "groups": len(result),
    }, result


def agreement(ours: pd.DataFrame, r_estimates: Path) -> dict[str, float]:
    theirs = pd.read_csv(r_estimates, dtype={"wave": str, "audience": str, "item": str})
    mine = ours.reset_index()[["item", "wave", "audience", "mean", "se"]]
    merged = mine.merge(
        theirs,
        on=["item", "wave", "audience"],
        suffixes=("_ours", "_r"),
        how="outer",
        indicator=True,
    )
    both = merged[merged["_merge"] == "both"]
    return {
        "groups_compared": len(both),
        "groups_only_one_side": int((merged["_merge"] != "both").sum()),
        "max_abs_diff_mean": float((both["mean_ours"] - both["mean_r"]).abs().max()),
        "max_abs_diff_se": float((both["se_ours"] - both["se_r"]).abs().max()),
    }


def raking_shift(
    indicators_csv: Path, unweighted: pd.DataFrame, instruments: dict[str, Instrument]
) -> dict[str, Any] | None:
    """How far raking moved the residents' item estimates: the CLI's (raked) % positive
    against the unweighted share from grouped_means, over the items that are not reversed."""
    try:
        cli = pd.read_csv(indicators_csv, dtype={"wave": str, "id": str, "by": str})
        rows = cli[(cli["audience"] == "residents") & (cli["level"] == "item") & cli["by"].isna()]
        plain = {q.id for q in instruments["residents"].scale_questions if not q.reverse}
        rows = rows[rows["id"].isin(plain)]
        base = unweighted.xs("residents", level="audience").reset_index()
        merged = rows.merge(base, left_on=["id", "wave"], right_on=["item", "wave"])
        shift = merged["estimate"] - 100.0 * merged["mean"]
    except (OSError, KeyError, ValueError) as exc:
        return {"error": f"{type(exc).__name__}: {exc}"}
    if merged.empty:
        return None
    return {
        "estimates_compared": len(merged),
        "mean_shift_points": float(shift.mean()),
        "mean_abs_shift_points": float(shift.abs().mean()),
        "max_abs_shift_points": float(shift.abs().max()),
    }


TEAMS = [f"Team {i}" for i in range(1, 11)]  # the heatmap's 10-group attribute


def time_heatmap_and_drivers(responses: Path, definitions: Path) -> dict[str, Any]:
    """In process on the same file: the heatmap of every item, index and outcome x a
    10-group attribute (``team``, drawn at random) with its suppression and BH, and the key
    drivers of the framework's targets (the confidence and culture indices, each on the
    other 14 of the 20 items, 200 bootstrap resamples), over every instrument and wave.
    Reading and preparing the responses is not timed (the CLI's figure includes them)."""
    frame = read_responses(responses)
    frame["team"] = np.random.default_rng(18).choice(TEAMS, len(frame))
    loaded = load_definitions(definitions, versions=True)
    framework = loaded.framework
    heatmap_seconds = drivers_seconds = heatmap_cpu = drivers_cpu = 0.0
    cells = driver_rows = 0
    for instrument_id, rows in frame.groupby("instrument", sort=True):
        prepared = prepare(rows, loaded.instrument(str(instrument_id)), by=["team"])
        respondent = respondent_scores(prepared)
        started, cpu = time.perf_counter(), time.process_time()
        table = heatmap_table(
            [heatmap_rows(prepared, ["team"], {}, respondent)], framework.min_group_size
        )
        heatmap_seconds += time.perf_counter() - started
        heatmap_cpu += time.process_time() - cpu
        cells += len(table)
        started, cpu = time.perf_counter(), time.process_time()
        drivers, _ = key_drivers(
            prepared, respondent, framework.key_drivers, framework.min_driver_respondents
        )
        drivers_seconds += time.perf_counter() - started
        drivers_cpu += time.process_time() - cpu
        driver_rows += len(drivers)
    return {
        "heatmap_seconds": heatmap_seconds,
        "heatmap_cpu_seconds": heatmap_cpu,  # process CPU: less sensitive to other load
        "heatmap_cells": cells,
        "drivers_seconds": drivers_seconds,
        "drivers_cpu_seconds": drivers_cpu,
        "driver_rows": driver_rows,
        "driver_targets": len(framework.key_drivers),
    }


def time_read_csv(responses: Path) -> float:
    started = time.perf_counter()
    pd.read_csv(responses, dtype=str, keep_default_na=False, na_values=[""])
    return time.perf_counter() - started


# --------------------------------------------------------------------------- report


def repeats_for(n: int, requested: int | None) -> int:
    if requested is not None:
        return max(requested, 1)
    return 3 if n < 500_000 else 1


def parse_sizes(text: str) -> list[int]:
    sizes = []
    for part in text.split(","):
        part = part.strip().lower().replace("_", "")
        factor = 1
        if part.endswith("k"):
            factor, part = 1_000, part[:-1]
        elif part.endswith("m"):
            factor, part = 1_000_000, part[:-1]
        value = int(float(part) * factor)
        if value < len(WAVES) * len(AUDIENCES) * 10:
            raise argparse.ArgumentTypeError(f"size {value} is too small")
        sizes.append(value)
    return sorted(set(sizes))


def verdict(ok: bool | None) -> str:
    return "n/a" if ok is None else ("met" if ok else "NOT met")


def print_report(results: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console(width=max(Console().width, 120))
    table = Table(title="pulse-analysis indicators, end to end (child process)")
    startup = results.get("cli_startup_seconds")
    for column in (
        "respondents",
        "file MB",
        "read_csv s",
        "CLI wall s",
        "CLI / read_csv",
        "wall - start-up s",
        "user+sys s",
        "peak RSS MB",
        "exit",
    ):
        table.add_column(column, justify="right")
    for size in results["sizes"]:
        row = results["cli"].get(str(size), {})
        data = results["data"][str(size)]
        wall = row.get("wall_seconds")
        table.add_row(
            f"{size:,}",
            f"{data['file_mb']:.0f}",
            f"{data['read_csv_seconds']:.2f}",
            f"{wall:.2f}" if wall is not None else "-",
            f"{wall / data['read_csv_seconds']:.1f}x" if wall else "-",
            f"{wall - startup:.2f}" if wall and startup else "-",
            f"{row['user_seconds'] + row['system_seconds']:.2f}" if row else "-",
            f"{row['peak_rss_mb']:.0f}" if row else "-",
            str(row.get("returncode", "-")),
        )
    console.print(table)
    if startup:
        console.print(f"CLI start-up alone (`pulse-analysis indicators --help`): {startup:.2f} s")

    summary = Table(title="ratios (same run) and targets")
    summary.add_column("figure")
    summary.add_column("value", justify="right")
    summary.add_column("target", justify="right")
    summary.add_column("", justify="left")
    s = results["summary"]
    if s.get("scaling_ratio") is not None:
        summary.add_row(
            f"time {s['scaling_label']}",
            f"{s['scaling_ratio']:.2f}",
            f"<= {s['scaling_target']:.1f}",
            verdict(s["scaling_ok"]),
        )
        summary.add_row(
            "time ratio / size ratio", f"{s['scaling_ratio'] / s['size_ratio']:.2f}", "<= 1.1", ""
        )
        if s.get("scaling_ratio_without_startup"):
            summary.add_row(
                f"time less start-up {s['scaling_label']}",
                f"{s['scaling_ratio_without_startup']:.2f}",
                "",
                "",
            )
        summary.add_row(
            f"CPU time (user+sys) {s['scaling_label']}",
            f"{s['cpu_scaling_ratio']:.2f}",
            "",
            "less sensitive to load",
        )
        summary.add_row(
            f"read_csv time {s['scaling_label']}", f"{s['read_csv_ratio']:.2f}", "", "baseline"
        )
    if s.get("largest_wall_seconds") is not None:
        summary.add_row(
            f"CLI wall at {s['largest_size']:,} (s)",
            f"{s['largest_wall_seconds']:.1f}",
            f"< {TARGETS['largest_seconds_max']:.0f}",
            verdict(s["largest_time_ok"]),
        )
        summary.add_row(
            f"CLI peak RSS at {s['largest_size']:,} (MB)",
            f"{s['largest_peak_mb']:.0f}",
            f"< {TARGETS['largest_peak_mb_max']:.0f}",
            verdict(s["largest_memory_ok"]),
        )
    r = results.get("r", {})
    if r.get("status") == "ran":
        summary.add_row(
            f"R svyby estimation / ours grouped_means ({r['size']:,})",
            f"{s['r_over_ours_estimator']:.0f}x",
            f">= {TARGETS['r_over_ours_min']:.0f}x",
            verdict(s["r_estimator_ok"]),
        )
        summary.add_row(
            f"Rscript wall / ours CLI end to end ({r['size']:,})",
            f"{s['r_over_ours_end_to_end']:.1f}x",
            f">= {TARGETS['r_over_ours_min']:.0f}x",
            verdict(s["r_end_to_end_ok"]),
        )
        agree = r.get("agreement", {})
        if agree:
            summary.add_row(
                "max |mean_R - mean_ours| / |se_R - se_ours|",
                f"{agree['max_abs_diff_mean']:.1e} / {agree['max_abs_diff_se']:.1e}",
                "< 1e-6",
                verdict(agree["max_abs_diff_mean"] < 1e-6 and agree["max_abs_diff_se"] < 1e-6),
            )
    else:
        summary.add_row("R survey", r.get("status", "skipped"), "", "")
    console.print(summary)

    if r.get("status") == "ran":
        ours = results["ours_in_process"]
        detail = Table(title=f"R survey vs ours on {r['size']:,} respondents (seconds)")
        for column in ("", "read CSV", "indicators + design", "estimation", "whole"):
            detail.add_column(column, justify="right")
        detail.add_row(
            "R survey",
            f"{r['read_seconds']:.2f}",
            f"{r['prepare_seconds']:.2f}",
            f"{r['estimate_seconds']:.2f}",
            f"{r['wall_seconds']:.2f} (Rscript)",
        )
        cli = results["cli"].get(str(r["size"]), {})
        detail.add_row(
            "ours",
            f"{ours['read_seconds']:.2f}",
            f"{ours['prepare_seconds']:.3f}",
            f"{ours['estimate_seconds']:.4f}",
            f"{cli.get('wall_seconds', float('nan')):.2f} (CLI, all indicators)",
        )
        console.print(detail)
    for size, row in results["cli"].items():
        if row.get("returncode"):
            console.print(
                f"[red]CLI failed at {int(size):,}[/red]: {row['command']}\n"
                f"{row.get('stderr_tail', '')}"
            )
    insight = results.get("insight")
    if insight:
        cli_row = results["cli"].get(str(insight["size"]), {})
        console.print(
            f"in process on {insight['size']:,} respondents: heatmap (every item, index and "
            f"outcome x 10 teams, {insight['heatmap_cells']:,} cells) "
            f"{insight['heatmap_seconds']:.2f} s (CPU {insight['heatmap_cpu_seconds']:.2f} s); key drivers ({insight['driver_targets']} targets "
            f"per audience-wave, {insight['driver_rows']:,} rows, 200 resamples each) "
            f"{insight['drivers_seconds']:.2f} s (CPU {insight['drivers_cpu_seconds']:.2f} s); the "
            f"CLI end to end (--no-drivers) in the same run "
            f"{cli_row.get('wall_seconds', float('nan')):.2f} s"
        )
    shift = results.get("raking_shift")
    if shift and "mean_abs_shift_points" in shift:
        console.print(
            f"raking check: the CLI's raked residents' item estimates differ from the unweighted "
            f"ones by {shift['mean_shift_points']:+.1f} points on average "
            f"(max |{shift['max_abs_shift_points']:.1f}|, {shift['estimates_compared']} estimates)"
        )
    console.print(f"results: {results['results_file']} (total {results['total_seconds']:.0f} s)")


def summarise(results: dict[str, Any]) -> dict[str, Any]:
    sizes = results["sizes"]
    cli = results["cli"]
    ok_sizes = [n for n in sizes if cli.get(str(n), {}).get("returncode") == 0]
    s: dict[str, Any] = {}
    if len(ok_sizes) >= 2:
        small, large = ok_sizes[0], ok_sizes[-1]
        ratio = cli[str(large)]["wall_seconds"] / cli[str(small)]["wall_seconds"]
        size_ratio = large / small
        s.update(
            scaling_label=f"{large:,}/{small:,}",
            scaling_ratio=ratio,
            size_ratio=size_ratio,
            scaling_target=TARGETS["linear_ratio_max"] * size_ratio / 10,
            read_csv_ratio=results["data"][str(large)]["read_csv_seconds"]
            / results["data"][str(small)]["read_csv_seconds"],
        )
        s["scaling_ok"] = ratio <= s["scaling_target"]
        startup = results.get("cli_startup_seconds")
        if startup:
            s["scaling_ratio_without_startup"] = (cli[str(large)]["wall_seconds"] - startup) / (
                cli[str(small)]["wall_seconds"] - startup
            )
        s["cpu_scaling_ratio"] = (
            cli[str(large)]["user_seconds"] + cli[str(large)]["system_seconds"]
        ) / (cli[str(small)]["user_seconds"] + cli[str(small)]["system_seconds"])
    if ok_sizes:
        large = ok_sizes[-1]
        s.update(
            largest_size=large,
            largest_wall_seconds=cli[str(large)]["wall_seconds"],
            largest_peak_mb=cli[str(large)]["peak_rss_mb"],
        )
        s["largest_time_ok"] = s["largest_wall_seconds"] < TARGETS["largest_seconds_max"]
        s["largest_memory_ok"] = s["largest_peak_mb"] < TARGETS["largest_peak_mb_max"]
    r = results.get("r", {})
    if r.get("status") == "ran":
        ours = results["ours_in_process"]
        s["r_over_ours_estimator"] = r["estimate_seconds"] / ours["estimate_seconds"]
        s["r_estimator_ok"] = s["r_over_ours_estimator"] >= TARGETS["r_over_ours_min"]
        ours_cli = cli.get(str(r["size"]), {})
        if ours_cli.get("returncode") == 0:
            s["r_over_ours_end_to_end"] = r["wall_seconds"] / ours_cli["wall_seconds"]
            s["r_end_to_end_ok"] = s["r_over_ours_end_to_end"] >= TARGETS["r_over_ours_min"]
        else:
            s["r_over_ours_end_to_end"] = float("nan")
            s["r_end_to_end_ok"] = None
    return s


# --------------------------------------------------------------------------- main


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--sizes",
        type=parse_sizes,
        default=[100_000, 1_000_000],
        help="comma-separated respondent counts (100k, 1M accepted); default 100000,1000000",
    )
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--workdir", type=Path, default=DEFAULT_WORKDIR)
    parser.add_argument(
        "--regenerate", action="store_true", help="regenerate the responses even if cached"
    )
    parser.add_argument("--skip-r", action="store_true", help="do not run R survey")
    parser.add_argument(
        "--repeat",
        type=int,
        default=None,
        help="CLI runs per size; the fastest is reported (default: 3 below "
        "500,000 respondents, else 1)",
    )
    parser.add_argument("--cli", help="pulse-analysis executable (default: the venv's)")
    parser.add_argument(
        "--timeout",
        type=float,
        default=900.0,
        help="seconds before a child process is killed (default 900)",
    )
    args = parser.parse_args(argv)

    workdir: Path = args.workdir.resolve()
    (workdir / "logs").mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    results: dict[str, Any] = {
        "started_utc": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "machine": {
            "cpus": os.cpu_count(),
            "load_average_at_start": os.getloadavg(),
            "python": platform.python_version(),
            "pandas": pd.__version__,
            "numpy": np.__version__,
            "platform": platform.platform(),
        },
        "seed": args.seed,
        "sizes": args.sizes,
        "design": {
            "waves": WAVES,
            "items": N_ITEMS,
            "audiences": {a: s for a, (_, _, s) in AUDIENCES.items()},
            "raking": "residents per wave on age_band and sex",
        },
        "data": {},
        "cli": {},
        "targets": TARGETS,
    }

    definitions = workdir / "definitions"
    instruments = write_definitions(definitions)
    population = workdir / "population.csv"
    write_population(population)

    files = {}
    for n in args.sizes:
        path, generated = ensure_responses(workdir, n, args.seed, instruments, args.regenerate)
        files[n] = path
        results["data"][str(n)] = {
            "path": str(path),
            "file_mb": path.stat().st_size / 1e6,
            "generated_seconds": generated,
        }

    cli = find_cli(args.cli)
    if cli is not None:
        log("baseline: pulse-analysis start-up (indicators --help), best of 3")
        startup = [
            run_measured([cli, "indicators", "--help"], workdir / "logs" / "startup", 60)
            for _ in range(3)
        ]
        results["cli_startup_seconds"] = min(r["wall_seconds"] for r in startup)
    for n in args.sizes:
        log(f"baseline: pandas.read_csv of {n:,} rows")
        results["data"][str(n)]["read_csv_seconds"] = time_read_csv(files[n])
        if cli is None:
            results["cli"][str(n)] = {"returncode": None, "error": "pulse-analysis not found"}
            continue
        log(f"pulse-analysis indicators on {n:,} respondents")
        row = run_cli(
            cli,
            files[n],
            definitions,
            population,
            workdir / "out" / f"n{n}",
            workdir / "logs",
            repeats_for(n, args.repeat),
            args.timeout,
        )
        results["cli"][str(n)] = row
        if row["returncode"] == 0:
            log(f"  {row['wall_seconds']:.2f} s, peak {row['peak_rss_mb']:.0f} MB")
        else:
            log(
                f"  FAILED (exit {row['returncode']}): {row['command']}\n{row.get('stderr_tail', '')}"
            )

    smallest = args.sizes[0]
    log(f"ours in process: heatmap and key drivers on {smallest:,} respondents")
    results["insight"] = {
        "size": smallest,
        **time_heatmap_and_drivers(files[smallest], definitions),
    }
    log(f"ours in process: grouped_means on {smallest:,} respondents")
    ours, ours_estimates = time_grouped_means(files[smallest], repeat=5)
    results["ours_in_process"] = {"size": smallest, **ours}
    indicators_csv = workdir / "out" / f"n{smallest}" / "indicators.csv"
    if results["cli"].get(str(smallest), {}).get("returncode") == 0 and indicators_csv.exists():
        results["raking_shift"] = raking_shift(indicators_csv, ours_estimates, instruments)

    if args.skip_r:
        results["r"] = {"status": "skipped (--skip-r)"}
    else:
        rscript, how = ensure_r()
        if rscript is None:
            results["r"] = {"status": how}
            log(f"R: {how}")
        else:
            log(f"R survey on {smallest:,} respondents ({how})")
            r = run_r(rscript, files[smallest], workdir, args.timeout)
            if r["returncode"] == 0:
                r["status"] = "ran"
                r["agreement"] = agreement(ours_estimates, Path(r["estimates"]))
                log(
                    f"  estimation {r['estimate_seconds']:.2f} s, Rscript {r['wall_seconds']:.2f} s"
                )
            else:
                r["status"] = f"failed (exit {r['returncode']})"
                log(f"  R failed: {r.get('stderr_tail', '')}")
            results["r"] = {"size": smallest, **r}

    results["summary"] = summarise(results)
    results["total_seconds"] = time.perf_counter() - started
    results["results_file"] = str(workdir / "results.json")
    (workdir / "results.json").write_text(json.dumps(results, indent=2, default=str))
    print_report(results)
    failed = any(row.get("returncode") not in (0,) for row in results["cli"].values())
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
