#!/usr/bin/env bash
# Runs the arena GPU runner on one GPU of this host: takes one just-in-time runner configuration
# from the spool, starts a fresh container with it (one job, then the container is removed), and
# repeats. Run it as root from systemd (runner-ops/systemd/arena-runner@.service), one instance
# per GPU. See docs/runner.md.
#
#   launch.sh --gpu INDEX [--once]
#
# Settings come from the environment (the unit's EnvironmentFile, /etc/arena-runner/runner.env):
#   ARENA_RUNNER_IMAGE     the image built by build-image.sh, by digest
#   ARENA_PRIVATE_DIR      host folder with the private prompt set (mounted read-only)
#   ARENA_MODEL_CACHE_DIR  host folder of the shared model cache (mounted read-only)
#   ARENA_JIT_SPOOL        spool of just-in-time configurations (default /var/lib/arena-runner/jit)
#   ARENA_JOB_NETWORK      Docker network with no route out (default arena-jobs; egress.sh)
#   ARENA_PROXY_URL        the allowlisting egress proxy (default http://arena-egress-proxy:3128)
#   ARENA_JIT_MAX_AGE_H    configurations older than this are dropped unused (default 20): GitHub
#                          removes a just-in-time runner that has not connected within a day
set -euo pipefail

usage() { sed -n '2,20s/^# \{0,1\}//p' "$0"; exit 2; }
say() { printf '%s arena-runner[gpu %s]: %s\n' "$(date -u +%FT%TZ)" "${gpu:-?}" "$*"; }
die() { printf 'launch.sh: %s\n' "$*" >&2; exit 2; }

gpu="" once=0
while [ $# -gt 0 ]; do
  case $1 in
    --gpu) gpu=${2:-}; shift 2 ;;
    --once) once=1; shift ;;
    -h | --help) usage ;;
    *) die "unknown argument $1 (see --help)" ;;
  esac
done
[[ "$gpu" =~ ^[0-9]+$ ]] || die "--gpu INDEX is required (an index from nvidia-smi -L)"

image=${ARENA_RUNNER_IMAGE:?set ARENA_RUNNER_IMAGE to the runner image, by digest}
private=${ARENA_PRIVATE_DIR:?set ARENA_PRIVATE_DIR to the private prompt folder}
models=${ARENA_MODEL_CACHE_DIR:?set ARENA_MODEL_CACHE_DIR to the shared model cache}
spool=${ARENA_JIT_SPOOL:-/var/lib/arena-runner/jit}
network=${ARENA_JOB_NETWORK:-arena-jobs}
proxy=${ARENA_PROXY_URL:-http://arena-egress-proxy:3128}
max_age_min=$(( ${ARENA_JIT_MAX_AGE_H:-20} * 60 ))

[ -d "$private" ] || die "ARENA_PRIVATE_DIR $private is not a folder"
[ -d "$models" ] || die "ARENA_MODEL_CACHE_DIR $models is not a folder"
mkdir -p "$spool/new" "$spool/claimed" "$spool/expired"
chmod 0700 "$spool" "$spool/new" "$spool/claimed" "$spool/expired"

container="arena-runner-gpu$gpu"
stop() {
  say "stopping"
  docker stop --time 60 "$container" >/dev/null 2>&1 || true
  exit 0
}
trap stop INT TERM

# Moves the oldest usable configuration to claimed/ (a rename, so two launchers never take the
# same one) and prints its path; drops the stale ones on the way.
claim() {
  local f
  find "$spool/new" -maxdepth 1 -name '*.jit' -mmin +"$max_age_min" -exec mv -t "$spool/expired" {} +
  while IFS= read -r f; do
    if mv "$f" "$spool/claimed/gpu$gpu-${f##*/}" 2>/dev/null; then
      printf '%s\n' "$spool/claimed/gpu$gpu-${f##*/}"
      return 0
    fi
  done < <(find "$spool/new" -maxdepth 1 -name '*.jit' -printf '%T@ %p\n' | sort -n | cut -d' ' -f2-)
  return 1
}

run_one() {
  local config=$1 code=0
  say "starting an ephemeral runner with ${config##*/}"
  # The configuration reaches the container through the environment, never the command line
  # (which any local user can read); the runner deletes it from its environment on start.
  ACTIONS_RUNNER_INPUT_JITCONFIG=$(<"$config") docker run --rm --name "$container" \
    --gpus "device=$gpu" \
    --network "$network" \
    --env ACTIONS_RUNNER_INPUT_JITCONFIG \
    --env "HTTPS_PROXY=$proxy" --env "https_proxy=$proxy" \
    --env "HTTP_PROXY=$proxy" --env "http_proxy=$proxy" \
    --mount "type=bind,source=$private,target=/srv/arena/private,readonly" \
    --mount "type=bind,source=$models,target=/srv/arena/models,readonly" \
    --cap-drop ALL --security-opt no-new-privileges:true \
    --pids-limit 8192 --shm-size 16g \
    "$image" || code=$?
  # Single use: whatever happened, this configuration is spent.
  rm -f "$config"
  say "runner exited with status $code"
}

say "serving jobs from $spool/new with $image"
while :; do
  if config=$(claim); then
    run_one "$config"
  elif [ "$once" = 1 ]; then
    say "no just-in-time configuration in $spool/new"
  else
    say "no just-in-time configuration left in $spool/new; an admin adds more with runner-ops/jit-config.sh"
    sleep 300 &
    wait $!
    continue
  fi
  [ "$once" = 1 ] && break
done
