"""Issue 13: the bot-side holes a hostile participant could use, each kept as an attack that
must fail: the /bench window (point 2), floods (5), authority by login string (6), /reinstate
lifting more than it says (7) and another author's check run (8)."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from conftest import submission_yaml

from bot import comments, labels
from bot.commands import on_issue_comment
from bot.validation import on_pull_request

PATH = "submissions/alice/fast.yaml"


def replies(fake, number):
    return [c.body for c in fake.bot_comments(number)]


def backdate(ev, seconds):
    """The comment was made `seconds` before the commands job reads the pull request."""
    t = dt.datetime.now(dt.timezone.utc) - dt.timedelta(seconds=seconds)
    ev["comment"]["created_at"] = t.strftime("%Y-%m-%dT%H:%M:%SZ")
    return ev


@pytest.fixture
def alice_pr(fake, bot, validate):
    pr = fake.open_pull("alice", {PATH: submission_yaml()})
    validate(bot, pr.number)
    return pr


# -- 2. /bench binds to the commit the maintainer saw -------------------------------------------

def test_a_push_after_the_comment_is_never_benched_on_that_approval(
        fake, bot, alice_pr, comment_event, validate):
    approved = alice_pr.head_sha
    ev = backdate(comment_event(alice_pr.number, "/bench", "arena-maintainers"), 30)
    # in the window before the commands job runs, the author pushes another valid YAML
    fake.push(alice_pr.number, {PATH: submission_yaml(description="swapped after review")})
    on_issue_comment(bot, ev)
    assert fake.dispatches == []
    body = replies(fake, alice_pr.number)[-1]
    assert "head moved" in body and approved[:7] in body and alice_pr.head_sha[:7] in body
    assert f"/bench {alice_pr.head_sha[:7]}" in body
    # the same, when the new head was validated too before the job got there
    validate(bot, alice_pr.number)
    on_issue_comment(bot, ev)
    assert fake.dispatches == []
    assert "checked only after your comment" in replies(fake, alice_pr.number)[-1]


def test_pushing_back_to_an_earlier_commit_does_not_borrow_its_old_check(
        fake, bot, alice_pr, comment_event, validate):
    first = alice_pr.head_sha
    fake.push(alice_pr.number, {PATH: submission_yaml(description="the one reviewed")})
    validate(bot, alice_pr.number)
    ev = comment_event(alice_pr.number, "/bench", "arena-maintainers")
    alice_pr.head_sha = first  # force-pushed back before the job runs
    on_issue_comment(bot, ev)
    assert fake.dispatches == []
    assert "head moved" in replies(fake, alice_pr.number)[-1]


def test_a_named_sha_binds_the_approval(fake, bot, alice_pr, comment_event):
    reviewed = alice_pr.head_sha
    fake.push(alice_pr.number, {PATH: submission_yaml(description="pushed meanwhile")})
    on_issue_comment(bot, comment_event(alice_pr.number, f"/bench {reviewed[:10]}",
                                        "arena-maintainers"))
    assert fake.dispatches == []
    assert "you approved commit" in replies(fake, alice_pr.number)[-1]
    head = alice_pr.head_sha
    on_issue_comment(bot, comment_event(alice_pr.number, f"/bench fast {head[:8]}",
                                        "arena-maintainers"))
    [d] = fake.dispatches
    assert d["inputs"]["sha"] == head
    body = replies(fake, alice_pr.number)[-1]
    assert f"Approved commit: [`{head[:7]}`](https://github.com/{fake.full_name}/commit/{head})" \
        in body


def test_a_bench_before_any_check_asks_for_the_sha(fake, bot, comment_event):
    pr = fake.open_pull("alice", {PATH: submission_yaml()})
    on_issue_comment(bot, comment_event(pr.number, "/bench", "arena-maintainers"))
    assert fake.dispatches == []
    assert f"/bench {pr.head_sha[:7]}" in replies(fake, pr.number)[-1]


# -- 5. floods ------------------------------------------------------------------------------------

def test_one_reply_per_comment_however_many_commands(fake, bot, alice_pr, comment_event):
    before = len(replies(fake, alice_pr.number))
    on_issue_comment(bot, comment_event(alice_pr.number,
                                        "/aa\n/bb\n/cc\n/dd\n/status", "mallory"))
    new = replies(fake, alice_pr.number)[before:]
    assert len(new) == 1
    for name in ("/aa", "/bb", "/cc", "/dd", "/status"):
        assert f"`{name}`" in new[0]


def test_commands_one_may_not_use_get_a_reaction_not_a_comment(fake, bot, alice_pr,
                                                             comment_event):
    before = len(replies(fake, alice_pr.number))
    ev = comment_event(alice_pr.number, "/invalidate x\n/reinstate\n/bench", "mallory")
    on_issue_comment(bot, ev)
    assert len(replies(fake, alice_pr.number)) == before
    assert {r["content"] for r in fake.reactions if r["comment_id"] == ev["comment"]["id"]} == \
        {"-1"}
    assert fake.dispatches == [] and "results" not in fake.branches


def test_a_sender_over_the_hourly_limit_gets_a_reaction_only(fake, make_bot, checkout,
                                                            comment_event):
    from arena.challenge import load_challenge
    text = (checkout / "challenge.yaml").read_text().replace(
        "commands_per_sender_per_hour: 20", "commands_per_sender_per_hour: 2")
    (checkout / "challenge.yaml").write_text(text)
    bot = make_bot(load_challenge(checkout / "challenge.yaml"))
    pr = fake.open_pull("alice", {PATH: submission_yaml()})
    other = fake.open_issue("mallory", "elsewhere")
    on_issue_comment(bot, comment_event(other, "/help", "mallory"))  # counted repository-wide
    on_issue_comment(bot, comment_event(pr.number, "/status", "mallory"))
    assert len(replies(fake, pr.number)) == 1
    ev = comment_event(pr.number, "/status", "mallory")
    on_issue_comment(bot, ev)
    assert len(replies(fake, pr.number)) == 1
    assert fake.reactions[-1] == {"comment_id": ev["comment"]["id"], "content": "confused"}
    # a renamed account is the same account: the count follows the numeric id
    fake.user_ids["mallory2"] = fake.uid("mallory")
    on_issue_comment(bot, comment_event(pr.number, "/status", "mallory2"))
    assert len(replies(fake, pr.number)) == 1
    # maintainers have no limit; other people have their own
    for who in ("arena-maintainers", "arena-maintainers", "arena-maintainers", "bob"):
        on_issue_comment(bot, comment_event(pr.number, "/status", who))
    assert len(replies(fake, pr.number)) == 5


def spam(fake, number, n=comments.MAX_COMMENTS_SCANNED + 50):
    for i in range(n):
        fake.add_comment(number, "mallory", f"spam {i}")


def test_the_bot_finds_its_sticky_comment_behind_a_long_thread(fake, bot, alice_pr, validate):
    spam(fake, alice_pr.number)
    fake.push(alice_pr.number, {PATH: submission_yaml(description="new head, same state")})
    validate(bot, alice_pr.number)
    [sticky] = fake.bot_comments(alice_pr.number)  # edited in place, not posted again
    assert alice_pr.head_sha[:7] in sticky.body
    # a state change posts a new one and points the first at it; a flood after that too
    fake.push(alice_pr.number, {PATH: submission_yaml(extra_args="    nope: 1")})
    validate(bot, alice_pr.number)
    first, second = fake.bot_comments(alice_pr.number)
    assert comments.parse_marker(first.body)["latest"] == str(second.id)
    spam(fake, alice_pr.number)
    fake.push(alice_pr.number, {PATH: submission_yaml(extra_args="    nope: 2")})
    validate(bot, alice_pr.number)
    assert len(fake.bot_comments(alice_pr.number)) == 2
    assert "nope: 2" in fake.bot_comments(alice_pr.number)[1].body or \
        alice_pr.head_sha[:7] in fake.bot_comments(alice_pr.number)[1].body


# -- 6. authority by login string -----------------------------------------------------------------

def test_a_login_listed_in_challenge_yaml_is_not_a_maintainer_by_itself(fake, bot, alice_pr,
                                                                       comment_event):
    """challenge.yaml names arena-maintainers; once that login is not a collaborator (freed and
    registered again by someone else), it holds no rights."""
    fake.collaborators.pop("arena-maintainers")
    on_issue_comment(bot, comment_event(alice_pr.number, "/invalidate cheat",
                                        "arena-maintainers"))
    assert "results" not in fake.branches
    assert fake.reactions[-1]["content"] == "-1"


def test_a_reregistered_login_cannot_take_over_a_folder(fake, bot, alice_pr, comment_event,
                                                        pr_event, validate):
    on_issue_comment(bot, comment_event(alice_pr.number, f"/bench {alice_pr.head_sha[:7]}",
                                        "arena-maintainers"))
    owner = json.loads(fake.branch_files["results"]["owners/alice.json"])
    assert owner["id"] == fake.uid("alice")
    # alice renames her account; someone registers the free login "alice"
    fake.user_ids["alice"] = 987654
    pr = fake.open_pull("alice", {"submissions/alice/fast.yaml":
                                  submission_yaml(description="not the real alice")})
    validate(bot, pr.number)
    body = replies(fake, pr.number)[-1]
    assert "belongs to GitHub account" in body and "#987654" in body
    assert [c["conclusion"] for c in fake.check_runs.values()
            if c["head_sha"] == pr.head_sha] == ["failure"]
    on_issue_comment(bot, comment_event(pr.number, f"/bench {pr.head_sha[:7]}",
                                        "arena-maintainers"))
    assert len(fake.dispatches) == 1  # only the real alice's run
    on_issue_comment(bot, comment_event(alice_pr.number, "/withdraw", "alice"))
    assert "belongs to GitHub account" in replies(fake, alice_pr.number)[-1]
    assert not [p for p in fake.branch_files["results"] if p.startswith("verdicts/")]


def test_verdicts_and_results_record_numeric_ids(fake, bot, alice_pr, comment_event, tmp_path):
    on_issue_comment(bot, comment_event(alice_pr.number, "/withdraw", "alice"))
    [path] = [p for p in fake.branch_files["results"] if p.startswith("verdicts/")]
    assert json.loads(fake.branch_files["results"][path])["by_id"] == fake.uid("alice")
    on_issue_comment(bot, comment_event(alice_pr.number, f"/bench {alice_pr.head_sha[:7]}",
                                        "arena-maintainers"))
    from bot.publish import publish
    from helpers import make_result
    from test_publish import config_sha
    bot.run_id = str(fake.runs[-1].id)
    doc = make_result("alice/fast", path=PATH, commit=None,
                      config_sha256=config_sha(bot.challenge))
    (tmp_path / "result.json").write_text(json.dumps(doc))
    publish(bot, pr=alice_pr.number, sha=alice_pr.head_sha, path=PATH,
            result_file=tmp_path / "result.json", bench_outcome="success",
            requested_by="arena-maintainers")
    stored = json.loads(fake.branch_files["results"][f"results/alice/fast/{doc['run_id']}.json"])
    assert stored["provenance"]["author_id"] == fake.uid("alice")
    assert stored["provenance"]["requested_by_id"] == fake.uid("arena-maintainers")


# -- 7. /reinstate says what it lifted, and lifts no more ------------------------------------------

def test_undoing_a_withdrawal_leaves_the_invalidation(fake, bot, alice_pr, comment_event):
    on_issue_comment(bot, comment_event(alice_pr.number, "/invalidate proxy detected",
                                        "arena-maintainers"))
    on_issue_comment(bot, comment_event(alice_pr.number, "/withdraw", "alice"))
    assert "Still in force: the invalidation" in replies(fake, alice_pr.number)[-1]
    on_issue_comment(bot, comment_event(alice_pr.number, "/reinstate", "arena-maintainers"))
    body = replies(fake, alice_pr.number)[-1]
    assert "lifted the withdrawal" in body and "Still in force: the invalidation" in body
    assert "proxy detected" in body and "/reinstate` again" in body
    assert labels.SUBMISSION["invalidated"] in fake.labels_of(alice_pr.number)
    from leaderboard.ranking import submission_holds
    records = [json.loads(v) for p, v in fake.branch_files["results"].items()
               if p.startswith("verdicts/")]
    held, _ = submission_holds("alice/fast", records)
    assert [h["action"] for h in held] == ["invalidate"]
    on_issue_comment(bot, comment_event(alice_pr.number, "/reinstate", "arena-maintainers"))
    body = replies(fake, alice_pr.number)[-1]
    assert "lifted the invalidation" in body and "Nothing else holds" in body
    assert labels.SUBMISSION["invalidated"] not in fake.labels_of(alice_pr.number)
    on_issue_comment(bot, comment_event(alice_pr.number, "/reinstate", "arena-maintainers"))
    assert "nothing to reinstate" in replies(fake, alice_pr.number)[-1]
    assert len([p for p in fake.branch_files["results"] if p.startswith("verdicts/")]) == 4


# -- 8. never fail another author's PR ------------------------------------------------------------

def test_a_strangers_pr_with_the_victims_head_cannot_fail_its_check(fake, bot, pr_event,
                                                                   comment_event, tmp_path):
    victim = fake.open_pull("alice", {PATH: submission_yaml()})
    on_pull_request(bot, pr_event(victim.number))
    # mallory opens a PR whose head is alice's commit: her PR touches alice's folder
    attack = fake.open_pull("mallory", {PATH: submission_yaml()})
    attack.head_sha = victim.head_sha
    on_pull_request(bot, pr_event(attack.number))
    on_commit = [c for c in fake.check_runs.values() if c["head_sha"] == victim.head_sha]
    assert [c["conclusion"] for c in on_commit if c["conclusion"] == "failure"] == []
    assert "also the head of" in replies(fake, attack.number)[-1]
    # the victim's own pull request still gets its check
    on_pull_request(bot, pr_event(victim.number, "synchronize"))
    assert [c["conclusion"] for c in fake.check_runs.values()
            if c["head_sha"] == victim.head_sha] == ["success", "success"]
    # nor can a benchmark of the stranger's PR (a maintainer benches mallory's own copy)
    other = fake.open_pull("mallory", {"submissions/mallory/fast.yaml": submission_yaml()})
    other.head_sha = victim.head_sha
    fake.commits[victim.head_sha]["submissions/mallory/fast.yaml"] = \
        fake.commits[victim.head_sha][PATH]
    on_issue_comment(bot, comment_event(other.number, f"/bench {victim.head_sha[:7]}",
                                        "arena-maintainers"))
    assert fake.dispatches and "check=none" in fake.bot_comments(other.number)[-1].body
    from bot.publish import publish
    bot.run_id = str(fake.runs[-1].id)
    publish(bot, pr=other.number, sha=victim.head_sha, path="submissions/mallory/fast.yaml",
            result_file=tmp_path / "none.json", bench_outcome="failure", requested_by="x",
            store_dir=None)
    assert [c["name"] for c in fake.check_runs.values()
            if c["head_sha"] == victim.head_sha] == ["arena/validate", "arena/validate"]
