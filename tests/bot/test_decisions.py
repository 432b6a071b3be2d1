"""The handlers' decisions as pure functions over gathered facts: plain dataclasses in, a
refusal or a plan out. No fake server: each refusal a user can get, and each branch they would
notice, decided from facts alone."""

from __future__ import annotations

import datetime as dt

import pytest
from github import GithubException

from arena import exitcodes
from bot import bench, commands, status, verdicts
from bot.bench import BenchChoice, BenchFacts, Candidate, CancelPlan, Go, Seen
from bot.parsing import Command
from bot.queue import Runners
from bot.quota import BenchRun, compute_quota
from bot.render import COMMANDS_HELP
from bot.replies import NOT_ALLOWED, Refusal, Request
from bot.validation import State
from bot.writes import create_once

NOW = dt.datetime(2026, 11, 22, 12, 0, tzinfo=dt.timezone.utc)
HEAD = "a" * 40
OTHER = "b" * 40
REPO = "https://github.com/o/r"
FAST = Candidate("fast", "alice/fast", "submissions/alice/fast.yaml", False)
SLOW = Candidate("slow", "alice/slow", "submissions/alice/slow.yaml", False)


def request(name="bench", args="", *, is_pr=True, state="open", sender="carol",
            author="alice") -> Request:
    return Request(Command(name, args, 1), 7, is_pr, sender, 99, author, state, sender_id=3)


def facts(**kw) -> BenchFacts:
    base = dict(command="bench", args="", head_sha=HEAD, author="alice", state=State.VALID,
                failure=None, candidates=(FAST,), seen=Seen(HEAD, NOW - dt.timedelta(minutes=5)),
                said_at=NOW, repo_url=REPO, tracks=("a10g",))
    return BenchFacts(**{**base, **kw})


def run(i, *, pr=7, path=FAST.path, sha=HEAD, status="queued", author="alice",
        ago=dt.timedelta(hours=1)) -> BenchRun:
    return BenchRun(i, pr, path.replace("alice", author), sha, "carol", NOW - ago, status,
                    None if status != "completed" else "success", f"{REPO}/actions/runs/{i}")


# -- the command table ---------------------------------------------------------------------------

def test_the_dispatcher_assembles_every_feature_table_and_help_lists_each_command():
    assert commands.KNOWN == ("bench", "rerun", "cancel", "status", "withdraw", "invalidate",
                              "reinstate", "help")
    assert commands.TABLE["rerun"] is bench.handle_bench
    helped = {row[0].split()[0].lstrip("/") for row in COMMANDS_HELP}
    assert helped == set(commands.KNOWN)


# -- /bench --------------------------------------------------------------------------------------

def test_bench_is_refused_off_a_pull_request_and_on_a_closed_one():
    assert "run on pull requests" in bench.decide_place(request(is_pr=False)).text
    assert "closed" in bench.decide_place(request(state="closed")).text
    assert bench.decide_place(request()) is None


@pytest.mark.parametrize("maintainer, by_author, allowed, ok", [
    (True, False, False, True), (False, True, True, True), (False, True, False, False),
    (False, False, True, False)])
def test_who_may_start_a_benchmark(maintainer, by_author, allowed, ok):
    got = bench.decide_access(maintainer=maintainer, by_author=by_author, authors_may_bench=allowed)
    assert (got is None) is ok
    if not ok:
        assert got == NOT_ALLOWED and got.text is None  # a 👎 reaction, no comment


def test_a_check_that_could_not_run_refuses_with_an_infra_exit():
    got = bench.decide_bench(facts(state=State.ERROR, failure="Reading the files failed."))
    assert isinstance(got, Refusal) and got.exit_code == exitcodes.INFRA
    assert got.text.startswith("Reading the files failed.") and "Nothing was started" in got.text


def test_an_invalid_submission_is_not_benchmarked():
    got = bench.decide_bench(facts(state=State.INVALID, candidates=()))
    assert "does not pass the check" in got.text and "`aaaaaaa`" in got.text


def test_a_bare_bench_approves_the_head_the_bot_checked_before_the_comment():
    assert bench.decide_bench(facts()) == BenchChoice(FAST, HEAD, "a10g")


@pytest.mark.parametrize("kw, words", [
    (dict(seen=None), "has not checked this pull request's head yet"),
    (dict(seen=Seen(OTHER, NOW - dt.timedelta(minutes=5))), "the head moved"),
    (dict(seen=Seen(HEAD, NOW + dt.timedelta(seconds=5))), "checked only after your comment"),
    (dict(args="bbbbbbb"), "but the pull request's head is now [`aaaaaaa`]"),
])
def test_an_approval_that_does_not_cover_the_head_starts_nothing(kw, words):
    got = bench.decide_bench(facts(**kw))
    assert isinstance(got, Refusal) and words in got.text
    assert f"comment `/bench {HEAD[:7]}`" in got.text


def test_a_named_commit_that_is_the_head_needs_no_validation_comment():
    assert bench.decide_bench(facts(args=HEAD[:9], seen=None)) == \
        BenchChoice(FAST, HEAD, "a10g")


def test_several_submissions_need_a_name_and_a_wrong_name_lists_them():
    two = facts(candidates=(FAST, SLOW))
    assert "has 2 submissions" in bench.decide_bench(two).text
    assert bench.decide_bench(facts(candidates=(FAST, SLOW), args="slow")).candidate == SLOW
    wrong = bench.decide_bench(facts(candidates=(FAST, SLOW), args="quick"))
    assert "no valid submission named `quick`" in wrong.text and "`slow`" in wrong.text


def test_a_negative_result_is_not_benchmarked():
    neg = Candidate("fast", "alice/fast", FAST.path, True)
    assert "negative result" in bench.decide_bench(facts(candidates=(neg,))).text


def decide_runs(runs, *, maintainer=False, limit=2):
    return bench.decide_runs(BenchChoice(FAST, HEAD, "a10g"), runs, pr=7, author="alice",
                             limit=limit, maintainer=maintainer, now=NOW)


def test_a_commit_already_being_benchmarked_is_not_dispatched_again():
    got = decide_runs([run(1)])
    assert "[run 1]" in got.text and "already benchmarks this commit" in got.text
    # another commit of the same file, or a finished run of this one, does not block
    assert decide_runs([run(1, sha=OTHER), run(2, status="completed")], limit=5) == Go(2, 5)


def test_the_quota_refuses_the_author_and_says_when_the_next_run_is_possible():
    runs = [run(1, status="completed", ago=dt.timedelta(hours=23)),
            run(2, status="completed", sha=OTHER)]
    got = decide_runs(runs)
    assert "has used 2 of 2 benchmark runs" in got.text
    assert "2026-11-22 13:00 UTC" in got.text  # when the oldest run leaves the window
    assert decide_runs(runs, maintainer=True) == Go(2, 2)  # a maintainer may go past it


def test_the_later_of_two_simultaneous_runs_past_the_quota_gives_way():
    runs = [run(1, status="completed", sha=OTHER, ago=dt.timedelta(hours=2)),
            run(2, ago=dt.timedelta(seconds=2)), run(3, ago=dt.timedelta(seconds=1))]
    got = bench.decide_recount(3, "u3", runs, author="alice", limit=2, now=NOW)
    assert isinstance(got, Refusal) and "[run 3](u3) was cancelled" in got.text
    assert bench.decide_recount(2, "u2", runs[:2], author="alice", limit=2, now=NOW) == 2


def test_cancel_keeps_started_runs_for_the_author_and_stops_all_for_a_maintainer():
    queued, started = run(1), run(2, status="in_progress")
    assert "no benchmark" in bench.decide_cancel([], maintainer=False).text
    plan = bench.decide_cancel([queued, started], maintainer=False)
    assert plan == CancelPlan((queued,), (started,))
    text = bench.cancel_text(plan)
    assert "cancelling [run 1]" in text and "[run 2]" in text and "already started" in text
    assert bench.decide_cancel([queued, started], maintainer=True).started == ()


# -- /status -------------------------------------------------------------------------------------

def status_facts(runs, runners=None):
    return status.StatusFacts(7, HEAD, "alice", "valid", tuple(runs),
                              compute_quota("alice", 5, runs, NOW), runners, "a10g", NOW,
                              f"{REPO}/commit/{HEAD}")


def test_status_lists_the_runs_marks_a_moved_head_and_gives_the_queue_and_quota():
    runs = [run(1, sha=OTHER, status="completed"), run(2)]
    text = status.status_text(status_facts(runs, Runners(1, 0, True)))
    assert "submission check: **valid**" in text
    assert "(not the head any more)" in text.split("\n")[4]  # run 1 is of an older commit
    assert "[Run 2]" in text and "Queue: **1** of 1" in text
    assert "Quota of `alice`: 2 of 5 runs used" in text


def test_status_without_runs_says_so():
    text = status.status_text(status_facts([run(1, pr=8)]))
    assert "No benchmark runs of this pull request" in text and "1 of 5 runs used" in text


# -- /withdraw, /invalidate, /reinstate ----------------------------------------------------------

def test_the_target_is_the_named_submission_or_the_pull_request_s_only_one():
    assert verdicts.decide_target("withdraw", "bob/x because", False) == \
        verdicts.Target("bob/x", "because")
    assert verdicts.decide_target("withdraw", "", True, ("alice/fast",)) == \
        verdicts.Target("alice/fast", "")
    assert "name the submission: `/invalidate <login>/<name> <reason>`" in \
        verdicts.decide_target("invalidate", "", False).text
    assert "no submission file" in verdicts.decide_target("withdraw", "", True).text
    several = verdicts.decide_target("withdraw", "", True, ("alice/a", "alice/b"))
    assert "several submissions (`alice/a`, `alice/b`)" in several.text


def test_only_the_folder_s_owner_or_a_maintainer_withdraws():
    d = verdicts.decide_withdrawal
    assert d("bob/x", "alice", 3, maintainer=False, owner=None) == NOT_ALLOWED
    assert d("bob/x", "carol", 9, maintainer=True, owner=None) is None
    assert d("alice/x", "alice", 3, maintainer=None, owner=None) is None
    assert d("alice/x", "alice", 3, maintainer=None, owner=3) is None
    renamed = d("alice/x", "alice", 4, maintainer=False, owner=3)
    assert "belongs to GitHub account #3" in renamed.text


def test_invalidation_needs_a_reason_and_reinstatement_something_in_force():
    assert "give a reason" in verdicts.decide_invalidation("").text
    assert verdicts.decide_invalidation("fitted to the prompts") is None
    assert "nothing to reinstate" in verdicts.decide_reinstatement("alice/x", []).text


def test_a_reinstatement_lifts_the_latest_hold_only_and_says_what_still_holds():
    w = verdicts.plan_verdict("alice/x", "withdraw", "done", [], by="alice", by_id=3,
                              at=NOW - dt.timedelta(hours=2), pr=7)
    assert w.label == "withdrawn" and "is withdrawn" in w.done
    assert w.path.startswith("verdicts/") and w.message == "withdraw alice/x (by alice, #7)"
    i = verdicts.plan_verdict("alice/x", "invalidate", "leaks", [w.record], by="carol",
                              by_id=9, at=NOW - dt.timedelta(hours=1), pr=7)
    assert "Still in force: the withdrawal by `alice`" in i.done
    r = verdicts.plan_verdict("alice/x", "reinstate", "ok", [w.record, i.record], by="carol",
                              by_id=9, at=NOW, pr=7)
    assert "lifted the invalidation by `carol`" in r.done
    assert "Still in force: the withdrawal" in r.done and "again to lift the next" in r.done
    assert r.label == "withdrawn"


# -- one helper for every write that must happen once --------------------------------------------

class Log:
    max_wait_s = 60.0

    def __init__(self):
        self.lines, self.slept = [], []

    def say(self, line):
        self.lines.append(line)

    def sleep(self, s):
        self.slept.append(s)


def flaky(*answers):
    """A write that fails (GithubException with a status) or answers, in order."""
    calls = []

    def call():
        calls.append(1)
        a = answers[len(calls) - 1]
        if isinstance(a, int):
            raise GithubException(a, {"message": "x"}, {})
        return a
    call.calls = calls  # type: ignore[attr-defined]
    return call


def test_a_write_that_may_have_landed_is_looked_for_before_writing_again():
    create = flaky(502, "second")
    assert create_once(Log(), "x", create, lambda: "found") == "found"
    assert len(create.calls) == 1  # found: never written twice
    create = flaky(502, "second")
    assert create_once(Log(), "x", create, lambda: None) == "second"


def test_a_refused_write_is_not_tried_again_and_the_last_failure_is_raised():
    create = flaky(422)
    with pytest.raises(GithubException):
        create_once(Log(), "x", create, lambda: "never")
    assert len(create.calls) == 1
    with pytest.raises(GithubException) as e:
        create_once(Log(), "x", flaky(502, 503), lambda: None)
    assert e.value.status == 503


def test_an_idempotent_write_is_simply_repeated_and_a_failed_look_stops_unless_allowed():
    log = Log()
    assert create_once(log, "label", flaky(500, "ok")) == "ok" and log.slept == [1.0]

    def broken_look():
        raise GithubException(500, {"message": "x"}, {})
    with pytest.raises(GithubException):  # a dispatch is never risked twice
        create_once(Log(), "dispatch", flaky(502, "dup"), broken_look)
    assert create_once(Log(), "comment", flaky(502, "dup"), broken_look,
                       retry_when_unsure=True) == "dup"


# -- /bench [<track>] [vs <login>/<name>] --------------------------------------------------------

TRACKS = ("a10g", "l4")
CHILD = Candidate("fast", "alice/fast", FAST.path, False, parent="arena-maintainers/base",
                  model=("google/gemma", "e" * 40))


@pytest.mark.parametrize("args, expected", [
    ("", bench.BenchArgs("", None, None, None, False)),
    ("l4", bench.BenchArgs("", None, "l4", None, False)),
    ("fast L4 abcdef1 vs", bench.BenchArgs("fast", "abcdef1", "l4", None, True)),
    ("vs bob/x l4", bench.BenchArgs("", None, "l4", "bob/x", False)),
    ("vs", bench.BenchArgs("", None, None, None, True)),
    ("h100", bench.BenchArgs("h100", None, None, None, False)),  # not a track: a name
    ("l4 vs.", bench.BenchArgs("", None, "l4", None, True)),  # as typed in a sentence
])
def test_bench_arguments_in_any_order(args, expected):
    assert bench.parse_bench_args(args, ["fast"], TRACKS) == expected


def test_a_submission_named_like_a_track_is_the_submission():
    assert bench.parse_bench_args("l4", ["l4"], TRACKS).name == "l4"


def test_the_track_defaults_to_the_submission_s_first_and_must_be_one_it_targets():
    only_l4 = Candidate("fast", "alice/fast", FAST.path, False, tracks=("l4",))
    assert bench.decide_bench(facts(tracks=TRACKS)).track == "a10g"
    assert bench.decide_bench(facts(tracks=TRACKS, candidates=(only_l4,))).track == "l4"
    got = bench.decide_bench(facts(tracks=TRACKS, candidates=(only_l4,), args="a10g"))
    assert "is not measured on the track `a10g`" in got.text and "`l4`" in got.text
    unknown = bench.decide_bench(facts(tracks=TRACKS, args="h100"))
    assert "the challenge's tracks: `a10g`, `l4`" in unknown.text


def test_vs_alone_is_against_the_parent_and_never_against_itself():
    got = bench.decide_bench(facts(tracks=TRACKS, candidates=(CHILD,), args="l4 vs"))
    assert got == BenchChoice(CHILD, HEAD, "l4", "arena-maintainers/base")
    assert got.cost == 2 and got.vs_path == "submissions/arena-maintainers/base.yaml"
    assert "has no parent" in bench.decide_bench(facts(args="vs")).text
    assert "is the submission being benchmarked" in \
        bench.decide_bench(facts(args="vs Alice/fast")).text


@pytest.mark.parametrize("other, words", [
    (bench.Other("bob/x", False, None, False), "not a valid submission on the default branch"),
    (bench.Other("bob/x", True, ("google/other", "e" * 40), True), "of one model"),
    (bench.Other("bob/x", True, ("google/gemma", "f" * 40), True), "of one model"),
    (bench.Other("bob/x", True, ("google/gemma", "e" * 40), False),
     "no verified result on the track `l4`"),
])
def test_a_pairing_that_cannot_stand_is_refused(other, words):
    choice = BenchChoice(CHILD, HEAD, "l4", "bob/x")
    assert words in bench.decide_vs(choice, other).text
    good = bench.Other("bob/x", True, ("google/gemma", "e" * 40), True)
    assert bench.decide_vs(choice, good) is None


def test_the_quota_is_the_track_s_and_a_paired_run_costs_two():
    l4_run = BenchRun(1, 7, "submissions/alice/o.yaml", OTHER, "carol", NOW - dt.timedelta(hours=1),
                      "completed", "success", "u1", track="l4")
    a10g_runs = [run(i, status="completed", sha=OTHER) for i in (2, 3)]
    paired = BenchChoice(CHILD, HEAD, "l4", "bob/x")
    kw = dict(pr=7, author="alice", limit=2, maintainer=False, now=NOW, first_track="a10g",
              several_tracks=True)
    assert bench.decide_runs(paired, a10g_runs, **kw) == Go(0, 2)  # a10g's runs do not count
    got = bench.decide_runs(paired, a10g_runs + [l4_run], **kw)
    assert "used 1 of 2 benchmark runs on the track `l4`" in got.text
    assert "A paired run (`vs`) costs 2 runs." in got.text
    alone = BenchChoice(CHILD, HEAD, "l4", None)
    assert bench.decide_runs(alone, a10g_runs + [l4_run], **kw) == Go(1, 2)


def test_status_on_several_tracks_names_each_run_s_track_and_each_quota():
    l4 = BenchRun(5, 7, FAST.path, HEAD, "carol", NOW - dt.timedelta(minutes=5), "queued", None,
                  "u5", track="l4", vs="submissions/bob/x.yaml")
    quotas = {"a10g": compute_quota("alice", 5, [l4], NOW, track="a10g", first_track="a10g"),
              "l4": compute_quota("alice", 3, [l4], NOW, track="l4", first_track="a10g")}
    f = status.StatusFacts(7, HEAD, "alice", "valid", (l4,), quotas["a10g"], None, "a10g", NOW,
                           f"{REPO}/commit/{HEAD}", {"a10g": "a10g", "l4": "l4-gpu"}, quotas,
                           {"l4": Runners(2, 1, True)})
    text = status.status_text(f)
    assert "on `l4` vs `submissions/bob/x.yaml`" in text
    assert "2 runners `l4-gpu` online, 1 busy" in text
    assert "on `a10g` 0 of 5; on `l4` 2 of 3" in text  # the paired run counts two
