"""The security invariants of this repository's GitHub Actions workflows, as checks on parsed YAML.

Each check returns `Violation`s that name the workflow file, the job and step, what is wrong and
what to do instead. `tests/workflows/test_invariants.py` runs them over `.github/workflows/` (no
violation allowed) and over deliberately unsafe copies (each must be caught).

The invariants:
- workflow-level `permissions: {}`; every job declares its own, as a mapping of read/write/none;
- every `uses:` pinned to a 40-hex commit SHA (images to a sha256 digest), with a version comment;
- no `${{ }}` expression inside `run:` (event fields reach scripts through `env:` only);
- `persist-credentials: false` on every checkout, and never `allow-unsafe-pr-checkout`;
- no job triggered by a pull-request event checks out the pull request's code (a `ref` or
  `repository` computed from event fields) or fetches it in a script; such jobs run on
  GitHub-hosted machines only;
- self-hosted jobs: only in workflows started by `workflow_dispatch` alone, no secrets, no write
  permission, `github.token` only with read scopes, behind an approval environment, with a timeout;
- `id-token: write` (an OIDC token, which writes nothing) only where it is exchanged for something:
  the self-hosted job of a dispatch-only workflow (the runner releases the private prompts to it)
  and a job that only deploys GitHub Pages.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

import yaml

# Pull-request events. The privileged ones run the default branch's workflow with a token that
# can write (and secrets); `pull_request` and the review events give forks a read-only token.
PRIVILEGED_PR_TRIGGERS = frozenset({"pull_request_target", "issue_comment", "workflow_run"})
PR_TRIGGERS = PRIVILEGED_PR_TRIGGERS | {
    "pull_request", "pull_request_review", "pull_request_review_comment"}

GITHUB_HOSTED_LABEL = re.compile(r"^(ubuntu|windows|macos)-[0-9a-z.-]+$")
PINNED_ACTION = re.compile(r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_./-]+@[0-9a-f]{40}$")
PINNED_IMAGE = re.compile(r"^docker://[^@\s]+@sha256:[0-9a-f]{64}$")
# A `uses:` line with a pinned SHA must say which release it is, e.g. `# v7.0.1`.
USES_LINE = re.compile(r"^\s*(?:-\s+)?uses:\s*(?P<ref>\S+)(?P<rest>.*)$")
VERSION_COMMENT = re.compile(r"#\s*v\d+(\.\d+)*\b")
# Expression fragments that carry pull-request-controlled refs or text.
PR_CONTROLLED = re.compile(
    r"github\.(event\.|head_ref)|github\.event_path|inputs\.|steps\.[^.]+\.outputs\.")
# Shell that fetches or switches to a pull request's code.
FETCHES_PR_CODE = re.compile(
    r"refs/pull/|\bpull/[^\s/]+/(head|merge)\b|\bgh\s+pr\s+checkout\b|GITHUB_HEAD_REF")
GIT_SWITCHING = re.compile(r"\bgit\s+(fetch|checkout|switch|clone|worktree|pull|reset)\b")
PR_HEAD_EXPRESSION = re.compile(r"github\.event\.(pull_request\.head|workflow_run\.head)|github\.head_ref")
WRITE_ALL = ("write-all", "read-all")


@dataclass(frozen=True)
class Violation:
    rule: str
    workflow: str
    where: str
    message: str

    def __str__(self) -> str:
        return f"{self.workflow}: {self.where}: {self.message} [{self.rule}]"


class _WorkflowLoader(yaml.SafeLoader):
    """YAML 1.1 reads the key `on` as the boolean true; workflows mean the string."""


_WorkflowLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:bool"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_WorkflowLoader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"),
    list("tTfF"))


def parse_workflow(text: str) -> dict[str, Any]:
    doc = yaml.load(text, Loader=_WorkflowLoader)  # noqa: S506 - a SafeLoader subclass
    if not isinstance(doc, dict):
        raise ValueError("a workflow must be a YAML mapping")
    return doc


def load_workflow(path: Path) -> dict[str, Any]:
    return parse_workflow(path.read_text(encoding="utf-8"))


def triggers(workflow: dict[str, Any]) -> set[str]:
    on = workflow.get("on")
    if isinstance(on, str):
        return {on}
    if isinstance(on, list):
        return {str(t) for t in on}
    if isinstance(on, dict):
        return {str(t) for t in on}
    return set()


def runs_on_labels(job: dict[str, Any]) -> list[str]:
    runs_on = job.get("runs-on")
    if isinstance(runs_on, str):
        return [runs_on]
    if isinstance(runs_on, list):
        return [str(x) for x in runs_on]
    if isinstance(runs_on, dict):  # {group: ..., labels: ...}
        labels = runs_on.get("labels", [])
        return ([labels] if isinstance(labels, str) else [str(x) for x in labels]) + ["<group>"]
    return []


def is_self_hosted(job: dict[str, Any]) -> bool:
    """Anything not plainly a GitHub-hosted image label counts as self-hosted: an expression or
    a runner group could point at our hardware."""
    if "uses" in job:  # a reusable workflow's jobs are checked in their own file
        return False
    labels = runs_on_labels(job)
    return not labels or not all(GITHUB_HOSTED_LABEL.match(label) for label in labels)


def _step_name(i: int, step: dict[str, Any]) -> str:
    label = step.get("name") or step.get("uses") or (step.get("run") or "").strip().split("\n")[0]
    return f"steps[{i}] ({label!r})" if label else f"steps[{i}]"


def _steps(job: dict[str, Any]) -> Iterator[tuple[int, dict[str, Any]]]:
    for i, step in enumerate(job.get("steps") or []):
        if isinstance(step, dict):
            yield i, step


def _text(value: Any) -> str:
    """Every string in a YAML value, keys included, one per line (for reference searches)."""
    if isinstance(value, dict):
        return "\n".join(f"{k}\n{_text(v)}" for k, v in value.items())
    if isinstance(value, list):
        return "\n".join(_text(v) for v in value)
    return "" if value is None else str(value)


def _is_checkout(step: dict[str, Any]) -> bool:
    return str(step.get("uses", "")).split("@")[0].lower() == "actions/checkout"


def _truthy(value: Any) -> bool:
    return value is True or str(value).strip().lower() == "true"


def _needs(job: dict[str, Any]) -> list[str]:
    needs = job.get("needs", [])
    return [needs] if isinstance(needs, str) else list(needs)


def _approved_by_environment(jobs: dict[str, Any], job_id: str, seen: set[str] | None = None) -> bool:
    seen = seen if seen is not None else set()
    if job_id in seen or job_id not in jobs:
        return False
    seen.add(job_id)
    job = jobs[job_id]
    if job.get("environment"):
        return True
    return any(_approved_by_environment(jobs, n, seen) for n in _needs(job))


def check_workflow(name: str, workflow: dict[str, Any], text: str | None = None) -> list[Violation]:
    """All violations in one parsed workflow. `text`, when given, is its source, for the checks
    that need comments (version comments on pinned `uses:`)."""
    out: list[Violation] = []

    def bad(rule: str, where: str, message: str) -> None:
        out.append(Violation(rule, name, where, message))

    on = triggers(workflow)
    pr_triggered = sorted(on & PR_TRIGGERS)
    privileged = sorted(on & PRIVILEGED_PR_TRIGGERS)

    if workflow.get("permissions", None) != {}:
        bad("workflow-permissions", "permissions",
            f"workflow-level permissions are {workflow.get('permissions', '<absent>')!r}; set "
            "`permissions: {}` and give each job only what it needs")
    if "secrets." in _text(workflow.get("env")) and any(
            is_self_hosted(j) for j in (workflow.get("jobs") or {}).values() if isinstance(j, dict)):
        bad("self-hosted-secrets", "env",
            "workflow-level env references a secret, and every job inherits it, the self-hosted "
            "one included; move the secret to the GitHub-hosted job that needs it")

    jobs: dict[str, Any] = workflow.get("jobs") or {}
    for job_id, job in jobs.items():
        if not isinstance(job, dict):
            continue
        jw = f"jobs.{job_id}"
        perms = job.get("permissions", None)
        if perms is None:
            bad("job-permissions", f"{jw}.permissions",
                "the job does not declare its permissions; list exactly the scopes it needs "
                "(or `permissions: {}`)")
        elif isinstance(perms, str):
            bad("job-permissions", f"{jw}.permissions",
                f"`permissions: {perms}` grants every scope; list the scopes the job needs")
        elif isinstance(perms, dict):
            for scope, level in perms.items():
                if level not in ("read", "write", "none"):
                    bad("job-permissions", f"{jw}.permissions.{scope}",
                        f"unknown permission level {level!r}")
        if "timeout-minutes" not in job and "uses" not in job:
            bad("job-timeout", jw, "the job has no timeout-minutes; a hung job would hold its "
                "runner for six hours")

        uses = job.get("uses")
        if uses is not None and not str(uses).startswith("./") and not PINNED_ACTION.match(str(uses)):
            bad("pinned-uses", f"{jw}.uses",
                f"reusable workflow {uses!r} is not pinned to a full 40-hex commit SHA")
        if job.get("secrets") == "inherit":
            bad("secrets-inherit", f"{jw}.secrets",
                "`secrets: inherit` hands every secret to the called workflow; pass the ones it needs")

        self_hosted = is_self_hosted(job)
        for i, step in _steps(job):
            sw = f"{jw}.{_step_name(i, step)}"
            step_uses = step.get("uses")
            if step_uses is not None:
                u = str(step_uses)
                if u.startswith("docker://"):
                    if not PINNED_IMAGE.match(u):
                        bad("pinned-uses", sw, f"image {u!r} is not pinned to a sha256 digest")
                elif not u.startswith("./") and not PINNED_ACTION.match(u):
                    bad("pinned-uses", sw,
                        f"action {u!r} is not pinned to a full 40-hex commit SHA; a tag or branch "
                        "can be moved to other code. Use owner/repo@<sha> # vX.Y.Z")
            run = step.get("run")
            if run is not None and "${{" in str(run):
                expr = re.findall(r"\$\{\{.*?\}\}", str(run))
                bad("expression-in-run", sw,
                    f"`run:` contains {', '.join(expr) or '${{'}: the expression is pasted into the "
                    "script before it runs, so text from an event can become shell code. Pass it "
                    "through `env:` and use the variable, quoted")
            if _is_checkout(step):
                with_ = step.get("with") or {}
                if with_.get("persist-credentials") not in (False, "false"):
                    bad("checkout-credentials", sw,
                        "checkout without `persist-credentials: false` leaves the token in "
                        ".git/config for every later step; set it to false")
                if _truthy(with_.get("allow-unsafe-pr-checkout")):
                    bad("pr-checkout", sw,
                        "`allow-unsafe-pr-checkout: true` switches off checkout's refusal to "
                        "fetch a fork's code into a privileged workflow; remove it")
                if pr_triggered:
                    for key in ("ref", "repository"):
                        value = with_.get(key)
                        if value is None:
                            continue
                        if PR_CONTROLLED.search(str(value)) or (privileged and "${{" in str(value)):
                            bad("pr-checkout", f"{sw}.with.{key}",
                                f"checks out {key} {value!r} in a workflow triggered by "
                                f"{', '.join(pr_triggered)}: that is the pull request's code. "
                                "Remove it so the base branch is checked out, and read the pull "
                                "request's files through the API as data")
            if pr_triggered and run is not None:
                env_text = _text(step.get("env")) + "\n" + _text(job.get("env"))
                if FETCHES_PR_CODE.search(str(run)) or (
                        GIT_SWITCHING.search(str(run)) and PR_HEAD_EXPRESSION.search(env_text)):
                    bad("pr-checkout", sw,
                        f"the script fetches or switches to the pull request's code in a workflow "
                        f"triggered by {', '.join(pr_triggered)}; read its files through the API")

        if pr_triggered and self_hosted:
            bad("pr-on-self-hosted", f"{jw}.runs-on",
                f"runs on {runs_on_labels(job)!r} in a workflow triggered by "
                f"{', '.join(pr_triggered)}; pull-request events run on GitHub-hosted machines only")
        if self_hosted:
            if on != {"workflow_dispatch"}:
                bad("self-hosted-trigger", f"{jw}.runs-on",
                    f"a self-hosted job in a workflow triggered by {sorted(on)!r}; the GPU runner "
                    "takes only workflow_dispatch runs, started by the bot after approval")
            job_text = _text({k: v for k, v in job.items() if k != "permissions"})
            for m in sorted(set(re.findall(r"secrets\.[A-Za-z0-9_]+", job_text))):
                bad("self-hosted-secrets", jw,
                    f"the self-hosted job references {m}; the GPU runner gets no secrets")
            if job.get("secrets"):
                bad("self-hosted-secrets", f"{jw}.secrets", "the self-hosted job passes secrets")
            # id-token: write mints an OIDC token for the runner's release service; it grants
            # no write access to anything.
            writes = sorted(s for s, lvl in perms.items() if lvl == "write" and s != "id-token") \
                if isinstance(perms, dict) else []
            if writes or isinstance(perms, str):
                bad("self-hosted-write", f"{jw}.permissions",
                    f"the self-hosted job can write ({', '.join(writes) or perms}); it gets read "
                    "scopes at most, and the GitHub-hosted publish job does the writing")
            if perms is None:
                bad("self-hosted-write", f"{jw}.permissions",
                    "the self-hosted job inherits its permissions; declare read scopes only")
            if not _approved_by_environment(jobs, job_id):
                bad("self-hosted-approval", jw,
                    "the self-hosted job neither has an environment nor needs a job that has "
                    "one; a reviewer must approve every run on the GPU")

        if isinstance(perms, dict) and perms.get("id-token") == "write":
            deploys_pages = bool(job.get("steps")) and all(
                str(step.get("uses", "")).split("@")[0] == "actions/deploy-pages"
                for _, step in _steps(job))
            if not (deploys_pages or (self_hosted and on == {"workflow_dispatch"})):
                bad("id-token-scope", f"{jw}.permissions.id-token",
                    "the job can mint an OIDC token, and the GPU host's release service hands the "
                    "private prompts to such tokens of the bench job; grant id-token: write only to "
                    "the self-hosted bench job (and to a job that only deploys Pages)")

    if text is not None:
        for lineno, line in enumerate(text.splitlines(), 1):
            m = USES_LINE.match(line)
            if not m:
                continue
            ref = m.group("ref").strip("'\"")
            if "@" in ref and re.search(r"@[0-9a-f]{40}$", ref) and not VERSION_COMMENT.search(m.group("rest")):
                bad("pinned-uses", f"line {lineno}",
                    f"{ref} has no version comment; add `# vX.Y.Z` so reviewers and Dependabot "
                    "can tell which release the SHA is")
    return out


def check_directory(directory: Path) -> list[Violation]:
    out: list[Violation] = []
    for path in sorted(directory.glob("*.y*ml")):
        text = path.read_text(encoding="utf-8")
        out.extend(check_workflow(path.name, parse_workflow(text), text))
    return out
