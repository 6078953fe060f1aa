#!/usr/bin/env bash
# Runs the Dockerfile's steps without a Docker engine: the build stage's commands in a clean copy of
# the repository, then the runtime stage's files alone, served as in the image, with its healthcheck.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
trap 'kill $server 2>/dev/null || true; rm -rf "$work"' EXIT
server=

echo "== build stage in $work/build"
mkdir -p "$work/build"
cd "$repo"
git ls-files -z | grep -zv '^\.git' | xargs -0 -I{} cp --parents {} "$work/build/"
cd "$work/build"
npm ci --ignore-scripts --no-audit --no-fund
npm rebuild better-sqlite3
npm run build
node dist/src/cli.js ingest cache/samples/tau-bench/calls.jsonl --db cache/toolsim.db
npm prune --omit=dev --ignore-scripts

echo "== runtime stage in $work/app (only what the Dockerfile copies)"
mkdir -p "$work/app/dist"
cp -r package.json node_modules openapi cache "$work/app/"
cp -r dist/src "$work/app/dist/src"
cd "$work/app"
port=$((20000 + RANDOM % 20000))
NODE_ENV=production TOOLSIM_DB="$work/app/cache/toolsim.db" TOOLSIM_HOST=127.0.0.1 TOOLSIM_PORT=$port \
  node dist/src/cli.js serve > "$work/serve.log" 2>&1 &
server=$!
for _ in $(seq 1 50); do curl -fs "http://127.0.0.1:$port/healthz" >/dev/null 2>&1 && break; sleep 0.2; done
TOOLSIM_PORT=$port node -e "fetch('http://127.0.0.1:' + (process.env.TOOLSIM_PORT || 8080) + '/healthz').then(r => process.exit(r.ok ? 0 : 1), () => process.exit(1))"
echo "healthcheck: ok"
curl -fs "http://127.0.0.1:$port/v1/call" -H 'content-type: application/json' \
  -d '{"tool": "find_user_id_by_name_zip", "arguments": {"first_name": "Yusuf", "last_name": "Rossi", "zip": "19122"}}' | tee /dev/stderr | grep -q '"tier":"exact"'
echo
echo "dockerfile steps: ok"
