#!/usr/bin/env bash
# Installs everything the project needs, idempotently:
#   - a virtual environment in .venv with the Python packages pinned by constraints.txt
#   - the front-end assets (GOV.UK Frontend compiled with the council's font and colours)
#   - Debian packages, when running as root: Pango and fonts for PDF reports; with --test
#     also Chromium (browser tests), poppler (reading PDFs back) and R with haven (reading the
#     labelled SPSS and Stata exports back).
set -euo pipefail
cd "$(dirname "$0")/.."

want_test=0
[ "${1:-}" = "--test" ] && want_test=1

say() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }

python_bin="${PYTHON:-python3}"
if ! "$python_bin" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
  echo "error: Python 3.11 or newer is needed (found: $("$python_bin" --version 2>&1 || echo none))." >&2
  echo "Set PYTHON=/path/to/python3.11 and try again." >&2
  exit 1
fi

if [ ! -x .venv/bin/python ]; then
  say "Creating the virtual environment in .venv"
  "$python_bin" -m venv .venv
fi

stamp=.venv/.pulse-installed
extras="test"
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ] || [ constraints.txt -nt "$stamp" ] \
   || ! grep -qx "$extras" "$stamp"; then
  say "Installing Python packages (pinned by constraints.txt)"
  .venv/bin/python -m pip install --quiet --disable-pip-version-check --upgrade pip
  .venv/bin/python -m pip install --quiet --disable-pip-version-check \
    -c constraints.txt -e ".[$extras]"
  echo "$extras" > "$stamp"
fi

say "Building front-end assets"
bash scripts/build-assets.sh

# Debian packages: Pango and fonts render the PDF reports (the product needs them); the
# tests also use Chromium (browser tests), poppler (reading PDFs back) and R's haven
# (reading the labelled SPSS and Stata exports back).
debs=()
dpkg -s libpango-1.0-0 >/dev/null 2>&1 || debs+=(libpango-1.0-0 libpangoft2-1.0-0)
dpkg -s fonts-dejavu-core >/dev/null 2>&1 || debs+=(fonts-dejavu-core)
if [ "$want_test" = 1 ]; then
  command -v chromium >/dev/null 2>&1 || debs+=(chromium)
  command -v pdftotext >/dev/null 2>&1 || debs+=(poppler-utils)
  # R reads the labelled SPSS/Stata exports back (haven) in the tests
  dpkg -s r-cran-haven >/dev/null 2>&1 || debs+=(r-base-core r-cran-haven)
fi
if [ "${#debs[@]}" -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    say "Installing Debian packages: ${debs[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${debs[@]}" >/dev/null
  else
    echo "note: not root, so not installing ${debs[*]}; PDF reports or some tests may not work (tests fail under CI=true)." >&2
  fi
fi
