#!/usr/bin/env bash
# Checks a GPU host before it serves arena jobs: the driver and CUDA, Docker and GPU
# passthrough, the private prompt folder, the shared model cache and the job network. Prints one
# line per check ("ok" or "FAIL ... fix: ...") and exits 1 if anything failed. Safe to run any
# time; it changes nothing. See docs/runner.md.
#
#   check-host.sh [--gpu-name A10G] [--min-driver 580] [--image IMAGE]
#
# Paths come from the environment as for launch.sh: ARENA_REPOSITORY, ARENA_PRIVATE_DIR,
# ARENA_MODEL_CACHE_DIR, ARENA_RELEASE_DIR (default /run/arena-release), ARENA_JOB_NETWORK
# (default arena-jobs). --image also runs nvidia-smi inside that image, and the engine sandbox's
# self-check in a container started exactly as launch.sh starts a job's.
set -euo pipefail

gpu_name=A10G min_driver=580 image=""
while [ $# -gt 0 ]; do
  case $1 in
    --gpu-name) gpu_name=${2:-}; shift 2 ;;
    --min-driver) min_driver=${2:-}; shift 2 ;;
    --image) image=${2:-}; shift 2 ;;
    -h | --help) sed -n '2,12s/^# \{0,1\}//p' "$0"; exit 2 ;;
    *) printf 'check-host.sh: unknown argument %s\n' "$1" >&2; exit 2 ;;
  esac
done

failed=0
ok() { printf 'ok    %s\n' "$*"; }
bad() { printf 'FAIL  %s\n' "$*"; failed=1; }

# Driver and GPUs. vLLM's wheels use CUDA 13, which needs driver 580 or newer.
if ! command -v nvidia-smi >/dev/null; then
  bad "nvidia-smi not found. fix: install the NVIDIA driver (>= $min_driver) for this GPU"
else
  gpus=$(nvidia-smi --query-gpu=index,name,driver_version,memory.total --format=csv,noheader 2>&1) ||
    bad "nvidia-smi failed: $gpus. fix: reinstall the driver, then reboot"
  while IFS=, read -r index name driver memory; do
    [ -n "${index// /}" ] || continue
    name=${name# } driver=${driver# } memory=${memory# }
    if [[ "$name" != *"$gpu_name"* ]]; then
      bad "GPU $index is $name, not $gpu_name. fix: run this runner's label only on $gpu_name hosts"
    elif [ "${driver%%.*}" -lt "$min_driver" ]; then
      bad "GPU $index: driver $driver is older than $min_driver (CUDA 13). fix: upgrade the driver"
    else
      ok "GPU $index: $name, driver $driver, $memory"
    fi
  done <<<"$gpus"
  cuda=$(nvidia-smi 2>/dev/null | sed -n 's/.*CUDA Version: *\([0-9.]*\).*/\1/p' | head -n1)
  if [ -n "$cuda" ] && [ "${cuda%%.*}" -ge 13 ]; then
    ok "the driver supports CUDA $cuda"
  else
    bad "the driver supports CUDA ${cuda:-unknown}; vLLM's wheels need 13 or newer. fix: upgrade the driver"
  fi
fi

# Docker and the NVIDIA container toolkit.
if ! docker info >/dev/null 2>&1; then
  bad "Docker is not running or not reachable. fix: install Docker Engine and start it"
else
  ok "Docker $(docker version --format '{{.Server.Version}}' 2>/dev/null)"
  if docker info --format '{{json .Runtimes}}' 2>/dev/null | grep -q nvidia || command -v nvidia-ctk >/dev/null; then
    ok "NVIDIA container toolkit present"
  else
    bad "no NVIDIA container runtime. fix: install nvidia-container-toolkit and run nvidia-ctk runtime configure --runtime=docker"
  fi
  if [ -n "$image" ]; then
    if out=$(docker run --rm --gpus all --network none "$image" nvidia-smi -L 2>&1); then
      ok "GPU passthrough into $image: $(printf '%s' "$out" | head -n1)"
    else
      bad "GPU passthrough into $image failed: $(printf '%s' "$out" | tail -n1)"
    fi
    # The engine sandbox inside a job container: launch.sh's security options, GPU 0.
    here=$(cd "$(dirname "$0")" && pwd)
    if out=$(docker run --rm --gpus device=0 --network none --cap-drop ALL \
        --security-opt no-new-privileges:true --security-opt "seccomp=$here/seccomp/arena-job.json" \
        --security-opt "apparmor=${ARENA_APPARMOR_PROFILE:-arena-job}" --security-opt systempaths=unconfined \
        "$image" python -m runner.sandbox --self-check 2>&1); then
      ok "engine sandbox in a job container: $(printf '%s' "$out" | tail -n1)"
    else
      bad "the engine sandbox cannot start in a job container: $(printf '%s' "$out" | tail -n1). fix: docs/runner.md, \"The engine sandbox on the GPU host\""
    fi
  fi
  network=${ARENA_JOB_NETWORK:-arena-jobs}
  if [ "$(docker network inspect --format '{{.Internal}}' "$network" 2>/dev/null)" = true ]; then
    ok "job network $network has no route out"
  else
    bad "job network $network is missing or not internal. fix: runner-ops/egress.sh up"
  fi
fi

# What bubblewrap needs from the kernel: user namespaces, and the AppArmor profile the launcher
# names where Ubuntu restricts them (kernel.apparmor_restrict_unprivileged_userns).
userns=$(sysctl -n user.max_user_namespaces 2>/dev/null || echo 0)
if [ "${userns:-0}" -gt 0 ]; then
  ok "user namespaces enabled (user.max_user_namespaces=$userns)"
else
  bad "user namespaces are off (user.max_user_namespaces=${userns:-0}); the engine sandbox needs them. fix: sysctl -w user.max_user_namespaces=15000 (and in /etc/sysctl.d)"
fi
profiles=${ARENA_CHECK_APPARMOR_PROFILES:-/sys/kernel/security/apparmor/profiles}
if [ -r "$profiles" ]; then
  if grep -q "^${ARENA_APPARMOR_PROFILE:-arena-job} " "$profiles"; then
    ok "AppArmor profile ${ARENA_APPARMOR_PROFILE:-arena-job} loaded"
  else
    bad "AppArmor profile ${ARENA_APPARMOR_PROFILE:-arena-job} is not loaded; job containers cannot start. fix: apparmor_parser -r -W runner-ops/apparmor/arena-job"
  fi
else
  ok "AppArmor is not enabled on this host (no profile needed)"
fi

# Which repository's bench.yml the runner serves, and the service that releases the private set.
if [[ "${ARENA_REPOSITORY:-}" =~ ^[A-Za-z0-9-]+/[A-Za-z0-9._-]+$ ]]; then
  ok "serves bench.yml of $ARENA_REPOSITORY on ${ARENA_DEFAULT_BRANCH:-main} only"
else
  bad "ARENA_REPOSITORY is '${ARENA_REPOSITORY:-}', not OWNER/REPO. fix: set it in /etc/arena-runner/runner.env"
fi
release=${ARENA_RELEASE_DIR:-/run/arena-release}/private.sock
if [ -S "$release" ]; then
  ok "private prompt release service listening on $release"
else
  bad "no private prompt release service at $release. fix: systemctl enable --now arena-private-release"
fi

# The private prompt set: present, readable by root (the release service) and group 1001 (as
# docs/runner.md sets it up), hidden from others. It is never mounted into a job.
private=${ARENA_PRIVATE_DIR:-}
if [ -z "$private" ]; then
  bad "ARENA_PRIVATE_DIR is not set. fix: set it in /etc/arena-runner/runner.env"
elif [ ! -d "$private" ]; then
  bad "private prompt folder $private does not exist"
else
  mode=$(stat -c '%a' "$private") group=$(stat -c '%g' "$private")
  if [ $((8#$mode & 8#007)) -ne 0 ]; then
    bad "$private is mode $mode: other users can read it. fix: chmod -R o-rwx $private"
  elif [ "$group" != 1001 ] && [ "$(stat -c '%u' "$private")" != 1001 ]; then
    bad "$private is not readable by the job user (uid 1001). fix: chgrp -R 1001 $private && chmod -R g+rX $private"
  else
    ok "private prompt folder $private ($(find "$private" -type f | wc -l) files, mode $mode)"
  fi
fi

# The shared model cache: present, with room for models.
models=${ARENA_MODEL_CACHE_DIR:-}
if [ -z "$models" ] || [ ! -d "$models" ]; then
  bad "shared model cache ${models:-(ARENA_MODEL_CACHE_DIR unset)} is not a folder"
else
  free_gib=$(( $(df --output=avail -k "$models" | tail -n1) / 1024 / 1024 ))
  if [ "$free_gib" -lt 100 ]; then
    bad "$models has $free_gib GiB free; models need 100 GiB or more. fix: a larger disk"
  else
    ok "shared model cache $models ($free_gib GiB free)"
  fi
fi

exit "$failed"
