#!/usr/bin/env bash
# Runs before every job on the GPU runner (the runner's ACTIONS_RUNNER_HOOK_JOB_STARTED hook).
# First it refuses every job that is not the bench job of bench.yml on the default branch,
# started by workflow_dispatch: a pull request's own workflow (or any other) never gets past this
# line. Then it refuses to start a job on a runner that is not what docs/runner.md sets up,
# proves that an engine sandbox can start, and seeds the job's model cache from the shared
# read-only one. A failure here fails the job before any step, with the reason as an error
# annotation; nothing of the job has run yet. The private prompt set is not in this container:
# the bench job receives it later from private-release.py, against its GitHub OIDC token.
#
# The runner runs this as `bash -e job-started.sh`, with no arguments. The ARENA_HOOK_*
# variables (test doubles of /proc and of the trusted paths) are read only when the first
# argument is --test-env, so no job's environment can change what is checked.
set -euo pipefail

# The job the runner serves. bench.yml's job id and path; tests/workflows checks they agree.
bench_workflow=.github/workflows/bench.yml
bench_job=bench

policy=/etc/arena/job-policy
python=/opt/arena/venv/bin/python
mountinfo=/proc/self/mountinfo
routes=/proc/net/route
# An address no job may reach: the cloud metadata service, which hands out the host's
# credentials on most clouds.
probe=169.254.169.254:80
if [ "${1:-}" = --test-env ]; then
  policy=${ARENA_HOOK_POLICY:-$policy}
  python=${ARENA_HOOK_PYTHON:-$python}
  mountinfo=${ARENA_HOOK_MOUNTINFO:-$mountinfo}
  routes=${ARENA_HOOK_ROUTES:-$routes}
  probe=${ARENA_HOOK_PROBE:-$probe}
fi

# Text from the job goes into workflow commands escaped, so that it cannot end the annotation
# or start a command of its own.
escape() {
  local s=${1//'%'/'%25'}
  s=${s//$'\r'/'%0D'}
  s=${s//$'\n'/'%0A'}
  printf '%s' "$s"
}

# 0. Which job is this? Judged from GitHub's default variables, which a workflow cannot
# overwrite (GITHUB_*), against the policy the launcher mounted read-only (repository and
# default branch). Anything unexpected, missing or unreadable refuses the job.
refuse() {
  echo "::error title=arena runner refused this job::$(escape "$*")"
  echo "arena runner check: refused; this runner runs nothing but $bench_job of $bench_workflow" >&2
  exit 1
}
repository="" default_branch="" repository_id=""
if [ ! -r "$policy" ]; then
  refuse "no job policy at $policy (the launcher writes it from runner.env's ARENA_REPOSITORY); refusing every job"
fi
while IFS='=' read -r key value; do
  case $key in
    repository) repository=$value ;;
    default_branch) default_branch=$value ;;
    repository_id) repository_id=$value ;;
    '' | '#'*) ;;
    *) refuse "the job policy $policy has an unknown key: $key" ;;
  esac
done <"$policy"
[[ "$repository" =~ ^[A-Za-z0-9-]+/[A-Za-z0-9._-]+$ ]] ||
  refuse "the job policy $policy names no repository (repository=OWNER/REPO)"
[[ "$default_branch" =~ ^[A-Za-z0-9._/-]+$ ]] ||
  refuse "the job policy $policy names no default branch (default_branch=main)"
[ -z "$repository_id" ] || [[ "$repository_id" =~ ^[0-9]+$ ]] ||
  refuse "the job policy $policy has a repository_id that is not a number"

want_ref="refs/heads/$default_branch"
want_workflow="$repository/$bench_workflow@$want_ref"
job_repository=${GITHUB_REPOSITORY:-} job_event=${GITHUB_EVENT_NAME:-} job_ref=${GITHUB_REF:-}
job_workflow=${GITHUB_WORKFLOW_REF:-} job_id=${GITHUB_JOB:-}
this_job="job '$job_id' of '$job_workflow' (event '$job_event', ref '$job_ref', repository '$job_repository')"
only="this runner serves only job '$bench_job' of $want_workflow started by workflow_dispatch"
# Owner and repository names are case-insensitive on GitHub; paths, refs and job ids are not.
[ "${job_repository,,}" = "${repository,,}" ] || refuse "$only; refused $this_job: another repository"
[ -z "$repository_id" ] || [ "${GITHUB_REPOSITORY_ID:-}" = "$repository_id" ] ||
  refuse "$only; refused $this_job: repository id '${GITHUB_REPOSITORY_ID:-}' is not $repository_id"
[ "$job_event" = workflow_dispatch ] || refuse "$only; refused $this_job: started by '$job_event'"
if [ -n "${GITHUB_HEAD_REF:-}" ] || [ -n "${GITHUB_BASE_REF:-}" ]; then
  refuse "$only; refused $this_job: it belongs to a pull request (head '${GITHUB_HEAD_REF:-}', base '${GITHUB_BASE_REF:-}')"
fi
if [ "$job_ref" != "$want_ref" ] || [ "${GITHUB_REF_TYPE:-branch}" != branch ]; then
  refuse "$only; refused $this_job: not the default branch $want_ref"
fi
if [ "${job_workflow%%/.github/*}" = "$job_workflow" ] ||
   [ "${job_workflow%%/.github/*}" != "$job_repository" ] ||
   [ "${job_workflow#*/.github/}" != "${want_workflow#*/.github/}" ]; then
  refuse "$only; refused $this_job: another workflow file or ref"
fi
[ "$job_id" = "$bench_job" ] || refuse "$only; refused $this_job: another job"
printf 'arena runner check: job %s of %s (workflow_dispatch), run %s\n' \
  "$job_id" "$job_workflow" "${GITHUB_RUN_ID:-?}"

private=${ARENA_PRIVATE_PROMPTS:-/srv/arena/private}
release=${ARENA_PRIVATE_RELEASE:-/run/arena-release/private.sock}
shared=${ARENA_SHARED_MODEL_CACHE:-/srv/arena/models}
cache=${HF_HUB_CACHE:?HF_HUB_CACHE must name the writable model cache of this job}

failures=0
fail() {
  echo "::error title=arena runner check::$(escape "$*")"
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
# The private prompt folder: an empty folder of this job's own (the launcher's tmpfs, or ARC's
# emptyDir), filled later by the bench job's "Receive the private prompts" step. Files here now
# would mean the private set reached a job before anyone knew which job it was.
if [ ! -d "$private" ]; then
  fail "there is no private prompt folder at $private; the launcher gives each job an empty one (docs/runner.md)"
elif [ -n "$(find "$private" -mindepth 1 -maxdepth 1 -print -quit 2>/dev/null)" ]; then
  fail "the private prompt folder $private already holds files before the job was checked; never mount the private set into a job container: private-release.py hands it to the bench job only (docs/runner.md)"
else
  say "private prompt folder $private: empty until the bench job's OIDC token is checked"
fi
if [ ! -S "$release" ]; then
  fail "the private prompt release socket $release is missing; start arena-private-release on the host (docs/runner.md)"
fi
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

# 5. An engine sandbox can start here: bubblewrap is installed, and the container lets it make
# its namespaces (the launcher's seccomp and AppArmor profiles, an unmasked /proc) with the GPU
# bound in. runner/sandbox.py says so itself; without it no engine may run at all.
if ! command -v bwrap >/dev/null; then
  fail "bubblewrap (bwrap) is not installed in the image; rebuild it with runner-ops/build-image.sh"
fi
if selfcheck=$("$python" -m runner.sandbox --self-check 2>&1); then status=0; else status=$?; fi
verdict=$(printf '%s\n' "$selfcheck" | grep '^{' | tail -n1 || true)
reason=$(printf '%s' "$verdict" | jq -r '.reason // empty' 2>/dev/null || true)
if [ "$status" = 0 ] && [ "$(printf '%s' "$verdict" | jq -r '.ok' 2>/dev/null || true)" = true ]; then
  say "engine sandbox: ${reason:-starts}"
elif printf '%s' "$selfcheck" | grep -q "No module named runner.sandbox\|No module named 'runner.sandbox'\|No module named 'runner'"; then
  fail "this image has no engine sandbox ($python -m runner.sandbox --self-check: no such module); rebuild the image from a default branch that has runner/sandbox.py. No engine runs unsandboxed"
elif [ -n "$verdict" ]; then
  fail "an engine sandbox cannot start here (exit $status): ${reason:-$verdict}; see docs/runner.md, \"The engine sandbox on the GPU host\""
else
  fail "the engine sandbox self-check failed (exit $status) without a verdict: $(printf '%s' "$selfcheck" | tail -n3)"
fi

if [ "$failures" -gt 0 ]; then
  echo "arena runner check: $failures problem(s); this runner must not take jobs until fixed" >&2
  exit 1
fi

# 6. Seed the job's writable model cache with links to the shared one: models pre-fetched by
# revision load from the read-only files, others download next to them, into this container.
mkdir -p "$cache"
if [ -d "$shared/hub" ]; then
  cp -as "$shared/hub/." "$cache/"
  say "model cache $cache linked to $shared/hub ($(find "$shared/hub" -maxdepth 1 -name 'models--*' | wc -l) models)"
else
  say "the shared model cache has no hub/ folder yet; every model will be downloaded"
fi
