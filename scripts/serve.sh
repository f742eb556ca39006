#!/bin/sh
# Production: migrate the database, then serve the app with gunicorn (gunicorn.conf.py).
#   DATABASE_URL=postgresql+psycopg://pulse@db/pulse SECRET_KEY=... BASE_URL=https://... scripts/serve.sh
# Extra arguments go to gunicorn, e.g. `scripts/serve.sh --bind 0.0.0.0:8000`.
set -eu
cd "$(dirname "$0")/.."
: "${DATABASE_URL:?set DATABASE_URL (postgresql+psycopg://user@host/db)}"
: "${SECRET_KEY:?set SECRET_KEY to a long random string (at least 32 bytes)}"
: "${BASE_URL:?set BASE_URL to the public address, e.g. https://pulse.example.gov.uk (links in e-mails use it)}"
export DATABASE_URL SECRET_KEY BASE_URL PULSE_CONFIG="${PULSE_CONFIG:-production}"
BIN="${VIRTUAL_ENV:-$PWD/.venv}/bin"
"$BIN/flask" --app survey_app db upgrade
exec "$BIN/gunicorn" --config gunicorn.conf.py "$@"
