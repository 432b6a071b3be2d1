"""The incremental site build: after each kind of change, a rebuild into the previous site
renders only what changed and gives, byte for byte, what a full build into an empty folder
gives; a failed rebuild leaves the previous site whole."""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from arena.challenge import load_challenge
from arena.store import ResultsStore
from leaderboard import site
from leaderboard.pages import format as page_format
from tests.support import sample

NOW = dt.datetime(2026, 11, 30, 12, tzinfo=dt.timezone.utc)
ALL_BUT = 5  # files never rendered: the three assets (copied), the marker and the keys


def files_of(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes()
            for p in sorted(folder.rglob("*")) if p.is_file()}


class Board:
    """A synthetic challenge, its site rebuilt incrementally in `inc`, and a full build of the
    same inputs in a fresh folder to hold it against."""

    def __init__(self, root: Path):
        self.root = root
        self.challenge = sample.synthetic_history(root / "c", submissions=40,
                                                  runs_per_submission=2)
        self.store = ResultsStore(root / "c" / "store")
        self.inc = root / "inc"
        self.n = 0

    def build(self, out: Path, **kw) -> site.BuildReport:
        kw.setdefault("now", NOW)
        kw.setdefault("jobs", 1)
        return site.build_site(load_challenge(self.challenge), self.store.root, out, **kw)

    def rebuild_and_compare(self, **kw) -> site.BuildReport:
        report = self.build(self.inc, **kw)
        self.n += 1
        full = self.root / f"full-{self.n}"
        self.build(full, **kw)
        a, b = files_of(self.inc), files_of(full)
        assert sorted(a) == sorted(b)
        for name in a:
            assert a[name] == b[name], name
        shutil.rmtree(full)
        return report

    def some(self, status: str) -> str:
        doc = (self.inc / "api" / "submissions.json").read_text()
        return next(s["id"] for s in json.loads(doc)["submissions"] if s["status"] == status)


@pytest.fixture
def board(tmp_path: Path) -> Board:
    b = Board(tmp_path)
    first = b.build(b.inc)
    assert first.rendered == first.files - ALL_BUT  # everything but the assets and the marker
    return b


def test_a_rebuild_with_nothing_changed_renders_nothing(board):
    before = files_of(board.inc)
    report = board.rebuild_and_compare()
    assert report.rendered == 0
    assert files_of(board.inc) == before


def test_a_new_build_time_rerenders_only_the_pages_that_show_it(board):
    dated = {"index.html", "charts.html"}  # the stamp and the time charts: rendered again
    stamped = {"api/leaderboard.json", "api/submissions.json", "api/runs.json",
               "api/tried.json"}  # carried over with their generated_at rewritten
    carried = [p for p in board.inc.rglob("*") if p.is_file() and "assets" not in p.parts
               and p.relative_to(board.inc).as_posix() not in dated | stamped | {
                   ".arena-site", site.MANIFEST}]
    inodes = {p: p.stat().st_ino for p in carried}
    report = board.rebuild_and_compare(now=NOW + dt.timedelta(hours=1))
    assert report.rendered == len(dated)
    assert all(p.stat().st_ino == inodes[p] for p in inodes)  # carried over, not written
    assert "Built 2026-11-30 13:00 UTC" in (board.inc / "index.html").read_text()
    for name in stamped:
        assert '"generated_at":"2026-11-30T13:00:00Z"' in (board.inc / name).read_text()


def test_a_new_run(board):
    sid = board.some("verified")
    board.store.append_result(sample.make_result(
        sid, started_at=NOW - dt.timedelta(hours=2), private=(900.0, 901.0, 902.0)))
    report = board.rebuild_and_compare()
    assert 0 < report.rendered < report.files


def test_a_withdrawn_submission(board):
    sid = board.some("verified")
    board.store.append_verdict(submission=sid, action="withdraw", reason="author's wish",
                               by="arena-maintainers", at=NOW - dt.timedelta(hours=1))
    report = board.rebuild_and_compare()
    assert 0 < report.rendered < report.files


def test_a_new_verdict_record_on_one_run(board):
    sid = board.some("verified")
    runs = json.loads((board.inc / "api" / "runs.json").read_text())["runs"]
    run = next(r for r in runs if r["submission"] == sid and r["ranked"])
    board.store.append_verdict(submission=sid, action="invalidate", run_id=run["run_id"],
                               reason="a bad runner", by="arena-maintainers",
                               at=NOW - dt.timedelta(hours=1))
    report = board.rebuild_and_compare()
    assert 0 < report.rendered < report.files


def test_a_new_and_then_a_removed_submission(board):
    path = sample.write_submission(board.challenge.parent, "newcomer", "fresh-idea",
                                   description="a new idea")
    board.rebuild_and_compare()
    assert (board.inc / "submissions" / "newcomer" / "fresh-idea.html").is_file()
    path.unlink()
    report = board.rebuild_and_compare()
    assert not (board.inc / "submissions" / "newcomer" / "fresh-idea.html").exists()
    assert 0 < report.rendered < report.files


def test_a_changed_challenge_rerenders_every_page(board):
    text = board.challenge.read_text()
    board.challenge.write_text(text.replace("title: ", "title: Renamed ", 1))
    report = board.rebuild_and_compare()
    assert report.rendered == report.files - ALL_BUT
    assert "Renamed" in (board.inc / "submissions").rglob("*.html").__next__().read_text()


def test_a_template_change_rerenders_the_pages_it_shapes(board, tmp_path, monkeypatch):
    templates = tmp_path / "templates"
    shutil.copytree(page_format.TEMPLATES, templates)
    tpl = templates / "submission.html.j2"
    tpl.write_text(tpl.read_text().replace("<h2 id=\"lineage\">Lineage</h2>",
                                           "<h2 id=\"lineage\">Family</h2>"))
    monkeypatch.setattr(page_format, "TEMPLATES", templates)
    report = board.rebuild_and_compare()
    assert report.rendered == report.files - ALL_BUT
    page = next((board.inc / "submissions").rglob("*.html")).read_text()
    assert "Family</h2>" in page and "Lineage</h2>" not in page


def test_worker_processes_carry_pages_over_the_same_way(board, monkeypatch):
    from leaderboard import parallel
    monkeypatch.setattr(parallel, "PARALLEL_MIN", 4)
    sid = board.some("verified")
    board.store.append_result(sample.make_result(sid, started_at=NOW - dt.timedelta(hours=2)))
    report = board.rebuild_and_compare(jobs=2)
    assert 0 < report.rendered < report.files


def test_a_failed_rebuild_leaves_the_previous_site_whole(board, monkeypatch):
    before = files_of(board.inc)
    sid = board.some("verified")
    board.store.append_result(sample.make_result(sid, started_at=NOW - dt.timedelta(hours=2)))
    from leaderboard.pages import extras

    def boom(model):  # the last page: every other one is rendered or carried over by then
        raise OSError("disk full")

    monkeypatch.setattr(extras, "llms_txt", boom)
    with pytest.raises(OSError):
        board.build(board.inc)
    assert files_of(board.inc) == before
    assert sorted(p.name for p in board.root.iterdir()) == ["c", "inc"]  # no staging left


def test_pages_are_not_carried_from_a_site_without_keys(board):
    (board.inc / site.MANIFEST).unlink()
    report = board.rebuild_and_compare()
    assert report.rendered == report.files - ALL_BUT


REBUILD = """
import datetime as dt, json, sys
from pathlib import Path
from arena.challenge import load_challenge
from leaderboard.site import build_site
r = build_site(load_challenge(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3]), jobs=1,
               now=dt.datetime(2026, 11, 30, 12, tzinfo=dt.timezone.utc),
               cache_path=Path(sys.argv[4]) if len(sys.argv) > 4 else None)
print(json.dumps({"rendered": r.rendered, "files": r.files}))
"""


def test_a_rebuild_in_another_process_carries_the_pages_over(board):
    """Keys are made of values alone: another process (another hash seed, the results read
    from the cache instead of parsed) gives every unchanged page the same key."""
    repo = Path(__file__).resolve().parents[2]
    cache = board.root / "cache.bin"
    # No cache; a cache being filled (results parsed); the cache filled (results read from it).
    for seed, extra in (("1", []), ("2", [str(cache)]), ("3", [str(cache)])):
        done = subprocess.run(
            [sys.executable, "-c", REBUILD, str(board.challenge), str(board.store.root),
             str(board.inc), *extra], cwd=repo, capture_output=True, text=True, timeout=300,
            env={**os.environ, "PYTHONPATH": str(repo), "PYTHONHASHSEED": seed})
        assert done.returncode == 0, done.stderr
        assert json.loads(done.stdout.splitlines()[-1])["rendered"] == 0, seed


def test_the_cli_reports_what_it_rendered(board):
    repo = Path(__file__).resolve().parents[2]
    done = subprocess.run(
        [sys.executable, "-m", "arena", "site", "--challenge", str(board.challenge), "--store",
         str(board.store.root), "--out", str(board.inc), "--json", "--no-cache"], cwd=repo,
        capture_output=True, text=True, timeout=300,
        env={**os.environ, "PYTHONPATH": str(repo)})
    assert done.returncode == 0, done.stderr
    doc = json.loads(done.stdout)
    # A new build time: the home page and the charts page are rendered, nothing else.
    assert doc["rendered"] == 2 and doc["files"] > 50
