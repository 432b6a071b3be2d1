"""Every `arena ...` call in every workflow passes what that command needs: it parses with the
real command line (argparse enforces each command's required options), and every variable it
uses is set by its step or by GitHub Actions. Publishing without `--requested-by` and `--store`
once left result comments mentioning nobody and without a rank line; the CLI now requires both,
so a workflow that drops one fails here."""

from __future__ import annotations

import contextlib
import io
import re

import pytest

from .conftest import WORKFLOWS
from .invariants import load_workflow
from .test_workflow_contracts import arena_commands

# Variables GitHub Actions sets in every job.
ACTIONS_VARS = {"RUNNER_TEMP", "GITHUB_WORKSPACE", "GITHUB_RUN_ID", "GITHUB_REPOSITORY",
                "GITHUB_SHA", "GITHUB_REF", "RUNNER_OS"}
SAMPLE = {"PR": "42", "SHA": "0123456789abcdef0123456789abcdef01234567",
          "SUBMISSION_PATH": "submissions/alice/fast.yaml", "REQUESTED_BY": "maint-bob",
          "RUNNER_TEMP": "/tmp/runner", "BENCH_OUTCOME": "success"}


def _calls():
    for path in sorted(WORKFLOWS.glob("*.yml")):
        wf = load_workflow(path)
        for job_id, job in wf["jobs"].items():
            for step in job.get("steps", []):
                for argv in arena_commands({"steps": [step]}):
                    yield f"{path.name}:{job_id}", step, argv


CALLS = list(_calls())


def test_the_workflows_call_arena_at_all():
    assert len(CALLS) >= 6


@pytest.mark.parametrize(("where", "step", "argv"), CALLS,
                         ids=[f"{w}:{' '.join(a[:2])}" for w, _, a in CALLS])
def test_each_arena_call_passes_what_its_command_requires(where, step, argv):
    from arena.cli import build_parser
    used = {m.group(1) for a in argv for m in re.finditer(r"\$([A-Z_][A-Z0-9_]*)", a)}
    unset = sorted(used - set(step.get("env") or {}) - ACTIONS_VARS)
    assert unset == [], f"{where}: arena {' '.join(argv)} uses {unset}, which its step never sets"
    concrete = [re.sub(r"\$([A-Z_][A-Z0-9_]*)", lambda m: SAMPLE.get(m.group(1), "x"), a)
                for a in argv]
    err = io.StringIO()
    try:
        with contextlib.redirect_stderr(err):
            args = build_parser().parse_args(concrete)
    except SystemExit as exc:
        pytest.fail(f"{where}: arena {' '.join(argv)} is refused by the CLI (exit {exc.code}): "
                    f"{err.getvalue().strip()}")
    assert callable(getattr(args, "func", None))


@pytest.mark.parametrize("missing", ["--requested-by", "--store"])
def test_publish_without_requester_or_store_is_refused(missing):
    """The attack on the old workflow: a publish call that omits them no longer parses."""
    from arena.cli import build_parser
    argv = ["bot", "publish", "--pr", "1", "--sha", SAMPLE["SHA"], "--path",
            SAMPLE["SUBMISSION_PATH"], "--bench-outcome", "success", "--requested-by", "bob",
            "--store", "_results"]
    i = argv.index(missing)
    del argv[i:i + 2]
    with pytest.raises(SystemExit), contextlib.redirect_stderr(io.StringIO()):
        build_parser().parse_args(argv)
