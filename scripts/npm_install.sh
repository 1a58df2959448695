#!/usr/bin/env bash
# `npm ci` in every folder of the repo that pins Node packages (official Depot clients and
# Connect reference peers). Quiet and quick when node_modules is already up to date.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v npm >/dev/null || { echo "npm is missing: apt-get install -y nodejs npm" >&2; exit 1; }
for lock in $(git ls-files '*package-lock.json' 2>/dev/null || find . -name package-lock.json -not -path '*/node_modules/*'); do
  dir=$(dirname "$lock")
  stamp="$dir/node_modules/.lock-$(cksum < "$lock" | cut -d' ' -f1)"
  [ -f "$stamp" ] && continue
  (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
  touch "$stamp"
done
