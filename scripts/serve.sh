#!/bin/sh
# Production: migrate the database, then serve the app with gunicorn (gunicorn.conf.py).
#   DATABASE_URL=postgresql+psycopg://pulse@db/pulse SECRET_KEY=... scripts/serve.sh
# Extra arguments go to gunicorn, e.g. `scripts/serve.sh --bind 0.0.0.0:8000`.
set -eu
cd "$(dirname "$0")/.."
: "${DATABASE_URL:?set DATABASE_URL (postgresql+psycopg://user@host/db)}"
: "${SECRET_KEY:?set SECRET_KEY to a long random string}"
export DATABASE_URL SECRET_KEY PULSE_CONFIG="${PULSE_CONFIG:-production}"
BIN="${VIRTUAL_ENV:-$PWD/.venv}/bin"
"$BIN/flask" --app survey_app db upgrade
exec "$BIN/gunicorn" --config gunicorn.conf.py "$@"
