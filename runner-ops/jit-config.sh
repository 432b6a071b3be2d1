#!/usr/bin/env bash
# Creates just-in-time runner configurations for the GPU host. Run by a repository (or
# organization) admin on their own machine, with their own `gh auth login` session: no
# long-lived token ever goes to the GPU host, only these single-use configurations. Each one
# registers one ephemeral runner that takes one job; GitHub removes it if it has not connected
# within a day, so make only what the host will use by then.
#
#   jit-config.sh --repo OWNER/REPO [--label a10g] [--count 5] --out DIR
#   jit-config.sh --repo OWNER/REPO [--label a10g] [--count 5] --ship ROOT@GPU-HOST
#   jit-config.sh --org ORG --group-id ID ...   (an organization runner group; see docs/runner.md)
#
# --out writes DIR/<runner-name>.jit (mode 0600); --ship streams each one over ssh straight into
# the host's spool (/var/lib/arena-runner/jit/new), so it never touches this machine's disk.
set -euo pipefail

usage() { sed -n '2,14s/^# \{0,1\}//p' "$0"; exit 2; }
die() { printf 'jit-config.sh: %s\n' "$*" >&2; exit 2; }

repo="" org="" group_id="" label="a10g" count=5 out="" ship="" prefix="arena"
spool=/var/lib/arena-runner/jit/new
while [ $# -gt 0 ]; do
  case $1 in
    --repo) repo=${2:-}; shift 2 ;;
    --org) org=${2:-}; shift 2 ;;
    --group-id) group_id=${2:-}; shift 2 ;;
    --label) label=${2:-}; shift 2 ;;
    --count) count=${2:-}; shift 2 ;;
    --out) out=${2:-}; shift 2 ;;
    --ship) ship=${2:-}; shift 2 ;;
    --prefix) prefix=${2:-}; shift 2 ;;
    -h | --help) usage ;;
    *) die "unknown argument $1 (see --help)" ;;
  esac
done

if [ -n "$repo" ] && [ -z "$org" ]; then
  [[ "$repo" =~ ^[A-Za-z0-9-]+/[A-Za-z0-9._-]+$ ]] || die "--repo must be OWNER/REPO"
  endpoint="repos/$repo/actions/runners/generate-jitconfig"
  # Repository runners belong to the repository's one runner group, "Default" (id 1).
  group_id=${group_id:-1}
elif [ -n "$org" ] && [ -z "$repo" ]; then
  [ -n "$group_id" ] || die "--org needs --group-id: the runner group limited to this repository and bench.yml"
  endpoint="orgs/$org/actions/runners/generate-jitconfig"
else
  die "give exactly one of --repo OWNER/REPO or --org ORG"
fi
[[ "$group_id" =~ ^[0-9]+$ ]] || die "--group-id must be a number"
[[ "$count" =~ ^[1-9][0-9]?$ ]] || die "--count must be between 1 and 99"
[[ "$label" =~ ^[a-z0-9][a-z0-9._-]{0,39}$ ]] || die "--label must be challenge.yaml's hardware label"
[[ "$prefix" =~ ^[A-Za-z0-9-]{1,20}$ ]] || die "--prefix must be letters, digits and dashes"
if [ -n "$out" ] && [ -n "$ship" ]; then die "give --out DIR or --ship HOST, not both"; fi
if [ -z "$out" ] && [ -z "$ship" ]; then die "give --out DIR or --ship HOST"; fi
command -v gh >/dev/null || die "needs the GitHub CLI (gh), logged in as an admin of the repository"

umask 077
[ -z "$out" ] || mkdir -p "$out"
stamp=$(date -u +%Y%m%dT%H%M%SZ)
for i in $(seq "$count"); do
  name="$prefix-$label-$stamp-$i"
  config=$(gh api --method POST "$endpoint" \
    -f "name=$name" -F "runner_group_id=$group_id" -f "work_folder=_work" \
    -f "labels[]=self-hosted" -f "labels[]=Linux" -f "labels[]=X64" -f "labels[]=$label" \
    --jq .encoded_jit_config)
  [ -n "$config" ] || die "GitHub returned no configuration for $name"
  if [ -n "$out" ]; then
    printf '%s' "$config" >"$out/$name.jit.part"
    mv "$out/$name.jit.part" "$out/$name.jit"
    echo "wrote $out/$name.jit"
  else
    # The remote side writes under a temporary name and renames, so the launcher never reads
    # half a file.
    # shellcheck disable=SC2029  # the spool path and runner name expand here on purpose (both checked above)
    printf '%s' "$config" | ssh "$ship" \
      "umask 077 && cat > '$spool/$name.jit.part' && mv '$spool/$name.jit.part' '$spool/$name.jit'"
    echo "shipped $name to $ship:$spool"
  fi
done
echo "registered $count runner(s) with labels self-hosted, Linux, X64, $label"
