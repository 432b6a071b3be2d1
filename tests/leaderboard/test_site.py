"""The built site as files: pages, links, the JSON API against its schemas, the feed, escaping,
pagination, empty states, the output folder's safety, and the command line."""

from __future__ import annotations

import datetime as dt
import html.parser
import json
import os
import re
import subprocess
import sys
import urllib.request
import xml.etree.ElementTree as ET
from pathlib import Path
from urllib.parse import unquote, urldefrag

import jsonschema
import pytest

from arena.challenge import load_challenge
from arena.store import ResultsStore
from leaderboard import api, sample, site
from leaderboard.ranking import rank

from conftest import HOSTILE, at, make_hostile_challenge  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
NOW = dt.datetime(2026, 11, 30, 12, tzinfo=dt.timezone.utc)
ATOM = "{http://www.w3.org/2005/Atom}"


def build(challenge_path: Path, store: Path, out: Path, **kw):
    kw.setdefault("now", NOW)
    kw.setdefault("jobs", 1)
    return site.build_site(load_challenge(challenge_path), store, out, **kw)


@pytest.fixture(scope="module")
def hostile(tmp_path_factory):
    root = tmp_path_factory.mktemp("hostile")
    ch, store = make_hostile_challenge(root / "challenge")
    out = root / "site"
    report = build(ch, store, out, repo_url="https://github.com/example/arena")
    return out, report, ch, store


class Links(html.parser.HTMLParser):
    def __init__(self):
        super().__init__()
        self.refs: list[tuple[str, str, str]] = []  # (tag, attribute, value)
        self.ids: set[str] = set()

    def handle_starttag(self, tag, attrs):
        for k, v in attrs:
            if k in ("href", "src") and v is not None:
                self.refs.append((tag, k, v))
            if k == "id" and v:
                self.ids.add(v)


def parse(path: Path) -> Links:
    p = Links()
    p.feed(path.read_text(encoding="utf-8"))
    return p


def test_every_internal_link_and_anchor_resolves(hostile):
    out = hostile[0]
    pages = sorted(out.rglob("*.html"))
    assert len(pages) >= 12
    parsed = {p: parse(p) for p in pages}
    checked = 0
    for page, links in parsed.items():
        for tag, attr, ref in links.refs:
            if re.match(r"[a-z]+:", ref):
                # Out of the site: only https links to the repository or a model's page.
                assert tag == "a" and ref.startswith("https://"), (page, ref)
                assert (ref + "/").startswith(("https://github.com/example/arena/",
                                       "https://huggingface.co/")), (page, ref)
                continue
            target, frag = urldefrag(ref)
            dest = (page.parent / unquote(target)).resolve() if target else page
            assert dest.is_file(), f"{page.relative_to(out)} links to missing {ref}"
            assert out.resolve() in dest.parents or dest.parent == out.resolve()
            if frag and dest.suffix == ".html":
                dest_links = parsed.get(dest) or parse(dest)
                assert frag in dest_links.ids, f"{page.relative_to(out)}: no #{frag} in {ref}"
            checked += 1
    assert checked > 200


def test_no_page_loads_anything_from_outside(hostile):
    out = hostile[0]
    for page in out.rglob("*.html"):
        for tag, attr, ref in parse(page).refs:
            if tag != "a":
                assert not re.match(r"[a-z]+:|//", ref), (page, tag, ref)
    for asset in (out / "assets").iterdir():
        text = asset.read_text(encoding="utf-8")
        assert not re.search(r"url\((?!#)|@import|https?://(?!www\.w3\.org/2000/svg)", text), \
            asset


def test_hostile_text_is_escaped_everywhere(hostile):
    out = hostile[0]
    for f in list(out.rglob("*.html")) + [out / "feed.xml"]:
        text = f.read_text(encoding="utf-8")
        for raw in ("<script>window", "<img src=\"x\" onerror", "<svg onload", "<iframe",
                    'href="javascript:', "<meta http-equiv=\"refresh\"", "\u202e", "\x1b"):
            assert raw not in text, f"{f.relative_to(out)} carries {raw!r}"
    page = (out / "submissions/mallory/xss-desc.html").read_text()
    assert "&lt;script&gt;window.__pwned=&#34;script&#34;" in page  # shown, as text
    # A javascript: workflow-run URL is shown as text, never as a link.
    assert "javascript:window.__pwned=&#39;run&#39;" in page
    gone = (out / "submissions/eve/file-gone.html").read_text()
    assert "&lt;img src=" in gone  # the run's configuration, escaped inside <pre>


def test_bidi_and_terminal_controls_are_replaced_not_shown(hostile):
    out = hostile[0]
    page = (out / "submissions/mallory/xss-invalid.html").read_text()
    assert "price \ufffdtxt.exe\ufffd \ufffd[31mred" in page


def test_json_documents_follow_their_published_schemas(hostile):
    out = hostile[0]
    for name, fmt in (("leaderboard", api.LEADERBOARD_FORMAT),
                      ("submissions", api.SUBMISSIONS_FORMAT), ("runs", api.RUNS_FORMAT)):
        doc = json.loads((out / "api" / f"{name}.json").read_text())
        schema = json.loads((out / "api" / "schema" / f"{name}.json").read_text())
        assert doc["format"] == fmt and schema == api.SCHEMAS[name]
        jsonschema.Draft202012Validator.check_schema(schema)
        jsonschema.validate(doc, schema)
        assert doc["generated_at"] == "2026-11-30T12:00:00Z"


def test_the_json_ranking_is_the_canonical_ranking(hostile):
    out, _, ch_path, store_root = hostile
    ch = load_challenge(ch_path)
    store = ResultsStore(store_root)
    bot = rank([s.doc for s in store.results()], store.verdicts(), hardware=ch.hardware,
               noise=ch.noise)
    doc = json.loads((out / "api" / "leaderboard.json").read_text())
    assert [(e["rank"], e["submission"], e["run_id"]) for e in doc["entries"]] == [
        (e.rank, e.submission_id, e.run_id) for e in bot]
    assert [e["submission"] for e in doc["entries"]] == [
        "mallory/xss-desc", "eve/file-gone", "arena-maintainers/bf16-baseline"]
    assert doc["entries"][0]["change_vs_parent"] == pytest.approx(151 / 101 - 1)
    for e in doc["entries"]:
        assert (out / e["page"]).is_file()


def test_runs_json_keeps_invalid_runs_with_their_reasons(hostile):
    runs = json.loads((hostile[0] / "api" / "runs.json").read_text())["runs"]
    by_status = {}
    for r in runs:
        by_status.setdefault(r["status"], []).append(r)
    assert sorted(by_status) == ["error", "invalid", "verified"]
    overridden = next(r for r in runs if r["submission"] == "mallory/xss-verdict")
    assert overridden["status"] == "invalid" and overridden["runner_verdict"] == "verified"
    assert overridden["overridden_by"] == "arena-maintainers"
    assert overridden["reasons"] == ["maintainer: " + HOSTILE]  # data, not markup
    assert [r["started_at"] for r in runs] == sorted((r["started_at"] for r in runs),
                                                     reverse=True)


def test_submissions_json_covers_every_submission_and_its_state(hostile):
    subs = {s["id"]: s for s in
            json.loads((hostile[0] / "api" / "submissions.json").read_text())["submissions"]}
    assert subs["mallory/waiting"]["status"] == "pending" and subs["mallory/waiting"]["runs"] == []
    assert subs["eve/file-gone"]["file"] is None
    assert subs["mallory/xss-desc"]["children"] == ["mallory/xss-invalid", "mallory/xss-verdict"]
    changes = subs["mallory/xss-desc"]["config_changes"]
    assert {"path": "engine.args.quantization", "kind": "added", "old": None,
            "new": '"fp8"'} in changes


def test_the_feed_is_atom_with_one_entry_per_record(hostile):
    tree = ET.parse(hostile[0] / "feed.xml")
    feed = tree.getroot()
    assert feed.tag == f"{ATOM}feed"
    entries = feed.findall(f"{ATOM}entry")
    titles = [e.find(f"{ATOM}title").text for e in entries]
    # Newest first; the invalidated 400 TPS run is not a record.
    assert titles == ["151.0 tok/s: mallory/xss-desc (+50.0)",
                      "101.0 tok/s: arena-maintainers/bf16-baseline"]
    ids = [e.find(f"{ATOM}id").text for e in entries]
    assert len(set(ids)) == 2 and all(i.startswith("urn:arena:fast-gemma:record:") for i in ids)
    for e in entries:
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", e.find(f"{ATOM}updated").text)
        href = e.find(f"{ATOM}link").get("href")
        assert (hostile[0] / urldefrag(href)[0]).is_file()


def test_charts_are_accessible_svg(hostile):
    page = (hostile[0] / "index.html").read_text()
    svgs = re.findall(r"<svg class=\"chart\".*?</svg>", page, re.S)
    assert len(svgs) == 2
    for svg in svgs:
        root = ET.fromstring(svg)
        ns = "{http://www.w3.org/2000/svg}"
        assert root.get("role") == "img"
        title, desc = root.find(f"{ns}title"), root.find(f"{ns}desc")
        labelled = root.get("aria-labelledby").split()
        assert [title.get("id"), desc.get("id")] == labelled
        assert title.text and len(desc.text) > 40
        assert root.findall(f".//{ns}text")  # axis labels and ticks, readable without JS
    front = ET.fromstring(svgs[0])
    assert "cap 2.415" in "".join(front.itertext())
    assert len(front.findall(".//{http://www.w3.org/2000/svg}circle")) == 3


def test_repository_links_only_when_the_repository_is_known(tmp_path):
    ch, store = make_hostile_challenge(tmp_path / "c")
    build(ch, store, tmp_path / "site")
    for page in (tmp_path / "site").rglob("*.html"):
        assert "github.com" not in page.read_text(), page
    text = (tmp_path / "site" / "submissions/mallory/xss-desc.html").read_text()
    assert "#7" in text  # the PR number is still shown


def test_repo_url_comes_from_the_entry_point_and_is_checked():
    assert site.repo_url_from_env({"GITHUB_SERVER_URL": "https://github.com",
                                   "GITHUB_REPOSITORY": "o/r"}) == "https://github.com/o/r"
    assert site.repo_url_from_env({}) is None
    assert site.check_repo_url("https://github.com/o/r.git/") == "https://github.com/o/r"
    for bad in ("javascript:alert(1)", "https://github.com/o", "https://x/o/r\"><b>",
                "file:///etc/passwd"):
        with pytest.raises(site.SiteError):
            site.check_repo_url(bad)
    assert site.Links.safe_url("https://github.com/o/r/actions/runs/1") is not None
    for bad in ("javascript:alert(1)", "http://plain", "https://x\" onclick=\"y", " https://a"):
        assert site.Links.safe_url(bad) is None


def test_an_empty_challenge_has_a_useful_empty_state(tmp_path):
    ch = sample.challenge_folder(tmp_path / "c")
    report = build(ch, tmp_path / "no-store", tmp_path / "site")
    home = (tmp_path / "site" / "index.html").read_text()
    assert "No verified runs yet." in home and "submissions/&lt;your-login&gt;" in home
    assert "nothing to plot" in home
    assert report.counts["submissions"] == 0
    board = json.loads((tmp_path / "site" / "api" / "leaderboard.json").read_text())
    assert board["entries"] == [] and board["records"] == []
    ET.parse(tmp_path / "site" / "feed.xml")


def test_pending_submissions_are_listed_before_any_run(tmp_path):
    root = tmp_path / "c"
    ch = sample.challenge_folder(root)
    sample.write_submission(root, "alice", "first", description="a first try")
    build(ch, tmp_path / "no-store", tmp_path / "site")
    home = (tmp_path / "site" / "index.html").read_text()
    assert "1 submission is waiting: 1 without a run" in home
    tree = (tmp_path / "site" / "tree.html").read_text()
    assert "alice/first" in tree and "no run yet" in tree
    page = (tmp_path / "site" / "submissions/alice/first.html").read_text()
    assert "No run yet." in page


def test_big_rankings_are_paginated_and_the_home_page_stays_small(tmp_path):
    ch = sample.synthetic_history(tmp_path / "c", submissions=120, runs_per_submission=1)
    report = build(ch, tmp_path / "c" / "store", tmp_path / "site", page_size=25,
                   runs_page_size=40)
    out = tmp_path / "site"
    n = json.loads((out / "api" / "leaderboard.json").read_text())["entries"]
    pages = -(-len(n) // 25)
    assert (out / f"index-{pages}.html").is_file()
    assert not (out / f"index-{pages + 1}.html").exists()
    home = (out / "index.html").read_text()
    assert home.count('<tr data-status="verified">') == 25
    assert 'href="index-2.html" rel="next"' in home
    last = (out / f"index-{pages}.html").read_text()
    assert 'rel="prev"' in last and 'rel="next"' not in last
    assert (out / "runs-2.html").is_file()
    assert report.home_bytes < 200_000


def test_ranks_are_shown_with_their_tie_marks(tmp_path):
    root = tmp_path / "c"
    ch = sample.challenge_folder(root)
    store = ResultsStore(root / "store")
    for sid, tps, day in (("a/x", 200.0, 1), ("b/y", 202.0, 2), ("c/z", 150.0, 3)):
        store.append_result(sample.make_result(sid, started_at=at(day),
                                               private=(tps, tps, tps)))
    build(ch, root / "store", tmp_path / "site")
    home = (tmp_path / "site" / "index.html").read_text()
    ranks = re.findall(r'<span class="rank">(\d+)</span>(<span class="tie")?', home)
    assert [(r, bool(t)) for r, t in ranks] == [("1", True), ("1", True), ("3", False)]


def test_a_folder_that_is_not_a_site_is_never_replaced(tmp_path):
    ch = sample.challenge_folder(tmp_path / "c")
    precious = tmp_path / "precious"
    precious.mkdir()
    (precious / "thesis.tex").write_text("years of work")
    with pytest.raises(site.SiteError, match="not built by `arena site`"):
        build(ch, tmp_path / "none", precious)
    assert (precious / "thesis.tex").read_text() == "years of work"
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_a_rebuild_replaces_the_site_and_a_failed_one_keeps_the_old(tmp_path, monkeypatch):
    ch = sample.challenge_folder(tmp_path / "c")
    out = tmp_path / "site"
    build(ch, tmp_path / "none", out)
    (out / "stale.html").write_text("old")
    build(ch, tmp_path / "none", out)
    assert not (out / "stale.html").exists() and (out / "index.html").is_file()
    before = (out / "index.html").read_text()

    def boom(*a, **k):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(site, "render_site", boom)
    with pytest.raises(RuntimeError):
        build(ch, tmp_path / "none", out)
    assert (out / "index.html").read_text() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c", "site"]  # no staging left


def test_worker_processes_build_the_same_site(tmp_path, monkeypatch):
    from leaderboard import parallel
    ch = sample.synthetic_history(tmp_path / "c", submissions=30, runs_per_submission=2)
    build(ch, tmp_path / "c" / "store", tmp_path / "one", jobs=1)
    monkeypatch.setattr(parallel, "PARALLEL_MIN", 4)
    build(ch, tmp_path / "c" / "store", tmp_path / "two", jobs=2,
          cache_path=tmp_path / "cache.json")
    files = sorted(p.relative_to(tmp_path / "one") for p in (tmp_path / "one").rglob("*")
                   if p.is_file())
    assert files == sorted(p.relative_to(tmp_path / "two") for p in
                           (tmp_path / "two").rglob("*") if p.is_file())
    for f in files:
        assert (tmp_path / "one" / f).read_bytes() == (tmp_path / "two" / f).read_bytes(), f


def arena(*args, env=None, **kw):
    return subprocess.run([sys.executable, "-m", "arena", *args], cwd=REPO, text=True,
                          capture_output=True, timeout=120,
                          env={**os.environ, "PYTHONPATH": str(REPO), **(env or {})}, **kw)


def test_cli_builds_and_reports_json(tmp_path):
    ch, store = make_hostile_challenge(tmp_path / "c")
    out = tmp_path / "site"
    p = arena("site", "--challenge", str(ch), "--store", str(store), "--out", str(out),
              "--json", "--no-cache",
              env={"GITHUB_SERVER_URL": "https://github.com", "GITHUB_REPOSITORY": "o/r"})
    assert p.returncode == 0, p.stderr
    doc = json.loads(p.stdout)
    assert doc["format"] == "arena.site-build/1" and doc["pages"] >= 12
    assert doc["counts"]["submissions"] == 7
    assert "arena site: reading submission files" in p.stderr  # progress goes to stderr
    assert "https://github.com/o/r/pull/7" in (out / "submissions/mallory/xss-desc.html"
                                                ).read_text()


def test_cli_warns_about_invalid_files_and_skips_them(tmp_path):
    root = tmp_path / "c"
    ch = sample.challenge_folder(root)
    (root / "submissions" / "bob").mkdir()
    (root / "submissions" / "bob" / "broken.yaml").write_text("name: broken\n")
    p = arena("site", "--challenge", str(ch), "--store", str(tmp_path / "s"), "--out",
              str(tmp_path / "site"), "--no-cache")
    assert p.returncode == 0, p.stderr
    assert "warning: submissions/bob/broken.yaml: skipped, not a valid submission" in p.stderr
    assert "no results store at" in p.stderr
    assert "bob" not in (tmp_path / "site" / "tree.html").read_text()


def test_cli_refuses_bad_arguments_with_exit_2(tmp_path):
    ch = sample.challenge_folder(tmp_path / "c")
    p = arena("site", "--challenge", str(ch), "--repo-url", "javascript:alert(1)",
              "--out", str(tmp_path / "s"))
    assert p.returncode == 2 and "is not a repository address" in p.stderr
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "x").write_text("x")
    p = arena("site", "--challenge", str(ch), "--out", str(tmp_path / "full"))
    assert p.returncode == 2 and "not built by `arena site`" in p.stderr


def test_cli_serve_previews_on_localhost(tmp_path):
    ch = sample.challenge_folder(tmp_path / "c")
    proc = subprocess.Popen(
        [sys.executable, "-m", "arena", "site", "--challenge", str(ch), "--out",
         str(tmp_path / "site"), "--store", str(tmp_path / "none"), "--serve", "--port", "0"],
        cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO)}, text=True,
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    try:
        url = None
        for line in proc.stdout:
            m = re.search(r"serving (http://127\.0\.0\.1:\d+/)", line)
            if m:
                url = m.group(1)
                break
        assert url, "the preview never said where it serves"
        with urllib.request.urlopen(url + "index.html", timeout=10) as r:
            assert r.status == 200 and b"No verified runs yet." in r.read()
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_the_feed_announces_new_leaders_not_reruns(tmp_path):
    root = tmp_path / "c"
    ch = sample.challenge_folder(root)
    store = ResultsStore(root / "store")
    for sid, tps, day in (("a/x", 100.0, 1), ("b/y", 120.0, 2), ("b/y", 121.0, 3),
                          ("a/x", 130.0, 4)):
        store.append_result(sample.make_result(sid, started_at=at(day),
                                               private=(tps, tps, tps)))
    build(ch, root / "store", tmp_path / "site")
    feed = ET.parse(tmp_path / "site" / "feed.xml").getroot()
    assert [e.find(f"{ATOM}title").text for e in feed.findall(f"{ATOM}entry")] == [
        "130.0 tok/s: a/x (+9.0)", "120.0 tok/s: b/y (+20.0)", "100.0 tok/s: a/x"]
    board = json.loads((tmp_path / "site" / "api" / "leaderboard.json").read_text())
    assert len(board["records"]) == 4  # the API keeps every new best, re-runs included


def test_model_links_only_for_hub_ids_pinned_to_a_commit(hostile):
    out = hostile[0]
    page = (out / "submissions/mallory/xss-desc.html").read_text()
    assert ('href="https://huggingface.co/google/gemma-4-E4B-it/tree/'
            'ee0ef6023621cff504d758262d4e04895a5af4a2"') in page
    for odd in ("eve/file-gone", "eve/odd-config"):
        assert "huggingface.co" not in (out / f"submissions/{odd}.html").read_text()
    assert site.Links.model("./tiny-gemma4", "0" * 40) is None
    assert site.Links.model("google/gemma", "main") is None
