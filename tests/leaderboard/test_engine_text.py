"""What an untrusted engine wrote is never published: an old result that still carries the
engine's log tail (results are append-only, so such files stay in the store) is shown without
it, on every page and in the JSON API."""

from __future__ import annotations

from pathlib import Path

from arena.challenge import load_challenge
from arena.store import ResultsStore
from leaderboard import site
from tests.support import sample

from conftest import at  # noqa: E402

ENGINE_SAID = "ENGINE-WROTE-THIS-0x5f3759df"


def test_an_old_results_engine_log_is_not_on_the_site(tmp_path: Path) -> None:
    from tests.conftest import REPO

    store = ResultsStore(tmp_path / "store")
    store.append_result(sample.make_result(
        "arena-maintainers/bf16-baseline", started_at=at(1), verdict="error", private=None,
        public=None, ppl=None, reasons=[("engine", "the engine exited with code 1")],
        log_tail=f"Traceback ...\n{ENGINE_SAID}\n"))
    out = tmp_path / "site"
    site.build_site(load_challenge(REPO / "challenge.yaml"), store.root, out)
    pages = [p for p in out.rglob("*") if p.is_file() and p.suffix in (".html", ".json", ".xml")]
    assert pages
    published = "".join(p.read_text(encoding="utf-8", errors="replace") for p in pages)
    assert "the engine exited with code 1" in published  # the harness's own words are shown
    assert ENGINE_SAID not in published
