#!/usr/bin/env bash
# Creates just-in-time runner configurations for the GPU host. Run by a repository (or
# organization) admin on their own machine, with their own `gh auth login` session: no
# long-lived token ever goes to the GPU host, only these single-use configurations. Each one
# registers one ephemeral runner that takes one job; GitHub removes it if it has not connected
# within a day, so make only what the host will use by then.
#
#   jit-config.sh --org ORG --for ORG/REPO [--group arena-gpu] [--branch main] [--label a10g]
#                 [--count 5] (--out DIR | --ship ROOT@GPU-HOST)
#   jit-config.sh --repo OWNER/REPO ...   a repository-level runner: for a PRIVATE test
#                                         repository only; refused for a public one
#
# The default, and the only way for a public repository, is an organisation runner group
# (default name arena-gpu) limited to the one workflow that may use the GPU: before registering
# anything it checks, through the API, that the group is limited to selected repositories
# (ORG/REPO alone) and to selected workflows (ORG/REPO/.github/workflows/bench.yml@refs/heads/
# BRANCH alone). A repository-level runner takes jobs from any workflow of its repository,
# a pull request's own included. --group-id ID names the group by id instead of by name.
#
# --out writes DIR/<runner-name>.jit (mode 0600); --ship streams each one over ssh straight into
# the host's spool (/var/lib/arena-runner/jit/new), so it never touches this machine's disk.
set -euo pipefail

usage() { sed -n '2,25s/^# \{0,1\}//p' "$0"; exit 2; }
die() { printf 'jit-config.sh: %s\n' "$*" >&2; exit 2; }

repo="" org="" for="" group="arena-gpu" group_id="" branch="main" label="a10g" count=5 out="" ship=""
prefix="arena" spool=/var/lib/arena-runner/jit/new
while [ $# -gt 0 ]; do
  case $1 in
    --repo) repo=${2:-}; shift 2 ;;
    --org) org=${2:-}; shift 2 ;;
    --for) for=${2:-}; shift 2 ;;
    --group) group=${2:-}; shift 2 ;;
    --group-id) group_id=${2:-}; shift 2 ;;
    --branch) branch=${2:-}; shift 2 ;;
    --label) label=${2:-}; shift 2 ;;
    --count) count=${2:-}; shift 2 ;;
    --out) out=${2:-}; shift 2 ;;
    --ship) ship=${2:-}; shift 2 ;;
    --prefix) prefix=${2:-}; shift 2 ;;
    -h | --help) usage ;;
    *) die "unknown argument $1 (see --help)" ;;
  esac
done

[[ "$count" =~ ^[1-9][0-9]?$ ]] || die "--count must be between 1 and 99"
[[ "$label" =~ ^[a-z0-9][a-z0-9._-]{0,39}$ ]] || die "--label must be challenge.yaml's hardware label"
[[ "$prefix" =~ ^[A-Za-z0-9-]{1,20}$ ]] || die "--prefix must be letters, digits and dashes"
[[ "$branch" =~ ^[A-Za-z0-9._/-]+$ ]] || die "--branch must be the default branch's name"
if [ -n "$out" ] && [ -n "$ship" ]; then die "give --out DIR or --ship HOST, not both"; fi
if [ -z "$out" ] && [ -z "$ship" ]; then die "give --out DIR or --ship HOST"; fi

if [ -n "$org" ] && [ -z "$repo" ]; then
  [[ "$org" =~ ^[A-Za-z0-9-]+$ ]] || die "--org must be an organisation's login"
  [[ "$for" =~ ^[A-Za-z0-9-]+/[A-Za-z0-9._-]+$ ]] || die "--org needs --for ORG/REPO: the repository whose bench.yml the runners serve"
  [ "${for%%/*}" = "$org" ] || die "--for $for is not a repository of $org"
  [[ "$group" =~ ^[A-Za-z0-9._\ -]+$ ]] || die "--group must be a runner group's name"
  command -v gh >/dev/null || die "needs the GitHub CLI (gh), logged in as an owner of $org"
  if [ -z "$group_id" ]; then
    group_id=$(gh api "orgs/$org/actions/runner-groups?per_page=100" \
      --jq ".runner_groups[] | select(.name == \"$group\") | .id")
    [ -n "$group_id" ] || die "$org has no runner group named '$group'; create it (docs/runner.md, \"Runners\")"
  fi
  [[ "$group_id" =~ ^[0-9]+$ ]] || die "--group-id must be a number"
  workflow="$for/.github/workflows/bench.yml@refs/heads/$branch"
  IFS=$'\t' read -r visibility restricted workflows < <(gh api "orgs/$org/actions/runner-groups/$group_id" \
    --jq '[.visibility, .restricted_to_workflows, (.selected_workflows // [] | join(" "))] | @tsv')
  repos=$(gh api "orgs/$org/actions/runner-groups/$group_id/repositories?per_page=100" \
    --jq '[.repositories[].full_name] | join(" ")')
  [ "$visibility" = selected ] && [ "$repos" = "$for" ] ||
    die "runner group $group_id is open to ${repos:-all repositories} ($visibility); limit its repository access to $for alone"
  [ "$restricted" = true ] && [ "$workflows" = "$workflow" ] ||
    die "runner group $group_id runs ${workflows:-any workflow} (restricted_to_workflows: $restricted); limit it to the selected workflow $workflow alone"
  echo "runner group $group_id: repository $for only, workflow $workflow only"
  endpoint="orgs/$org/actions/runners/generate-jitconfig"
elif [ -n "$repo" ] && [ -z "$org" ]; then
  [[ "$repo" =~ ^[A-Za-z0-9-]+/[A-Za-z0-9._-]+$ ]] || die "--repo must be OWNER/REPO"
  command -v gh >/dev/null || die "needs the GitHub CLI (gh), logged in as an admin of the repository"
  # A repository-level runner cannot be limited to one workflow: any workflow of the repository,
  # a pull request's own included, could send it jobs. Only a private test repository may.
  visibility=$(gh api "repos/$repo" --jq .visibility)
  [ "$visibility" = private ] ||
    die "$repo is $visibility: a repository-level runner takes any workflow's jobs, a pull request's own included. Use an organisation runner group limited to bench.yml (--org ORG --for $repo; docs/runner.md); --repo is for private test repositories only"
  endpoint="repos/$repo/actions/runners/generate-jitconfig"
  # Repository runners belong to the repository's one runner group, "Default" (id 1).
  group_id=${group_id:-1}
else
  die "give --org ORG --for ORG/REPO (an organisation runner group limited to bench.yml), or --repo OWNER/REPO for a private test repository"
fi
[[ "$group_id" =~ ^[0-9]+$ ]] || die "--group-id must be a number"

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
