#!/usr/bin/env bash
# Seeds the demo council into the configured database (SQLite under instance/ by default)
# and serves the app on http://127.0.0.1:$PORT (default 5000).
set -euo pipefail
cd "$(dirname "$0")/.."
export FLASK_APP=survey_app PULSE_CONFIG="${PULSE_CONFIG:-development}"
mkdir -p instance
if [ -z "${SECRET_KEY:-}" ] && [ ! -s instance/secret_key ]; then
  .venv/bin/python -c 'import secrets; print(secrets.token_urlsafe(48))' > instance/secret_key
  chmod 600 instance/secret_key
  echo "Generated a random SECRET_KEY in instance/secret_key" >&2
fi
.venv/bin/flask db upgrade 2>&1 | grep -v '^INFO' || true
port="${PORT:-5000}"
.venv/bin/flask demo --base-url "http://127.0.0.1:${port}"
echo
echo "Improvement Pulse is running at http://127.0.0.1:${port}/ (staff sign-in: http://127.0.0.1:${port}/auth/sign-in)."
echo "Ctrl+C stops it; \`make demo\` again keeps the data. Another port: PORT=8080 make demo"
exec .venv/bin/flask run --host 127.0.0.1 --port "$port"
