#!/usr/bin/env bash
# Build the front-end assets for Improvement Pulse.
#
#   survey_app/assets/scss/app.scss  ->  survey_app/static/css/app.css
#   govuk-frontend dist JS           ->  survey_app/static/js/govuk-frontend.min.js
#   govuk-frontend dist assets       ->  survey_app/static/govuk/assets/ (images, manifest; no fonts)
#
# Idempotent: `npm ci` runs only when node_modules is missing or older than
# package-lock.json; the copy and compile steps overwrite their outputs.
# Entry points: `bash scripts/build-assets.sh` or `npm run build`.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

die() { echo "build-assets: error: $*" >&2; exit 1; }
log() { echo "build-assets: $*"; }

command -v node >/dev/null 2>&1 || die "node is not installed or not on PATH (Node.js 20+ is needed to build the CSS; on Debian: apt-get install nodejs npm)"
command -v npm >/dev/null 2>&1 || die "npm is not installed or not on PATH (on Debian: apt-get install npm)"
node_major="$(node -p 'process.versions.node.split(".")[0]')"
[ "$node_major" -ge 20 ] || die "Node.js 20 or newer is needed, found $(node --version)"
[ -f package-lock.json ] || die "package-lock.json is missing in $ROOT"

# npm writes node_modules/.package-lock.json on every install, so it tells us
# whether node_modules matches the committed lock file.
stamp=node_modules/.package-lock.json
if [ ! -f "$stamp" ] || [ package-lock.json -nt "$stamp" ]; then
    log "installing npm packages (npm ci)"
    npm ci --no-audit --no-fund --loglevel=error
else
    log "node_modules is up to date"
fi

GOVUK=node_modules/govuk-frontend/dist/govuk
[ -d "$GOVUK" ] || die "$GOVUK not found after npm ci"
SASS=node_modules/.bin/sass
[ -x "$SASS" ] || die "$SASS not found after npm ci"

STATIC=survey_app/static
mkdir -p "$STATIC/css" "$STATIC/js" "$STATIC/govuk/assets"

log "compiling survey_app/assets/scss/app.scss"
tmp_css="$(mktemp "$STATIC/css/.app.css.XXXXXX")"
trap 'rm -f "$tmp_css"' EXIT
"$SASS" --load-path=node_modules --style=compressed --no-source-map --quiet-deps \
    survey_app/assets/scss/app.scss "$tmp_css"

# GDS Transport is licensed for GOV.UK services only: refuse to ship it.
if grep -qiE '@font-face|GDS Transport' "$tmp_css"; then
    die "compiled CSS contains @font-face / GDS Transport; check \$govuk-font-family in app.scss"
fi
chmod 644 "$tmp_css"
mv -f "$tmp_css" "$STATIC/css/app.css"
trap - EXIT

log "copying govuk-frontend JS and assets"
# Drop the trailing sourceMappingURL comment: the .map is not shipped.
sed -e 's|//# sourceMappingURL=[^[:space:]]*$||' "$GOVUK/govuk-frontend.min.js" \
    >"$STATIC/js/govuk-frontend.min.js"
# Images and manifest only: the fonts are GDS Transport, which we must not use.
rm -rf "$STATIC/govuk/assets"
mkdir -p "$STATIC/govuk/assets"
cp -R "$GOVUK/assets/images" "$STATIC/govuk/assets/images"
cp -f "$GOVUK/assets/manifest.json" "$STATIC/govuk/assets/manifest.json"

log "done: $STATIC/css/app.css ($(wc -c <"$STATIC/css/app.css") bytes), $STATIC/js/govuk-frontend.min.js, $STATIC/govuk/assets/"
