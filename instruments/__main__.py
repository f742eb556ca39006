"""``python -m instruments validate [PATH...]``: the validator without Flask."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .loader import definitions_dir, validate_paths


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m instruments", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    validate = sub.add_parser("validate", help="validate definition folders or files")
    validate.add_argument(
        "paths",
        nargs="*",
        type=Path,
        help="folders holding framework.yaml and instruments, or single files "
        "(default: INSTRUMENTS_DIR or the shipped definitions)",
    )
    args = parser.parse_args(argv)
    return run_validate(args.paths)


def run_validate(paths: list[Path], out=None, err=None) -> int:
    out = out or sys.stdout
    err = err or sys.stderr
    untranslated: list[str] = []
    checked, errors = validate_paths(paths or [definitions_dir()], untranslated)
    for line in checked:
        print(f"ok  {line}", file=out)
    for line in untranslated:
        print(f"untranslated (shown in English)  {line}", file=out)
    for error in errors:
        print(f"error  {error}", file=err)
    if errors:
        print(f"{len(errors)} error(s)", file=err)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
