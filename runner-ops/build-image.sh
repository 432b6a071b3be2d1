#!/usr/bin/env bash
# Builds the GPU runner image (runner-ops/image/Dockerfile) from the repository root and prints
# its image ID, which launch.sh's ARENA_RUNNER_IMAGE and ARC's values should name. Needs the
# runner release's version and the SHA-256 of actions-runner-linux-x64-<version>.tar.gz, from
# the "SHA-256 Checksums" section of https://github.com/actions/runner/releases. See docs/runner.md.
#
#   build-image.sh --runner-version 2.336.0 --runner-sha256 <64 hex> [--base IMAGE] [--tag TAG]
set -euo pipefail

die() { printf 'build-image.sh: %s\n' "$*" >&2; exit 2; }
root=$(cd "$(dirname "$0")/.." && pwd)
version="" sha="" base="" tag="arena-runner:$(date -u +%Y%m%d)"
while [ $# -gt 0 ]; do
  case $1 in
    --runner-version) version=${2:-}; shift 2 ;;
    --runner-sha256) sha=${2:-}; shift 2 ;;
    --base) base=${2:-}; shift 2 ;;
    --tag) tag=${2:-}; shift 2 ;;
    -h | --help) sed -n '2,8s/^# \{0,1\}//p' "$0"; exit 2 ;;
    *) die "unknown argument $1 (see --help)" ;;
  esac
done
[[ "$version" =~ ^[0-9]+\.[0-9]+\.[0-9]+$ ]] || die "--runner-version X.Y.Z is required"
[[ "$sha" =~ ^[0-9a-f]{64}$ ]] || die "--runner-sha256 must be the 64-hex checksum from the release notes"

args=(--file "$root/runner-ops/image/Dockerfile" --tag "$tag"
      --build-arg "RUNNER_VERSION=$version" --build-arg "RUNNER_SHA256=$sha")
[ -z "$base" ] || args+=(--build-arg "BASE_IMAGE=$base")
DOCKER_BUILDKIT=1 docker build "${args[@]}" "$root"
echo "built $tag: $(docker image inspect --format '{{.Id}}' "$tag")"
