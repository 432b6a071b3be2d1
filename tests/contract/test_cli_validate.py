"""`arena validate` and `arena schema` as a participant runs them: exit codes, text and JSON."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from arena.cli import main

from .conftest import REPO, dump, valid_submission


def arena(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(REPO))
    return subprocess.run([sys.executable, "-m", "arena", *args], cwd=cwd or REPO, env=env,
                          capture_output=True, text=True, timeout=60)


def test_valid_files_exit_0_with_a_summary(repo):
    path = repo.write("submissions/bob/int4-mtp.yaml", valid_submission())
    proc = arena("validate", "--challenge", str(repo.root / "challenge.yaml"), str(path))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "valid (bob/int4-mtp)" in proc.stdout
    assert "1 file: 1 valid, 0 invalid" in proc.stdout


def test_invalid_files_exit_1_with_positions(repo):
    doc = valid_submission()
    doc["engine"]["args"]["trust_remote_code"] = True
    path = repo.write("submissions/bob/int4-mtp.yaml", doc)
    proc = arena("validate", "--challenge", str(repo.root / "challenge.yaml"), str(path))
    assert proc.returncode == 1
    line = [ln for ln in proc.stdout.splitlines() if "trust_remote_code" in ln][0]
    assert line.startswith(f"{path}:")
    assert ": engine.args.trust_remote_code: " in line


def test_json_output_is_one_document_with_one_object_per_file(repo):
    good = repo.write("submissions/bob/int4-mtp.yaml", valid_submission())
    bad_doc = valid_submission("broken")
    bad_doc["model"]["revision"] = "main"
    bad = repo.write("submissions/bob/broken.yaml", bad_doc)
    proc = arena("validate", "--json", "--challenge", str(repo.root / "challenge.yaml"),
                 str(good), str(bad))
    assert proc.returncode == 1
    doc = json.loads(proc.stdout)
    assert doc["format"] == "arena.validate/1"
    assert doc["valid"] is False
    files = {f["path"]: f for f in doc["files"]}
    assert files[str(good)]["valid"] and files[str(good)]["id"] == "bob/int4-mtp"
    (problem,) = files[str(bad)]["problems"]
    assert problem["field"] == "model.revision"
    expected_line = bad.read_text().splitlines().index("  revision: main") + 1
    assert (problem["line"], problem["column"]) == (expected_line, 13)
    assert "full 40-character commit SHA" in problem["message"]


def test_a_folder_validates_every_file_and_parents_resolve_between_new_files(repo):
    parent = valid_submission("parent-sub")
    child = valid_submission("child-sub")
    child["parent"] = "carol/parent-sub"
    repo.write("submissions/carol/parent-sub.yaml", parent)
    repo.write("submissions/carol/child-sub.yaml", child)
    proc = arena("validate", "--challenge", str(repo.root / "challenge.yaml"),
                 str(repo.root / "submissions"))
    assert proc.returncode == 0, proc.stdout
    assert "3 files: 3 valid, 0 invalid" in proc.stdout


def test_usage_errors_exit_2(repo):
    proc = arena("validate", "--challenge", str(repo.root / "challenge.yaml"),
                 str(repo.root / "missing.yaml"))
    assert proc.returncode == 2
    assert "no such file or folder" in proc.stderr
    assert arena("validate", "--no-such-flag").returncode == 2
    assert arena().returncode == 2


def test_a_broken_challenge_file_is_a_usage_error_with_positions(repo):
    (repo.root / "challenge.yaml").write_text("schema_version: 1\nid: Bad Id\n")
    proc = arena("validate", "--challenge", str(repo.root / "challenge.yaml"))
    assert proc.returncode == 2
    assert "challenge.yaml:2:5: id:" in proc.stderr


def test_symlinked_submissions_are_refused(repo, tmp_path):
    target = tmp_path / "outside.yaml"
    target.write_bytes(dump(valid_submission()))
    link = repo.root / "submissions" / "bob" / "int4-mtp.yaml"
    link.parent.mkdir(parents=True)
    link.symlink_to(target)
    proc = arena("validate", "--challenge", str(repo.root / "challenge.yaml"), str(link))
    assert proc.returncode == 1
    assert "symbolic link" in proc.stdout


def test_the_repository_itself_validates():
    proc = arena("validate")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    proc = arena("validate", "--challenge", "demo/challenge.yaml")
    assert proc.returncode in (0, 2), proc.stdout + proc.stderr  # 2 only while demo/ is empty


def test_schema_check_detects_a_stale_file(repo):
    proc = arena("schema", "--check", "--challenge", str(repo.root / "challenge.yaml"))
    assert proc.returncode == 1 and "is stale" in proc.stderr
    assert arena("schema", "--challenge", str(repo.root / "challenge.yaml")).returncode == 0
    proc = arena("schema", "--check", "--challenge", str(repo.root / "challenge.yaml"))
    assert proc.returncode == 0 and "is up to date" in proc.stdout


# -- no input makes the validator crash ----------------------------------------------------------

_SETTINGS = settings(max_examples=150, deadline=None,
                     suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
_CHALLENGE = str(REPO / "challenge.yaml")

_scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=True),
                     st.text(max_size=30))
_values = st.recursive(_scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=12), inner, max_size=4)),
    max_leaves=25)
_field_names = st.sampled_from(["name", "description", "parent", "tags", "model", "engine",
                                "claimed", "id", "revision", "args", "version",
                                "speculative_config", "method", "x"])


def _run_cli_on(raw: bytes, rel: str = "submissions/fuzz/case.yaml") -> int:
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / rel
        path.parent.mkdir(parents=True)
        path.write_bytes(raw)
        code = main(["validate", "--json", "--challenge", _CHALLENGE, str(path)])
    return code


@_SETTINGS
@given(st.binary(max_size=2000))
def test_random_bytes_never_crash_the_validator(raw):
    assert _run_cli_on(raw) in (0, 1)


@_SETTINGS
@given(st.text(alphabet=st.sampled_from(list("ab:-[]{}&*!|>'\"#%@`,? \n\t\\.0123456789")),
               max_size=400))
def test_random_yaml_syntax_never_crashes_the_validator(text):
    assert _run_cli_on(text.encode("utf-8")) in (0, 1)


@_SETTINGS
@given(st.dictionaries(_field_names, _values, max_size=8))
def test_random_documents_never_crash_the_validator(doc):
    import yaml
    try:
        raw = yaml.safe_dump(doc, allow_unicode=True).encode("utf-8")
    except yaml.YAMLError:
        return
    assert _run_cli_on(raw) in (0, 1)


@_SETTINGS
@given(st.lists(st.tuples(st.lists(st.sampled_from(
    ["model", "engine", "args", "speculative_config", "claimed", "tags", "revision", "method",
     "num_speculative_tokens", "compilation_config", "cudagraph_capture_sizes", "id", "name"]),
    min_size=1, max_size=4), _values), max_size=4))
def test_mutations_of_a_valid_submission_never_crash_the_validator(changes):
    import yaml
    doc = valid_submission("case")
    for path, value in changes:
        node = doc
        for key in path[:-1]:
            if not isinstance(node, dict):
                break
            node = node.setdefault(key, {})
        if isinstance(node, dict):
            node[path[-1]] = value
    try:
        raw = yaml.safe_dump(doc, allow_unicode=True).encode("utf-8")
    except yaml.YAMLError:
        return
    assert _run_cli_on(raw) in (0, 1)
