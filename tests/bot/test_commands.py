"""Commands in comments, end to end against the fake GitHub."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from conftest import submission_yaml, utc

from arena import exitcodes
from bot import labels
from bot.commands import on_issue_comment
from bot.quota import RUN_NAME_RE
from helpers import HOSTILE, assert_neutralized

PATH = "submissions/alice/fast.yaml"


@pytest.fixture
def alice_pr(fake):
    return fake.open_pull("alice", {PATH: submission_yaml()})


def replies(fake, number):
    return [c.body for c in fake.bot_comments(number)]


def test_help_is_acknowledged_and_answered(fake, bot, alice_pr, comment_event):
    ev = comment_event(alice_pr.number, "/help")
    assert on_issue_comment(bot, ev) == exitcodes.OK
    assert fake.reactions == [{"comment_id": ev["comment"]["id"], "content": "+1"}]
    [body] = replies(fake, alice_pr.number)
    assert "/bench" in body and "/invalidate" in body and "5 benchmark runs per 24 hours" in body


def test_unknown_command_says_why_and_points_to_help(fake, bot, alice_pr, comment_event):
    on_issue_comment(bot, comment_event(alice_pr.number, "/bnech"))
    [body] = replies(fake, alice_pr.number)
    assert "don't know the command" in body and "/bench" in body and "/help" in body
    assert fake.reactions == []


def test_comments_by_bots_and_edits_are_ignored(fake, bot, alice_pr, comment_event, webhooks):
    assert on_issue_comment(bot, comment_event(alice_pr.number, "/bench", "github-actions[bot]",
                                               "Bot")) == exitcodes.OK
    assert on_issue_comment(bot, comment_event(alice_pr.number, "/bench", "dependabot[bot]",
                                               "Bot")) == exitcodes.OK
    edited = next(e for e in webhooks["issue_comment"] if e["action"] == "edited")
    assert on_issue_comment(bot, edited) == exitcodes.OK
    assert fake.calls_to() == []


def test_participants_cannot_bench_when_the_challenge_reserves_it(fake, bot, alice_pr,
                                                                  comment_event):
    # Deliberate change (issue 13, point 5): a refusal is a 👎 reaction, not a comment.
    ev = comment_event(alice_pr.number, "/bench", "alice")
    on_issue_comment(bot, ev)
    assert replies(fake, alice_pr.number) == []
    assert fake.dispatches == []
    assert fake.reactions == [{"comment_id": ev["comment"]["id"], "content": "-1"}]


def test_a_maintainer_benches_the_pinned_head(fake, bot, alice_pr, comment_event, validate):
    fake.collaborators["carol"] = "write"
    validate(bot, alice_pr.number)
    ev = comment_event(alice_pr.number, "/bench", "carol")
    assert on_issue_comment(bot, ev) == exitcodes.OK
    assert fake.reactions[0]["content"] == "+1"
    [d] = fake.dispatches
    assert d == {"workflow": "bench.yml", "ref": "main", "inputs": {
        "pr": str(alice_pr.number), "sha": alice_pr.head_sha, "path": PATH,
        "requested_by": "carol"}}
    [run] = fake.runs
    assert RUN_NAME_RE.match(run.display_title)
    _validation, body = replies(fake, alice_pr.number)
    assert "Benchmark queued" in body and f"/actions/runs/{run.id}" in body
    assert f"Approved commit: [`{alice_pr.head_sha[:7]}`]" in body
    [check] = [c for c in fake.check_runs.values() if c["name"] == "arena/benchmark"]
    assert (check["name"], check["status"], check["head_sha"]) == \
        ("arena/benchmark", "queued", alice_pr.head_sha)
    assert labels.BENCHMARK["queued"] in fake.labels_of(alice_pr.number)


def test_the_same_commit_is_not_queued_twice(fake, bot, alice_pr, comment_event, validate):
    fake.collaborators["carol"] = "write"
    validate(bot, alice_pr.number)
    on_issue_comment(bot, comment_event(alice_pr.number, "/bench", "carol"))
    on_issue_comment(bot, comment_event(alice_pr.number, "/rerun", "carol"))
    assert len(fake.dispatches) == 1
    assert "already benchmarks this commit" in replies(fake, alice_pr.number)[-1]


def test_an_invalid_head_is_not_benched(fake, bot, comment_event):
    fake.collaborators["carol"] = "write"
    pr = fake.open_pull("alice", {PATH: submission_yaml(extra_args="    nope: 1")})
    on_issue_comment(bot, comment_event(pr.number, "/bench", "carol"))
    assert fake.dispatches == []
    assert "does not pass the check" in replies(fake, pr.number)[-1]


def test_authors_bench_within_their_quota_counted_from_actions(fake, make_bot, make_challenge,
                                                                comment_event, validate):
    bot = make_bot(make_challenge(authors_may_bench=True, runs_per_day=2))
    pr = fake.open_pull("alice", {PATH: submission_yaml()})
    validate(bot, pr.number)
    # two runs of alice's submissions in the last 24 h, from any PR, requested by anyone
    old = fake.add_run({"pr": "1", "sha": "a" * 40, "path": PATH, "requested_by": "carol"},
                       created_at=utc(hours=20))
    fake.add_run({"pr": "1", "sha": "b" * 40, "path": "submissions/alice/other.yaml",
                  "requested_by": "alice"}, created_at=utc(hours=2))
    fake.add_run({"pr": "9", "sha": "c" * 40, "path": "submissions/bob/x.yaml",
                  "requested_by": "bob"}, created_at=utc(hours=1))  # bob's: not counted
    fake.add_run({"pr": "1", "sha": "d" * 40, "path": PATH, "requested_by": "alice"},
                 created_at=utc(hours=30))  # too old: not counted
    on_issue_comment(bot, comment_event(pr.number, "/bench", "alice"))
    assert fake.dispatches == []
    body = replies(fake, pr.number)[-1]
    assert "has used 2 of 2" in body
    expected = (old.created_at + dt.timedelta(hours=24)).strftime("%Y-%m-%d %H:%M UTC")
    assert expected in body
    # deleting every comment changes nothing: the count comes from the workflow runs
    fake.comments.clear()
    on_issue_comment(bot, comment_event(pr.number, "/rerun", "alice"))
    assert fake.dispatches == []


def test_authors_may_bench_when_quota_is_left(fake, make_bot, make_challenge, comment_event,
                                              validate):
    bot = make_bot(make_challenge(authors_may_bench=True, runs_per_day=2))
    pr = fake.open_pull("alice", {PATH: submission_yaml()})
    validate(bot, pr.number)
    on_issue_comment(bot, comment_event(pr.number, "/bench", "alice"))
    assert len(fake.dispatches) == 1
    assert "1 of 2 runs used" in replies(fake, pr.number)[-1]


def test_two_requests_racing_for_the_last_run_leave_one(fake, make_bot, make_challenge,
                                                       comment_event, validate):
    bot = make_bot(make_challenge(authors_may_bench=True, runs_per_day=1))
    pr = fake.open_pull("alice", {PATH: submission_yaml()})
    validate(bot, pr.number)

    def rival(run):  # another PR's request for alice passed its check at the same moment
        fake.on_dispatch = None
        fake.runs.append(type(run)(run.id - 1, "bench.yml", fake._run_name("bench.yml", {
            "pr": "99", "sha": "e" * 40, "path": "submissions/alice/other.yaml",
            "requested_by": "alice"}), run.created_at - dt.timedelta(seconds=1)))
    fake.on_dispatch = rival
    on_issue_comment(bot, comment_event(pr.number, "/bench", "alice"))
    mine = [r for r in fake.runs if r.inputs.get("pr") == str(pr.number)]
    assert [(r.status, r.conclusion) for r in mine] == [("completed", "cancelled")]
    assert "was cancelled" in replies(fake, pr.number)[-1]


def test_cancel_cancels_active_runs_of_the_pr(fake, bot, alice_pr, comment_event):
    run = fake.add_run({"pr": str(alice_pr.number), "sha": alice_pr.head_sha, "path": PATH,
                        "requested_by": "carol"}, status="queued")
    on_issue_comment(bot, comment_event(alice_pr.number, "/cancel", "alice"))
    assert (run.status, run.conclusion) == ("completed", "cancelled")
    assert f"run {run.id}" in replies(fake, alice_pr.number)[-1]
    before = replies(fake, alice_pr.number)
    on_issue_comment(bot, comment_event(alice_pr.number, "/cancel", "mallory"))
    assert replies(fake, alice_pr.number) == before  # refused with a reaction only
    assert fake.reactions[-1]["content"] == "-1"


def test_authors_cannot_cancel_a_started_run_maintainers_can(fake, bot, alice_pr, comment_event):
    """Issue 13, point 4: watching a run's log and cancelling it before it fails used to erase
    it. A started run can only be stopped by a maintainer (and is then recorded)."""
    run = fake.add_run({"pr": str(alice_pr.number), "sha": alice_pr.head_sha, "path": PATH,
                        "requested_by": "carol"}, status="in_progress")
    on_issue_comment(bot, comment_event(alice_pr.number, "/cancel", "alice"))
    assert (run.status, run.conclusion) == ("in_progress", None)
    body = replies(fake, alice_pr.number)[-1]
    assert "already started" in body and "only a maintainer" in body
    on_issue_comment(bot, comment_event(alice_pr.number, "/cancel", "arena-maintainers"))
    assert (run.status, run.conclusion) == ("completed", "cancelled")


def test_status_shows_runs_and_quota(fake, bot, alice_pr, comment_event):
    fake.add_run({"pr": str(alice_pr.number), "sha": alice_pr.head_sha, "path": PATH,
                  "requested_by": "carol"}, status="in_progress")
    on_issue_comment(bot, comment_event(alice_pr.number, "/status", "someone"))
    body = replies(fake, alice_pr.number)[-1]
    assert "in_progress" in body and "1 of 5 runs used" in body


def test_withdraw_appends_a_verdict_to_a_new_results_branch(fake, bot, alice_pr, comment_event):
    assert "results" not in fake.branches
    assert on_issue_comment(bot, comment_event(alice_pr.number, "/withdraw", "alice")) == 0
    files = fake.branch_files["results"]
    [path] = [p for p in files if p.startswith("verdicts/")]
    record = json.loads(files[path])
    assert (record["submission"], record["action"], record["by"]) == \
        ("alice/fast", "withdraw", "alice")
    assert "README.md" in files
    assert labels.SUBMISSION["withdrawn"] in fake.labels_of(alice_pr.number)
    assert [d["workflow"] for d in fake.dispatches] == ["site.yml"]
    assert "is withdrawn" in replies(fake, alice_pr.number)[-1]


def test_only_the_author_or_maintainers_withdraw(fake, bot, alice_pr, comment_event):
    on_issue_comment(bot, comment_event(alice_pr.number, "/withdraw", "mallory"))
    assert replies(fake, alice_pr.number) == []
    assert fake.reactions[-1]["content"] == "-1"
    assert "results" not in fake.branches


def test_invalidate_needs_a_maintainer_and_a_reason(fake, bot, alice_pr, comment_event):
    on_issue_comment(bot, comment_event(alice_pr.number, "/invalidate cheating", "alice"))
    assert replies(fake, alice_pr.number) == [] and fake.reactions[-1]["content"] == "-1"
    on_issue_comment(bot, comment_event(alice_pr.number, "/invalidate", "arena-maintainers"))
    assert "give a reason" in replies(fake, alice_pr.number)[-1]
    on_issue_comment(bot, comment_event(alice_pr.number, "/invalidate " + HOSTILE,
                                        "arena-maintainers"))
    [path] = [p for p in fake.branch_files["results"] if p.startswith("verdicts/")]
    record = json.loads(fake.branch_files["results"][path])
    # what a reader sees: the HTML comment inside the reason is not part of the command
    assert record["action"] == "invalidate"
    assert record["reason"] == HOSTILE.replace("<!-- x -->", " " * len("<!-- x -->"))
    for body in replies(fake, alice_pr.number):
        assert_neutralized(body)
    on_issue_comment(bot, comment_event(alice_pr.number, "/reinstate", "arena-maintainers"))
    actions = sorted(json.loads(v)["action"] for p, v in fake.branch_files["results"].items()
                     if p.startswith("verdicts/"))
    assert actions == ["invalidate", "reinstate"]
    assert labels.SUBMISSION["invalidated"] not in fake.labels_of(alice_pr.number)


def test_commands_on_issues_name_the_submission(fake, bot, comment_event):
    n = fake.open_issue("carol", "A question")
    on_issue_comment(bot, comment_event(n, "/invalidate bad numbers", "arena-maintainers"))
    assert "name the submission" in replies(fake, n)[-1]
    on_issue_comment(bot, comment_event(n, "/invalidate alice/fast bad numbers",
                                        "arena-maintainers"))
    [path] = [p for p in fake.branch_files["results"] if p.startswith("verdicts/")]
    assert json.loads(fake.branch_files["results"][path])["reason"] == "bad numbers"
    on_issue_comment(bot, comment_event(n, "/bench", "arena-maintainers"))
    assert "run on pull requests" in replies(fake, n)[-1]
