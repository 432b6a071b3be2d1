"""What every page shares: links out to the repository, the paths of pages, pagination, and
the errors a build reports."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Mapping, Sequence
from urllib.parse import quote

from arena.challenge import HUB_ID_RE, REVISION_RE
from arena.submission import REPO_RE

PAGE_SIZE = 100
RUNS_PAGE_SIZE = 200
NAV = (
    ("ranking", "Ranking", "index.html"),
    ("authors", "Best per author", "authors.html"),
    ("tree", "Tree", "tree.html"),
    ("tried", "Tried", "tried.html"),
    ("runs", "Every run", "runs.html"),
    ("charts", "Charts", "charts.html"),
    ("controls", "Controls", "controls.html"),
    ("api", "API", "api/index.html"),
)
REPO_URL_RE = re.compile(r"https?://[A-Za-z0-9.-]+(:[0-9]{1,5})?(/[A-Za-z0-9._-]+){2}")
_SHA_RE = re.compile(r"[0-9a-f]{7,40}")
_SAFE_URL_RE = re.compile(r"https://[A-Za-z0-9.-]+(:[0-9]{1,5})?(/[A-Za-z0-9._~%/?&=+#:@-]*)?")


class SiteError(Exception):
    """The site cannot be built as asked (the message says why and what to do)."""


def check_repo_url(url: str) -> str:
    """The repository's web address, as https://host/owner/name (no trailing slash)."""
    u = url.strip().rstrip("/")
    if u.endswith(".git"):
        u = u[:-4]
    if not REPO_URL_RE.fullmatch(u):
        raise SiteError(f"--repo-url {url!r} is not a repository address like "
                        "https://github.com/owner/name.")
    return u


def repo_url_from_env(env: Mapping[str, str]) -> str | None:
    """GitHub Actions' GITHUB_SERVER_URL + GITHUB_REPOSITORY, when both are set."""
    server, repo = env.get("GITHUB_SERVER_URL"), env.get("GITHUB_REPOSITORY")
    if server and repo:
        return check_repo_url(f"{server.rstrip('/')}/{repo}")
    return None


@dataclass(frozen=True)
class Links:
    """Links out of the site, to the repository. All None-safe: no repository, no links."""

    repo: str | None = None
    results_ref: str = "results"

    def pr(self, number: int) -> str:
        return f"{self.repo}/pull/{int(number)}"

    def file(self, path: str) -> str:
        return f"{self.repo}/blob/HEAD/{quote(path)}"

    def result(self, store_path: str) -> str:
        return f"{self.repo}/blob/{quote(self.results_ref)}/{quote(store_path)}"

    def commit(self, sha: str) -> str:
        if not _SHA_RE.fullmatch(sha):
            raise ValueError(f"not a commit SHA: {sha!r}")
        return f"{self.repo}/commit/{sha}"

    @staticmethod
    def model(model_id: Any, revision: Any) -> str | None:
        """The model's files at the pinned revision on the Hugging Face Hub, when the id is a
        Hub repo id and the revision a commit (local models and anything odd: no link)."""
        if (isinstance(model_id, str) and isinstance(revision, str)
                and re.fullmatch(HUB_ID_RE, model_id) and re.fullmatch(REVISION_RE, revision)):
            return f"https://huggingface.co/{model_id}/tree/{revision}"
        return None

    @staticmethod
    def source(repo: Any, commit: Any) -> str | None:
        """The commit on GitHub that a patch came from (engine.source), only when the repo is a
        well-formed owner/name and the commit a full SHA: anything else is shown, not linked."""
        if (isinstance(repo, str) and isinstance(commit, str) and re.fullmatch(REPO_RE, repo)
                and ".." not in repo and re.fullmatch(REVISION_RE, commit)):
            return f"https://github.com/{quote(repo, safe='/')}/commit/{commit}"
        return None

    @staticmethod
    def safe_url(url: Any) -> str | None:
        """`url` if it is a plain https address (a workflow run's), else None: a result's URL
        is shown as a link only when it cannot run script or leave the web."""
        if isinstance(url, str) and _SAFE_URL_RE.fullmatch(url):
            return url
        return None


def track_boards(model: Any) -> list[tuple[Any, Any]]:
    """(track, its board's model) for each hardware track, in the challenge's order, when the
    challenge has several (`SiteModel.boards`); [] for a one-track challenge, whose site has
    one board, as before tracks. The first track's board is the site's own (the home page)."""
    boards = model.boards
    if len(boards) < 2:
        return []
    return [(model.challenge.track(name), board) for name, board in boards.items()]


def board_file(track: Any, first: bool) -> str:
    """A track's board: the home page for the first track, tracks/<name>.html for the others."""
    return "index.html" if first else f"tracks/{quote(track.name)}.html"


def page_path(submission_id: str) -> str:
    """A submission's page, relative to the site's root. Ids are <login>/<name>, both limited
    to letters, digits and hyphens by the submission and result schemas."""
    login, name = submission_id.split("/", 1)
    return f"submissions/{login}/{name}.html"


@dataclass(frozen=True)
class Pager:
    number: int
    count: int
    first: int  # 1-based index of the first item on the page
    last: int
    prev: str | None
    next: str | None
    links: list[tuple[int | None, str]]


def _page_name(stem: str, n: int) -> str:
    return f"{stem}.html" if n == 1 else f"{stem}-{n}.html"


def paginate(items: Sequence[Any], size: int, stem: str) -> list[tuple[Pager, Sequence[Any]]]:
    """Pages of `size` items; page 1 is `stem`.html (index.html for the ranking), page n is
    `stem`-n.html. Always at least one (possibly empty) page."""
    count = max(1, -(-len(items) // size))
    out = []
    for n in range(1, count + 1):
        shown = sorted({1, count, *range(max(1, n - 2), min(count, n + 2) + 1)})
        links: list[tuple[int | None, str]] = []
        for i, k in enumerate(shown):
            if i and k - shown[i - 1] > 1:
                links.append((None, ""))
            links.append((k, _page_name(stem, k)))
        chunk = items[(n - 1) * size: n * size]
        out.append((Pager(n, count, (n - 1) * size + 1, (n - 1) * size + len(chunk),
                          _page_name(stem, n - 1) if n > 1 else None,
                          _page_name(stem, n + 1) if n < count else None, links), chunk))
    return out

def pager_file(pager: Pager, stem: str = "index") -> str:
    return _page_name(stem, pager.number)

