"""The tried page's filter in a real browser: tag:name and argument>=value on the page's rows;
without JavaScript the static indexes do the same."""

from __future__ import annotations

import datetime as dt

import pytest

from arena.challenge import load_challenge
from leaderboard import site
from tests.support import preview, sample

pytestmark = [pytest.mark.browser, pytest.mark.timeout(600)]

if preview.chromium_path() is None:
    pytest.skip("Chromium is not installed (scripts/setup-test-tools.sh)",
                allow_module_level=True)
pytest.importorskip("playwright.sync_api")

ARG = "speculative_config.num_speculative_tokens"


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    root = tmp_path_factory.mktemp("tried-browser")
    ch = sample.synthetic_history(root / "challenge", submissions=40)
    out = root / "site"
    site.build_site(load_challenge(ch), root / "challenge" / "store", out, jobs=1,
                    now=dt.datetime(2026, 11, 30, tzinfo=dt.timezone.utc))
    return out


def visible_args(page):
    return page.eval_on_selector_all(
        "table.tried tbody tr:not([hidden])",
        "rows => rows.map(r => Array.from(r.querySelectorAll('td.args code'))"
        ".map(c => c.textContent))")


def test_the_filter_takes_tags_and_argument_comparisons(built):
    with preview.browser() as chromium, preview.serve_folder(built) as base:
        ctx, page, watch = preview.open_page(chromium, base + "tried.html")
        total = page.locator("table.tried tbody tr").count()
        assert total == 40
        page.fill("input[type=search]", f"{ARG}>=4")
        shown = visible_args(page)
        assert shown, "some configurations have 4 or more speculative tokens"
        for codes in shown:
            value = next(c for c in codes if c.startswith(ARG + "="))
            assert int(value.split("=")[1]) >= 4
        page.fill("input[type=search]", f"{ARG}<4")
        low = visible_args(page)
        assert low and len(low) + len(shown) == sum(
            1 for codes in visible_args_all(page) if any(c.startswith(ARG + "=") for c in codes))
        page.fill("input[type=search]", "tag:kv-cache")
        tags = page.eval_on_selector_all("table.tried tbody tr:not([hidden])",
                                         "rows => rows.map(r => r.dataset.tags)")
        assert tags and all("kv-cache" in t.split() for t in tags)
        assert watch.console_errors == [] and watch.page_errors == []
        ctx.close()


def visible_args_all(page):
    return page.eval_on_selector_all(
        "table.tried tbody tr",
        "rows => rows.map(r => Array.from(r.querySelectorAll('td.args code'))"
        ".map(c => c.textContent))")
