"""The fake GitHub with a repository's settings: the read operations `arena doctor` uses (the
repository, Actions' fork-PR approval policy and workflow permissions, environments and their
branch policies, secrets and variables, Pages, rulesets and classic branch protection, runner
groups with their repositories and runners, repository runners, labels, issues).

The state starts as a correctly set-up repository (`SettingsState()`); a test breaks one setting
at a time. Every answer starts from the REST description's own example, like the base fake's,
and every exchange goes through the same OpenAPI check."""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass, field
from typing import Any

from fakegithub import FakeGitHub


@dataclass
class SettingsState:
    owner_type: str = "Organization"
    private: bool = False
    admin: bool = True
    actions_enabled: bool = True
    allowed_actions: str = "all"
    approval_policy: str = "all_external_contributors"
    default_workflow_permissions: str = "read"
    can_approve_pull_request_reviews: bool = False
    # name -> {"reviewers": [team slugs], "prevent_self_review": bool,
    #          "branch_policy": None | {"protected_branches": bool, "custom_branch_policies": bool},
    #          "policies": [branch names], "secrets": [names], "variables": [names]}
    environments: dict[str, dict[str, Any]] = field(default_factory=lambda: {
        "bench": {"reviewers": ["arena-maintainers"], "prevent_self_review": True,
                  "branch_policy": {"protected_branches": False, "custom_branch_policies": True},
                  "policies": ["main"], "secrets": [], "variables": []},
        "github-pages": {"reviewers": [], "prevent_self_review": False,
                         "branch_policy": {"protected_branches": False,
                                           "custom_branch_policies": True},
                         "policies": ["main"], "secrets": [], "variables": []}})
    pages: dict[str, Any] | None = field(default_factory=lambda: {"build_type": "workflow"})
    # branch -> rule types (with a pull_request rule's approvals in `approvals`)
    rules: dict[str, list[str]] = field(default_factory=lambda: {
        "main": ["pull_request", "non_fast_forward", "deletion"],
        "results": ["non_fast_forward", "deletion"]})
    approvals: int = 1
    classic: dict[str, dict[str, Any]] = field(default_factory=dict)
    # runner groups: id -> dict(name, visibility, repos, restricted, workflows, public, runners)
    groups: dict[int, dict[str, Any]] = field(default_factory=dict)
    repo_runners: list[dict[str, Any]] = field(default_factory=list)
    labels: list[str] = field(default_factory=list)


SETTINGS_OPS = (
    "repos/get",
    "actions/get-github-actions-permissions-repository",
    "actions/get-fork-pr-contributor-approval-permissions-repository",
    "actions/get-github-actions-default-workflow-permissions-repository",
    "repos/get-environment", "repos/list-deployment-branch-policies",
    "actions/list-environment-secrets", "actions/list-environment-variables",
    "repos/get-pages", "repos/get-branch-rules", "repos/get-branch-protection",
    "actions/list-self-hosted-runner-groups-for-org",
    "actions/list-repo-access-to-self-hosted-runner-group-in-org",
    "actions/list-self-hosted-runners-in-group-for-org",
    "actions/list-self-hosted-runners-for-repo",
    "issues/list-labels-for-repo",
)


class SettingsFake(FakeGitHub):
    def __init__(self, description: Any, **kw: Any):
        self.settings = SettingsState()
        super().__init__(description, **kw)
        from bot.doctor import LABEL_SPECS

        self.settings.labels = [n for n, _, _ in LABEL_SPECS]
        self.settings.groups = {
            1: {"name": "Default", "visibility": "all", "repos": [], "restricted": False,
                "workflows": [], "public": False, "runners": [], "default": True},
            7: {"name": "arena-gpu", "visibility": "selected", "repos": [self.full_name],
                "restricted": True,
                "workflows": [f"{self.full_name}/.github/workflows/bench.yml@refs/heads/main"],
                "public": True, "runners": [("gpu-0", ["self-hosted", "a10g"])],
                "default": False}}
        self.open_issue(self.bot_login, "Digest: Fast Gemma")
        digest = max(self.issues)
        self.issues[digest]["labels"] = ["arena: digest"]
        self.issues[digest]["user_type"] = "Bot"

    def _build_routes(self):  # the base routes plus the settings reads (which replace any
        # base route of the same operation: the settings' repository runners, say)
        routes = [r for r in super()._build_routes() if r[0] not in SETTINGS_OPS]
        handlers = {op: getattr(self, "s_" + re.sub(r"[^a-z]+", "_", op.split("/", 1)[1]))
                    for op in SETTINGS_OPS}
        for op, handler in handlers.items():
            rx = re.escape(self.d.ops[op].path)
            rx = re.sub(r"\\\{([a-z_]+)\\\}", r"(?P<\1>[^/]+)", rx)
            routes.append((op, re.compile(rx + "$"), handler))
        routes.sort(key=lambda r: -len(re.sub(r"\(\?P<[^>]+>[^)]+\)", "", r[1].pattern)))
        return routes

    def _ours(self, params: dict[str, str]) -> bool:
        return f"{params.get('owner')}/{params.get('repo')}" == self.full_name

    # -- handlers ----------------------------------------------------------------------------

    def s_get(self, params, q, data):
        if not self._ours(params):
            return self._not_found()
        st = self.settings
        j = self.d.example("repos/get")
        j.update(name=self.repo, full_name=self.full_name, private=st.private, language="Python",
                 visibility="private" if st.private else "public",
                 default_branch=self.default_branch,
                 url=self._api(f"/repos/{self.full_name}"),
                 html_url=self._html(f"/{self.full_name}"))
        j["owner"] = dict(self.user(self.owner), type=st.owner_type)
        j.pop("organization", None)
        j.pop("parent", None)
        j.pop("source", None)
        j.pop("template_repository", None)
        j["permissions"] = {"admin": st.admin, "maintain": st.admin, "push": st.admin,
                            "triage": True, "pull": True}
        return 200, j

    def _admin_only(self) -> tuple[int, Any] | None:
        if not self.settings.admin:
            return 403, {"message": "Resource not accessible by integration",
                         "documentation_url": "https://docs.github.com/rest"}
        return None

    def s_get_github_actions_permissions_repository(self, params, q, data):
        st = self.settings
        j: dict[str, Any] = {"enabled": st.actions_enabled}
        if st.actions_enabled:
            j["allowed_actions"] = st.allowed_actions
            if st.allowed_actions == "selected":
                j["selected_actions_url"] = self._api(
                    f"/repos/{self.full_name}/actions/permissions/selected-actions")
        return self._admin_only() or (200, j)

    def s_get_fork_pr_contributor_approval_permissions_repository(self, params, q, data):
        return self._admin_only() or (200, {"approval_policy": self.settings.approval_policy})

    def s_get_github_actions_default_workflow_permissions_repository(self, params, q, data):
        st = self.settings
        return self._admin_only() or (200, {
            "default_workflow_permissions": st.default_workflow_permissions,
            "can_approve_pull_request_reviews": st.can_approve_pull_request_reviews})

    def _env(self, params) -> dict[str, Any] | None:
        return self.settings.environments.get(params["environment_name"])

    def s_get_environment(self, params, q, data):
        env = self._env(params)
        if env is None:
            return self._not_found()
        name = params["environment_name"]
        j = self.d.example("repos/get-environment")
        rule = j["protection_rules"][1]
        rules = []
        if env["reviewers"] or env["prevent_self_review"]:
            rule = copy.deepcopy(rule)
            team = self.d.example("repos/get-environment")["protection_rules"][1]["reviewers"][1]
            rule["reviewers"] = [dict(copy.deepcopy(team), reviewer=dict(
                team["reviewer"], slug=slug, name=slug)) for slug in env["reviewers"]]
            rule["prevent_self_review"] = env["prevent_self_review"]
            rules.append(rule)
        j.update(name=name, protection_rules=rules,
                 deployment_branch_policy=copy.deepcopy(env["branch_policy"]),
                 url=self._api(f"/repos/{self.full_name}/environments/{name}"))
        return 200, j

    def s_list_deployment_branch_policies(self, params, q, data):
        env = self._env(params)
        if env is None:
            return self._not_found()
        items = [{"id": 361000 + i, "node_id": f"GBP_{i}", "name": n}
                 for i, n in enumerate(env["policies"])]
        return 200, {"total_count": len(items), "branch_policies": items}

    def s_list_environment_secrets(self, params, q, data):
        env = self._env(params)
        if env is None:
            return self._not_found()
        items = [{"name": n, "created_at": "2026-01-01T00:00:00Z",
                  "updated_at": "2026-01-01T00:00:00Z"} for n in env["secrets"]]
        return 200, {"total_count": len(items), "secrets": items}

    def s_list_environment_variables(self, params, q, data):
        env = self._env(params)
        if env is None:
            return self._not_found()
        items = [{"name": n, "value": "x", "created_at": "2026-01-01T00:00:00Z",
                  "updated_at": "2026-01-01T00:00:00Z"} for n in env["variables"]]
        return 200, {"total_count": len(items), "variables": items}

    def s_get_pages(self, params, q, data):
        if self.settings.pages is None:
            return 404, {"message": "Not Found", "documentation_url": "https://docs.github.com/rest"}
        j = self.d.example("repos/get-pages")
        j.update(url=self._api(f"/repos/{self.full_name}/pages"), cname=None,
                 html_url=f"https://{self.owner}.github.io/{self.repo}/",
                 build_type=self.settings.pages["build_type"])
        if j["build_type"] == "workflow":
            j.pop("source", None)
        return 200, j

    def s_get_branch_rules(self, params, q, data):
        out = []
        for i, t in enumerate(self.settings.rules.get(params["branch"], [])):
            rule: dict[str, Any] = {"type": t, "ruleset_source_type": "Repository",
                                    "ruleset_source": self.full_name, "ruleset_id": 40 + i}
            if t == "pull_request":
                rule["parameters"] = {
                    "dismiss_stale_reviews_on_push": True, "require_code_owner_review": False,
                    "require_last_push_approval": True,
                    "required_approving_review_count": self.settings.approvals,
                    "required_review_thread_resolution": False}
            out.append(rule)
        return 200, out

    def s_get_branch_protection(self, params, q, data):
        c = self.settings.classic.get(params["branch"])
        if c is None:
            return 404, {"message": "Branch not protected",
                         "documentation_url": "https://docs.github.com/rest"}
        j = self.d.example("repos/get-branch-protection")
        j["allow_force_pushes"] = {"enabled": c.get("force", False)}
        j["allow_deletions"] = {"enabled": c.get("delete", False)}
        if c.get("approvals") is not None:
            j["required_pull_request_reviews"]["required_approving_review_count"] = c["approvals"]
        else:
            j.pop("required_pull_request_reviews", None)
        return 200, j

    def _group_json(self, gid: int) -> dict[str, Any]:
        g = self.settings.groups[gid]
        org = self.owner
        j = {"id": gid, "name": g["name"], "visibility": g["visibility"],
             "default": g.get("default", False),
             "runners_url": self._api(f"/orgs/{org}/actions/runner-groups/{gid}/runners"),
             "inherited": False, "allows_public_repositories": g["public"],
             "restricted_to_workflows": g["restricted"], "selected_workflows": g["workflows"],
             "workflow_restrictions_read_only": False}
        if g["visibility"] == "selected":
            j["selected_repositories_url"] = self._api(
                f"/orgs/{org}/actions/runner-groups/{gid}/repositories")
        return j

    def _org_ok(self, params) -> tuple[int, Any] | None:
        if params["org"] != self.owner or self.settings.owner_type != "Organization":
            return self._not_found()
        return self._admin_only()

    def s_list_self_hosted_runner_groups_for_org(self, params, q, data):
        refused = self._org_ok(params)
        if refused:
            return refused
        visible = [gid for gid, g in self.settings.groups.items()
                   if "visible_to_repository" not in q or g["visibility"] == "all"
                   or q["visible_to_repository"] in [r.split("/")[1] for r in g["repos"]]]
        items = [self._group_json(gid) for gid in visible]
        return 200, {"total_count": len(items), "runner_groups": items}

    def s_list_repo_access_to_self_hosted_runner_group_in_org(self, params, q, data):
        refused = self._org_ok(params)
        gid = int(params["runner_group_id"])
        if refused or gid not in self.settings.groups:
            return refused or self._not_found()
        base = self.d.example("actions/list-repo-access-to-self-hosted-runner-group-in-org")
        items = []
        for full in self.settings.groups[gid]["repos"]:
            r = copy.deepcopy(base["repositories"][0])
            r.update(full_name=full, name=full.split("/")[1])
            items.append(r)
        return 200, {"total_count": len(items), "repositories": items}

    def _runners(self, runners: list[tuple[str, list[str]]]) -> dict[str, Any]:
        items = [{"id": 100 + i, "name": name, "os": "linux", "status": "online", "busy": False,
                  "ephemeral": True, "labels": [{"id": 5 + k, "name": lb,
                                                 "type": "read-only" if lb == "self-hosted"
                                                 else "custom"}
                                                for k, lb in enumerate(labels)]}
                 for i, (name, labels) in enumerate(runners)]
        return {"total_count": len(items), "runners": items}

    def s_list_self_hosted_runners_in_group_for_org(self, params, q, data):
        refused = self._org_ok(params)
        gid = int(params["runner_group_id"])
        if refused or gid not in self.settings.groups:
            return refused or self._not_found()
        return 200, self._runners(self.settings.groups[gid]["runners"])

    def s_list_self_hosted_runners_for_repo(self, params, q, data):
        return self._admin_only() or (200, self._runners(
            [(r["name"], r["labels"]) for r in self.settings.repo_runners]))

    def s_list_labels_for_repo(self, params, q, data):
        labels = sorted(set(self.settings.labels) | self.labels_created)
        chunk, extra = self._page([self.label(n) for n in labels], q,
                                  f"/repos/{self.full_name}/labels")
        return 200, chunk, extra
