"""Build the static leaderboard site: HTML pages, SVG charts, the JSON API and an Atom feed.

This is the build driver; the pages are in leaderboard/pages/, one module per page family,
each declaring its pages and their inputs. One pass: load the submission files and the results
store, build the model once (the ranking is computed once per view), then render the pages
from templates compiled once. Every link inside the site is relative, so the site works under
a GitHub Pages sub-path and from file://; links to the repository (pull requests, files,
results) appear only when its URL is given.

Incremental: every page has a key, a digest of its inputs, of the build's settings and of the
code, templates and assets that shape pages; the keys are kept with the site (.arena-pages). A
rebuild into the same folder renders only the pages whose key changed and takes the others
from the previous site as they are (a hard link, else a copy); pages that no longer exist (a
removed submission's) are not carried over. The result is byte for byte what a full build
gives. The previous site is taken as this builder left it (a page edited there by hand would be
carried over): remove its .arena-pages, or the folder, for a full build.

The output folder is replaced as a whole: pages are written to a staging folder beside it and
swapped in at the end, so a reader never sees half a site, and a failed build leaves the old one
whole. A folder that was not made by this builder is never replaced.
"""

from __future__ import annotations

import datetime as dt
import gc
import hashlib
import importlib.metadata
import json
import marshal
import os
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import jinja2

from arena.challenge import Challenge
from arena.store import ResultsStore
from leaderboard.load import ValidationCache, load_store, load_submission_files
from leaderboard.model import STATUS_TEXT, STATUSES, SiteModel, SubmissionFile, build_model
from leaderboard.pages import Build, Doc, Page
from leaderboard.pages import api as api_pages
from leaderboard.pages import charts as charts_pages
from leaderboard.pages import controls as controls_pages
from leaderboard.pages import extras, lineage, ranking, runs, submission
from leaderboard.pages import tried as tried_pages
from leaderboard.pages.common import (  # noqa: F401  (the site's names, as before the split)
    NAV,
    PAGE_SIZE,
    RUNS_PAGE_SIZE,
    Links,
    Pager,
    SiteError,
    check_repo_url,
    page_path,
    pager_file,
    paginate,
    repo_url_from_env,
    track_boards,
)
from leaderboard.pages import format as page_format
from leaderboard.pages.format import PACKAGE, environment
from leaderboard.pages.tried import OUTCOME_TEXT, TRIED_PAGE_SIZE  # noqa: F401
from leaderboard.parallel import WORK, started, worker_count

SITE_MARKER = ".arena-site"
MANIFEST = ".arena-pages"  # every page's key, for the next build
MANIFEST_FORMAT = "arena.site-pages/1"
ASSETS = ("site.css", "site.js", "favicon.svg")
# In the order their pages are rendered: submission pages first, the bulk of a cold build.
FAMILIES = (submission, ranking, lineage, runs, tried_pages, charts_pages, controls_pages,
            api_pages, extras)
SUBMISSION_CHUNK = 250


@dataclass
class BuildReport:
    out: Path
    pages: int
    files: int
    seconds: float
    home_bytes: int
    counts: dict[str, int]
    warnings: list[str] = field(default_factory=list)
    phases: dict[str, float] = field(default_factory=dict)
    rendered: int = 0  # files rendered by this build; the others came from the previous site


@dataclass(frozen=True)
class Keys:
    """What page keys are made of, from the build's inputs: `board` changes with any of them
    (results, verdicts, submission files, control runs; the build's time is added to the keys
    of the pages that show it). Each result document's own digest is on it (`Doc.key`)."""

    board: bytes


def build_site(
    challenge: Challenge,
    store_root: Path,
    out: Path,
    *,
    repo_url: str | None = None,
    results_ref: str = "results",
    now: dt.datetime | None = None,
    page_size: int = PAGE_SIZE,
    runs_page_size: int = RUNS_PAGE_SIZE,
    csp: bool = True,
    cache_path: Path | None = None,
    jobs: int | None = None,
    progress: Callable[[str], None] = lambda m: None,
    warn: Callable[[str], None] | None = None,
) -> BuildReport:
    """Read everything, build the model once, render the site into `out` (only the pages
    whose inputs changed, when `out` holds a site built before).

    `cache_path`: a file remembering which inputs validated (see `leaderboard.load`); None
    validates everything. `jobs`: worker processes for validation and pages (default: one per
    core; 1 for none)."""
    t0 = time.perf_counter()
    phases: dict[str, float] = {}
    warnings: list[str] = []

    def _warn(msg: str) -> None:
        warnings.append(msg)
        if warn:
            warn(msg)

    staging = _staging_folder(out)
    # Loading makes millions of long-lived objects and no garbage cycles worth finding: with
    # the cyclic collector on, it walks the growing heap again and again (several times the
    # cost of the loading itself at 10,000 submissions).
    collecting = gc.isenabled()
    gc.disable()
    try:
        progress(f"reading submission files in {challenge.submissions_dir.name}/")
        cache = ValidationCache(cache_path) if cache_path is not None else None
        files = load_submission_files(challenge, _warn, cache=cache, jobs=jobs)
        phases["submissions"] = time.perf_counter() - t0
        progress(f"  {len(files)} valid submission files; reading the results store")
        t = time.perf_counter()
        results, verdicts = load_store(ResultsStore(store_root), cache=cache, jobs=jobs)
        results = keyed(results)
        if cache is not None:
            progress(f"  validation cache: {cache.hits} known, {cache.misses} checked")
            cache.save()
        phases["store"] = time.perf_counter() - t
        progress(f"  {len(results)} results, {len(verdicts)} verdict records; ranking")
        t = time.perf_counter()
        model = build_model(challenge, files, results, verdicts,
                            now=now or dt.datetime.now(dt.timezone.utc), warnings=warnings)
        from leaderboard.controls import control_view
        model.controls = control_view(challenge, store_root, model.runs)
        phases["model"] = time.perf_counter() - t
        t = time.perf_counter()
        keys = input_keys(model, files, results, verdicts)
        phases["keys"] = time.perf_counter() - t
        progress(f"  {len(model.entries)} ranked; writing pages")
        if collecting:
            gc.enable()
        t = time.perf_counter()
        pages, n_files, rendered = render_site(
            model, staging, Links(repo_url, results_ref), page_size=page_size,
            runs_page_size=runs_page_size, csp=csp, jobs=jobs,
            previous=out if (out / MANIFEST).is_file() else None, keys=keys)
        phases["render"] = time.perf_counter() - t
        _swap_in(staging, out)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    finally:
        if collecting:
            gc.enable()
    home = (out / "index.html").stat().st_size
    seconds = time.perf_counter() - t0
    progress(f"  {pages} pages, {n_files} files ({rendered} rendered, the others unchanged) "
             f"in {seconds:.1f} s")
    return BuildReport(out, pages, n_files, seconds, home, model.counts, warnings, phases,
                       rendered)


def input_keys(model: SiteModel, files: Mapping[str, SubmissionFile],
               results: Sequence[tuple[str, "Doc"]],
               verdicts: Sequence[Mapping[str, Any]]) -> Keys:
    """The digest of the whole board: every result document's (`keyed`), the verdicts, the
    submission files and the control runs."""
    h = hashlib.blake2b(digest_size=20)
    for rel, d in results:
        h.update(rel.encode() + b"\0" + d.key)
    h.update(marshal.dumps(list(verdicts), 2))
    for sid, f in files.items():
        h.update(f"\0{sid}\0{f.path}\0{f.text}\0{f.submission!r}".encode())
    b = Build(model, None, Links(), 0, 0)  # type: ignore[arg-type]
    h.update(b.digest(model.controls))
    return Keys(h.digest())


def keyed(results: Sequence[tuple[str, dict[str, Any]]]) -> list[tuple[str, Doc]]:
    """The results, each document as a `Doc` carrying the digest of its content (marshalled:
    plain JSON data), which page keys are made of."""
    return [(rel, Doc(d, hashlib.blake2b(marshal.dumps(d, 2), digest_size=16).digest()))
            for rel, d in results]


def _staging_folder(out: Path) -> Path:
    out = Path(out)
    if out.exists():
        if not out.is_dir():
            raise SiteError(f"{out} exists and is not a folder. Choose another --out.")
        if any(out.iterdir()) and not (out / SITE_MARKER).exists():
            raise SiteError(f"{out} is not empty and was not built by `arena site`; it is "
                            "not replaced. Choose a new or empty folder for --out.")
    out.parent.mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(prefix=f".{out.name}.building-", dir=out.parent))


def _swap_in(staging: Path, out: Path) -> None:
    old = None
    if out.exists():
        old = out.with_name(f".{out.name}.old-{os.getpid()}-{time.monotonic_ns()}")
        os.rename(out, old)
    os.rename(staging, out)
    os.chmod(out, 0o755)  # mkdtemp made it private; a site is for reading
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def _write(path: Path, text: str) -> None:
    with open(path, "w", encoding="utf-8", newline="\n") as f:
        f.write(text)


def _site_env(model: SiteModel, links: Links, csp: bool) -> jinja2.Environment:
    env = environment()
    ch = model.challenge
    env.globals.update(
        ch=ch, model=model, counts=model.counts, links=links, nav=NAV, csp=csp,
        ppl_cap=ch.ppl_cap, status_text=STATUS_TEXT, statuses=STATUSES, page=page_path,
        hardware=ch.hardware, tracks=[], other_tracks=[],
        dated=False, generated_at=model.generated_at.astimezone(dt.timezone.utc).strftime(
            "%Y-%m-%d %H:%M UTC"))
    return env


_CODE_KEYS: dict[Path, bytes] = {}


def code_key() -> bytes:
    """A digest of what shapes pages besides their inputs: the leaderboard's and arena's code,
    the templates and assets, and the versions of Python, Jinja and MarkupSafe."""
    templates = page_format.TEMPLATES
    if templates not in _CODE_KEYS:
        h = hashlib.blake2b(digest_size=20)
        h.update(" ".join([sys.version] + [importlib.metadata.version(d) for d in
                                            ("jinja2", "markupsafe")]).encode())
        for folder, pattern in ((PACKAGE, "**/*.py"), (PACKAGE.parent / "arena", "*.py"),
                                (templates, "*"), (PACKAGE / "static", "*")):
            for p in sorted(folder.glob(pattern)):
                if p.is_file():
                    h.update(f"{folder.name}/{p.relative_to(folder).as_posix()}\0".encode())
                    h.update(p.read_bytes())
        _CODE_KEYS[templates] = h.digest()
    return _CODE_KEYS[templates]


def _settings_key(model: SiteModel, links: Links, csp: bool, page_size: int,
                  runs_page_size: int) -> bytes:
    ch = model.challenge
    h = hashlib.blake2b(code_key(), digest_size=20)
    h.update(repr((links.repo, links.results_ref, csp, page_size, runs_page_size)).encode())
    h.update(repr(ch).encode())
    try:
        h.update(ch.path.read_bytes())
    except (OSError, AttributeError):
        pass
    return h.digest()


def render_tried_pages(model: SiteModel, out: Path, links: Links | None = None) -> int:
    """Only the tried pages, into `out` (the scale test and the benchmark time them).
    Returns the number of pages."""
    b = Build(model, _site_env(model, links or Links(None, "results"), True),
              links or Links(None, "results"), PAGE_SIZE, RUNS_PAGE_SIZE)
    (out / "tried").mkdir(parents=True, exist_ok=True)
    pages = tried_pages.pages(b)
    for p in pages:
        _write(out / p.path, p.render())
    return sum(p.html for p in pages)


def render_site(model: SiteModel, out: Path, links: Links, *, page_size: int = PAGE_SIZE,
                runs_page_size: int = RUNS_PAGE_SIZE, csp: bool = True,
                jobs: int | None = None, previous: Path | None = None,
                keys: Keys | None = None) -> tuple[int, int, int]:
    """Write every page of `model` into the empty folder `out`. Returns (pages, files,
    files rendered). With `previous` (a site built before, with its keys) and `keys`, a page
    whose key is unchanged is taken from `previous` instead of rendered.

    The work is a list of independent tasks (a page, a chunk of submission pages, a JSON
    document), shared out to forked workers when there is enough of it; each worker works out
    its pages' keys."""
    if keys is None:  # called on a model alone: nothing to tell its board's inputs by, so
        # its board-wide pages get keys no later build can match (they are never carried over)
        keys = Keys(os.urandom(20))
    # The model is millions of long-lived objects: keep the collector off them while pages
    # are listed and keyed (started() below does the same for the workers).
    gc.freeze()
    env = _site_env(model, links, csp)
    b = Build(model, env, links, page_size, runs_page_size, board_key=keys.board)
    (out / "assets").mkdir()
    for asset in ASSETS:
        shutil.copyfile(PACKAGE / "static" / asset, out / "assets" / asset)
    (out / "api" / "schema").mkdir(parents=True)
    (out / "tried").mkdir()
    if track_boards(model):
        (out / "tracks").mkdir()
    subs = list(model.submissions.values())
    for login in sorted({s.author for s in subs}):
        (out / "submissions" / login).mkdir(parents=True, exist_ok=True)

    chunks: list[list[int]] = []
    pages: list[Page] = []
    for family in FAMILIES:
        mine = family.pages(b)
        first = len(pages)
        pages += mine
        if family is submission:  # in chunks small enough to share out evenly
            step = max(1, min(SUBMISSION_CHUNK, len(mine) // 16 or 1))
            chunks += [list(range(i, min(i + step, len(pages))))
                       for i in range(first, len(pages), step)]
        else:
            chunks += [[i] for i in range(first, len(pages))]

    old = _read_manifest(previous) if previous is not None else {}
    for name in ("submission.html.j2", "ranking.html.j2", "runs.html.j2", "tried.html.j2"):
        env.get_template(name)  # compiled once, before any worker forks
    n = worker_count(len(subs) + len(model.runs) // 20, jobs)
    settings = _settings_key(model, links, csp, page_size, runs_page_size)
    with started(_run_chunk, range(len(chunks)), n, chunks=chunks, pages=pages, out=out,
                 previous=previous, old=old, settings=settings, board=keys.board,
                 now=model.generated_at.isoformat().encode(),
                 stamps=(_old_stamp(previous), _stamp(model.generated_at))) as finish:
        done = [x for chunk in finish() for x in chunk]
    manifest = {pages[i].path: d for i, d, _ in done}
    rendered = sum(1 for _, _, reused in done if not reused)
    _write(out / MANIFEST, json.dumps({"format": MANIFEST_FORMAT, "pages": dict(
        sorted(manifest.items()))}, separators=(",", ":")) + "\n")
    _write(out / SITE_MARKER, api_pages.dumps({
        "format": "arena.site/1", "challenge": model.challenge.id,
        "generated_at": _stamp(model.generated_at)}))
    n_pages = sum(1 for p in pages if p.html)
    gc.unfreeze()
    return n_pages, len(pages) + len(ASSETS) + 2, rendered


def _stamp(when: dt.datetime) -> str:
    from leaderboard.api import stamp
    return stamp(when)


def _old_stamp(site: Path | None) -> str | None:
    """The build time the previous site's documents carry (its marker's)."""
    if site is None:
        return None
    try:
        doc = json.loads((site / SITE_MARKER).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return doc.get("generated_at") if isinstance(doc, dict) else None


def _restamp(old: Path, new: Path, stamps: tuple[str | None, str]) -> bool:
    """A JSON document of the previous site, into the new one with its leading generated_at
    (the first key after format) rewritten to this build's. False (render it) when the
    previous stamp is unknown or not where it should be."""
    was, now = stamps
    if was is None:
        return False
    if was == now:
        return _carry(old, new)
    try:
        text = old.read_text(encoding="utf-8")
    except OSError:
        return False
    needle = f'"generated_at":{json.dumps(was)}'
    at = text.find(needle, 0, 200)
    if at < 0 or '"generated_at"' in text[:at]:
        return False
    _write(new, text[:at] + f'"generated_at":{json.dumps(now)}' + text[at + len(needle):])
    return True


def _read_manifest(site: Path) -> dict[str, str]:
    try:
        doc = json.loads((site / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    if not isinstance(doc, dict) or doc.get("format") != MANIFEST_FORMAT:
        return {}
    pages = doc.get("pages")
    return pages if isinstance(pages, dict) else {}


def _run_chunk(i: int) -> list[tuple[int, str, bool]]:
    """Key, and render or carry over, one chunk of pages (in a worker process, or here when
    there are none): (page index, key, carried over)."""
    w = WORK
    out: list[tuple[int, str, bool]] = []
    for j in w["chunks"][i]:
        page: Page = w["pages"][j]
        inputs = page.key() if page.key is not None else w["board"]
        if page.dated:
            inputs += w["now"]
        key = hashlib.blake2b(w["settings"] + page.path.encode() + b"\0" + inputs,
                              digest_size=20).hexdigest()
        reused = (w["previous"] is not None and w["old"].get(page.path) == key
                  and (_restamp(w["previous"] / page.path, w["out"] / page.path, w["stamps"])
                       if page.stamped else
                       _carry(w["previous"] / page.path, w["out"] / page.path)))
        if not reused:
            _write(w["out"] / page.path, page.render())
        out.append((j, key, reused))
    return out


def _carry(old: Path, new: Path) -> bool:
    """The previous site's copy of a page, into the new site: a hard link (the old folder is
    removed after the swap, the file stays), else a copy. False when it is not there."""
    try:
        os.link(old, new)
        return True
    except FileNotFoundError:
        return False
    except OSError:
        try:
            shutil.copyfile(old, new)
            return True
        except OSError:
            return False
