"""The workflows keep their security invariants, and the checks catch each way of breaking them.

Every unsafe variant below is a small edit someone could plausibly make (often to "fix" a
failing run); each must be reported with the file, the job or step, and what is wrong.
"""

from __future__ import annotations

from typing import Any, Callable

import pytest

from .conftest import WORKFLOWS
from .invariants import check_directory, check_workflow, parse_workflow

Workflow = dict[str, Any]


def test_the_repository_workflows_keep_every_invariant() -> None:
    violations = check_directory(WORKFLOWS)
    assert not violations, "\n".join(map(str, violations))


def test_the_workflows_of_the_design_are_all_there(workflows: dict[str, Workflow]) -> None:
    assert set(workflows) == {"validate.yml", "commands.yml", "bench.yml", "site.yml", "ci.yml",
                              "control.yml"}


def _step(wf: Workflow, job: str, predicate: Callable[[dict[str, Any]], bool]) -> dict[str, Any]:
    steps = [s for s in wf["jobs"][job]["steps"] if predicate(s)]
    assert steps, f"no such step in {job}"
    return steps[0]


def _checkout(wf: Workflow, job: str) -> dict[str, Any]:
    return _step(wf, job, lambda s: str(s.get("uses", "")).startswith("actions/checkout@"))


def _named(fragment: str) -> Callable[[dict[str, Any]], bool]:
    return lambda s: fragment in str(s.get("name", ""))


def checkout_pr_head_in_validate(wf: Workflow) -> None:
    _checkout(wf, "validate")["with"]["ref"] = "${{ github.event.pull_request.head.sha }}"


def checkout_pr_head_repository_in_validate(wf: Workflow) -> None:
    _checkout(wf, "validate")["with"]["repository"] = (
        "${{ github.event.pull_request.head.repo.full_name }}")


def checkout_computed_ref_in_commands(wf: Workflow) -> None:
    _checkout(wf, "command")["with"]["ref"] = "${{ steps.pr.outputs.head }}"


def fetch_pr_ref_in_a_script(wf: Workflow) -> None:
    wf["jobs"]["command"]["steps"].insert(1, {
        "name": "Get the code", "env": {"PR": "${{ github.event.issue.number }}"},
        "run": 'git fetch origin "refs/pull/$PR/head" && git checkout FETCH_HEAD'})


def checkout_head_sha_from_env_in_a_script(wf: Workflow) -> None:
    wf["jobs"]["validate"]["steps"].insert(1, {
        "name": "Switch to the PR", "env": {"HEAD": "${{ github.event.pull_request.head.sha }}"},
        "run": 'git fetch origin "$HEAD" && git checkout "$HEAD"'})


def allow_unsafe_pr_checkout(wf: Workflow) -> None:
    _checkout(wf, "validate")["with"]["allow-unsafe-pr-checkout"] = True


def secret_on_the_self_hosted_job(wf: Workflow) -> None:
    _step(wf, "bench", _named("Measure")).setdefault("env", {})["HF_TOKEN"] = "${{ secrets.HF_TOKEN }}"


def secret_in_workflow_env_inherited_by_the_gpu_job(wf: Workflow) -> None:
    wf["env"] = {"HF_TOKEN": "${{ secrets.HF_TOKEN }}"}


def unpinned_checkout(wf: Workflow) -> None:
    _checkout(wf, "validate")["uses"] = "actions/checkout@v4"


def unpinned_image(wf: Workflow) -> None:
    wf["jobs"]["build"]["steps"].append({"name": "Lint", "uses": "docker://alpine:3"})


def comment_body_in_run(wf: Workflow) -> None:
    wf["jobs"]["command"]["steps"].append(
        {"name": "Echo", "run": 'echo "${{ github.event.comment.body }}"'})


def write_permission_on_bench(wf: Workflow) -> None:
    wf["jobs"]["bench"]["permissions"]["contents"] = "write"


def write_all_on_bench(wf: Workflow) -> None:
    wf["jobs"]["bench"]["permissions"] = "write-all"


def checkout_keeps_credentials(wf: Workflow) -> None:
    del _checkout(wf, "build")["with"]["persist-credentials"]


def workflow_level_write_all(wf: Workflow) -> None:
    wf["permissions"] = "write-all"


def job_without_permissions(wf: Workflow) -> None:
    del wf["jobs"]["test"]["permissions"]


def self_hosted_under_pull_request_target(wf: Workflow) -> None:
    wf["jobs"]["validate"]["runs-on"] = ["self-hosted", "a10g"]


def bench_also_on_pull_request(wf: Workflow) -> None:
    wf["on"]["pull_request"] = {"paths": ["submissions/**"]}


def bench_without_approval(wf: Workflow) -> None:
    del wf["jobs"]["approve"]["environment"]


def id_token_on_publish(wf: Workflow) -> None:
    wf["jobs"]["publish"]["permissions"]["id-token"] = "write"


def id_token_on_approve(wf: Workflow) -> None:
    wf["jobs"]["approve"]["permissions"] = {"id-token": "write"}


def id_token_on_ci(wf: Workflow) -> None:
    wf["jobs"]["test"]["permissions"]["id-token"] = "write"


def id_token_on_pages_build(wf: Workflow) -> None:
    wf["jobs"]["build"]["permissions"]["id-token"] = "write"


def bench_gains_a_write_scope_beside_id_token(wf: Workflow) -> None:
    wf["jobs"]["bench"]["permissions"]["actions"] = "write"


def bench_without_timeout(wf: Workflow) -> None:
    del wf["jobs"]["bench"]["timeout-minutes"]


UNSAFE = [
    # (workflow, mutation, rule, fragments the message must contain)
    ("validate.yml", checkout_pr_head_in_validate, "pr-checkout",
     ["validate.yml", "jobs.validate", "with.ref", "github.event.pull_request.head.sha",
      "pull_request_target"]),
    ("validate.yml", checkout_pr_head_repository_in_validate, "pr-checkout",
     ["with.repository", "head.repo.full_name"]),
    ("commands.yml", checkout_computed_ref_in_commands, "pr-checkout",
     ["commands.yml", "jobs.command", "issue_comment", "steps.pr.outputs.head"]),
    ("commands.yml", fetch_pr_ref_in_a_script, "pr-checkout", ["'Get the code'", "fetches"]),
    ("validate.yml", checkout_head_sha_from_env_in_a_script, "pr-checkout",
     ["'Switch to the PR'"]),
    ("validate.yml", allow_unsafe_pr_checkout, "pr-checkout", ["allow-unsafe-pr-checkout"]),
    ("bench.yml", secret_on_the_self_hosted_job, "self-hosted-secrets",
     ["bench.yml", "jobs.bench", "secrets.HF_TOKEN", "no secrets"]),
    ("bench.yml", secret_in_workflow_env_inherited_by_the_gpu_job, "self-hosted-secrets",
     ["workflow-level env", "inherits"]),
    ("validate.yml", unpinned_checkout, "pinned-uses",
     ["jobs.validate", "'actions/checkout@v4'", "40-hex"]),
    ("site.yml", unpinned_image, "pinned-uses", ["docker://alpine:3", "sha256"]),
    ("commands.yml", comment_body_in_run, "expression-in-run",
     ["jobs.command", "'Echo'", "${{ github.event.comment.body }}", "env:"]),
    ("bench.yml", write_permission_on_bench, "self-hosted-write",
     ["jobs.bench.permissions", "contents", "read scopes"]),
    ("bench.yml", write_all_on_bench, "self-hosted-write", ["write-all"]),
    ("site.yml", checkout_keeps_credentials, "checkout-credentials",
     ["jobs.build", "persist-credentials: false"]),
    ("validate.yml", workflow_level_write_all, "workflow-permissions", ["'write-all'", "{}"]),
    ("ci.yml", job_without_permissions, "job-permissions", ["jobs.test.permissions"]),
    ("validate.yml", self_hosted_under_pull_request_target, "pr-on-self-hosted",
     ["jobs.validate.runs-on", "GitHub-hosted"]),
    ("bench.yml", bench_also_on_pull_request, "self-hosted-trigger",
     ["jobs.bench", "pull_request", "workflow_dispatch"]),
    ("bench.yml", bench_without_approval, "self-hosted-approval", ["jobs.bench", "environment"]),
    ("bench.yml", bench_without_timeout, "job-timeout", ["jobs.bench", "timeout-minutes"]),
    ("bench.yml", id_token_on_publish, "id-token-scope", ["jobs.publish.permissions.id-token", "OIDC"]),
    ("bench.yml", id_token_on_approve, "id-token-scope", ["jobs.approve.permissions.id-token"]),
    ("ci.yml", id_token_on_ci, "id-token-scope", ["ci.yml", "jobs.test.permissions.id-token"]),
    ("site.yml", id_token_on_pages_build, "id-token-scope", ["jobs.build.permissions.id-token"]),
    ("bench.yml", bench_gains_a_write_scope_beside_id_token, "self-hosted-write",
     ["jobs.bench.permissions", "actions"]),
]


@pytest.mark.parametrize(("name", "mutate", "rule", "fragments"), UNSAFE,
                         ids=[m.__name__ for _, m, _, _ in UNSAFE])
def test_an_unsafe_copy_is_caught_with_a_clear_message(
        workflow_copy: Callable[[str], Workflow], name: str, mutate: Callable[[Workflow], None],
        rule: str, fragments: list[str]) -> None:
    wf = workflow_copy(name)
    assert not check_workflow(name, wf), "the unmodified copy must be clean"
    mutate(wf)
    violations = check_workflow(name, wf)
    caught = [v for v in violations if v.rule == rule]
    assert caught, f"{mutate.__name__} was not caught as {rule}: {[str(v) for v in violations]}"
    assert any(all(f in str(v) for f in fragments) for v in caught), (
        f"no {rule} message names all of {fragments}: {[str(v) for v in caught]}")


def test_a_pinned_action_without_its_version_comment_is_caught(workflow_dir) -> None:
    text = (workflow_dir / "validate.yml").read_text()
    assert " # v7.0.1" in text
    unsafe = text.replace(" # v7.0.1", "", 1)
    violations = check_workflow("validate.yml", parse_workflow(unsafe), unsafe)
    assert [v.rule for v in violations] == ["pinned-uses"]
    assert "no version comment" in str(violations[0]) and "line " in violations[0].where


def test_the_on_key_is_read_as_a_string_not_a_boolean() -> None:
    wf = parse_workflow("on:\n  workflow_dispatch:\nyes_key: yes\nflag: true\n")
    assert "on" in wf and wf["yes_key"] == "yes" and wf["flag"] is True


def test_only_the_gpu_job_and_the_pages_deployment_can_mint_an_oidc_token(workflows) -> None:
    minting = {(name, job_id) for name, wf in workflows.items() for job_id, job in wf["jobs"].items()
               if (job.get("permissions") or {}).get("id-token") == "write"}
    assert minting == {("bench.yml", "bench"), ("site.yml", "deploy")}
    assert workflows["bench.yml"]["jobs"]["bench"]["permissions"] == {
        "contents": "read", "pull-requests": "read", "id-token": "write"}


def test_a_job_on_a_runner_group_or_expression_counts_as_self_hosted() -> None:
    wf = parse_workflow(
        "on: pull_request\npermissions: {}\njobs:\n"
        "  a:\n    runs-on: {group: gpus}\n    permissions: {}\n    timeout-minutes: 5\n"
        "    steps: [{run: 'true'}]\n"
        "  b:\n    runs-on: ${{ inputs.where }}\n    permissions: {}\n    timeout-minutes: 5\n"
        "    steps: [{run: 'true'}]\n")
    rules = {(v.where, v.rule) for v in check_workflow("x.yml", wf)}
    assert ("jobs.a.runs-on", "pr-on-self-hosted") in rules
    assert ("jobs.b.runs-on", "pr-on-self-hosted") in rules
