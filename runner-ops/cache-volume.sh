#!/usr/bin/env bash
# The size-limited volume of one GPU's jobs: a file-backed ext4 filesystem of a fixed size,
# loop-mounted on the host and bound into the job container as its model cache (HF_HUB_CACHE)
# and its work folder. A job that downloads a 700 GB "model" or fills its disk stops at the
# volume's size ("No space left on device") instead of filling the host. launch.sh runs
# `reset` before every job: a fresh filesystem, so nothing one job wrote meets the next. Run as
# root. See docs/runner.md.
#
#   cache-volume.sh reset --gpu INDEX     make (or remake) the volume empty, and mount it
#   cache-volume.sh remove --gpu INDEX    unmount it and delete its backing file
#   cache-volume.sh show --gpu INDEX      print its mount point and size
#
# Settings (environment, as in runner.env): ARENA_JOB_VOLUMES (default
# /var/lib/arena-runner/volumes; the backing files and mount points live here, on a disk with
# room for them), ARENA_JOB_DISK_GIB (default 200: the volume's size; the backing file is sparse).
set -euo pipefail

die() { printf 'cache-volume.sh: %s\n' "$*" >&2; exit 2; }

action=${1:-} gpu=""
[ $# -gt 0 ] && shift
while [ $# -gt 0 ]; do
  case $1 in
    --gpu) gpu=${2:-}; shift 2 ;;
    *) die "unknown argument $1 (see --help)" ;;
  esac
done
case $action in
  reset | remove | show) ;;
  *) sed -n '2,17s/^# \{0,1\}//p' "$0"; exit 2 ;;
esac
[[ "$gpu" =~ ^[0-9]+$ ]] || die "--gpu INDEX is required"
root=${ARENA_JOB_VOLUMES:-/var/lib/arena-runner/volumes}
size_gib=${ARENA_JOB_DISK_GIB:-200}
[[ "$size_gib" =~ ^[1-9][0-9]{0,4}$ ]] || die "ARENA_JOB_DISK_GIB must be a whole number of GiB"
file="$root/gpu$gpu.ext4" point="$root/gpu$gpu"

unmount() {
  if mountpoint -q "$point"; then umount "$point"; fi
}

case $action in
  reset)
    mkdir -p "$root" "$point"
    chmod 0700 "$root"
    unmount
    rm -f "$file"
    truncate --size "${size_gib}G" "$file"
    mkfs.ext4 -q -F -m 0 -L "arena-gpu$gpu" -E lazy_itable_init=1,nodiscard "$file"
    mount -o loop,nosuid,nodev "$file" "$point"
    # The job user (uid 1001 in the image) owns the two folders the container sees.
    mkdir -p "$point/hf-cache" "$point/work"
    chown 1001:1001 "$point/hf-cache" "$point/work"
    chmod 0700 "$point/hf-cache" "$point/work"
    printf 'cache-volume.sh: %s is an empty %s GiB volume (hf-cache, work)\n' "$point" "$size_gib"
    ;;
  remove)
    unmount
    rm -f "$file"
    rmdir "$point" 2>/dev/null || true
    printf 'cache-volume.sh: removed %s\n' "$point"
    ;;
  show)
    mountpoint -q "$point" || die "$point is not mounted; run: cache-volume.sh reset --gpu $gpu"
    df -h --output=target,size,used,avail "$point"
    ;;
esac
