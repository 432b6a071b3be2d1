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
#   ARENA_REPOSITORY       OWNER/REPO whose bench.yml alone this runner serves (the job policy)
#   ARENA_DEFAULT_BRANCH   that repository's default branch (default main)
#   ARENA_REPOSITORY_ID    its numeric id (optional; pins the policy to this very repository)
#   ARENA_MODEL_CACHE_DIR  host folder of the shared model cache (mounted read-only)
#   ARENA_RELEASE_DIR      folder of the private prompt release socket (default
#                          /run/arena-release; arena-private-release.service). The private set
#                          itself is never mounted: the bench job receives it against its token.
#   ARENA_JIT_SPOOL        spool of just-in-time configurations (default /var/lib/arena-runner/jit)
#   ARENA_JOB_NETWORK      Docker network with no route out (default arena-jobs; egress.sh)
#   ARENA_PROXY_URL        the allowlisting egress proxy (default http://arena-egress-proxy:3128)
#   ARENA_JOB_MEMORY       the job container's memory limit, swap included (default 56g)
#   ARENA_JOB_CPUS         its CPU limit (default: none)
#   ARENA_JOB_DISK_GIB     the size of its volume (model cache and work folder; default 200),
#                          remade empty before each job by cache-volume.sh
#   ARENA_JOB_VOLUMES      where those volumes live (default /var/lib/arena-runner/volumes)
#   ARENA_APPARMOR_PROFILE the job's AppArmor profile (default arena-job: apparmor/arena-job)
#   ARENA_JIT_MAX_AGE_H    configurations older than this are dropped unused (default 20): GitHub
#                          removes a just-in-time runner that has not connected within a day
set -euo pipefail

usage() { sed -n '2,30s/^# \{0,1\}//p' "$0"; exit 2; }
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

here=$(cd "$(dirname "$0")" && pwd)
image=${ARENA_RUNNER_IMAGE:?set ARENA_RUNNER_IMAGE to the runner image, by digest}
repository=${ARENA_REPOSITORY:?set ARENA_REPOSITORY to OWNER/REPO, the repository whose bench.yml this runner serves}
branch=${ARENA_DEFAULT_BRANCH:-main}
repository_id=${ARENA_REPOSITORY_ID:-}
models=${ARENA_MODEL_CACHE_DIR:?set ARENA_MODEL_CACHE_DIR to the shared model cache}
release=${ARENA_RELEASE_DIR:-/run/arena-release}
spool=${ARENA_JIT_SPOOL:-/var/lib/arena-runner/jit}
network=${ARENA_JOB_NETWORK:-arena-jobs}
proxy=${ARENA_PROXY_URL:-http://arena-egress-proxy:3128}
memory=${ARENA_JOB_MEMORY:-56g}
cpus=${ARENA_JOB_CPUS:-}
volumes=${ARENA_JOB_VOLUMES:-/var/lib/arena-runner/volumes}
apparmor=${ARENA_APPARMOR_PROFILE:-arena-job}
max_age_min=$(( ${ARENA_JIT_MAX_AGE_H:-20} * 60 ))

[[ "$repository" =~ ^[A-Za-z0-9-]+/[A-Za-z0-9._-]+$ ]] || die "ARENA_REPOSITORY must be OWNER/REPO"
[[ "$branch" =~ ^[A-Za-z0-9._/-]+$ ]] || die "ARENA_DEFAULT_BRANCH must be a branch name"
[ -z "$repository_id" ] || [[ "$repository_id" =~ ^[0-9]+$ ]] || die "ARENA_REPOSITORY_ID must be a number"
[[ "$memory" =~ ^[1-9][0-9]*[mg]$ ]] || die "ARENA_JOB_MEMORY must be like 56g or 60000m"
[ -z "$cpus" ] || [[ "$cpus" =~ ^[1-9][0-9]*(\.[0-9]+)?$ ]] || die "ARENA_JOB_CPUS must be a number"
[[ "$apparmor" =~ ^[A-Za-z0-9._-]+$ ]] || die "ARENA_APPARMOR_PROFILE must be a profile name"
[ -d "$models" ] || die "ARENA_MODEL_CACHE_DIR $models is not a folder"
[ -S "$release/private.sock" ] ||
  die "no release socket at $release/private.sock; start it: systemctl enable --now arena-private-release"
[ -f "$here/seccomp/arena-job.json" ] || die "the seccomp profile $here/seccomp/arena-job.json is missing"
mkdir -p "$spool/new" "$spool/claimed" "$spool/expired"
chmod 0700 "$spool" "$spool/new" "$spool/claimed" "$spool/expired"

# The job policy the job-started hook judges every job by, mounted read-only: which repository's
# bench.yml, on which branch. It is written here, from runner.env, never by a job.
policy_dir="$spool/policy"
mkdir -p "$policy_dir"
chmod 0755 "$policy_dir"
policy="$policy_dir/gpu$gpu"
{
  printf 'repository=%s\n' "$repository"
  printf 'default_branch=%s\n' "$branch"
  [ -z "$repository_id" ] || printf 'repository_id=%s\n' "$repository_id"
} >"$policy.part"
chmod 0644 "$policy.part"
mv "$policy.part" "$policy"

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
  local config=$1 code=0 limits=()
  say "starting an ephemeral runner with ${config##*/}"
  # A fresh, empty, size-limited volume for this job's model downloads and work folder.
  ARENA_JOB_VOLUMES=$volumes bash "$here/cache-volume.sh" reset --gpu "$gpu"
  [ -z "$cpus" ] || limits+=(--cpus "$cpus")
  # The configuration reaches the container through the environment, never the command line
  # (which any local user can read); the runner deletes it from its environment on start.
  # What bubblewrap needs for the engine sandbox (docs/runner.md): a seccomp profile that allows
  # namespaces and mounts inside them, an AppArmor profile that allows user namespaces, and an
  # unmasked /proc (a new procfs can only be mounted where the old one is fully visible). The job
  # user stays uid 1001 without capabilities, so none of it reaches beyond the container.
  ACTIONS_RUNNER_INPUT_JITCONFIG=$(<"$config") docker run --rm --name "$container" \
    --gpus "device=$gpu" \
    --network "$network" \
    --env ACTIONS_RUNNER_INPUT_JITCONFIG \
    --env "HTTPS_PROXY=$proxy" --env "https_proxy=$proxy" \
    --env "HTTP_PROXY=$proxy" --env "http_proxy=$proxy" \
    --mount "type=bind,source=$policy,target=/etc/arena/job-policy,readonly" \
    --mount "type=bind,source=$release,target=/run/arena-release,readonly" \
    --tmpfs "/srv/arena/private:rw,nosuid,nodev,noexec,size=512m,uid=1001,gid=1001,mode=0700" \
    --mount "type=bind,source=$models,target=/srv/arena/models,readonly" \
    --mount "type=bind,source=$volumes/gpu$gpu/hf-cache,target=/home/runner/hf-cache" \
    --mount "type=bind,source=$volumes/gpu$gpu/work,target=/home/runner/_work" \
    --cap-drop ALL --security-opt no-new-privileges:true \
    --security-opt "seccomp=$here/seccomp/arena-job.json" \
    --security-opt "apparmor=$apparmor" \
    --security-opt systempaths=unconfined \
    --memory "$memory" --memory-swap "$memory" --oom-score-adj 500 \
    "${limits[@]}" \
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
