"""The digest of a challenge with several hardware tracks: one board per track, each ranked on
its own; a one-track challenge's digest has no track section at all."""

from __future__ import annotations

import datetime as dt

from bot.digest import build_digest, render_markdown, render_text
from helpers import make_result, rendered

NOW = dt.datetime(2026, 11, 22, tzinfo=dt.timezone.utc)


def results():
    def run(sid, tps, hw, rid, track=None):
        doc = make_result(sid, path=f"submissions/{sid}.yaml", commit=None,
                          config_sha256="3" * 64, tps=tps, hardware=hw, run_id=rid)
        if track:
            doc["challenge"]["track"] = track
        return doc
    return [run("bob/x", 200.0, "a10g", "r1"), run("alice/fast", 150.0, "a10g", "r2"),
            run("carol/l4-tuned", 90.0, "l4", "r3", "l4")]


def test_each_track_has_its_own_board_tie_margin_and_quota(make_tracks_challenge):
    ch = make_tracks_challenge()
    doc = build_digest(ch, results(), [], now=NOW)
    a10g, l4 = doc["tracks"]
    assert [e["submission"] for e in a10g["ranking"]] == ["bob/x", "alice/fast"]
    assert [e["submission"] for e in l4["ranking"]] == ["carol/l4-tuned"]
    assert (a10g["runs_per_author_per_day"], l4["runs_per_author_per_day"]) == (5, 3)
    assert l4["tie_tps"] != a10g["tie_tps"]  # the L4's own noise
    assert doc["ranking"] == a10g["ranking"]  # the top level is the first track's, as before
    assert {r["run_id"]: r["track"] for r in doc["recent_results"]} == \
        {"r1": "a10g", "r2": "a10g", "r3": "l4"}
    md = render_markdown(doc)
    assert "### Track `a10g` (`NVIDIA A10G`): top 2 of 2" in md
    assert "### Track `l4` (`NVIDIA L4`): top 1 of 1" in md
    assert md.index("carol/l4-tuned") > md.index("### Track `l4`")
    assert "<table>" in rendered(md)
    text = render_text(doc)
    assert "Track l4: top 1 of 1:" in text and "carol/l4-tuned on l4" in text


def test_a_one_track_challenge_reads_as_before(challenge):
    doc = build_digest(challenge, results()[:2], [], now=NOW)
    assert "tracks" not in doc and all("track" not in r for r in doc["recent_results"])
    md = render_markdown(doc)
    assert "### Top 2 of 2" in md and "Track" not in md
