"""The site in a real browser (Debian's headless Chromium): hostile submissions render inert,
nothing leaves localhost, every page loads without errors and every link resolves, layouts fit
a phone and a desktop, sorting and filtering work, and everything works without JavaScript and
from file://."""

from __future__ import annotations

import datetime as dt
from collections import deque
from pathlib import Path
from urllib.parse import urldefrag

import pytest

from arena.challenge import load_challenge
from leaderboard import site
from tests.support import preview, sample

from conftest import make_hostile_challenge  # noqa: E402

pytestmark = [pytest.mark.browser, pytest.mark.timeout(600)]

if preview.chromium_path() is None:
    pytest.skip("Chromium is not installed (scripts/setup-test-tools.sh)",
                allow_module_level=True)
pytest.importorskip("playwright.sync_api")

NOW = dt.datetime(2026, 11, 30, 12, tzinfo=dt.timezone.utc)

# Anything a successful injection would have left in the page.
INJECTED = """() => ({
  pwned: window.__pwned === undefined ? null : String(window.__pwned),
  topPwned: window.top.__pwned === undefined ? null : String(window.top.__pwned),
  handlers: Array.from(document.querySelectorAll('*')).flatMap(e =>
      Array.from(e.attributes).filter(a => a.name.startsWith('on'))
        .map(a => e.tagName + ' ' + a.name)),
  jsLinks: Array.from(document.querySelectorAll('[href],[src],[action]')).map(e =>
      e.getAttribute('href') || e.getAttribute('src') || e.getAttribute('action'))
      .filter(v => /^\\s*(javascript|data|vbscript):/i.test(v)),
  scripts: Array.from(document.scripts).map(s => s.getAttribute('src')),
  frames: document.querySelectorAll('iframe, frame, object, embed').length,
  refresh: Array.from(document.querySelectorAll('meta[http-equiv]')).filter(m =>
      m.getAttribute('http-equiv').toLowerCase() !== 'content-security-policy').length,
  evilLink: document.getElementById('evil-link') !== null,
})"""


@pytest.fixture(scope="module")
def chromium():
    with preview.browser() as b:
        yield b


def _build(root: Path, *, csp: bool = True, synthetic: int = 0) -> Path:
    if synthetic:
        ch_path = sample.synthetic_history(root / "challenge", submissions=synthetic)
        store = root / "challenge" / "store"
    else:
        ch_path, store = make_hostile_challenge(root / "challenge")
    out = root / "site"
    site.build_site(load_challenge(ch_path), store, out, now=NOW, csp=csp, jobs=1,
                    repo_url="https://github.com/example/arena")
    return out


@pytest.fixture(scope="module")
def hostile_sites(tmp_path_factory):
    # With the Content-Security-Policy, and without it: escaping alone must make it inert.
    return {csp: _build(tmp_path_factory.mktemp(f"hostile-{csp}"), csp=csp)
            for csp in (True, False)}


@pytest.fixture(scope="module")
def synthetic_site(tmp_path_factory):
    return _build(tmp_path_factory.mktemp("synthetic"), synthetic=30)


@pytest.mark.parametrize("csp", [True, False], ids=["with-csp", "escaping-alone"])
def test_hostile_submissions_render_inert(chromium, hostile_sites, csp):
    out = hostile_sites[csp]
    pages = sorted(p.relative_to(out).as_posix() for p in out.rglob("*.html"))
    with preview.serve_folder(out) as base:
        for path in pages:
            ctx, page, watch = preview.open_page(chromium, base + path)
            # Fire the events a payload could hang on, on every element.
            page.evaluate("""() => document.querySelectorAll('*').forEach(e => {
                for (const t of ['mouseover', 'mouseenter', 'focus', 'click', 'load', 'error'])
                  if (!(t === 'click' && e.closest('a'))) e.dispatchEvent(new Event(t));
            })""")
            page.wait_for_timeout(100)
            found = page.evaluate(INJECTED)
            assert found["pwned"] is None and found["topPwned"] is None, (path, found)
            assert found["handlers"] == [] and found["jsLinks"] == [], (path, found)
            assert found["scripts"] == [f"{'../' * path.count('/')}assets/site.js"], path
            assert found["frames"] == 0 and found["refresh"] == 0 and not found["evilLink"]
            assert watch.dialogs == [] and watch.page_errors == [], (path, watch)
            assert [u for u in watch.navigations if urldefrag(u)[0] != base + path] == []
            assert all(u.startswith(base) for u in watch.requests), watch.requests
            if path == "submissions/mallory/xss-desc.html":
                text = page.inner_text("main")
                assert '<script>window.__pwned="script";alert("script")</script>' in text
                assert "javascript:window.__pwned='run'" in text
            ctx.close()


def test_every_page_loads_clean_and_every_link_resolves(chromium, synthetic_site):
    """A crawl from the home page: each page answers 200, logs no console error, raises
    nothing, requests nothing outside localhost and no missing file."""
    with preview.serve_folder(synthetic_site) as base:
        ctx = chromium.new_context(viewport={"width": 1440, "height": 900})
        seen: set[str] = set()
        queue = deque([base + "index.html"])
        while queue:
            url = queue.popleft()
            if url in seen:
                continue
            seen.add(url)
            page = ctx.new_page()
            watch = preview.Watch()
            watch.attach(page)
            resp = page.goto(url, wait_until="load")
            assert resp is not None and resp.status == 200, url
            if url.endswith(".html"):
                assert watch.console_errors == [] and watch.page_errors == [], (url, watch)
                assert watch.failed == [], (url, watch.failed)
                for href in page.eval_on_selector_all(
                        "a[href]", "els => els.map(e => new URL(e.getAttribute('href'), "
                        "document.baseURI).href)"):
                    target = urldefrag(href)[0]
                    if target.startswith(base):
                        queue.append(target)
                    else:
                        assert href.startswith(("https://github.com/example/arena",
                                                "https://huggingface.co/")), href
            assert all(u.startswith(base) for u in watch.requests), (url, watch.requests)
            page.close()
        ctx.close()
    html_files = {p.relative_to(synthetic_site).as_posix() for p in synthetic_site.rglob("*.html")}
    reached = {u[len(base):] for u in seen}
    # Every page is reachable by following links (404.html is GitHub Pages' own).
    assert html_files - reached == {"404.html"}
    assert {"api/leaderboard.json", "feed.xml"} <= reached


@pytest.mark.parametrize("width", [375, 1440])
def test_screenshots_fit_the_screen(chromium, synthetic_site, tmp_path, width):
    with preview.serve_folder(synthetic_site) as base:
        sub = "submissions/arena-maintainers/bf16-baseline.html"
        shots = preview.screenshots(chromium, base, tmp_path, sub, widths=(width,))
        assert len(shots) == 3
        for path, watch in shots:
            assert path.stat().st_size > 20_000, path
            assert watch.console_errors == [] and watch.page_errors == []
            assert all(u.startswith(base) for u in watch.requests)
        for target in ("index.html", "tree.html", sub, "runs.html", "charts.html",
                       "api/index.html"):
            ctx, page, _ = preview.open_page(chromium, base + target, width=width)
            overflow = page.evaluate(
                "() => document.documentElement.scrollWidth - window.innerWidth")
            culprits = page.evaluate("""w => Array.from(document.querySelectorAll('body *'))
                .filter(e => e.getBoundingClientRect().right > w + 1
                             && !e.closest('.table-wrap:not(.cards), pre'))
                .slice(0, 5).map(e => e.tagName + '.' + e.className)""", width)
            assert overflow <= 0, f"{target} is {overflow}px wider than {width}px: {culprits}"
            ctx.close()


def test_sorting_and_filtering(chromium, synthetic_site):
    with preview.serve_folder(synthetic_site) as base:
        ctx, page, watch = preview.open_page(chromium, base + "index.html")
        rows = "table.ranking tbody tr"
        total = page.locator(rows).count()
        assert total > 20
        first = page.locator(f"{rows} .sub-name").first.inner_text()
        page.fill("input[type=search]", first)
        assert page.locator(f"{rows}:visible").count() == 1
        assert page.locator(".filter-bar output").inner_text() == f"1 of {total} shown"
        page.fill("input[type=search]", "")
        assert page.locator(f"{rows}:visible").count() == total

        page.click("table.ranking th:has-text('PPL') button")
        ppl = [float(v) for v in page.eval_on_selector_all(
            f"{rows} td[data-label=PPL]", "els => els.map(e => e.getAttribute('data-sort'))")]
        assert ppl == sorted(ppl)
        assert page.get_attribute("table.ranking th:has-text('PPL')", "aria-sort") == "ascending"
        page.click("table.ranking th:has-text('PPL') button")
        ppl = [float(v) for v in page.eval_on_selector_all(
            f"{rows} td[data-label=PPL]", "els => els.map(e => e.getAttribute('data-sort'))")]
        assert ppl == sorted(ppl, reverse=True)
        ctx.close()

        ctx, page, watch = preview.open_page(chromium, base + "runs.html")
        page.select_option(".filter-bar select", "invalid")
        statuses = page.eval_on_selector_all(
            "tbody tr:not([hidden])", "els => els.map(e => e.dataset.status)")
        assert statuses and set(statuses) == {"invalid"}
        assert watch.console_errors == [] and watch.page_errors == []
        ctx.close()


def test_pages_work_without_javascript(chromium, synthetic_site):
    with preview.serve_folder(synthetic_site) as base:
        ctx, page, watch = preview.open_page(chromium, base + "index.html", javascript=False)
        assert page.locator("table.ranking tbody tr").count() > 20
        assert page.locator("input[type=search]").count() == 0  # JS adds it; nothing dead
        assert page.locator("svg.chart circle").count() > 20
        assert page.locator("svg.chart title").count() > 20
        page.click("table.ranking tbody tr >> nth=0 >> a.sub-name")
        assert page.url.startswith(base + "submissions/") and page.locator("h1").count() == 1
        ctx.close()


def test_the_site_works_from_a_file_url(chromium, synthetic_site):
    ctx, page, watch = preview.open_page(chromium, (synthetic_site / "index.html").as_uri())
    font = page.evaluate("() => getComputedStyle(document.querySelector('.stat')).borderRadius")
    assert font == "8px"  # the stylesheet loaded through a relative link
    assert page.locator(".filter-bar").count() == 1  # and so did the script
    page.click("nav a:has-text('Tree')")
    assert page.url.endswith("/tree.html")
    page.click("ol.tree a.sub-name >> nth=0")
    assert "/submissions/" in page.url and page.locator("h1").count() == 1
    assert watch.console_errors == [] and watch.page_errors == []
    assert all(u.startswith("file://") for u in watch.requests), watch.requests
    ctx.close()


def test_dark_mode_follows_the_system(chromium, synthetic_site):
    def background(scheme):
        ctx, page, _ = preview.open_page(chromium, (synthetic_site / "index.html").as_uri(),
                                         scheme=scheme)
        rgb = page.evaluate("() => getComputedStyle(document.body).backgroundColor")
        ctx.close()
        return sum(int(v) for v in rgb[rgb.index("(") + 1:-1].split(",")[:3])

    assert background("light") > 600 and background("dark") < 120


def test_the_lineage_graph_is_a_set_of_named_links_without_javascript(chromium, synthetic_site):
    import re
    with preview.serve_folder(synthetic_site) as base:
        for width in (375, 1440):
            ctx, page, watch = preview.open_page(chromium, base + "tree.html", javascript=False,
                                                 width=width)
            nodes = page.locator("svg.lineage a")
            assert nodes.count() > 20
            # Each node is a link to assistive technology, named by its title.
            link = page.get_by_role("link", name=re.compile(
                r"^arena-maintainers.bf16-baseline: [0-9.]+ tok.s"))  # no "/": old Playwright
            assert link.count() == 1
            box = page.locator("svg.lineage").bounding_box()
            assert box is not None and box["width"] <= width and box["height"] > 150
            assert page.locator("ol.tree li").count() > 20  # the list is still there
            if width == 1440:
                link.click()
                assert page.url == base + "submissions/arena-maintainers/bf16-baseline.html"
                assert page.locator("h1").inner_text() == "bf16-baseline"
            assert watch.console_errors == [] and watch.page_errors == []
            ctx.close()
