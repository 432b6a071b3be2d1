"""Hardware tracks on the board (issue 16): a two-track challenge ranks each track on its own,
with its own noise and tie rule; a submission that targets one track is never on the other's
board, whatever was measured; runs of two tracks are never compared; the JSON API carries
every track's board."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import jsonschema
import pytest

from arena.challenge import load_challenge
from arena.store import ResultsStore
from leaderboard import api, site
from leaderboard.compare import compare_runs
from leaderboard.load import load_store, load_submission_files
from leaderboard.model import build_model
from leaderboard.ranking import board_filter, rank, tie_rule
from tests.support import sample

UTC = dt.timezone.utc


def at(day: int) -> dt.datetime:
    return dt.datetime(2026, 11, day, 10, tzinfo=UTC)


def own_config(sid: str) -> dict:
    return sample.config(args={"max_model_len": 1024 + sum(map(ord, sid)) * 7})

NOW = dt.datetime(2026, 12, 1, tzinfo=dt.timezone.utc)


def _run(sid: str, tps: float, day: int, *, track: str | None, hardware: str | None = None,
         accelerator: str = "NVIDIA A10G") -> dict:
    hw = hardware or track or "a10g"
    return sample.make_result(sid, started_at=at(day), private=(tps, tps, tps),
                              public=(tps, tps, tps), cfg=own_config(sid), hardware=hw,
                              track=track, accelerator=accelerator,
                              challenge_id="fast-gemma-tracks")


@pytest.fixture(scope="module")
def two(tmp_path_factory) -> tuple[Path, Path]:
    """The two-track challenge with five submissions and their runs. Returns (challenge file,
    store root)."""
    root = tmp_path_factory.mktemp("two")
    path = sample.challenge_folder(root, source=sample.TWO_TRACKS)
    w = lambda login, name, **kw: sample.write_submission(  # noqa: E731
        root, login, name, description=f"{name} by {login}", **kw)
    w("alice", "fast")
    w("bob", "close")
    w("carol", "a10g-only", tracks=["a10g"])
    w("dave", "l4-only", tracks=["l4"])
    w("erin", "mixed")
    store = ResultsStore(root / "store")
    for doc in [
        # a10g: gaps of 10 tokens/s, far above its margin (about 4.7 at sigma 1.2)
        _run("alice/fast", 300.0, 1, track=None),  # no track: the challenge's first
        _run("bob/close", 290.0, 2, track="a10g"),
        _run("carol/a10g-only", 250.0, 3, track="a10g"),
        # l4: gaps of 5 and 10, inside its margin (about 18 at sigma 4 and 10 degrees)
        _run("alice/fast", 150.0, 4, track="l4", accelerator="NVIDIA L4"),
        _run("bob/close", 140.0, 5, track="l4", accelerator="NVIDIA L4"),
        _run("dave/l4-only", 145.0, 6, track="l4", accelerator="NVIDIA L4"),
        # carol targets a10g only: a run measured on l4 anyway (a dispatch by hand) and
        # faster than everyone there must not put her on the l4 board
        _run("carol/a10g-only", 500.0, 7, track="l4", accelerator="NVIDIA L4"),
        # a run claiming the l4 track on an a10g machine is on neither board
        _run("erin/mixed", 900.0, 8, track="l4", hardware="a10g"),
    ]:
        store.append_result(doc)
    return path, root / "store"


def _model(two):
    path, store_root = two
    challenge = load_challenge(path)
    files = load_submission_files(challenge, lambda m: None, jobs=1)
    results, verdicts = load_store(ResultsStore(store_root), jobs=1)
    return build_model(challenge, files, results, verdicts, now=NOW)


def _board(model):
    return [(e.submission_id, e.rank, e.tps) for e in model.entries]


def test_each_track_is_ranked_on_its_own_with_its_own_tie_rule(two):
    m = _model(two)
    assert list(m.boards) == ["a10g", "l4"] and m.boards["a10g"] is m
    a10g, l4 = m.boards["a10g"], m.boards["l4"]
    assert _board(a10g) == [("alice/fast", 1, 300.0), ("bob/close", 2, 290.0),
                            ("carol/a10g-only", 3, 250.0)]
    # the same gaps tie on the noisier track (a tie lists its earliest entries first)
    assert _board(l4) == [("alice/fast", 1, 150.0), ("bob/close", 1, 140.0),
                          ("dave/l4-only", 1, 145.0)]
    assert a10g.tie_rule.calibrated_sigma == 1.2 and l4.tie_rule.calibrated_sigma == 4.0
    assert a10g.tie_rule.margin(300.0) == pytest.approx(4.67, abs=0.05)
    assert l4.tie_rule.margin(150.0) == pytest.approx(17.9, abs=0.2)
    # the runs each board counts
    assert {r.run_id for r in l4.runs if r.here} == {
        e.run_id for e in l4.entries}
    assert not any(r.here for r in l4.runs if r.submission_id in ("carol/a10g-only",
                                                                  "erin/mixed"))
    assert not any(r.here for r in a10g.runs if r.submission_id == "erin/mixed")


def test_a_submission_targeting_one_track_is_not_on_the_other_board(two):
    m = _model(two)
    l4 = m.boards["l4"]
    carol = l4.submissions["carol/a10g-only"]
    assert carol.entry is None and not carol.targets
    assert "carol/a10g-only" not in {e.submission_id for e in l4.author_entries}
    dave = m.submissions["dave/l4-only"]
    assert dave.entry is None and not dave.targets and dave.status == "pending"
    assert l4.submissions["dave/l4-only"].targets


def test_the_ranking_helpers_take_a_track(two):
    m = _model(two)
    ch = m.challenge
    docs = [r.doc for r in m.runs]
    # without the targeting filter, the ranking alone still keeps the tracks apart
    l4 = rank(docs, [], noise=ch.track("l4").noise, **board_filter(ch, "l4"))
    assert [e.submission_id for e in l4][0] == "carol/a10g-only"  # the model filters it out
    assert "erin/mixed" not in {e.submission_id for e in l4}
    a10g = rank(docs, [], noise=ch.track().noise, **board_filter(ch))
    assert [e.submission_id for e in a10g] == ["alice/fast", "bob/close", "carol/a10g-only"]
    assert tie_rule(docs, [], noise=ch.track("l4").noise,
                    **board_filter(ch, "l4")).calibrated_sigma == 4.0


def test_runs_of_two_tracks_are_never_compared(two):
    m = _model(two)
    a = m.boards["a10g"].entries[0].result
    b = m.boards["l4"].entries[0].result
    cmp = compare_runs(a, b, m.tie_rule)
    assert cmp.verdict is None and "different" in (cmp.note or "")
    same_label = json.loads(json.dumps(b.doc))
    same_label["challenge"]["track"] = "other"
    same_label["fingerprint"]["hardware"] = same_label["challenge"]["hardware"] = "l4"
    assert "different tracks" in compare_runs(b, same_label, m.tie_rule).note
    # each board's comparisons stay within it
    for board in m.boards.values():
        names = {e.submission_id for e in board.entries}
        for s in board.submissions.values():
            for c in s.compared.values():
                if not isinstance(c, str):
                    assert c.baseline.submission_id in names


def test_the_json_api_carries_every_track(two, tmp_path):
    path, store_root = two
    out = tmp_path / "site"
    site.build_site(load_challenge(path), store_root, out, now=NOW, jobs=1)
    docs = {n: json.loads((out / "api" / f"{n}.json").read_text()) for n in api.SCHEMAS}
    schemas = {n: json.loads((out / "api" / "schema" / f"{n}.json").read_text())
               for n in api.SCHEMAS}
    for name, doc in docs.items():
        jsonschema.validate(doc, schemas[name])
    lb = docs["leaderboard"]
    assert lb["challenge"]["track"] == "a10g" and lb["challenge"]["hardware"] == "a10g"
    assert [t["name"] for t in lb["challenge"]["tracks"]] == ["a10g", "l4"]
    assert [t["track"] for t in lb["tracks"]] == ["a10g", "l4"]
    assert lb["tracks"][0]["entries"] == lb["entries"]
    l4 = lb["tracks"][1]
    assert l4["challenge"]["hardware"] == "l4" and l4["challenge"]["ties"]["calibrated_sigma"] == 4
    assert [(e["submission"], e["rank"]) for e in l4["entries"]] == [
        ("alice/fast", 1), ("bob/close", 1), ("dave/l4-only", 1)]
    subs = {s["id"]: s for s in docs["submissions"]["submissions"]}
    assert subs["carol/a10g-only"]["tracks"]["l4"] == {
        "targets": False, "status": "pending", "rank": None, "tps": None, "tps_set": None}
    assert subs["dave/l4-only"]["tracks"]["l4"]["rank"] == 1
    runs = docs["runs"]["runs"]
    by_track = {}
    for r in runs:
        by_track.setdefault(r["track"], []).append(r)
    assert {r["submission"] for r in by_track["l4"] if r["counted"]} == {
        "alice/fast", "bob/close", "dave/l4-only"}
    assert {r["submission"] for r in by_track["a10g"] if r["counted"]} == {
        "alice/fast", "bob/close", "carol/a10g-only"}
    assert all(r["ranked"] == r["counted"] for r in runs)


def test_arena_compare_takes_a_track_and_refuses_two_tracks(two, tmp_path):
    import os
    import subprocess
    import sys

    path, store_root = two
    m = _model(two)
    l4 = m.boards["l4"].entries
    a10g = m.boards["a10g"].entries
    files = {}
    for name, doc in (("l4a", l4[0].result), ("l4b", l4[1].result), ("a10g", a10g[0].result)):
        files[name] = tmp_path / f"{name}.json"
        files[name].write_text(json.dumps(doc.doc))

    def compare(*argv):
        return subprocess.run([sys.executable, "-m", "arena", "compare", *argv, "--challenge",
                               str(path), "--json"], capture_output=True, text=True, timeout=120,
                              env=dict(os.environ, PYTHONPATH=str(Path(__file__).parents[2])))

    out = compare(str(files["l4a"]), str(files["l4b"]), "--track", "l4")
    doc = json.loads(out.stdout)
    assert out.returncode == 0 and doc["verdict"] == "tie"  # 10 tokens/s inside l4's margin
    assert "4" in doc["tie_rule"] and doc["tie_margin"] == pytest.approx(17.9, abs=0.2)
    out = compare(str(files["l4a"]), str(files["a10g"]), "--track", "l4")
    doc = json.loads(out.stdout)
    assert doc["verdict"] is None and "different" in doc["note"]
    out = compare(str(files["l4a"]), str(files["l4b"]), "--track", "h100")
    assert out.returncode == 2 and "'h100' is not a track" in out.stderr
