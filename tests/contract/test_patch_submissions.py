"""A submission that carries an engine patch: engine.patch and engine.source in the YAML, the patch
beside it, the caps and pinned releases of challenge.yaml, config_sha256, the schema and
`arena validate` as a participant runs it."""

from __future__ import annotations

import copy
import hashlib
import json
import shutil

import jsonschema
import pytest
import yaml

from arena.challenge import ChallengeError, load_challenge
from arena.commands import validate_paths
from arena.submission import json_schema

from .conftest import REPO, VALID_REVISION, Repo, dump
from .test_challenge import _broken
from .test_cli_validate import arena
from .test_patch import GOOD, modified

SOURCE = {"repo": "alice/vllm", "commit": "fedcba9876543210fedcba9876543210fedcba98"}


def patched(name: str = "fast", **engine) -> dict:
    return {
        "name": name, "description": "a faster attention path",
        "model": {"id": "google/gemma-4-E4B-it", "revision": VALID_REVISION},
        "engine": {"name": "vllm", "version": "0.32.0", "patch": f"{name}.patch", **engine},
    }


def validate(repo, doc: dict, patch: str | bytes | None = GOOD, name: str = "fast"):
    path = repo.write(f"submissions/alice/{name}.yaml", doc)
    if patch is not None:
        repo.write(f"submissions/alice/{name}.patch", patch)
    (report,) = validate_paths([path], repo.challenge)
    return report


def test_both_challenges_pin_the_release_and_allow_patches(challenge, demo_challenge):
    for ch in (challenge, demo_challenge):
        rule = ch.engines["vllm"]
        assert rule.patches.allowed
        assert (rule.patches.max_bytes, rule.patches.max_files, rule.patches.max_file_lines) == (
            262144, 40, 5000)
        assert rule.releases["0.32.0"].tag == "v0.32.0"


def test_a_patched_submission_is_valid_and_its_patch_summarised(repo):
    report = validate(repo, patched(source=SOURCE))
    assert report.valid, [p.format() for p in report.problems]
    sub = report.submission
    assert sub.patch.path == "submissions/alice/fast.patch"
    assert (sub.patch.files, sub.patch.added, sub.patch.removed) == (1, 2, 1)
    assert sub.patch.paths == ("vllm/x.py",)
    assert (sub.source.repo, sub.source.commit) == (SOURCE["repo"], SOURCE["commit"])
    assert sub.to_json()["patch"]["sha256"] == sub.patch.sha256
    assert sub.config()["engine"]["patch"] == {"sha256": sub.patch.sha256}


def test_a_different_patch_is_a_different_configuration(repo):
    a = validate(repo, patched()).submission
    b = validate(repo, patched(), GOOD.replace("+d\n", "+e\n")).submission
    assert a.config_sha256() != b.config_sha256()
    # engine.source is provenance, not what is measured.
    c = validate(repo, patched(source=SOURCE)).submission
    assert c.config_sha256() == a.config_sha256()


def test_a_submission_without_a_patch_hashes_as_before(repo):
    """Results already published name config_sha256; a plain submission's must not move."""
    doc = patched()
    del doc["engine"]["patch"]
    sub = validate(repo, doc, None).submission
    assert "patch" not in sub.config()["engine"]
    expected = hashlib.sha256(json.dumps(
        {"model": {"id": "google/gemma-4-E4B-it", "revision": VALID_REVISION},
         "engine": {"name": "vllm", "version": "0.32.0", "args": {}}},
        sort_keys=True, separators=(",", ":")).encode()).hexdigest()
    assert sub.config_sha256() == expected


def test_a_missing_patch_file_is_a_clear_problem_at_the_field(repo):
    report = validate(repo, patched(), None)
    (p,) = report.problems
    assert p.field == "engine.patch"
    assert "'fast.patch'" in p.message and "does not exist" in p.message
    assert "beside the YAML" in p.message


def test_patch_problems_are_reported_at_the_patch_files_lines(repo):
    report = validate(repo, patched(), modified("vllm/_version.py"))
    assert not report.valid
    field, own = report.problems
    assert field.field == "engine.patch" and "not an acceptable patch" in field.message
    assert own.file.endswith("submissions/alice/fast.patch") and own.line == 1
    assert "version file" in own.message


YAML_CASES = [
    ("folder in the name", "sub/fast.patch", "plain file name"),
    ("dot-dot", "../bob/fast.patch", "plain file name"),
    ("absolute", "/etc/passwd", "plain file name"),
    ("backslash", "..\\fast.patch", "plain file name"),
    ("not .patch", "fast.diff", "not a patch file name"),
    ("another name", "other.patch", "must be 'fast.patch'"),
    ("not a string", 7, "file name in quotes"),
]


@pytest.mark.parametrize("value,words", [c[1:] for c in YAML_CASES], ids=[c[0] for c in YAML_CASES])
def test_engine_patch_must_be_the_plain_name_beside_the_yaml(repo, value, words):
    doc = patched()
    doc["engine"]["patch"] = value
    report = validate(repo, doc)
    (p,) = report.problems
    assert p.field == "engine.patch" and words in p.message


SOURCE_CASES = [
    ("short sha", {"repo": "alice/vllm", "commit": "fedcba9"}, "engine.source.commit", "short"),
    ("branch", {"repo": "alice/vllm", "commit": "main"}, "engine.source.commit", "branch"),
    ("url not repo", {"repo": "https://evil.example/x", "commit": SOURCE["commit"]},
     "engine.source.repo", "owner/name"),
    ("markdown in repo", {"repo": "a/b)[x](http://e", "commit": SOURCE["commit"]},
     "engine.source.repo", "owner/name"),
    ("dot-dot repo", {"repo": "alice/..", "commit": SOURCE["commit"]}, "engine.source.repo",
     "'..'"),
    ("extra field", {**SOURCE, "url": "http://x"}, "engine.source.url", "unknown"),
    ("missing commit", {"repo": "alice/vllm"}, "engine.source", "'commit' is missing"),
]


@pytest.mark.parametrize("source,field,words", [c[1:] for c in SOURCE_CASES],
                         ids=[c[0] for c in SOURCE_CASES])
def test_engine_source_is_a_repo_and_a_full_sha(repo, source, field, words):
    report = validate(repo, patched(source=source))
    assert not report.valid
    p = next(p for p in report.problems if p.field == field)
    assert words in p.message, p.message


def test_source_without_a_patch_is_refused(repo):
    doc = patched(source=SOURCE)
    del doc["engine"]["patch"]
    (p,) = validate(repo, doc, None).problems
    assert p.field == "engine.source" and "no engine.patch" in p.message


def _repo_with(tmp_path, change):
    path = _broken(tmp_path, change)
    (path.parent / "submissions").mkdir(exist_ok=True)
    return Repo(path.parent)


def test_a_challenge_without_patches_refuses_engine_patch(tmp_path):
    repo = _repo_with(tmp_path, lambda d: d["engines"]["vllm"]["patches"].update(allowed=False))
    (p,) = validate(repo, patched()).problems
    assert p.field == "engine.patch" and "does not allow engine patches" in p.message


def test_a_version_without_a_pinned_release_takes_no_patch(tmp_path):
    repo = _repo_with(tmp_path, lambda d: d["engines"]["vllm"]["releases"].update(
        {"0.33.0": {"tag": "v0.33.0"}}))
    doc = patched()
    doc["engine"]["version"] = "0.33.1"
    (p,) = validate(repo, doc).problems
    assert p.field == "engine.patch" and "pinned release" in p.message and "0.32.0" in p.message


def test_the_challenges_caps_apply(tmp_path):
    repo = _repo_with(tmp_path, lambda d: d["engines"]["vllm"]["patches"].update(max_files=1))
    report = validate(repo, patched(), GOOD + modified("vllm/y.py"))
    assert any("at most 1" in p.message for p in report.problems)


CHALLENGE_CASES = [
    ("short commit", lambda d: d["engines"]["vllm"]["releases"]["0.32.0"].update(commit="abc"),
     "engines.vllm.releases.0.32.0.commit", "full 40-character"),
    ("release below min", lambda d: d["engines"]["vllm"]["releases"].update(
        {"0.31.0": {"tag": "v0.31.0"}}), "engines.vllm.releases.0.31.0", "not an allowed"),
    ("allowed without releases", lambda d: d["engines"]["vllm"].update(releases={}),
     "engines.vllm.patches.allowed", "no release is pinned"),
    ("cap of zero", lambda d: d["engines"]["vllm"]["patches"].update(max_files=0),
     "engines.vllm.patches.max_files", "out of range"),
    ("unknown patch key", lambda d: d["engines"]["vllm"]["patches"].update(binary=True),
     "engines.vllm.patches.binary", "unknown"),
    ("allowed not a bool", lambda d: d["engines"]["vllm"]["patches"].update(allowed="yes"),
     "engines.vllm.patches.allowed", "true or false"),
]


@pytest.mark.parametrize("change,field,words", [c[1:] for c in CHALLENGE_CASES],
                         ids=[c[0] for c in CHALLENGE_CASES])
def test_challenge_patch_settings_are_checked(tmp_path, change, field, words):
    with pytest.raises(ChallengeError) as exc:
        load_challenge(_broken(tmp_path, change))
    assert any(p.field == field and words in p.message for p in exc.value.problems), \
        [p.format() for p in exc.value.problems]


def test_the_schema_describes_patch_and_source(challenge):
    schema = json_schema(challenge)
    eng = schema["properties"]["engine"]["properties"]
    assert "v0.32.0" in eng["patch"]["description"]
    ok = patched(source=SOURCE)
    jsonschema.validate(ok, schema)
    for bad in ({"patch": "../x.patch"}, {"patch": "a/b.patch"},
                {"source": {"repo": "x", "commit": SOURCE["commit"]}},
                {"source": {"repo": "a/b", "commit": "main"}}):
        doc = copy.deepcopy(ok)
        doc["engine"].update(bad)
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate(doc, schema)


def test_arena_validate_checks_the_patch_beside_the_yaml(repo):
    y = repo.write("submissions/alice/fast.yaml", patched())
    repo.write("submissions/alice/fast.patch", GOOD)
    ch = str(repo.root / "challenge.yaml")
    proc = arena("validate", "--challenge", ch, str(y))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "valid (alice/fast)" in proc.stdout
    repo.write("submissions/alice/fast.patch", modified("vllm/../../runner/bench.py"))
    proc = arena("validate", "--challenge", ch, str(y))
    assert proc.returncode == 1
    patch_line = [ln for ln in proc.stdout.splitlines() if ln.startswith(
        str(repo.root / "submissions/alice/fast.patch") + ":1:1:")]
    assert patch_line and "'..'" in patch_line[0]
    proc = arena("validate", "--json", "--challenge", ch, str(y))
    doc = json.loads(proc.stdout)
    probs = doc["files"][0]["problems"]
    assert probs[0]["field"] == "engine.patch" and "file" not in probs[0]
    assert probs[1]["file"].endswith("fast.patch") and probs[1]["line"] == 1


def test_arena_validate_refuses_a_patch_that_is_a_link(repo, tmp_path):
    secret = tmp_path / "secret.patch"
    secret.write_text(GOOD)
    y = repo.write("submissions/alice/fast.yaml", patched())
    (repo.root / "submissions/alice/fast.patch").symlink_to(secret)
    (report,) = validate_paths([y], repo.challenge)
    (p,) = report.problems
    assert "symbolic link" in p.message


def test_a_patch_escape_in_the_terminal_is_neutralised(repo):
    """Paths with control characters never reach the terminal raw."""
    proc_path = repo.write("submissions/alice/fast.yaml", patched())
    repo.write("submissions/alice/fast.patch", modified("vllm/\x1b]0;owned\x07.py"))
    proc = arena("validate", "--challenge", str(repo.root / "challenge.yaml"), str(proc_path))
    assert proc.returncode == 1
    assert "\x1b" not in proc.stdout and "\x07" not in proc.stdout


def test_the_demo_challenge_takes_a_patched_submission(tmp_path, demo_challenge):
    root = tmp_path / "demo"
    shutil.copytree(REPO / "demo", root, ignore=shutil.ignore_patterns("submissions"))
    (root / "submissions").mkdir()
    repo = Repo(root)
    doc = patched()
    doc["model"] = {"id": "./tiny-gemma4", "revision": demo_challenge.base_model.revision}
    report = validate(repo, doc)
    assert report.valid, [p.format() for p in report.problems]
    assert yaml.safe_load(dump(doc))["engine"]["patch"] == "fast.patch"


def test_the_example_patch_is_made_against_the_installed_release():
    """docs/examples/attention-log.patch: each pre-image blob is the installed vLLM's file (what
    the runner checks), found without importing vLLM."""
    import importlib.util
    from pathlib import Path

    from arena.patch import parse_patch

    spec = importlib.util.find_spec("vllm")
    if spec is None or not spec.origin:
        pytest.skip("vLLM is not installed here")
    site = Path(spec.origin).parent.parent
    text = (REPO / "docs" / "examples" / "attention-log.patch").read_text()
    patch = parse_patch(text, path="attention-log.patch")
    for f in patch.files:
        data = (site / f.path).read_bytes()
        assert hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest() == f.old_blob, f.path


def test_arena_validate_on_the_patch_itself_points_at_its_yaml(repo):
    repo.write("submissions/alice/fast.yaml", patched())
    p = repo.write("submissions/alice/fast.patch", GOOD)
    (report,) = validate_paths([p], repo.challenge)
    (problem,) = report.problems
    assert "fast.yaml beside it" in problem.message
