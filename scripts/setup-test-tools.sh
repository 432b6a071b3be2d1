#!/usr/bin/env bash
# Test tools outside Python: headless Chromium (Debian's package) for the site tests, Squid for the
# runner's egress-proxy test, and GitHub's official REST description and webhook examples (npm) for the bot tests.
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

# Squid (Debian/Ubuntu package) for the GPU runner's egress-proxy test (tests/workflows): the
# test runs its own instance on a free port, so the system service is switched off again.
if [ ! -x /usr/sbin/squid ] && ! command -v squid >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ]; then
    as_root=()
  elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    as_root=(sudo -n)
  else
    echo "Squid is missing: install Debian's squid package (sudo apt-get install squid)." >&2
    exit 2
  fi
  say "installing Squid (Debian package) for the egress-proxy test"
  "${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null
  "${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends squid >/dev/null
  "${as_root[@]}" systemctl disable --now squid >/dev/null 2>&1 || true
fi

if [ -f package.json ]; then
  if [ ! -f node_modules/.arena-installed ] || [ package-lock.json -nt node_modules/.arena-installed ]; then
    say "installing GitHub's REST description and webhook examples (npm)"
    npm ci --no-audit --no-fund --loglevel=error >/dev/null
    touch node_modules/.arena-installed
  fi
fi
