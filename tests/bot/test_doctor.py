"""`arena doctor` against the fake GitHub with a repository's settings (every exchange checked
against GitHub's REST description): a correct repository passes; each wrong setting, one at a
time, is found, named, and comes with its fix and its settings page; a token that cannot read
the settings makes it say so (exit 2), never call the repository fine."""

from __future__ import annotations

import json
from typing import Callable

import pytest

from arena.cli import main
from conftest import serve_checked
from fakesettings import SettingsFake


@pytest.fixture
def sfake(gh_description):
    yield from serve_checked(SettingsFake(gh_description))


def doctor(sfake, capsys, *extra: str, token: str = "read-token") -> tuple[int, dict]:
    code = main(["doctor", "--repo", sfake.full_name, "--api-url", sfake.url,
                 "--token", token, "--json", *extra])
    out = capsys.readouterr().out
    doc = json.loads(out)
    assert doc["format"] == "arena.doctor/1"
    return code, doc


def by_id(doc: dict) -> dict[str, dict]:
    return {c["id"]: c for c in doc["checks"]}


def test_a_correct_repository_passes(sfake, capsys):
    code, doc = doctor(sfake, capsys)
    statuses = {c["id"]: c["status"] for c in doc["checks"]}
    assert statuses == {k: "ok" for k in statuses}, doc
    assert set(statuses) == {
        "actions-enabled", "fork-pr-approval", "workflow-token", "bench-environment", "pages",
        "default-branch-protection", "results-branch-protection", "runner-group",
        "repository-runners", "labels", "digest-issue"}
    assert code == 0 and doc["result"] == "ok"
    # read-only: nothing but GET requests
    assert {c.method for c in sfake.calls} == {"GET"}


def test_text_report_of_a_correct_repository(sfake, capsys):
    code = main(["doctor", "--repo", sfake.full_name, "--api-url", sfake.url,
                 "--token", "read-token"])
    out = capsys.readouterr().out
    assert code == 0
    assert "every setting holds" in out
    assert "WRONG" not in out


BENCH = "bench"
WRONG_SETTINGS: dict[str, tuple[str, Callable[[SettingsFake], None], str, str]] = {
    # name: (check id, break it, a phrase the detail must contain, a phrase of the fix)
    "Actions disabled":
        ("actions-enabled", lambda f: setattr(f.settings, "actions_enabled", False),
         "disabled", "Allow all actions"),
    "only local actions allowed":
        ("actions-enabled", lambda f: setattr(f.settings, "allowed_actions", "local_only"),
         "actions/checkout", "allow actions created by GitHub"),
    "fork PRs approved for first-time contributors only":
        ("fork-pr-approval", lambda f: setattr(f.settings, "approval_policy",
                                               "first_time_contributors"),
         "first_time_contributors", "Require approval for all external contributors"),
    "default token writes":
        ("workflow-token", lambda f: setattr(f.settings, "default_workflow_permissions",
                                             "write"),
         "'write'", "Read repository contents"),
    "workflows may approve pull requests":
        ("workflow-token", lambda f: setattr(f.settings, "can_approve_pull_request_reviews",
                                             True),
         "approve pull requests", "untick Allow GitHub Actions"),
    "no bench environment":
        ("bench-environment", lambda f: f.settings.environments.pop(BENCH),
         "no environment 'bench'", "Required reviewers"),
    "bench environment without reviewers":
        ("bench-environment", lambda f: f.settings.environments[BENCH].update(reviewers=[]),
         "no required reviewers", "Required reviewers"),
    "bench environment allows self-review":
        ("bench-environment",
         lambda f: f.settings.environments[BENCH].update(prevent_self_review=False),
         "self-review is allowed", "Prevent self-review"),
    "bench environment deployable from any branch":
        ("bench-environment",
         lambda f: f.settings.environments[BENCH].update(branch_policy=None),
         "any branch may deploy", "Selected branches"),
    "bench environment deployable from another branch":
        ("bench-environment",
         lambda f: f.settings.environments[BENCH].update(policies=["main", "dev"]),
         "['dev', 'main']", "main only"),
    "bench environment holds a secret":
        ("bench-environment",
         lambda f: f.settings.environments[BENCH].update(secrets=["HF_TOKEN"]),
         "1 secret(s)", "no secrets"),
    "Pages not enabled":
        ("pages", lambda f: setattr(f.settings, "pages", None), "not enabled",
         "Source: GitHub Actions"),
    "Pages built from a branch":
        ("pages", lambda f: setattr(f.settings, "pages", {"build_type": "legacy"}),
         "'legacy'", "Source: GitHub Actions"),
    "default branch unprotected":
        ("default-branch-protection", lambda f: f.settings.rules.update(main=[]),
         "without a reviewed pull request", "Require a pull request"),
    "default branch pull requests without review":
        ("default-branch-protection", lambda f: setattr(f.settings, "approvals", 0),
         "no approving review", "at least 1 approval"),
    "results branch allows force pushes":
        ("results-branch-protection", lambda f: f.settings.rules.update(results=["deletion"]),
         "force pushes", "Block force pushes"),
    "results branch may be deleted":
        ("results-branch-protection",
         lambda f: f.settings.rules.update(results=["non_fast_forward"]),
         "deletion", "Restrict deletions"),
    "no runner group for the repository":
        ("runner-group", lambda f: f.settings.groups.pop(7), "no runner group 'arena-gpu'",
         "Workflow access"),
    "runner group open to every repository":
        ("runner-group", lambda f: f.settings.groups[7].update(visibility="all"),
         "open to all repositories", "selected repositories"),
    "runner group shared with another repository":
        ("runner-group",
         lambda f: f.settings.groups[7]["repos"].append("arena-org/other"),
         "arena-org/other", "alone"),
    "runner group runs any workflow":
        ("runner-group", lambda f: f.settings.groups[7].update(restricted=False),
         "any workflow", "selected workflows"),
    "runner group allows a wildcard branch":
        ("runner-group", lambda f: f.settings.groups[7].update(workflows=[
            "arena-org/arena/.github/workflows/bench.yml@refs/heads/*"]),
         "refs/heads/*", "bench.yml@refs/heads/main"),
    "runner group refuses public repositories":
        ("runner-group", lambda f: f.settings.groups[7].update(public=False),
         "refuses public repositories", "Allow public"),
    "a GPU runner in the default group":
        ("runner-group", lambda f: f.settings.groups[1].update(
            runners=[("stray-gpu", ["self-hosted", "a10g"])]),
         "'Default'", "Workflow access"),
    "a repository-level runner":
        ("repository-runners", lambda f: f.settings.repo_runners.append(
            {"name": "my-gpu", "labels": ["self-hosted", "a10g"]}),
         "my-gpu", "jit-config.sh --org"),
    "a personal account's public repository":
        ("runner-group", lambda f: setattr(f.settings, "owner_type", "User"),
         "personal account", "organisation"),
    "a label missing":
        ("labels", lambda f: f.settings.labels.remove("arena: run voided"),
         "arena: run voided", 'gh label create "arena: run voided"'),
    "no digest issue":
        ("digest-issue", lambda f: f.issues.clear(), "no open issue", "gh workflow run site.yml"),
    "two digest issues":
        ("digest-issue", lambda f: f.issues.setdefault(99, dict(
            f.issues[max(f.issues)], number=99)), "2 open digest issues", "close all but"),
}


@pytest.mark.parametrize("case", list(WRONG_SETTINGS), ids=list(WRONG_SETTINGS))
def test_each_wrong_setting_is_found_and_named_with_its_fix(sfake, capsys, case):
    check_id, breaker, detail, fix = WRONG_SETTINGS[case]
    breaker(sfake)
    code, doc = doctor(sfake, capsys)
    checks = by_id(doc)
    wrong = [c["id"] for c in doc["checks"] if c["status"] == "wrong"]
    assert wrong == [check_id], doc
    c = checks[check_id]
    assert detail in c["detail"], c
    assert fix in c["fix"], c
    assert c["settings_url"].startswith("https://github.com/")
    assert code == 1 and doc["result"] == "wrong"


def test_text_report_names_the_wrong_setting_its_fix_and_page(sfake, capsys):
    sfake.settings.groups[7].update(restricted=False)
    code = main(["doctor", "--repo", sfake.full_name, "--api-url", sfake.url,
                 "--token", "read-token"])
    out = capsys.readouterr().out
    assert code == 1
    line = next(x for x in out.splitlines() if x.startswith("WRONG"))
    assert "runner-group" in line and "any workflow" in line
    assert "fix: organisation Settings → Actions → Runner groups" in out
    assert "at:  https://github.com/organizations/arena-org/settings/actions/runner-groups" in out
    assert "1 setting(s) wrong" in out


def test_a_private_personal_repository_skips_the_runner_group(sfake, capsys):
    sfake.settings.owner_type, sfake.settings.private = "User", True
    code, doc = doctor(sfake, capsys)
    assert by_id(doc)["runner-group"]["status"] == "skipped"
    assert code == 0


def test_without_admin_rights_the_settings_cannot_be_checked(sfake, capsys):
    sfake.settings.admin = False
    code, doc = doctor(sfake, capsys)
    unknown = {c["id"] for c in doc["checks"] if c["status"] == "unknown"}
    assert {"fork-pr-approval", "workflow-token", "runner-group",
            "repository-runners"} <= unknown
    c = by_id(doc)["fork-pr-approval"]
    assert "403" in c["detail"] and "Administration: read" in c["fix"]
    assert code == 2 and doc["result"] == "unknown"


def test_a_refused_token_is_exit_2_and_says_so(sfake, capsys):
    code, doc = doctor(sfake, capsys, token="not-a-token")
    assert code == 2
    assert "401" in doc["checks"][0]["detail"] and "GITHUB_TOKEN" in doc["checks"][0]["detail"]


def test_no_network_is_exit_2(capsys):
    code = main(["doctor", "--repo", "arena-org/arena", "--api-url", "http://127.0.0.1:9",
                 "--token", "x"])
    out = capsys.readouterr().out
    assert code == 2
    assert "could not reach" in out and "UNKNOWN" in out


def test_wrong_beats_unknown(sfake, capsys):
    sfake.settings.pages = None
    sfake.faults.append(__import__("fakegithub").Fault(
        "issues/list-labels-for-repo", "500", -1))
    code, doc = doctor(sfake, capsys)
    assert by_id(doc)["labels"]["status"] == "unknown"
    assert code == 1


def test_a_malformed_repository_name_is_refused(capsys):
    code = main(["doctor", "--repo", "not a repo\x1b[2J", "--token", "x"])
    err = capsys.readouterr().err
    assert code == 2 and "\x1b" not in err and "OWNER/NAME" in err
