"""A challenge with several hardware tracks: one board per track (the first is the home page,
the others under tracks/), the home page lists them, and a submission's page names its standing
on the other tracks. The boards come from the model (`SiteModel.boards`, one model per track);
here they are built per track by hand, as the model does, so the site is judged on its own."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from arena.challenge import load_challenge
from leaderboard import site
from leaderboard.model import build_model
from tests.support import sample

REPO = Path(__file__).resolve().parents[2]
NOW = dt.datetime(2026, 11, 30, 12, tzinfo=dt.timezone.utc)


def board_for(ch, results, track):
    return build_model(ch, {}, results, [], now=NOW, track=track)


def test_each_track_has_its_own_board_and_the_home_page_lists_them(tmp_path):
    ch = load_challenge(REPO / "tests" / "tracks" / "challenge.yaml")
    runs = [("alice/fast", "a10g", 300.0), ("bob/steady", "a10g", 200.0),
            ("alice/fast", "l4", 150.0), ("carol/l4-only", "l4", 180.0)]
    results = []
    for i, (sid, hw, tps) in enumerate(runs):
        doc = sample.make_result(sid, started_at=NOW - dt.timedelta(days=5 - i), hardware=hw,
                                 track=hw,
                                 challenge_id=ch.id, private=(tps - 1, tps, tps + 1))
        results.append((f"results/{sid}/{doc['run_id']}.json", doc))
    model = board_for(ch, results, "a10g")
    model.boards = {"a10g": model, "l4": board_for(ch, results, "l4")}
    out = tmp_path / "site"
    out.mkdir()
    site.render_site(model, out, site.Links())

    home = (out / "index.html").read_text()
    l4 = (out / "tracks" / "l4.html").read_text()
    assert 'aria-label="Tracks"' in home and 'href="tracks/l4.html"' in home
    assert 'href="index.html" aria-current="page">a10g</a>' in home
    assert 'href="../index.html">a10g</a>' in l4 and 'aria-current="page">l4</a>' in l4
    assert "NVIDIA L4" in home and "NVIDIA L4" in l4
    # Each board ranks its own track's runs, with its own label.
    assert "alice/fast" in home and "bob/steady" in home and "carol/l4-only" not in home
    assert "carol/l4-only" in l4 and "bob/steady" not in l4
    assert l4.index("carol/l4-only") < l4.index("alice/fast")
    assert "best verified run on l4" in l4 and "best verified run on a10g" in home
    assert 'href="../submissions/carol/l4-only.html"' in l4
    assert (out / "submissions" / "carol" / "l4-only.html").is_file()
    # A submission's page says where it stands on the other tracks.
    page = (out / "submissions" / "alice" / "fast.html").read_text()
    assert 'On the other tracks: <a href="../../tracks/l4.html">l4</a> rank 2' in page


def test_a_one_track_challenge_has_no_tracks_section(tmp_path):
    ch = sample.synthetic_history(tmp_path / "c", submissions=12, runs_per_submission=1)
    out = tmp_path / "site"
    site.build_site(load_challenge(ch), tmp_path / "c" / "store", out, now=NOW, jobs=1)
    assert not (out / "tracks").exists()
    for p in out.rglob("*.html"):
        text = p.read_text()
        assert 'aria-label="Tracks"' not in text and "On the other tracks" not in text
