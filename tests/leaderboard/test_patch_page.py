"""A submission that carries an engine patch: its page says so (files, +/- lines, the patch's
SHA-256, a link to the file) and shows engine.source, linked only when it is well formed."""

from __future__ import annotations

import datetime as dt
import hashlib
from pathlib import Path

from arena.challenge import load_challenge
from arena.submission import Source
from leaderboard import site
from tests.support import sample
from leaderboard.site import Links

NOW = dt.datetime(2026, 11, 30, 12, tzinfo=dt.timezone.utc)
COMMIT = "fedcba9876543210fedcba9876543210fedcba98"
PATCH = (
    "diff --git a/vllm/attention/selector.py b/vllm/attention/selector.py\n"
    f"index {'1' * 40}..{'2' * 40} 100644\n"
    "--- a/vllm/attention/selector.py\n"
    "+++ b/vllm/attention/selector.py\n"
    "@@ -1,3 +1,4 @@\n"
    " a\n"
    "-b\n"
    "+<script>window.__pwned = 1</script>\n"
    " c\n"
    "+d\n"
)


def write(root: Path, name: str, extra: str) -> None:
    folder = root / "submissions" / "alice"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{name}.yaml").write_text(
        f"name: {name}\ndescription: a faster attention path\n"
        "model: {id: google/gemma-4-E4B-it, revision: \"ee0ef6023621cff504d758262d4e04895a5af4a2\"}\n"
        "engine:\n  name: vllm\n  version: \"0.32.0\"\n" + extra)
    (folder / f"{name}.patch").write_text(PATCH)


def test_the_submission_page_shows_the_patch_and_its_source(tmp_path):
    root = tmp_path / "c"
    ch = sample.challenge_folder(root)
    write(root, "fast", f"  patch: fast.patch\n  source: {{repo: alice/vllm, commit: \"{COMMIT}\"}}\n")
    site.build_site(load_challenge(ch), tmp_path / "no-store", tmp_path / "site", now=NOW,
                    jobs=1, repo_url="https://github.com/example/arena")
    page = (tmp_path / "site" / "submissions/alice/fast.html").read_text()
    sha = hashlib.sha256(PATCH.encode()).hexdigest()
    assert "Engine patch" in page
    assert 'href="https://github.com/example/arena/blob/HEAD/submissions/alice/fast.patch"' in page
    assert "1 file," in page and "+2</span>" in page and "−1</span>" in page
    assert f'title="{sha}">{sha[:16]}' in page
    assert "<li>vllm/attention/selector.py</li>" in page
    assert f'href="https://github.com/alice/vllm/commit/{COMMIT}"' in page
    assert "__pwned" not in page  # the patch's code is never on the site


def test_a_plain_submission_page_has_no_patch_line(tmp_path):
    root = tmp_path / "c"
    ch = sample.challenge_folder(root)
    sample.write_submission(root, "alice", "plain", description="plain")
    site.build_site(load_challenge(ch), tmp_path / "no-store", tmp_path / "site", now=NOW, jobs=1)
    assert "Engine patch" not in (tmp_path / "site" / "submissions/alice/plain.html").read_text()


def test_source_links_only_for_a_repo_and_a_full_sha():
    assert Links.source("alice/vllm", COMMIT) == f"https://github.com/alice/vllm/commit/{COMMIT}"
    for repo, commit in (("alice/vllm", "main"), ("alice/vllm", COMMIT[:12]),
                         ("javascript:alert(1)//x", COMMIT), ("a/..", COMMIT),
                         ("alice/vllm\"><script>", COMMIT), (None, COMMIT), ("x", COMMIT)):
        assert Links.source(repo, commit) is None, repo
    assert Source("alice/vllm", COMMIT).repo == "alice/vllm"
