"""At validation, a note when a configuration was already tried (link and outcome), and
negative results: validated like a submission, never benchmarked."""

from __future__ import annotations


import pytest
from conftest import submission_yaml

from arena.store import ResultsStore
from bot import labels
from bot.commands import on_issue_comment
from bot.validation import on_pull_request
from helpers import HOSTILE, assert_neutralized, make_result

PATH = "submissions/alice/fast.yaml"
TRIED = ('tried:\n  outcome: slower\n  what_happened: "8 drafts: 20% accepted, slower"\n')


def comment(fake, number):
    return fake.bot_comments(number)[-1].body


@pytest.fixture
def existing(checkout, challenge):
    """bob's file in the base checkout has the same configuration as alice's; carol's
    differs in one argument."""
    (checkout / "submissions" / "bob").mkdir()
    (checkout / "submissions" / "bob" / "same.yaml").write_bytes(submission_yaml("same"))
    (checkout / "submissions" / "carol").mkdir()
    (checkout / "submissions" / "carol" / "other.yaml").write_bytes(
        submission_yaml("other", extra_args="    enforce_eager: true"))
    return checkout


def test_a_configuration_already_tried_is_noted_with_its_link_and_outcome(
        fake, bot, existing, pr_event):
    store = ResultsStore(existing / ".arena" / "results-store")
    store.append_result(make_result("bob/same", path="submissions/bob/same.yaml", commit=None,
                                    config_sha256="1" * 64, verdict="invalid", tps=150.0,
                                    reasons=[{"check": "near_ties", "message": "x"}]))
    pr = fake.open_pull("alice", {PATH: submission_yaml(description=HOSTILE)})
    assert on_pull_request(bot, pr_event(pr.number)) == 0
    body = comment(fake, pr.number)
    assert "Submission check passed" in body  # a note, not a failure
    assert "**Already tried?**" in body
    assert "`bob/same`](https://github.com/arena-org/arena/blob/main/submissions/bob/same.yaml)" \
        in body
    assert "(invalid (near_ties))" in body
    assert "carol/other" not in body
    assert labels.VALIDATION["valid"] in fake.labels_of(pr.number)
    assert_neutralized(body)


def test_without_a_store_the_note_says_where_to_look(fake, bot, existing, pr_event):
    pr = fake.open_pull("alice", {PATH: submission_yaml()})
    on_pull_request(bot, pr_event(pr.number))
    assert "outcome: see the tried page" in comment(fake, pr.number)


def test_a_different_configuration_gets_no_note(fake, bot, checkout, pr_event):
    pr = fake.open_pull("alice", {PATH: submission_yaml(extra_args="    enforce_eager: true")})
    on_pull_request(bot, pr_event(pr.number))
    assert "Already tried" not in comment(fake, pr.number)


def test_a_negative_result_is_validated_and_never_benchmarked(
        fake, bot, checkout, pr_event, comment_event):
    pr = fake.open_pull("alice", {PATH: submission_yaml() + TRIED.encode()})
    on_pull_request(bot, pr_event(pr.number))
    assert "Submission check passed" in comment(fake, pr.number)
    on_issue_comment(bot, comment_event(pr.number, "/bench", "arena-maintainers"))
    assert "is a negative result" in comment(fake, pr.number)
    assert not [d for d in fake.dispatches if d["workflow"] == "bench.yml"]


def test_a_bad_negative_result_fails_like_any_bad_submission(fake, bot, checkout, pr_event):
    bad = submission_yaml() + b"tried:\n  outcome: faster\n  what_happened: \"\"\n"
    pr = fake.open_pull("alice", {PATH: bad})
    on_pull_request(bot, pr_event(pr.number))
    body = comment(fake, pr.number)
    assert "Submission check failed" in body
    assert "tried.outcome" in body and "slower, no-gain" in body
