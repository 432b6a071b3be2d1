#!/usr/bin/env bash
# Runs before every job on the GPU runner (the runner's ACTIONS_RUNNER_HOOK_JOB_STARTED hook).
# It refuses to start a job on a runner that is not what docs/runner.md sets up, and seeds the
# job's model cache from the shared read-only one. A failure here fails the job before any step,
# with the reason as an error annotation; nothing of the job has run yet.
#
# The ARENA_HOOK_* variables exist for the tests (tests/workflows/test_runner_ops.py); on a runner
# they keep their defaults.
set -euo pipefail

private=${ARENA_PRIVATE_PROMPTS:-/srv/arena/private}
shared=${ARENA_SHARED_MODEL_CACHE:-/srv/arena/models}
cache=${HF_HUB_CACHE:?HF_HUB_CACHE must name the writable model cache of this job}
mountinfo=${ARENA_HOOK_MOUNTINFO:-/proc/self/mountinfo}
routes=${ARENA_HOOK_ROUTES:-/proc/net/route}
# An address no job may reach: the cloud metadata service, which hands out the host's
# credentials on most clouds.
probe=${ARENA_HOOK_PROBE:-169.254.169.254:80}

failures=0
fail() {
  echo "::error title=arena runner check::$*"
  failures=$((failures + 1))
}
say() { printf 'arena runner check: %s\n' "$*"; }

# The mount (from /proc/self/mountinfo) that holds a path: the longest mount point that is a
# prefix of it. Prints "<mount point> <options>".
mount_of() {
  local path=$1 best="" best_opts=""
  local _id _parent _dev _root point opts _rest
  while read -r _id _parent _dev _root point opts _rest; do
    point=${point//\\040/ }
    case "$path/" in
      "$point"/* | "$point"/)
        if [ "${#point}" -ge "${#best}" ]; then best=$point best_opts=$opts; fi ;;
    esac
    if [ "$point" = / ] && [ -z "$best" ]; then best=/ best_opts=$opts; fi
  done <"$mountinfo"
  printf '%s %s\n' "$best" "$best_opts"
}

require_read_only_mount() {
  local what=$1 dir=$2 point opts
  if [ ! -d "$dir" ]; then
    fail "the $what is not mounted at $dir; mount it read-only (docs/runner.md)"
    return
  fi
  read -r point opts < <(mount_of "$dir")
  case ",$opts," in
    *,ro,*) say "$what at $dir: read-only mount $point" ;;
    *) fail "the $what at $dir is on a writable mount ($point, $opts); mount it read-only" ;;
  esac
}

# 1. Exactly one GPU, passed through.
if gpus=$(nvidia-smi --query-gpu=name,driver_version --format=csv,noheader 2>&1); then
  count=$(printf '%s\n' "$gpus" | grep -c .)
  if [ "$count" -eq 1 ]; then
    say "GPU: $gpus"
  else
    fail "expected exactly one GPU, found $count: a measurement owns its whole GPU"
  fi
else
  fail "nvidia-smi failed, so no GPU is passed through: $gpus"
fi

# 2. The private prompt set and the shared model cache: present and read-only.
require_read_only_mount "private prompt set" "$private"
require_read_only_mount "shared model cache" "$shared"

# 3. No credentials: this machine runs configurations from strangers.
for name in HF_TOKEN HUGGING_FACE_HUB_TOKEN GH_TOKEN GITHUB_PAT AWS_ACCESS_KEY_ID \
            AWS_SECRET_ACCESS_KEY GOOGLE_APPLICATION_CREDENTIALS AZURE_CLIENT_SECRET; do
  if [ -n "${!name:-}" ]; then
    fail "$name is set on the runner; it must hold no credentials (docs/runner.md)"
  fi
done

# 4. No route to internal networks. In the launcher's setup the job network has no default
# route at all (everything goes through the allowlisting proxy); under Kubernetes a
# NetworkPolicy filters instead, so probe an address that must stay unreachable.
if awk 'NR > 1 && $2 == "00000000" { found = 1 } END { exit !found }' "$routes"; then
  host=${probe%:*} port=${probe##*:}
  # shellcheck disable=SC2016  # $0 and $1 are the inner shell's arguments, not ours
  if timeout 3 bash -c 'exec 3<>"/dev/tcp/$0/$1"' "$host" "$port" 2>/dev/null; then
    fail "this job can reach $probe; block internal and link-local addresses (docs/runner.md)"
  else
    say "default route present, $probe unreachable"
  fi
else
  say "no default route: outside traffic only through the egress proxy"
fi
if [ -z "${HTTPS_PROXY:-${https_proxy:-}}" ]; then
  fail "HTTPS_PROXY is not set; GitHub and the Hub are reached through the egress proxy"
fi

if [ "$failures" -gt 0 ]; then
  echo "arena runner check: $failures problem(s); this runner must not take jobs until fixed" >&2
  exit 1
fi

# 5. Seed the job's writable model cache with links to the shared one: models pre-fetched by
# revision load from the read-only files, others download next to them, into this container.
mkdir -p "$cache"
if [ -d "$shared/hub" ]; then
  cp -as "$shared/hub/." "$cache/"
  say "model cache $cache linked to $shared/hub ($(find "$shared/hub" -maxdepth 1 -name 'models--*' | wc -l) models)"
else
  say "the shared model cache has no hub/ folder yet; every model will be downloaded"
fi
