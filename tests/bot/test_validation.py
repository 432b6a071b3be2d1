"""Validation of submission pull requests against the fake GitHub."""

from __future__ import annotations

import json

from conftest import ROOT, submission_yaml

from arena import exitcodes
from bot import labels
from bot.validation import on_pull_request


def test_one_file_pr_is_validated_within_eight_api_calls(fake, bot, pr_event):
    pr = fake.open_pull("alice", {"submissions/alice/fast.yaml": submission_yaml()})
    fake.reset_calls()
    assert on_pull_request(bot, pr_event(pr.number)) == exitcodes.OK
    calls = fake.calls_to()
    assert len(calls) <= 8, [c.op for c in calls]
    [comment] = fake.bot_comments(pr.number)
    assert "Submission check passed" in comment.body
    assert "`alice/fast`" in comment.body
    assert fake.labels_of(pr.number) == [labels.VALIDATION["valid"]]
    [check] = fake.check_runs.values()
    assert (check["name"], check["conclusion"], check["head_sha"]) == \
        ("arena/validate", "success", pr.head_sha)


import os
import subprocess
import sys

import pytest
from fakegithub import Entry
from helpers import HOSTILE, assert_neutralized


def test_invalid_submission_gets_the_validators_messages_annotations_and_label(
        fake, bot, pr_event, checkout, tmp_path):
    bad = submission_yaml(extra_args="    trust_remote_code: true\n    dtype2: auto")
    pr = fake.open_pull("alice", {"submissions/alice/fast.yaml": bad})
    assert on_pull_request(bot, pr_event(pr.number)) == exitcodes.OK
    [comment] = fake.bot_comments(pr.number)
    # the same lines as `arena validate` prints for the same file
    local = tmp_path / "checkout" / "submissions" / "alice"
    local.mkdir(parents=True)
    (local / "fast.yaml").write_bytes(bad)
    out = subprocess.run([sys.executable, "-m", "arena", "validate", "--challenge",
                          str(checkout / "challenge.yaml"), "submissions/alice/fast.yaml"],
                         cwd=checkout, capture_output=True, text=True,
                         env={**os.environ, "PYTHONPATH": str(ROOT)})
    problem_lines = [ln for ln in out.stdout.splitlines() if ln.startswith("submissions/")]
    assert len(problem_lines) == 2
    for line in problem_lines:
        assert line in comment.body
    assert "Submission check failed" in comment.body
    [check] = fake.check_runs.values()
    assert check["conclusion"] == "failure"
    lines = sorted(a["start_line"] for a in check["annotations"])
    text = bad.decode().splitlines()
    assert lines == [text.index("    trust_remote_code: true") + 1,
                     text.index("    dtype2: auto") + 1]
    assert all(a["path"] == "submissions/alice/fast.yaml" for a in check["annotations"])
    assert fake.labels_of(pr.number) == [labels.VALIDATION["invalid"]]


def test_more_than_fifty_annotations_go_in_batches(fake, bot, pr_event):
    args = "\n".join(f"    bad_arg_{i}: 1" for i in range(120))
    pr = fake.open_pull("alice", {"submissions/alice/fast.yaml": submission_yaml(extra_args=args)})
    on_pull_request(bot, pr_event(pr.number))
    [check] = fake.check_runs.values()
    assert len(check["annotations"]) == 120
    assert len(fake.calls_to("checks/update")) == 2  # 50 + 50 + 20


@pytest.mark.parametrize("kind", ["502-applied", "timeout", "rate-limit-short"])
def test_each_annotation_shows_once_when_an_update_of_the_check_run_fails(
        fake, bot, pr_event, kind):
    # GitHub appends each update's annotations to the check run's: repeating an update that
    # GitHub applied before failing would show the participant every error of it twice, and
    # one refused for a rate limit that resets soon is sent again after the wait.
    args = "\n".join(f"    bad_arg_{i}: 1" for i in range(120))
    pr = fake.open_pull("alice", {"submissions/alice/fast.yaml": submission_yaml(extra_args=args)})
    fake.inject("checks/update", kind)
    on_pull_request(bot, pr_event(pr.number))
    [check] = fake.check_runs.values()
    lines = [a["start_line"] for a in check["annotations"]]
    assert len(lines) == 120 and len(set(lines)) == 120


def test_sticky_comment_is_edited_while_the_state_holds_and_renewed_when_it_changes(
        fake, bot, pr_event):
    pr = fake.open_pull("alice", {"submissions/alice/fast.yaml":
                                  submission_yaml(extra_args="    nope: 1")})
    on_pull_request(bot, pr_event(pr.number))
    fake.push(pr.number, {"submissions/alice/fast.yaml": submission_yaml(extra_args="    nah: 1")})
    on_pull_request(bot, pr_event(pr.number, "synchronize"))
    [only] = fake.bot_comments(pr.number)
    assert "nah" in only.body and "nope" not in only.body
    fake.push(pr.number, {"submissions/alice/fast.yaml": submission_yaml()})
    on_pull_request(bot, pr_event(pr.number, "synchronize"))
    first, second = fake.bot_comments(pr.number)
    assert "failed" in first.body and "passed" in second.body
    assert fake.labels_of(pr.number) == [labels.VALIDATION["valid"]]


def test_a_pasted_marker_in_someone_elses_comment_is_not_the_bots(fake, bot, pr_event):
    pr = fake.open_pull("alice", {"submissions/alice/fast.yaml": submission_yaml()})
    fake.add_comment(pr.number, "mallory",
                     "<!-- arena-bot kind=validation state=valid sha=x nonce=1 -->\nI passed!")
    on_pull_request(bot, pr_event(pr.number))
    assert fake.comments_on(pr.number, "mallory")[0].body.endswith("I passed!")
    assert len(fake.bot_comments(pr.number)) == 1


def test_files_outside_the_authors_folder_are_refused(fake, bot, pr_event):
    pr = fake.open_pull("alice", {"submissions/alice/fast.yaml": submission_yaml(),
                                  "submissions/bob/x.yaml": submission_yaml("x"),
                                  "bot/cli.py": b"print('pwned')"})
    on_pull_request(bot, pr_event(pr.number))
    [comment] = fake.bot_comments(pr.number)
    assert "is outside submissions/alice/" in comment.body
    assert "bot/cli.py" in comment.body
    assert fake.labels_of(pr.number) == [labels.VALIDATION["invalid"]]


def test_maintainers_may_change_other_files(fake, bot, pr_event):
    fake.collaborators["carol"] = "maintain"
    pr = fake.open_pull("carol", {"submissions/carol/fast.yaml": submission_yaml(),
                                  "docs/x.md": b"hello"}, fork=False)
    on_pull_request(bot, pr_event(pr.number))
    assert fake.labels_of(pr.number) == [labels.VALIDATION["valid"]]
    assert len(fake.calls_to("repos/get-collaborator-permission-level")) == 1


def test_a_maintainers_pr_without_submissions_gets_no_comment(fake, bot, pr_event):
    fake.collaborators["carol"] = "admin"
    pr = fake.open_pull("carol", {"bot/cli.py": b"x"}, fork=False)
    assert on_pull_request(bot, pr_event(pr.number)) == exitcodes.OK
    assert fake.bot_comments(pr.number) == []
    [check] = fake.check_runs.values()
    assert check["conclusion"] == "neutral"


@pytest.mark.parametrize("entry, words", [
    (Entry("symlink", target="/etc/passwd"), "symbolic link"),
    (Entry("symlink", target="submissions/arena-maintainers/bf16-baseline.yaml"),
     "symbolic link"),
    (Entry("submodule"), "not a regular file"),
    (Entry("file", b"name: fast\n" + b"#" * 70000), "bytes; a submission may be at most"),
])
def test_non_regular_or_oversized_files_are_refused(fake, bot, pr_event, entry, words):
    files = {"submissions/alice/fast.yaml": entry}
    if entry.target.startswith("submissions/"):
        files[entry.target] = (fake and b"name: x\n")  # the link's target exists in the commit
    pr = fake.open_pull("alice", {"submissions/alice/fast.yaml": entry})
    if entry.target.startswith("submissions/"):
        fake.commits[pr.head_sha][entry.target] = Entry("file", submission_yaml("bf16-baseline"))
    on_pull_request(bot, pr_event(pr.number))
    [comment] = fake.bot_comments(pr.number)
    assert words in comment.body
    assert fake.labels_of(pr.number) == [labels.VALIDATION["invalid"]]


def test_parent_added_in_the_same_pr_is_refused_as_the_bench_would(fake, bot, pr_event,
                                                                    checkout, challenge):
    """Deliberate change (issue 13, point 8): a child whose parent only this PR adds used to pass
    validation and /bench, and then `arena bench` refused it on the default branch's checkout
    ("the runner failed"). Validation now refuses it the same way, saying what to do."""
    pr = fake.open_pull("alice", {
        "submissions/alice/base.yaml": submission_yaml("base"),
        "submissions/alice/child.yaml": submission_yaml("child", parent="alice/base")})
    on_pull_request(bot, pr_event(pr.number))
    assert fake.labels_of(pr.number) == [labels.VALIDATION["invalid"]]
    body = fake.bot_comments(pr.number)[0].body
    assert "alice/base is added by this same pull request" in body
    # the bench job's loading (arena bench on a default-branch checkout) agrees
    from arena.commands import validate_paths
    child = checkout / "submissions" / "alice" / "child.yaml"
    child.parent.mkdir(parents=True, exist_ok=True)
    child.write_bytes(submission_yaml("child", parent="alice/base"))
    [report] = validate_paths([child], challenge)
    assert not report.valid
    # once the parent is on the default branch, both accept the child
    (checkout / "submissions" / "alice" / "base.yaml").write_bytes(submission_yaml("base"))
    [report] = validate_paths([child], challenge)
    assert report.valid, [p.format() for p in report.problems]
    pr3 = fake.open_pull("alice", {
        "submissions/alice/child.yaml": submission_yaml("child", parent="alice/base")})
    on_pull_request(bot, pr_event(pr3.number))
    assert fake.labels_of(pr3.number) == [labels.VALIDATION["valid"]]
    pr2 = fake.open_pull("bob", {"submissions/bob/c.yaml": submission_yaml("c", parent="x/nope")})
    on_pull_request(bot, pr_event(pr2.number))
    assert "is not an existing submission" in fake.bot_comments(pr2.number)[0].body


def test_hostile_text_is_neutralized_in_the_comment(fake, bot, pr_event):
    pr = fake.open_pull("alice", {"submissions/alice/fast.yaml":
                                  submission_yaml(description=HOSTILE)},
                        title=HOSTILE, body=HOSTILE)
    on_pull_request(bot, pr_event(pr.number))
    [comment] = fake.bot_comments(pr.number)
    assert "onerror" in comment.body  # shown, but as code
    assert_neutralized(comment.body)
    bad = fake.open_pull("bob", {"submissions/bob/x.yaml": submission_yaml(
        "x", extra_args=f"    {json.dumps(HOSTILE)}: 1")})
    on_pull_request(bot, pr_event(bad.number))
    assert_neutralized(fake.bot_comments(bad.number)[0].body)
    for check in fake.check_runs.values():
        assert_neutralized(check["output"]["summary"])


def test_a_fork_pr_is_read_through_the_base_repository(fake, bot, pr_event):
    pr = fake.open_pull("alice", {"submissions/alice/fast.yaml": submission_yaml()}, fork=True)
    ev = pr_event(pr.number)
    assert ev["pull_request"]["head"]["repo"]["full_name"] == "alice/arena"
    on_pull_request(bot, ev)
    reads = fake.calls_to("repos/get-content")
    assert all(c.path.startswith("/repos/arena-org/arena/contents/") for c in reads)
    assert [c.path for c in reads if "/contents/submissions/" in c.path] == \
        ["/repos/arena-org/arena/contents/submissions/alice/fast.yaml"]


def test_other_pull_request_actions_do_nothing(fake, bot, webhooks):
    ev = next(e for e in webhooks["pull_request"] if e["action"] == "labeled")
    assert on_pull_request(bot, ev) == exitcodes.OK
    assert fake.calls_to() == []
