"""Validation of submission pull requests against the fake GitHub."""

from __future__ import annotations

from conftest import submission_yaml

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
