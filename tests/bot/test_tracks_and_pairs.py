"""`/bench [<track>] [vs <login>/<name>]` end to end against the fake GitHub, on a challenge with
two hardware tracks (tests/tracks/challenge.yaml): the dispatch carries `track` and `vs`, the
quota is the track's and a paired run costs two, the queue is the track's runners', and every
pairing that cannot stand is refused with a reply that says why."""

from __future__ import annotations

import json

import pytest
from conftest import submission_yaml, utc

from bot.commands import on_issue_comment
from bot.quota import RUN_NAME_RE
from fakegithub import git_sha
from helpers import make_result

PATH = "submissions/alice/fast.yaml"
PARENT = "arena-maintainers/bf16-baseline"


@pytest.fixture
def make_tracks_bot(make_bot, make_tracks_challenge):
    def make(authors_may_bench: bool = False):
        return make_bot(make_tracks_challenge(authors_may_bench=authors_may_bench))
    return make


@pytest.fixture
def tracks_bot(make_tracks_bot):
    return make_tracks_bot()


def verified(fake, sid: str, track: str | None, verdict: str = "verified") -> None:
    """A stored result of `sid` on the results branch."""
    doc = make_result(sid, path=f"submissions/{sid}.yaml", commit=None, config_sha256="3" * 64,
                      verdict=verdict, hardware=track or "a10g")
    if track:
        doc["challenge"]["track"] = track
    fake.branches.setdefault("results", git_sha("results"))
    files = fake.branch_files.setdefault("results", {})
    files[f"results/{sid}/{doc['run_id']}-{track}.json"] = json.dumps(doc).encode()


def bench(fake, bot, comment_event, validate, text, *, parent=PARENT):
    fake.collaborators["carol"] = "write"
    pr = fake.open_pull("alice", {PATH: submission_yaml(parent=parent)})
    validate(bot, pr.number)
    on_issue_comment(bot, comment_event(pr.number, text, "carol"))
    return pr, fake.bot_comments(pr.number)[-1].body


def test_a_paired_run_on_a_named_track_dispatches_track_and_vs(fake, tracks_bot, comment_event,
                                                               validate):
    verified(fake, PARENT, "l4")
    fake.add_runner("gpu-l4", ["self-hosted", "l4"])
    fake.add_runner("gpu-a10g", ["self-hosted", "a10g"], busy=True)
    pr, body = bench(fake, tracks_bot, comment_event, validate, "/bench l4 vs")
    [d] = fake.dispatches
    assert d["inputs"] == {"pr": str(pr.number), "sha": pr.head_sha, "path": PATH,
                           "requested_by": "carol", "track": "l4",
                           "vs": f"submissions/{PARENT}.yaml"}
    m = RUN_NAME_RE.match(fake.runs[-1].display_title)
    assert m and m["track"] == "l4" and m["vs"] == f"submissions/{PARENT}.yaml"
    assert "Benchmark queued" in body and f"Paired with `{PARENT}`" in body
    assert "costs 2 runs" in body and "Track `l4`" in body
    assert "2 of 3 runs used on the track `l4`" in body  # the L4 track's own quota
    assert "1 runner `l4` online, 0 busy" in body  # the L4 runners, not the A10G one


def test_the_quota_is_per_track_and_a_paired_run_needs_two_left(fake, make_tracks_bot,
                                                                comment_event, validate):
    tracks_bot = make_tracks_bot(authors_may_bench=True)
    verified(fake, PARENT, "l4")
    other = "submissions/alice/other.yaml"
    # two runs on l4 (limit 3) and five on a10g (limit 5, the default track's title has none)
    for i in range(2):
        fake.add_run({"pr": "1", "sha": f"{i}" * 40, "path": other, "requested_by": "carol",
                      "track": "l4"}, created_at=utc(hours=2))
    for i in range(5):
        fake.add_run({"pr": "1", "sha": f"{i}" * 40, "path": other, "requested_by": "carol"},
                     created_at=utc(hours=3))
    pr = fake.open_pull("alice", {PATH: submission_yaml(parent=PARENT)})
    validate(tracks_bot, pr.number)
    on_issue_comment(tracks_bot, comment_event(pr.number, "/bench l4 vs", "alice"))
    body = fake.bot_comments(pr.number)[-1].body
    assert fake.dispatches == []
    assert "has used 2 of 3 benchmark runs on the track `l4`" in body
    assert "A paired run (`vs`) costs 2 runs." in body
    on_issue_comment(tracks_bot, comment_event(pr.number, "/bench a10g", "alice"))
    assert fake.dispatches == []
    assert "used 5 of 5 benchmark runs on the track `a10g`" in \
        fake.bot_comments(pr.number)[-1].body
    on_issue_comment(tracks_bot, comment_event(pr.number, "/bench l4", "alice"))
    [d] = fake.dispatches  # one run alone still fits on l4
    assert d["inputs"]["track"] == "l4" and "vs" not in d["inputs"]


@pytest.mark.parametrize("command, parent, words", [
    ("/bench h100", PARENT, "no valid submission named `h100`"),
    ("/bench vs", None, "has no parent, so `vs` alone names nothing"),
    ("/bench vs alice/fast", PARENT, "is the submission being benchmarked"),
    ("/bench vs bob/nothing", PARENT, "is not a valid submission on the default branch"),
    ("/bench l4 vs", PARENT, "has no verified result on the track `l4`"),
])
def test_a_pairing_that_cannot_stand_is_refused_and_nothing_dispatched(
        fake, tracks_bot, comment_event, validate, command, parent, words):
    verified(fake, PARENT, "a10g")  # verified on the other track only
    _, body = bench(fake, tracks_bot, comment_event, validate, command, parent=parent)
    assert fake.dispatches == []
    assert words in body
    if "h100" in command:
        assert "the challenge's tracks: `a10g`, `l4`" in body


def test_another_model_is_refused(fake, tracks_bot, comment_event, validate, checkout):
    text = (checkout / "submissions" / "arena-maintainers" / "bf16-baseline.yaml").read_text()
    other = text.replace("ee0ef6023621cff504d758262d4e04895a5af4a2", "f" * 40)
    (checkout / "submissions" / "bob").mkdir()
    (checkout / "submissions" / "bob" / "other-rev.yaml").write_text(
        other.replace("name: bf16-baseline", "name: other-rev"))
    verified(fake, "bob/other-rev", "a10g")
    _, body = bench(fake, tracks_bot, comment_event, validate, "/bench vs bob/other-rev")
    assert fake.dispatches == []
    assert "a paired run compares two submissions of one model" in body


def test_a_one_track_challenge_dispatches_exactly_as_before(fake, bot, comment_event, validate):
    verified(fake, PARENT, None)
    pr, body = bench(fake, bot, comment_event, validate, "/bench vs")
    [d] = fake.dispatches
    assert set(d["inputs"]) == {"pr", "sha", "path", "requested_by", "vs"}  # no track
    assert "Track" not in body and "2 of 5 runs used in the last 24 hours" in body


def test_hostile_words_after_bench_are_shown_as_text(fake, tracks_bot, comment_event, validate):
    from helpers import HOSTILE, assert_neutralized
    _, body = bench(fake, tracks_bot, comment_event, validate, "/bench vs " + HOSTILE[:120])
    assert fake.dispatches == []
    assert "no valid submission named" in body
    assert_neutralized(body)


@pytest.mark.parametrize("track, hardware, stored", [("l4", "l4", True), ("h100", "l4", False),
                                                     ("l4", "a10g", False)])
def test_a_result_is_checked_against_its_own_track(fake, tracks_bot, comment_event, validate,
                                                   tmp_path, track, hardware, stored):
    from arena.submission import validate_file
    from bot.publish import publish
    from bot.validation import base_index

    pr, _ = bench(fake, tracks_bot, comment_event, validate, "/bench l4")
    tracks_bot.run_id = str(fake.runs[-1].id)
    cfg = validate_file(submission_yaml(parent=PARENT), path_in_repo=PATH,
                        challenge=tracks_bot.challenge,
                        index=base_index(tracks_bot.challenge)).submission.config_sha256()
    doc = make_result("alice/fast", path=PATH, commit=None, config_sha256=cfg, hardware=hardware,
                      challenge=tracks_bot.challenge.id)
    doc["challenge"]["track"] = track
    f = tmp_path / "result.json"
    f.write_text(json.dumps(doc))
    rc = publish(tracks_bot, pr=pr.number, sha=pr.head_sha, path=PATH, result_file=f,
                 bench_outcome="success")
    results = [p for p in fake.branch_files.get("results", {}) if p.startswith("results/")]
    body = fake.bot_comments(pr.number)[-1].body
    if stored:
        assert rc == 0 and len(results) == 1 and "Verified" in body
    else:
        assert rc != 0 and results == [] and "rejected" in body
        assert ("is not a track of this challenge" in body) == (track == "h100")
