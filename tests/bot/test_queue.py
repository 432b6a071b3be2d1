"""Where a run stands in the queue: place, runners, estimated start, from the Actions API (the
fake serves it; every exchange is checked against GitHub's REST description)."""

from __future__ import annotations

import datetime as dt

import pytest
from conftest import submission_yaml

from bot.commands import on_issue_comment
from bot.quota import BenchRun
from bot.queue import Runners, queue_line, queue_state

PATH = "submissions/alice/fast.yaml"
NOW = dt.datetime(2026, 11, 22, 12, 0, tzinfo=dt.timezone.utc)
MIN = dt.timedelta(minutes=1)


def run(i, status, *, created, started=None, ended=None, conclusion=None):
    return BenchRun(i, 1, PATH, "a" * 40, "alice", created, status, conclusion,
                    f"https://x/{i}", started, ended)


def history():
    """Three completed runs of 30, 40 and 50 minutes: the median is 40."""
    return [run(100 + k, "completed", created=NOW - 300 * MIN, conclusion="success",
                started=NOW - (200 + 60 * k) * MIN, ended=NOW - (200 + 60 * k - d) * MIN)
            for k, d in enumerate((30, 40, 50))]


def test_the_place_counts_runs_ahead_and_the_estimate_hands_them_to_the_runners():
    runs = history() + [
        run(1, "in_progress", created=NOW - 20 * MIN, started=NOW - 10 * MIN),
        run(2, "in_progress", created=NOW - 19 * MIN, started=NOW - 30 * MIN),
        run(3, "queued", created=NOW - 5 * MIN),
        run(4, "queued", created=NOW - 1 * MIN),
    ]
    q = queue_state(runs, 4, Runners(online=2, busy=2, known=True), NOW)
    assert (q.position, q.waiting, q.in_progress) == (2, 2, 2)
    assert q.typical_s == 40 * 60
    # Runners free in 10 and 30 minutes; run 3 takes the first (free again at 50); run 4 the
    # one free at 30.
    assert q.start_at == NOW + 30 * MIN
    first = queue_state(runs, 3, Runners(2, 2, True), NOW)
    assert first.position == 1 and first.start_at == NOW + 10 * MIN


def test_runs_in_progress_beyond_the_busy_runners_wait_for_a_gpu_too():
    runs = history() + [run(1, "in_progress", created=NOW - 20 * MIN, started=NOW - 15 * MIN),
                        run(2, "in_progress", created=NOW - 9 * MIN, started=NOW - 8 * MIN),
                        run(3, "queued", created=NOW - 1 * MIN)]
    q = queue_state(runs, 3, Runners(online=1, busy=1, known=True), NOW)
    assert q.position == 2  # run 2's hosted job ran; it waits for the one GPU runner
    assert q.start_at == NOW + (25 + 40) * MIN


def test_no_runner_online_and_no_history_say_why_there_is_no_estimate():
    runs = history() + [run(1, "queued", created=NOW)]
    q = queue_state(runs, 1, Runners(0, 0, True), NOW)
    assert q.start_at is None and "no runner" in queue_line(q, "a10g")
    q = queue_state([run(1, "queued", created=NOW)], 1, Runners(1, 0, True), NOW)
    assert q.start_at is None and "no completed run" in queue_line(q, "a10g")
    line = queue_line(queue_state(runs, 1, Runners(1, 0, True), NOW), "a10g")
    assert "Queue: **1** of 1" in line and "1 runner `a10g` online, 0 busy" in line
    assert "estimated start about 2026-11-22 12:00 UTC" in line


@pytest.fixture
def alice_pr(fake):
    return fake.open_pull("alice", {PATH: submission_yaml()})


def seed(fake, pr):
    inputs = {"pr": str(pr.number), "sha": pr.head_sha, "path": PATH, "requested_by": "alice"}
    now = dt.datetime.now(dt.timezone.utc)
    for k in range(3):
        fake.add_run(inputs, created_at=now - (300 - k) * MIN, started_at=now - (290 - k) * MIN,
                     updated_at=now - (260 - k) * MIN)  # 30 minutes each
    fake.add_run(dict(inputs, pr="999"), status="in_progress", created_at=now - 12 * MIN,
                 started_at=now - 10 * MIN)
    fake.add_runner("gpu-1", ["a10g"], busy=True)
    fake.add_runner("gpu-2", ["a10g"], status="offline")
    fake.add_runner("other", ["l4"])


def test_bench_queued_comment_says_where_the_run_stands(fake, bot, alice_pr, comment_event,
                                                        validate):
    seed(fake, alice_pr)
    validate(bot, alice_pr.number)  # /bench approves the head the validation named
    on_issue_comment(bot, comment_event(alice_pr.number, "/bench", "arena-maintainers"))
    body = fake.bot_comments(alice_pr.number)[-1].body
    assert "Benchmark queued" in body
    assert "Queue: **1** of 1 waiting bench run" in body
    assert "1 runner `a10g` online, 1 busy" in body  # offline and other-label runners not
    assert "estimated start about" in body and "about 30 min" in body
    assert len(fake.calls_to("actions/list-self-hosted-runners-for-repo")) == 1


def test_status_lists_the_queue_with_one_runners_call(fake, bot, alice_pr, comment_event):
    seed(fake, alice_pr)
    inputs = {"pr": str(alice_pr.number), "sha": alice_pr.head_sha, "path": PATH,
              "requested_by": "alice"}
    now = dt.datetime.now(dt.timezone.utc)
    a = fake.add_run(inputs, status="queued", created_at=now - 3 * MIN)
    b = fake.add_run(dict(inputs, path="submissions/alice/other.yaml"), status="queued",
                     created_at=now - 2 * MIN)
    fake.reset_calls()
    on_issue_comment(bot, comment_event(alice_pr.number, "/status", "someone"))
    body = fake.bot_comments(alice_pr.number)[-1].body
    assert f"[Run {a.id}]" in body and "Queue: **1** of 2" in body
    assert f"[Run {b.id}]" in body and "Queue: **2** of 2" in body
    assert len(fake.calls_to("actions/list-self-hosted-runners-for-repo")) == 1
    assert len(fake.calls_to("actions/list-workflow-runs")) == 1


def test_a_token_that_cannot_list_runners_still_gets_a_queue_place(
        fake, bot, alice_pr, comment_event, validate):
    seed(fake, alice_pr)
    validate(bot, alice_pr.number)
    fake.runners_forbidden = True
    on_issue_comment(bot, comment_event(alice_pr.number, "/bench", "arena-maintainers"))
    body = fake.bot_comments(alice_pr.number)[-1].body
    assert "Queue: **1** of 1" in body
    assert "unknown (the bot's token may not list runners" in body
