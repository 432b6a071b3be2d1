"""Third-party checks over the workflows and the runner-operations scripts.

- zizmor (offline, strictest persona): no findings except inline ignores that give a reason;
- GitHub's workflow and Dependabot JSON Schemas, as vendored in check-jsonschema;
- shellcheck over every shell script in runner-ops/ and every `run:` block of the workflows.

Each tool also runs once on a broken copy, so a tool that silently checks nothing fails here.
All three come from the `test` extra (pyproject.toml); a missing one fails rather than skips.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import REPO, WORKFLOWS
from .invariants import load_workflow

BIN = Path(sys.executable).parent
RUNNER_OPS = REPO / "runner-ops"


def tool(name: str) -> str:
    path = BIN / name
    if not path.exists():
        pytest.fail(f"{name} is not installed next to {sys.executable}; install the test tools "
                    "with `pip install -e '.[test]'` (or `make test`)")
    return str(path)


def run(*args: str, cwd: Path = REPO) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, cwd=cwd, capture_output=True, text=True, timeout=120, check=False)


def zizmor(*targets: str, cwd: Path = REPO) -> tuple[int, list[dict]]:
    done = run(tool("zizmor"), "--offline", "--persona=auditor", "--format=json", "--no-progress",
               *targets, cwd=cwd)
    try:
        findings = json.loads(done.stdout or "[]")
    except json.JSONDecodeError:
        pytest.fail(f"zizmor did not print JSON (exit {done.returncode}):\n{done.stdout}\n{done.stderr}")
    return done.returncode, findings


def test_zizmor_finds_nothing_in_the_workflows_and_dependabot_config() -> None:
    code, findings = zizmor(".github")
    shown = [f"{f['ident']}: {f['locations'][0]['symbolic']['key']} "
             f"{f['locations'][0]['concrete']['feature']!r}" for f in findings]
    assert (code, shown) == (0, [])


def test_every_zizmor_ignore_says_why() -> None:
    ignores = []
    for path in sorted((REPO / ".github").rglob("*.yml")):
        for lineno, line in enumerate(path.read_text().splitlines(), 1):
            if "zizmor: ignore" in line:
                ignores.append((path.name, lineno, line))
                m = re.search(r"#\s*zizmor: ignore\[[a-z0-9-]+(,\s*[a-z0-9-]+)*\]\s+(?P<why>.+)$", line)
                assert m and len(m.group("why").split()) >= 6, (
                    f"{path.name}:{lineno}: a zizmor ignore must say why, in a sentence: {line.strip()}")
    assert ignores, "expected the documented ignores (pull_request_target, issue_comment, ...)"


def test_zizmor_catches_an_unsafe_copy(tmp_path: Path) -> None:
    shutil.copytree(REPO / ".github", tmp_path / ".github")
    validate = tmp_path / ".github" / "workflows" / "validate.yml"
    text = validate.read_text()
    pin = "actions/checkout@3d3c42e5aac5ba805825da76410c181273ba90b1 # v7.0.1"
    assert pin in text and "persist-credentials: false" in text
    text = text.replace(pin, "actions/checkout@v4", 1)
    text = text.replace("persist-credentials: false",
                        "ref: ${{ github.event.pull_request.head.sha }}", 1)
    text = text.replace("run: arena bot event",
                        'run: arena bot event --title "${{ github.event.pull_request.title }}"', 1)
    validate.write_text(text)
    code, findings = zizmor(".github", cwd=tmp_path)
    idents = {f["ident"] for f in findings}
    assert code != 0
    assert {"unpinned-uses", "artipacked", "template-injection"} <= idents, idents


def test_the_workflows_follow_githubs_workflow_schema() -> None:
    files = sorted(str(p) for p in WORKFLOWS.glob("*.yml"))
    done = run(tool("check-jsonschema"), "--builtin-schema", "vendor.github-workflows", *files)
    assert done.returncode == 0, done.stdout + done.stderr
    done = run(tool("check-jsonschema"), "--builtin-schema", "vendor.dependabot",
               str(REPO / ".github" / "dependabot.yml"))
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_schema_check_rejects_a_broken_workflow(tmp_path: Path) -> None:
    broken = tmp_path / "bench.yml"
    text = (WORKFLOWS / "bench.yml").read_text()
    assert "timeout-minutes: 90" in text and "queue: max" in text
    broken.write_text(text.replace("timeout-minutes: 90", "timeout-minutes: soon")
                          .replace("queue: max", "queue: all"))
    done = run(tool("check-jsonschema"), "--builtin-schema", "vendor.github-workflows", str(broken))
    assert done.returncode != 0
    assert "bench.yml" in done.stdout + done.stderr


def shell_scripts() -> list[Path]:
    scripts = []
    for path in sorted(RUNNER_OPS.rglob("*")):
        if path.is_file() and (path.suffix == ".sh" or path.read_bytes()[:32].startswith(b"#!/usr/bin/env bash")):
            scripts.append(path)
    return scripts


def test_the_runner_operations_scripts_are_shellcheck_clean() -> None:
    scripts = shell_scripts()
    assert len(scripts) >= 5, f"expected the runner-ops scripts, found {scripts}"
    done = run(tool("shellcheck"), "--severity=style", "--external-sources", *map(str, scripts))
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_workflows_run_blocks_are_shellcheck_clean(tmp_path: Path) -> None:
    written = []
    for path in sorted(WORKFLOWS.glob("*.yml")):
        for job_id, job in load_workflow(path)["jobs"].items():
            for i, step in enumerate(job.get("steps", [])):
                if "run" in step:
                    # GitHub runs these with `bash -e {0}`; the header lets shellcheck know.
                    script = tmp_path / f"{path.stem}.{job_id}.{i}.sh"
                    script.write_text("#!/usr/bin/env bash\nset -e\n" + step["run"])
                    written.append(str(script))
    assert len(written) >= 10
    done = run(tool("shellcheck"), "--severity=style", *written)
    assert done.returncode == 0, done.stdout + done.stderr


def test_shellcheck_catches_a_broken_script(tmp_path: Path) -> None:
    script = tmp_path / "bad.sh"
    script.write_text("#!/usr/bin/env bash\nrm -rf $PRIVATE_DIR/*\n")
    done = run(tool("shellcheck"), str(script))
    assert done.returncode != 0 and "SC2086" in done.stdout
