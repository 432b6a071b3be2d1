"""The workflows keep the contracts the other parts rely on: the bench workflow's inputs and
run title (the bot counts quotas from it), the hardware label and timeouts from challenge.yaml,
the artifact handed from bench to publish, the Pages deployment, and the exact `arena` command
lines of COMMON.md's cross-part contract."""

from __future__ import annotations

import re
import shlex
from typing import Any

import pytest

from arena.challenge import load_challenge

from .conftest import REPO

Workflow = dict[str, Any]

# The bench run's title: the bot counts quotas from it, so its constants are the contract.
from bot.quota import RUN_NAME, RUN_NAME_RE as _RUN_NAME_RE, RUN_NAME_TRACK, RUN_NAME_VS  # noqa: E402

RUN_NAME_TEMPLATE = re.sub(r"\{([a-z_]+)\}", r"${{ inputs.\1 }}", RUN_NAME)
# Deliberately extended for tracks and paired runs: the optional inputs follow the title, as
# bot.quota's RUN_NAME_TRACK and RUN_NAME_VS, only when given.
RUN_NAME_SUFFIXES = "".join(
    f"${{{{ inputs.{key} && format('{re.sub(r'[{][a-z_]+[}]', '{0}', fmt)}', inputs.{key}) || '' }}}}"
    for key, fmt in (("track", RUN_NAME_TRACK), ("vs", RUN_NAME_VS)))


def render_run_name(run_name: str, inputs: dict[str, str]) -> str:
    """The title GitHub renders from the dispatch inputs (`a && b || ''` is b when a is set)."""
    run_name = re.sub(r"\$\{\{ inputs\.([a-z_]+) && format\('([^']*)', inputs\.[a-z_]+\) \|\| '' \}\}",
                      lambda m: m.group(2).replace("{0}", inputs[m.group(1)])
                      if inputs.get(m.group(1)) else "", run_name)
    return re.sub(r"\$\{\{ inputs\.([a-z_]+) \}\}", lambda m: inputs[m.group(1)], run_name)
RUN_NAME_RE = _RUN_NAME_RE.pattern

SAMPLE_INPUTS = {"pr": "42", "sha": "0123456789abcdef0123456789abcdef01234567",
                 "path": "submissions/alice/int4-mtp-k6.yaml", "requested_by": "maint-bob"}
SAMPLE_ENV = {"PR": "42", "SHA": SAMPLE_INPUTS["sha"], "SUBMISSION_PATH": SAMPLE_INPUTS["path"],
              "REQUESTED_BY": "maint-bob", "RUNNER_TEMP": "/tmp/runner",
              "BENCH_OUTCOME": "success", "TRACK": "a10g", "REQUESTED_TRACK": "",
              "VS_PATH": "submissions/bob/plain.yaml",
              "GITHUB_SHA": "89abcdef0123456789abcdef0123456789abcdef"}

# COMMON.md's cross-part commands, with the options each workflow passes.
EXPECTED_COMMANDS = {
    ("validate.yml", "validate"): [["bot", "event"]],
    ("commands.yml", "command"): [["bot", "event"]],
    ("bench.yml", "approve"): [["track", "$REQUESTED_TRACK", "--out", "$RUNNER_TEMP/track.json"]],
    ("bench.yml", "bench"): [
        ["bot", "fetch-submission", "--pr", "$PR", "--sha", "$SHA", "--path", "$SUBMISSION_PATH",
         "--out", "$SUBMISSION_PATH"],
        ["bench", "$SUBMISSION_PATH", "--prompts", "both", "--track", "$TRACK",
         "--out", "$RUNNER_TEMP/arena/result", "--engine-logs", "$RUNNER_TEMP/arena/engine-logs",
         "--vs", "$VS_PATH", "--vs-commit", "$GITHUB_SHA"]],
    ("bench.yml", "publish"): [
        ["bot", "publish", "--pr", "$PR", "--sha", "$SHA", "--path", "$SUBMISSION_PATH",
         "--result", "$RUNNER_TEMP/bench-result/result.json",
         "--stage", "$RUNNER_TEMP/bench-result/stage.json", "--bench-outcome", "$BENCH_OUTCOME",
         "--requested-by", "$REQUESTED_BY", "--store", "_results"],
        ["bot", "publish-control", "--sha", "$SHA", "--path", "$SUBMISSION_PATH",
         "--result", "$RUNNER_TEMP/bench-result/result.json", "--bench-outcome", "$BENCH_OUTCOME"]],
    ("control.yml", "dispatch"): [["bot", "control-dispatch"]],
    ("site.yml", "build"): [["site", "--store", "_results", "--out", "_site"]],
    ("site.yml", "digest"): [["bot", "update-digest", "--store", "_results"]],
}


def arena_commands(job: dict[str, Any]) -> list[list[str]]:
    """The `arena ...` command lines of a job's run blocks, as argument lists."""
    found = []
    for step in job.get("steps", []):
        script = str(step.get("run", "")).replace("\\\n", " ")
        if isinstance(step.get("run"), str) and "\n" not in step["run"].strip():
            script = step["run"].replace("\n", " ")  # a folded (>-) block is one command
        for line in script.splitlines():
            words = shlex.split(line, posix=False)
            if words and words[0] == "arena":
                found.append([w.strip('"') for w in words[1:]])
    return found


def test_each_job_runs_exactly_the_cross_part_commands(workflows: dict[str, Workflow]) -> None:
    seen = {}
    for name, wf in workflows.items():
        for job_id, job in wf["jobs"].items():
            commands = arena_commands(job)
            if commands:
                seen[(name, job_id)] = commands
    assert seen == EXPECTED_COMMANDS


def _registered(parser, command: str) -> bool:
    sub = next(a for a in parser._actions if a.__class__.__name__ == "_SubParsersAction")
    return command in sub.choices


@pytest.mark.parametrize(("where", "argv"), [
    (where, argv) for where, commands in EXPECTED_COMMANDS.items() for argv in commands])
def test_the_cli_accepts_each_command_line_the_workflows_use(where, argv) -> None:
    from arena.cli import build_parser
    parser = build_parser()
    if not _registered(parser, argv[0]):
        pytest.skip(f"`arena {argv[0]}` is not on this branch yet (another part provides it)")
    concrete = [re.sub(r"\$([A-Z_]+)", lambda m: SAMPLE_ENV[m.group(1)], a) for a in argv]
    try:
        args = parser.parse_args(concrete)
    except SystemExit as exc:  # argparse's way to reject
        pytest.fail(f"arena {' '.join(concrete)} (from {where}) is rejected by the CLI: exit {exc.code}")
    assert callable(getattr(args, "func", None))


def test_the_bench_workflow_takes_the_four_dispatch_inputs_and_nothing_else(workflows) -> None:
    # Deliberately changed for tracks (issue 16) and paired runs (issue 14): two optional
    # inputs name the track and the other submission of a paired run.
    bench = workflows["bench.yml"]
    assert set(bench["on"]) == {"workflow_dispatch"}
    inputs = bench["on"]["workflow_dispatch"]["inputs"]
    assert list(inputs) == ["pr", "sha", "path", "requested_by", "track", "vs"]
    required = {k: v for k, v in inputs.items() if k not in ("track", "vs")}
    assert all(spec["required"] is True and spec["type"] == "string" for spec in required.values())
    assert inputs["track"] == {"description": inputs["track"]["description"], "required": False,
                               "default": "", "type": "string"}
    # A paired run (/bench vs) is optional: empty is a plain run.
    assert inputs["vs"]["required"] is False and inputs["vs"]["default"] == ""


def test_an_empty_vs_is_a_plain_run_and_a_paired_one_names_the_default_branch_file(
        workflows) -> None:
    from arena.cli import build_parser
    from runner.commands import cmd_bench

    parser = build_parser()
    args = parser.parse_args(["bench", "x.yaml", "--vs", "", "--vs-commit", ""])
    assert args.func is cmd_bench and not args.vs
    steps = workflows["bench.yml"]["jobs"]["bench"]["steps"]
    names = [s.get("name", "") for s in steps]
    exists = next(s for s in steps if "paired submission is on the default branch" in
                  s.get("name", ""))
    # Checked before the approved file is written into the checkout (the default branch's
    # own tree), and only for a paired run.
    assert names.index(exists["name"]) < next(i for i, s in enumerate(steps)
                                              if "fetch-submission" in str(s.get("run", "")))
    assert exists["if"] == "inputs.vs != ''" and exists["env"] == {"VS_PATH": "${{ inputs.vs }}"}
    assert '[ -f "$VS_PATH" ] && [ ! -L "$VS_PATH" ]' in exists["run"]


def test_the_bench_run_title_carries_the_inputs_in_the_documented_grammar(workflows) -> None:
    run_name = workflows["bench.yml"]["run-name"]
    assert run_name == RUN_NAME_TEMPLATE + RUN_NAME_SUFFIXES
    rendered = render_run_name(run_name, SAMPLE_INPUTS)
    m = re.match(RUN_NAME_RE, rendered)
    assert m, rendered
    assert m.group("author") == "alice"
    assert {k: m.group(k) for k in SAMPLE_INPUTS} == SAMPLE_INPUTS
    assert m.group("track") is None and m.group("vs") is None
    # A paired run on a named track carries both, and the bot reads them back.
    both = dict(SAMPLE_INPUTS, track="l4", vs="submissions/bob/plain.yaml")
    m = re.match(RUN_NAME_RE, render_run_name(run_name, both))
    assert m and m.group("track") == "l4" and m.group("vs") == "submissions/bob/plain.yaml"
    docs = (REPO / "docs" / "runner.md").read_text()
    assert RUN_NAME_TEMPLATE + RUN_NAME_SUFFIXES in docs and RUN_NAME_RE in docs, (
        "docs/runner.md must state the run title and its regular expression exactly")


def test_the_approval_gate_checks_inputs_as_the_run_title_grammar_expects(workflows) -> None:
    """The gate's checks (bash regexes) accept what the grammar accepts and refuse the rest, so
    every run that reaches the GPU has a title the bot can parse, but a control run's: pr 0
    (control.yml), whose title the quota parser leaves alone (a control is nobody's quota)."""
    script = workflows["bench.yml"]["jobs"]["approve"]["steps"][0]["run"]
    patterns = dict(re.findall(r'\[\[ "\$([A-Z_]+)" =~ (\S+) \]\]', script))
    assert set(patterns) == {"PR", "SHA", "SUBMISSION_PATH", "REQUESTED_BY", "TRACK", "VS_PATH"}
    good = {"PR": "42", "SHA": SAMPLE_INPUTS["sha"], "SUBMISSION_PATH": SAMPLE_INPUTS["path"],
            "REQUESTED_BY": "maint-bob", "TRACK": "l4",
            "VS_PATH": "submissions/arena-maintainers/plain.yaml"}
    bad = {"PR": ["00", "01", "-1", "4 2", "42; rm -rf /", ""], "SHA": ["main", SAMPLE_INPUTS["sha"][:39], SAMPLE_INPUTS["sha"].upper()],
           "SUBMISSION_PATH": ["submissions/alice/../x.yaml", "submissions/alice/a.yml",
                               "challenge.yaml", "submissions/alice/x.yaml\nrun: evil"],
           "REQUESTED_BY": ["-bob", "bob smith", "bob\n::set-env"],
           "TRACK": ["L4", "l4 gpu", "-l4", "l4\n::set-output", "a" * 41, "l4,self-hosted",
                     "${{ github.token }}"],
           "VS_PATH": ["submissions/bob/../x.yaml", "challenge.yaml", "/etc/passwd",
                       "submissions/bob/x.yaml\nrun: evil", "submissions/bob/x.yml"]}
    assert re.fullmatch(patterns["TRACK"], "")  # empty: the challenge's first track
    for var, pattern in patterns.items():
        assert re.fullmatch(pattern, good[var]), (var, pattern)
        for value in bad[var]:
            assert not re.fullmatch(pattern, value), (var, value)
    assert re.fullmatch(patterns["PR"], "0")  # a control run
    assert re.fullmatch(patterns["VS_PATH"], "")  # a plain run
    assert '[ "$VS_PATH" != "$SUBMISSION_PATH" ]' in script  # never paired with itself
    control_title = (f"bench #0 submissions/arena-maintainers/bf16-baseline.yaml@"
                     f"{SAMPLE_INPUTS['sha']} by arena-control")
    assert not re.match(RUN_NAME_RE, control_title)


def test_the_gpu_job_asks_for_challenge_hardware_and_fits_its_timeouts(workflows) -> None:
    # Deliberately changed for tracks (issue 16): the label is the dispatched track's, resolved
    # from challenge.yaml by the approve job (test_the_track_label_comes_from_challenge_yaml).
    challenge = load_challenge(REPO / "challenge.yaml")
    bench = workflows["bench.yml"]["jobs"]["bench"]
    assert bench["runs-on"] == ["self-hosted", "${{ needs.approve.outputs.label }}"]
    assert bench["timeout-minutes"] * 60 >= challenge.startup_timeout_s + challenge.run_timeout_s
    group = bench["concurrency"]["group"]
    assert "format('bench-{0}', needs.approve.outputs.label)" in group
    assert "format('bench-{0}-run-{1}', needs.approve.outputs.label, github.run_id)" in group
    assert bench["concurrency"]["queue"] == "max"
    assert bench["concurrency"]["cancel-in-progress"] is False


def test_the_result_artifact_goes_from_bench_to_publish_and_only_aggregates_leave(workflows) -> None:
    jobs = workflows["bench.yml"]["jobs"]
    uploads = [s for s in jobs["bench"]["steps"] if "upload-artifact" in str(s.get("uses"))]
    [upload] = [s for s in uploads if s["with"]["name"] == "bench-result"]
    [download] = [s for s in jobs["publish"]["steps"] if "download-artifact" in str(s.get("uses"))]
    assert upload["with"]["name"] == download["with"]["name"] == "bench-result"
    # The only other upload is the engines' logs sealed to the maintainers' key (ciphertext;
    # the plain logs stay on the single-use runner), never handed to publish.
    [sealed] = [s for s in uploads if s is not upload]
    assert sealed["with"]["name"] == "engine-logs-sealed"
    assert sealed["with"]["path"] == "${{ runner.temp }}/arena/result/engine-logs.sealed.json"
    # Only result.json and stage.json are uploaded: not the result folder, never the logs or
    # the prompts. stage.json lets publish record a run that ended without a result.
    assert upload["with"]["path"].splitlines() == ["${{ runner.temp }}/arena/result/result.json",
                                              "${{ runner.temp }}/arena/result/stage.json"]
    assert upload["if"] == "always()" and upload["with"]["if-no-files-found"] == "ignore"
    assert download["with"]["path"] == "${{ runner.temp }}/bench-result"
    assert download.get("continue-on-error") is True


def test_publish_always_runs_and_is_the_only_writer_of_the_bench_workflow(workflows) -> None:
    jobs = workflows["bench.yml"]["jobs"]
    publish = jobs["publish"]
    assert publish["if"] == "always()" and set(publish["needs"]) == {"approve", "bench"}
    assert publish["runs-on"].startswith("ubuntu-")
    [step] = [s for s in publish["steps"] if "arena bot publish --pr" in str(s.get("run"))]
    assert step["env"]["BENCH_OUTCOME"] == "${{ needs.bench.result }}"
    [control] = [s for s in publish["steps"] if "arena bot publish-control" in str(s.get("run"))]
    assert control["env"]["BENCH_OUTCOME"] == "${{ needs.bench.result }}"
    # exactly one of the two runs: a pull request's run or a control run (pr 0)
    assert (step["if"], control["if"]) == ("inputs.pr != '0'", "inputs.pr == '0'")
    # id-token: write only mints the bench job's OIDC token (for the private prompts): no writes.
    writers = {j for j, job in jobs.items()
               if "write" in {s: v for s, v in (job.get("permissions") or {}).items() if s != "id-token"}.values()}
    assert writers == {"publish"}
    # Deliberately changed for tracks: approve reads challenge.yaml (contents: read), no more.
    assert jobs["approve"]["permissions"] == {"contents": "read"}
    assert jobs["approve"]["environment"] == "bench"
    assert jobs["bench"]["needs"] == "approve"


def test_the_site_is_built_from_the_results_branch_and_deployed_with_pages_actions(workflows) -> None:
    site = workflows["site.yml"]
    assert set(site["on"]) == {"workflow_dispatch", "push"}
    assert site["on"]["push"]["branches"] == ["main"]
    build, deploy = site["jobs"]["build"], site["jobs"]["deploy"]
    [results] = [s for s in build["steps"] if s.get("with", {}).get("ref") == "results"]
    assert results["with"]["path"] == "_results"
    assert any(str(s.get("uses", "")).startswith("actions/upload-pages-artifact@") and
               s["with"]["path"] == "_site" for s in build["steps"])
    assert [str(s["uses"]).split("@")[0] for s in deploy["steps"]] == ["actions/deploy-pages"]
    assert deploy["permissions"] == {"pages": "write", "id-token": "write"}
    assert deploy["environment"]["name"] == "github-pages"
    assert build["permissions"] == {"contents": "read"}


def test_validation_runs_on_submission_pull_requests_from_the_base_branch(workflows) -> None:
    validate = workflows["validate.yml"]
    assert set(validate["on"]) == {"pull_request_target"}
    assert validate["on"]["pull_request_target"]["paths"] == ["submissions/**"]
    assert validate["on"]["pull_request_target"]["branches"] == ["main"]
    for name, job in (("validate.yml", validate["jobs"]["validate"]),
                      ("commands.yml", workflows["commands.yml"]["jobs"]["command"])):
        checkout = job["steps"][0]
        assert str(checkout["uses"]).startswith("actions/checkout@"), name
        assert set(checkout["with"]) == {"persist-credentials"}, f"{name}: checks out the base only"


def test_commands_can_dispatch_the_bench_workflow(workflows) -> None:
    command = workflows["commands.yml"]["jobs"]["command"]
    assert command["permissions"]["actions"] == "write"
    assert workflows["commands.yml"]["concurrency"]["queue"] == "max"


def test_ci_runs_the_projects_test_command_read_only(workflows) -> None:
    ci = workflows["ci.yml"]
    assert "pull_request" in ci["on"] and "pull_request_target" not in ci["on"]
    test = ci["jobs"]["test"]
    assert test["permissions"] == {"contents": "read"}
    assert [s["run"] for s in test["steps"] if "run" in s] == [".ci/run"]
    assert (REPO / ".ci" / "run").exists()


def test_every_workflow_checkout_and_setup_is_pinned_to_the_same_release(workflows) -> None:
    pins: dict[str, set[str]] = {}
    for wf in workflows.values():
        for job in wf["jobs"].values():
            for step in job.get("steps", []):
                if "uses" in step:
                    action, sha = str(step["uses"]).split("@")
                    pins.setdefault(action, set()).add(sha)
    assert {a: len(s) for a, s in pins.items() if len(s) > 1} == {}


def test_docs_name_every_runner_ops_file_and_every_named_file_exists() -> None:
    docs = (REPO / "docs" / "runner.md").read_text()
    ops = sorted(str(p.relative_to(REPO)) for p in (REPO / "runner-ops").rglob("*")
                 if p.is_file() and p.name != "Dockerfile.dockerignore")
    missing = [p for p in ops if p not in docs]
    assert missing == [], f"docs/runner.md does not mention {missing}"
    named = set(re.findall(r"runner-ops/[\w./@-]+\w", docs))
    assert sorted(n for n in named if not (REPO / n).exists()) == []


def test_the_control_workflow_only_dispatches_the_bench_workflow(workflows) -> None:
    """Control runs take the bench path: control.yml runs daily on a GitHub-hosted machine,
    can only read the code and dispatch workflows, and the bench job skips the pull-request
    fetch for a control (pr 0), measuring the default branch's own copy of the file."""
    control = workflows["control.yml"]
    assert set(control["on"]) == {"schedule", "workflow_dispatch"}
    assert control["permissions"] == {}
    [job] = control["jobs"].values()
    assert job["runs-on"].startswith("ubuntu-")
    assert job["permissions"] == {"contents": "read", "actions": "write"}
    assert "secrets." not in str(control)
    fetch = next(s for s in workflows["bench.yml"]["jobs"]["bench"]["steps"]
                 if "fetch-submission" in str(s.get("run")))
    assert fetch["if"] == "inputs.pr != '0'"
    challenge = load_challenge(REPO / "challenge.yaml")
    assert challenge.controls is not None
    assert (REPO / challenge.controls.submission).is_file()
