"""`arena doctor`: checks, through GitHub's REST API, each repository setting the design relies
on, and says for each whether it holds and how to fix it (with the settings page's address).

One wrong setting silently removes a protection: a runner group open to every workflow lets a
fork's pull request run on the GPU; a `bench` environment without reviewers lets anyone with a
`/bench` reach the runner; a write default token hands every workflow a write token. The checks
are read-only (GET requests only) and need a token that can read the repository's settings:
an admin's classic token (`repo`, plus `admin:org` read for the runner group), or a fine-grained
token with the repository's Administration, Environments, Pages, Issues and Metadata read, and
the organisation's Self-hosted runners read.

Exit codes: 0 every setting holds; 1 at least one is wrong (also when others could not be
checked); 2 nothing is known to be wrong but something could not be checked (authentication,
network, a missing permission), each such check says which.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import urllib.parse
from dataclasses import asdict, dataclass, field
from typing import Any, Callable

from arena.text import for_terminal

FORMAT = "arena.doctor/1"
OK, WRONG, UNKNOWN, SKIPPED = "ok", "wrong", "unknown", "skipped"
EXIT_OK, EXIT_WRONG, EXIT_UNKNOWN = 0, 1, 2

# The labels the bot sets (bot/labels.py), with the colour and description a new repository
# gets (`arena init` writes them to .github/labels.json; `gh label create` makes them).
LABEL_SPECS: tuple[tuple[str, str, str], ...] = (
    ("arena: valid", "0e8a16", "the submission file validates"),
    ("arena: invalid", "b60205", "the submission file does not validate"),
    ("arena: check failed", "fbca04", "the validation could not run; a maintainer looks"),
    ("arena: queued", "c5def5", "a benchmark run is queued"),
    ("arena: verified", "1d76db", "measured and verified on the runner"),
    ("arena: run invalid", "d93f0b", "the run measured it and an integrity check failed"),
    ("arena: run error", "fbca04", "the run ended without a measurement"),
    ("arena: run voided", "cccccc", "the pull request moved during the run"),
    ("arena: withdrawn", "cccccc", "withdrawn by its author"),
    ("arena: invalidated", "b60205", "invalidated by a maintainer"),
    ("arena: digest", "5319e7", "the challenge's digest issue"),
)


class CannotCheck(Exception):
    """The API did not answer what a check needs; the message says why and what to do."""


@dataclass
class Check:
    id: str
    title: str
    status: str = UNKNOWN
    detail: str = ""
    fix: str = ""
    settings_url: str = ""
    needs: str = ""  # the token permission the check reads with


@dataclass
class Api:
    """GET-only REST client (requests). `base` is the API's root (GITHUB_API_URL)."""

    base: str
    token: str
    timeout_s: float = 20.0
    session: Any = None
    calls: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        import requests

        self.session = self.session or requests.Session()
        self.session.headers.update({
            "Accept": "application/vnd.github+json", "X-GitHub-Api-Version": "2022-11-28",
            "User-Agent": "arena-doctor"})
        if self.token:
            self.session.headers["Authorization"] = f"Bearer {self.token}"

    def get(self, path: str, params: dict[str, Any] | None = None, *,
            missing_ok: bool = False) -> Any:
        """The JSON at `path`; None for a 404 when `missing_ok`. Raises CannotCheck otherwise."""
        import requests

        url = self.base.rstrip("/") + path
        self.calls.append(path)
        try:
            resp = self.session.get(url, params=params, timeout=self.timeout_s)
        except requests.RequestException as exc:
            raise CannotCheck(f"could not reach {self.base} ({type(exc).__name__})") from None
        if resp.status_code == 404 and missing_ok:
            return None
        if resp.status_code == 401:
            raise CannotCheck("the token was refused (401 Bad credentials): set GITHUB_TOKEN "
                              "or pass --token")
        if resp.status_code in (403, 404):
            limited = resp.headers.get("x-ratelimit-remaining") == "0"
            what = "rate limited" if limited else (
                "not allowed" if resp.status_code == 403 else "not found or not visible")
            raise CannotCheck(f"GET {path}: {resp.status_code} ({what})")
        if resp.status_code >= 400:
            raise CannotCheck(f"GET {path}: GitHub answered {resp.status_code}")
        try:
            return resp.json()
        except ValueError:
            raise CannotCheck(f"GET {path}: the answer is not JSON") from None

    def get_all(self, path: str, key: str | None = None,
                params: dict[str, Any] | None = None) -> list[Any]:
        """Every item of a paginated list (`key` names the list in an object answer)."""
        items: list[Any] = []
        page = 1
        while True:
            data = self.get(path, {**(params or {}), "per_page": 100, "page": page})
            chunk = data.get(key, []) if key else data
            items.extend(chunk)
            if len(chunk) < 100 or page >= 50:
                return items
            page += 1


@dataclass
class Settings:
    repo: str
    server_url: str = "https://github.com"
    environment: str = "bench"
    bench_workflow: str = "bench.yml"
    results_branch: str = "results"
    runner_group: str = "arena-gpu"
    hardware: str = "a10g"


class Doctor:
    def __init__(self, api: Api, settings: Settings):
        self.api, self.s = api, settings
        self.owner, self.name = settings.repo.split("/", 1)
        self.r = f"/repos/{urllib.parse.quote(self.owner)}/{urllib.parse.quote(self.name)}"
        self.repo: dict[str, Any] = {}

    def url(self, path: str) -> str:
        return f"{self.s.server_url.rstrip('/')}/{self.s.repo}{path}"

    @property
    def default_branch(self) -> str:
        return str(self.repo.get("default_branch") or "main")

    @property
    def bench_ref(self) -> str:
        return (f"{self.s.repo}/.github/workflows/{self.s.bench_workflow}"
                f"@refs/heads/{self.default_branch}")

    def run(self) -> list[Check]:
        try:
            self.repo = self.api.get(self.r)
        except CannotCheck as exc:
            return [Check("repository", f"the repository {self.s.repo}", UNKNOWN, str(exc),
                          "check the name, the token and the network, then run again",
                          self.url(""), "Metadata: read")]
        checks = []
        for make in (self.actions_enabled, self.fork_pr_approval, self.workflow_token,
                     self.bench_environment,
                     self.pages, self.default_branch_protection, self.results_branch_protection,
                     self.runner_group, self.repository_runners, self.labels, self.digest_issue):
            checks.append(self._guard(make))
        return checks

    def _guard(self, make: Callable[[Check], None]) -> Check:
        spec = SPECS[make.__name__]
        check = Check(spec[0], spec[1], needs=spec[2], settings_url=spec[3](self))
        try:
            make(check)
        except CannotCheck as exc:
            check.status = UNKNOWN
            check.detail = f"could not check: {exc}"
            check.fix = f"run again with a token that has {check.needs} (an admin's token)"
        return check

    # -- the checks ------------------------------------------------------------------------------

    def actions_enabled(self, c: Check) -> None:
        p = self.api.get(f"{self.r}/actions/permissions")
        if not p.get("enabled"):
            c.status = WRONG
            c.detail = "GitHub Actions is disabled: no workflow runs, so nothing is validated"
            c.fix = ("Settings → Actions → General → Actions permissions: Allow all actions and "
                     "reusable workflows (every action the workflows use is pinned to a commit)")
            return
        allowed = p.get("allowed_actions")
        if allowed == "local_only":
            c.status = WRONG
            c.detail = ("only this repository's own actions may run, but the workflows use "
                        "actions/checkout, setup-python, upload- and download-artifact and the "
                        "Pages actions")
            c.fix = ("Settings → Actions → General: allow actions created by GitHub (or all "
                     "actions)")
            return
        c.status, c.detail = OK, f"enabled (allowed actions: {allowed})"

    def fork_pr_approval(self, c: Check) -> None:
        policy = self.api.get(f"{self.r}/actions/permissions/fork-pr-contributor-approval")
        got = policy.get("approval_policy")
        if got == "all_external_contributors":
            c.status, c.detail = OK, "pull requests from every outside contributor wait for approval"
            return
        c.status = WRONG
        c.detail = (f"approval policy is {got!r}: a fork's pull request from a contributor who "
                    "is not new runs its own workflows (ci) without a maintainer's approval")
        c.fix = ("Settings → Actions → General → Approval for running fork pull request "
                 "workflows from contributors: Require approval for all external contributors "
                 f"(or: gh api -X PUT {self.r[1:]}/actions/permissions/fork-pr-contributor-approval "
                 "-f approval_policy=all_external_contributors)")

    def workflow_token(self, c: Check) -> None:
        p = self.api.get(f"{self.r}/actions/permissions/workflow")
        wrong = []
        if p.get("default_workflow_permissions") != "read":
            wrong.append(f"the default token is {p.get('default_workflow_permissions')!r} "
                         "(every workflow without a permissions block could write)")
        if p.get("can_approve_pull_request_reviews"):
            wrong.append("workflows may create and approve pull requests")
        if not wrong:
            c.status, c.detail = OK, "default token: read; workflows cannot approve pull requests"
            return
        c.status, c.detail = WRONG, "; ".join(wrong)
        c.fix = ("Settings → Actions → General → Workflow permissions: Read repository contents "
                 "and packages permissions, and untick Allow GitHub Actions to create and approve "
                 f"pull requests (or: gh api -X PUT {self.r[1:]}/actions/permissions/workflow "
                 "-f default_workflow_permissions=read -F can_approve_pull_request_reviews=false)")

    def bench_environment(self, c: Check) -> None:
        env_name = urllib.parse.quote(self.s.environment, safe="")
        env = self.api.get(f"{self.r}/environments/{env_name}", missing_ok=True)
        fix = (f"Settings → Environments → {self.s.environment}: Required reviewers: the "
               "maintainers (a team), tick Prevent self-review; Deployment branches and tags: "
               f"Selected branches, {self.default_branch} only; no secrets, no variables")
        if env is None:
            if not (self.repo.get("permissions") or {}).get("admin", True):
                raise CannotCheck(f"the environment {self.s.environment!r} is not visible")
            c.status, c.fix = WRONG, f"create the environment {self.s.environment!r}: {fix}"
            c.detail = (f"no environment {self.s.environment!r}: bench.yml's approve job waits "
                        "for nobody, so every dispatched run reaches the GPU")
            return
        wrong = []
        reviewers = [r for rule in env.get("protection_rules") or []
                     if rule.get("type") == "required_reviewers"
                     for r in rule.get("reviewers") or []]
        if not reviewers:
            wrong.append("no required reviewers (runs start without approval)")
        if not any(rule.get("prevent_self_review") for rule in env.get("protection_rules") or []
                   if rule.get("type") == "required_reviewers"):
            wrong.append("self-review is allowed (whoever dispatched a run may approve it)")
        policy = env.get("deployment_branch_policy")
        if not policy:
            wrong.append("any branch may deploy to it (no deployment branch policy)")
        elif policy.get("protected_branches"):
            wrong.append("every protected branch may deploy to it, not only "
                         f"{self.default_branch}")
        elif policy.get("custom_branch_policies"):
            names = sorted(p.get("name", "") for p in self.api.get_all(
                f"{self.r}/environments/{env_name}/deployment-branch-policies", "branch_policies"))
            if names != [self.default_branch]:
                wrong.append(f"the branches that may deploy are {names}, not "
                             f"[{self.default_branch!r}]")
        secrets = self.api.get(f"{self.r}/environments/{env_name}/secrets").get("total_count", 0)
        variables = self.api.get(f"{self.r}/environments/{env_name}/variables"
                                 ).get("total_count", 0)
        if secrets or variables:
            wrong.append(f"it holds {secrets} secret(s) and {variables} variable(s) "
                         "(the GPU side must have none)")
        if not wrong:
            who = ", ".join(sorted((r.get("reviewer") or {}).get("login") or
                                   (r.get("reviewer") or {}).get("slug") or "?"
                                   for r in reviewers))
            c.status = OK
            c.detail = (f"required reviewers: {who}; self-review prevented; only "
                        f"{self.default_branch} deploys; no secrets or variables")
            return
        c.status, c.detail, c.fix = WRONG, "; ".join(wrong), fix

    def pages(self, c: Check) -> None:
        pages = self.api.get(f"{self.r}/pages", missing_ok=True)
        fix = "Settings → Pages → Build and deployment → Source: GitHub Actions"
        if pages is None:
            c.status, c.fix = WRONG, fix
            c.detail = "GitHub Pages is not enabled: site.yml's deploy job has nowhere to go"
            return
        if pages.get("build_type") != "workflow":
            c.status, c.fix = WRONG, fix
            c.detail = (f"Pages builds from a branch ({pages.get('build_type')!r}), not from the "
                        "site workflow: the leaderboard would not be what site.yml built")
            return
        c.status, c.detail = OK, f"source: GitHub Actions ({pages.get('html_url') or 'no URL yet'})"

    def _branch_rules(self, branch: str) -> tuple[set[str], dict[str, Any]]:
        rules = self.api.get_all(f"{self.r}/rules/branches/{urllib.parse.quote(branch, safe='')}")
        types = {r.get("type") for r in rules}
        params = {r.get("type"): r.get("parameters") or {} for r in rules}
        return types, params

    def _classic(self, branch: str) -> dict[str, Any] | None:
        try:
            return self.api.get(
                f"{self.r}/branches/{urllib.parse.quote(branch, safe='')}/protection",
                missing_ok=True)
        except CannotCheck:
            return None  # classic protection not readable: rulesets decide

    def default_branch_protection(self, c: Check) -> None:
        b = self.default_branch
        types, params = self._branch_rules(b)
        reviews = int((params.get("pull_request") or {}).get(
            "required_approving_review_count", 0) or 0) if "pull_request" in types else -1
        if reviews < 1:
            classic = self._classic(b)
            prr = (classic or {}).get("required_pull_request_reviews") or {}
            if classic and int(prr.get("required_approving_review_count", 0) or 0) >= 1:
                reviews = int(prr["required_approving_review_count"])
        if reviews >= 1:
            c.status = OK
            c.detail = f"{b}: changes go through pull requests with {reviews} approving review(s)"
            return
        c.status = WRONG
        c.detail = (f"{b} accepts pushes without a reviewed pull request" if reviews < 0 else
                    f"{b} requires pull requests but no approving review")
        c.fix = (f"Settings → Rules → Rulesets → New branch ruleset: target {b}, Require a pull "
                 "request before merging with at least 1 approval, Block force pushes, Restrict "
                 "deletions")

    def results_branch_protection(self, c: Check) -> None:
        b = self.s.results_branch
        types, _ = self._branch_rules(b)
        force = "non_fast_forward" in types
        delete = "deletion" in types
        if not (force and delete):
            classic = self._classic(b)
            if classic:
                force = force or not (classic.get("allow_force_pushes") or {}).get("enabled", True)
                delete = delete or not (classic.get("allow_deletions") or {}).get("enabled", True)
        missing = [w for w, held in (("force pushes", force), ("deletion", delete)) if not held]
        if not missing:
            c.status, c.detail = OK, f"{b}: force pushes and deletion blocked (append-only)"
            return
        c.status = WRONG
        c.detail = f"{b} allows {' and '.join(missing)}: recorded results could be rewritten"
        c.fix = (f"Settings → Rules → Rulesets → New branch ruleset: target {b}, Block force "
                 "pushes and Restrict deletions (leave pushes allowed: the bot appends results)")

    def runner_group(self, c: Check) -> None:
        owner = self.repo.get("owner") or {}
        public = not self.repo.get("private", False)
        if owner.get("type") != "Organization":
            if public:
                c.status = WRONG
                c.detail = ("a public repository of a personal account can only have "
                            "repository-level runners, and those take any workflow's job, a "
                            "fork's pull request's included")
                c.fix = ("move the repository to an organisation (Settings → General → Danger "
                         "Zone → Transfer) and use a runner group limited to bench.yml")
            else:
                c.status = SKIPPED
                c.detail = "a private repository of a personal account: no runner groups"
            return
        org = urllib.parse.quote(owner.get("login", self.owner))
        groups = self.api.get_all(f"/orgs/{org}/actions/runner-groups", "runner_groups",
                                  {"visible_to_repository": self.name})
        group = next((g for g in groups if g.get("name") == self.s.runner_group), None)
        fix = (f"organisation Settings → Actions → Runner groups → {self.s.runner_group}: "
               f"Repository access: selected repositories, {self.s.repo} alone; Allow public "
               f"repositories ticked; Workflow access: selected workflows, {self.bench_ref} alone")
        if group is None:
            c.status, c.fix = WRONG, f"create the runner group: {fix}"
            c.detail = f"no runner group {self.s.runner_group!r} is open to {self.s.repo}"
            return
        wrong = []
        if group.get("visibility") != "selected":
            wrong.append(f"it is open to {group.get('visibility')} repositories")
        else:
            repos = [r.get("full_name") for r in self.api.get_all(
                f"/orgs/{org}/actions/runner-groups/{int(group['id'])}/repositories",
                "repositories")]
            if repos != [self.s.repo]:
                wrong.append(f"its repositories are {sorted(map(str, repos))}, not "
                             f"[{self.s.repo!r}] alone")
        if public and not group.get("allows_public_repositories"):
            wrong.append("it refuses public repositories (its runners never get the bench job)")
        if not group.get("restricted_to_workflows"):
            wrong.append("it runs any workflow's jobs (a fork can add one that asks for the GPU)")
        elif list(group.get("selected_workflows") or []) != [self.bench_ref]:
            wrong.append(f"its workflows are {list(group.get('selected_workflows') or [])}, not "
                         f"[{self.bench_ref!r}] alone")
        # Runners with the hardware label in any other group this repository may use take any
        # workflow's job: the limited group protects nothing then.
        for other in groups:
            if other.get("id") == group.get("id"):
                continue
            runners = self.api.get_all(
                f"/orgs/{org}/actions/runner-groups/{int(other['id'])}/runners", "runners")
            gpu = [r.get("name") for r in runners
                   if any(lb.get("name") == self.s.hardware for lb in r.get("labels") or [])]
            if gpu:
                wrong.append(f"the group {other.get('name')!r} also serves this repository and "
                             f"holds runner(s) labelled {self.s.hardware}: {sorted(map(str, gpu))}")
        if not wrong:
            c.status = OK
            c.detail = f"{self.s.runner_group}: {self.s.repo} alone, {self.bench_ref} alone"
            return
        c.status, c.detail, c.fix = WRONG, "; ".join(wrong), fix

    def repository_runners(self, c: Check) -> None:
        runners = self.api.get_all(f"{self.r}/actions/runners", "runners")
        if not runners or self.repo.get("private", False):
            c.status = OK
            c.detail = ("no repository-level runners" if not runners else
                        f"{len(runners)} repository-level runner(s) on a private repository")
            return
        c.status = WRONG
        names = sorted(str(r.get("name")) for r in runners)
        c.detail = (f"repository-level runner(s) {names} on a public repository: they take any "
                    "workflow's job, a fork's pull request's included")
        c.fix = ("remove them (Settings → Actions → Runners) and register the GPU runners in the "
                 "organisation runner group limited to bench.yml (runner-ops/jit-config.sh --org)")

    def labels(self, c: Check) -> None:
        have = {lb.get("name") for lb in self.api.get_all(f"{self.r}/labels")}
        missing = [spec for spec in LABEL_SPECS if spec[0] not in have]
        if not missing:
            c.status, c.detail = OK, f"all {len(LABEL_SPECS)} labels the bot sets exist"
            return
        c.status = WRONG
        c.detail = ("missing: " + ", ".join(n for n, _, _ in missing) +
                    " (GitHub would create them grey and without a description)")
        c.fix = "; ".join(f'gh label create "{n}" --repo {self.s.repo} --color {col} '
                          f'--description "{desc}"' for n, col, desc in missing)

    def digest_issue(self, c: Check) -> None:
        issues = [i for i in self.api.get_all(
            f"{self.r}/issues", params={"labels": "arena: digest", "state": "open"})
            if "pull_request" not in i]
        if len(issues) == 1:
            c.status = OK
            c.detail = (f"#{issues[0].get('number')} (pinning is not visible through the REST "
                        "API: check it is pinned on the Issues page)")
            return
        c.status = WRONG
        if not issues:
            c.detail = "no open issue labelled 'arena: digest'"
            c.fix = ("run the site workflow once (gh workflow run site.yml): its digest step "
                     "opens the issue; then pin it on its page (Pin issue)")
        else:
            nums = ", ".join(f"#{i.get('number')}" for i in issues)
            c.detail = f"{len(issues)} open digest issues ({nums}): the bot keeps one"
            c.fix = "close all but the newest and pin that one"


SPECS: dict[str, tuple[str, str, str, Callable[[Doctor], str]]] = {
    "actions_enabled": ("actions-enabled", "GitHub Actions is enabled", "Administration: read",
                        lambda d: d.url("/settings/actions")),
    "fork_pr_approval": ("fork-pr-approval", "Actions: approval of fork pull request workflows",
                         "Administration: read", lambda d: d.url("/settings/actions")),
    "workflow_token": ("workflow-token", "Actions: default workflow token permissions",
                       "Administration: read", lambda d: d.url("/settings/actions")),
    "bench_environment": ("bench-environment", "the bench environment and its reviewers",
                          "Environments: read, Secrets: read, Variables: read",
                          lambda d: d.url("/settings/environments")),
    "pages": ("pages", "GitHub Pages source", "Pages: read", lambda d: d.url("/settings/pages")),
    "default_branch_protection": ("default-branch-protection", "protection of the default branch",
                                  "Metadata: read, Administration: read",
                                  lambda d: d.url("/settings/rules")),
    "results_branch_protection": ("results-branch-protection",
                                  "protection of the results branch",
                                  "Metadata: read, Administration: read",
                                  lambda d: d.url("/settings/rules")),
    "runner_group": ("runner-group", "the organisation runner group limited to bench.yml",
                     "organisation Self-hosted runners: read (an organisation owner's token)",
                     lambda d: (f"{d.s.server_url.rstrip('/')}/organizations/"
                                f"{(d.repo.get('owner') or {}).get('login', d.owner)}"
                                "/settings/actions/runner-groups")),
    "repository_runners": ("repository-runners", "no repository-level runners",
                           "Administration: read", lambda d: d.url("/settings/actions/runners")),
    "labels": ("labels", "the labels the bot sets", "Issues: read", lambda d: d.url("/labels")),
    "digest_issue": ("digest-issue", "the digest issue", "Issues: read",
                     lambda d: d.url("/issues?q=is%3Aopen+label%3A%22arena%3A+digest%22")),
}


def exit_code(checks: list[Check]) -> int:
    if any(c.status == WRONG for c in checks):
        return EXIT_WRONG
    if any(c.status == UNKNOWN for c in checks):
        return EXIT_UNKNOWN
    return EXIT_OK


def report_json(repo: str, checks: list[Check]) -> dict[str, Any]:
    code = exit_code(checks)
    return {"format": FORMAT, "repository": repo,
            "result": {EXIT_OK: "ok", EXIT_WRONG: "wrong", EXIT_UNKNOWN: "unknown"}[code],
            "exit_code": code, "checks": [asdict(c) for c in checks]}


def report_text(repo: str, checks: list[Check]) -> str:
    mark = {OK: "ok     ", WRONG: "WRONG  ", UNKNOWN: "UNKNOWN", SKIPPED: "skipped"}
    lines = [f"arena doctor: {for_terminal(repo)}"]
    for c in checks:
        lines.append(f"{mark[c.status]} {c.id}: {for_terminal(c.detail)}")
        if c.status in (WRONG, UNKNOWN):
            if c.fix:
                lines.append(f"        fix: {for_terminal(c.fix)}")
            lines.append(f"        at:  {for_terminal(c.settings_url)}")
    code = exit_code(checks)
    n_wrong = sum(c.status == WRONG for c in checks)
    n_unknown = sum(c.status == UNKNOWN for c in checks)
    lines.append({EXIT_OK: "every setting holds",
                  EXIT_WRONG: f"{n_wrong} setting(s) wrong" +
                              (f", {n_unknown} not checked" if n_unknown else ""),
                  EXIT_UNKNOWN: f"{n_unknown} setting(s) could not be checked"}[code])
    return "\n".join(lines)


# -- command line --------------------------------------------------------------------------------

def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "doctor", help="check the repository's settings the design relies on (GitHub API)",
        description="Checks a live repository's settings through GitHub's REST API (read-only) "
                    "and says, for each, whether it holds and how to fix it. Exit 0 all good, "
                    "1 something wrong, 2 could not check.")
    p.add_argument("--repo", default=None,
                   help="OWNER/NAME (default: GITHUB_REPOSITORY, else the git remote 'origin')")
    p.add_argument("--token", default=None, help="a token (default: GITHUB_TOKEN, GH_TOKEN)")
    p.add_argument("--api-url", default=None,
                   help="API root (default: GITHUB_API_URL or https://api.github.com)")
    p.add_argument("--server-url", default=None,
                   help="web root for settings links (default: GITHUB_SERVER_URL or github.com)")
    p.add_argument("--runner-group", default="arena-gpu", help="the GPU runners' group name")
    p.add_argument("--results-branch", default=None,
                   help="default: ARENA_RESULTS_BRANCH or results")
    p.add_argument("--challenge", default=None, help="challenge file (for the hardware label)")
    p.add_argument("--json", action="store_true",
                   help=f"print one JSON document ({FORMAT})")
    p.set_defaults(func=cmd_doctor)


def _repo_from_git() -> str | None:
    import re
    import subprocess

    try:
        url = subprocess.run(["git", "remote", "get-url", "origin"], capture_output=True,
                             text=True, timeout=5).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    m = re.search(r"github\.com[:/]([A-Za-z0-9-]+/[A-Za-z0-9._-]+?)(?:\.git)?$", url)
    return m.group(1) if m else None


def cmd_doctor(args: argparse.Namespace) -> int:
    import re

    repo = args.repo or os.environ.get("GITHUB_REPOSITORY") or _repo_from_git()
    if not repo or not re.fullmatch(r"[A-Za-z0-9-]+/[A-Za-z0-9._-]+", repo):
        print("arena doctor: say which repository: --repo OWNER/NAME (or set GITHUB_REPOSITORY)"
              if not repo else f"arena doctor: --repo {for_terminal(repo)!s} is not OWNER/NAME",
              file=sys.stderr)
        return EXIT_UNKNOWN
    token = args.token or os.environ.get("GITHUB_TOKEN") or os.environ.get("GH_TOKEN") or ""
    hardware = "a10g"
    try:
        from arena.challenge import load_challenge

        hardware = load_challenge(args.challenge).hardware
    except Exception:  # no challenge here: the default label (the check names it)
        pass
    settings = Settings(
        repo=repo, runner_group=args.runner_group, hardware=hardware,
        server_url=args.server_url or os.environ.get("GITHUB_SERVER_URL") or "https://github.com",
        results_branch=args.results_branch or os.environ.get("ARENA_RESULTS_BRANCH") or "results")
    api = Api(args.api_url or os.environ.get("GITHUB_API_URL") or "https://api.github.com", token)
    checks = Doctor(api, settings).run()
    if not token:
        for c in checks:
            if c.status == UNKNOWN:
                c.detail += " (no token given: set GITHUB_TOKEN or pass --token)"
    if args.json:
        print(json.dumps(report_json(repo, checks), indent=2))
    else:
        print(report_text(repo, checks))
    return exit_code(checks)
