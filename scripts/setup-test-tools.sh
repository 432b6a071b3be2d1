#!/usr/bin/env bash
# Test tools outside Python: headless Chromium (Debian's package) for the site tests, and
# GitHub's official REST description and webhook examples (npm) for the bot tests.
set -euo pipefail
cd "$(dirname "$0")/.."
say() { printf '==> %s\n' "$*"; }

if ! command -v chromium >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    say "installing Chromium (Debian package) for the browser tests"
    DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium fonts-liberation >/dev/null
  else
    echo "Chromium is missing: install Debian's chromium package (sudo apt-get install chromium)." >&2
    exit 2
  fi
fi

if [ -f package.json ]; then
  if [ ! -f node_modules/.arena-installed ] || [ package-lock.json -nt node_modules/.arena-installed ]; then
    say "installing GitHub's REST description and webhook examples (npm)"
    npm ci --no-audit --no-fund --loglevel=error >/dev/null
    touch node_modules/.arena-installed
  fi
fi
