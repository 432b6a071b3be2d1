#!/usr/bin/env bash
# Downloads models into the shared model cache, pinned by revision, so jobs load them from the
# read-only mount instead of the network. Run on the GPU host as root by an admin; gated models
# (such as the base model) need the admin's Hugging Face token in HF_TOKEN, which is handed to
# this one download container by name and never stored. See docs/runner.md.
#
#   HF_TOKEN=... prefetch-models.sh --challenge challenge.yaml        the challenge's base model
#   prefetch-models.sh google/gemma-4-E4B-it@<40-hex revision> ...    any model, by revision
#
# Settings (environment, as for launch.sh): ARENA_RUNNER_IMAGE, ARENA_MODEL_CACHE_DIR,
# ARENA_JOB_NETWORK, ARENA_PROXY_URL.
set -euo pipefail

die() { printf 'prefetch-models.sh: %s\n' "$*" >&2; exit 2; }
say() { printf 'prefetch-models.sh: %s\n' "$*"; }

image=${ARENA_RUNNER_IMAGE:?set ARENA_RUNNER_IMAGE to the runner image}
models=${ARENA_MODEL_CACHE_DIR:?set ARENA_MODEL_CACHE_DIR to the shared model cache}
network=${ARENA_JOB_NETWORK:-arena-jobs}
proxy=${ARENA_PROXY_URL:-http://arena-egress-proxy:3128}

specs=()
while [ $# -gt 0 ]; do
  case $1 in
    --challenge)
      [ -f "${2:-}" ] || die "--challenge needs the path of challenge.yaml"
      challenge=$(cd "$(dirname "$2")" && pwd)/$(basename "$2")
      # The image's Python reads the file (mounted read-only); the host needs no YAML parser.
      spec=$(docker run --rm --network none \
        --mount "type=bind,source=$challenge,target=/tmp/challenge.yaml,readonly" \
        "$image" python -c 'import yaml; b = yaml.safe_load(open("/tmp/challenge.yaml"))["base_model"]; print(b["id"] + "@" + b["revision"])')
      specs+=("$spec")
      shift 2 ;;
    -h | --help) sed -n '2,13s/^# \{0,1\}//p' "$0"; exit 2 ;;
    -*) die "unknown option $1 (see --help)" ;;
    *) specs+=("$1"); shift ;;
  esac
done
[ "${#specs[@]}" -gt 0 ] || die "name at least one MODEL@REVISION or --challenge FILE"
mkdir -p "$models/hub"

for spec in "${specs[@]}"; do
  id=${spec%@*} revision=${spec##*@}
  [[ "$spec" == *@* ]] || die "$spec: write MODEL@REVISION with the full commit SHA"
  [[ "$revision" =~ ^[0-9a-f]{40}$ ]] || die "$spec: the revision must be a full 40-digit commit SHA"
  [[ "$id" =~ ^[A-Za-z0-9][A-Za-z0-9._-]*/[A-Za-z0-9][A-Za-z0-9._-]*$ ]] || die "$spec: not a Hub model id"
  say "fetching $id at $revision"
  docker run --rm --user 0 --network "$network" \
    --env "HTTPS_PROXY=$proxy" --env "https_proxy=$proxy" --env HF_TOKEN \
    --env HF_HUB_DISABLE_TELEMETRY=1 \
    --mount "type=bind,source=$models,target=/srv/arena/models" \
    "$image" hf download "$id" --revision "$revision" --cache-dir /srv/arena/models/hub
  snapshot="$models/hub/models--${id//\//--}/snapshots/$revision"
  [ -d "$snapshot" ] || die "$id: no snapshot at $snapshot after the download"
  say "ok: $snapshot"
done
# Jobs read the cache as uid 1001 through a read-only mount.
chmod -R a+rX "$models"
