#!/usr/bin/env bash
# CI: the production install, as a deployment (and the Dockerfile) does it, in a copy of the tree:
# npm ci, build, drop devDependencies, resetctl init, boot the service, wait for /health, run resetctl, stop.
# Fails when anything the service or resetctl loads at run time is only a devDependency.
set -euo pipefail
cd "$(dirname "$0")/.."

work=$(mktemp -d "${TMPDIR:-/tmp}/ro-production-boot.XXXXXX")
db="ro_production_boot_$$"
server="${TEST_DATABASE_SERVER:-postgresql://postgres@127.0.0.1:5432}"
pid=""
cleanup() {
  [ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
  psql "$server/postgres" -qc "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

# Tracked and new (not ignored) files: what a clone of this tree would hold, without node_modules, dist or var.
git ls-files -z --cached --others --exclude-standard | tar --null -T - -cf - | tar -xf - -C "$work"
cd "$work"

npm ci --no-audit --no-fund --loglevel=error
npm run build --silent
npm prune --omit=dev --no-audit --no-fund --loglevel=error
if [ -e node_modules/vitest ] || [ -e node_modules/@swc/core ]; then
  echo "production-boot: npm prune left devDependencies in node_modules" >&2; exit 1
fi

port=$(node -e "const s=require('net').createServer().listen(0,'127.0.0.1',()=>{console.log(s.address().port);s.close()})")
export NODE_ENV=production ROLE=all HOST=127.0.0.1 PORT="$port" \
  DATABASE_URL="$server/$db" QUEUE_PREFIX="ro-production-boot-$$" MAIL_OUTBOX_DIR="$work/var/outbox" LOG_LEVEL=warn
# The runbook's first step; the service and resetctl then read SECRET_ENCRYPTION_KEY and the rest from ./.env.
node dist/src/cli/resetctl.js init --public-url "http://127.0.0.1:$port" --mail-from "CI <ci@example.invalid>" \
  --organisation "CI" --help-desk "+1 555 0100" >/dev/null

node dist/src/main.js >"$work/service.log" 2>&1 &
pid=$!
for _ in $(seq 1 120); do
  if ! kill -0 "$pid" 2>/dev/null; then
    echo "production-boot: the service exited during start-up:" >&2; cat "$work/service.log" >&2; exit 1
  fi
  status=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/health" || true)
  [ "$status" = 200 ] && break
  sleep 0.5
done
if [ "$status" != 200 ]; then
  echo "production-boot: /health did not answer 200 within 60 s:" >&2; cat "$work/service.log" >&2; exit 1
fi

node dist/src/cli/resetctl.js db migrate >/dev/null
node dist/src/cli/resetctl.js operators list >/dev/null

kill -TERM "$pid"
code=0; wait "$pid" || code=$?
pid=""
# Nest's shutdown hooks close the application, then re-raise SIGTERM: 143 is a clean stop.
if [ "$code" != 0 ] && [ "$code" != 143 ]; then
  echo "production-boot: the service did not stop cleanly ($code):" >&2; cat "$work/service.log" >&2; exit 1
fi
echo "production-boot: npm ci, build, prune --omit=dev, resetctl init, boot, /health 200, resetctl: ok"
