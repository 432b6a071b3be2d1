"""Build the static leaderboard site: HTML pages, SVG charts, the JSON API and an Atom feed.

One pass: load the submission files and the results store, build the model once (the ranking is
computed once per view), then render every page from templates compiled once. Every link inside
the site is relative, so the site works under a GitHub Pages sub-path and from file://; links to
the repository (pull requests, files, results) appear only when its URL is given.

The output folder is replaced as a whole: pages are written to a staging folder beside it and
swapped in at the end, so a reader never sees half a site, and a failed build leaves the old one.
A folder that was not made by this builder is never replaced.
"""

from __future__ import annotations

import datetime as dt
import functools
import gc
import json
import os
import re
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence
from urllib.parse import quote

import jinja2
from markupsafe import Markup, escape

from arena.challenge import HUB_ID_RE, REVISION_RE, Challenge
from arena.result import THROTTLING_REASONS
from arena.store import ResultsStore
from arena.submission import REPO_RE
from arena.text import for_html, has_unsafe_characters, needs_html_escaping
from leaderboard import api, charts, tried
from leaderboard.load import ValidationCache, load_store, load_submission_files
from leaderboard.model import STATUS_TEXT, STATUSES, SiteModel, build_model
from leaderboard.parallel import WORK, started, worker_count
from leaderboard.ranking import instant

PACKAGE = Path(__file__).resolve().parent
SITE_MARKER = ".arena-site"
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


def page_path(submission_id: str) -> str:
    """A submission's page, relative to the site's root. Ids are <login>/<name>, both limited
    to letters, digits and hyphens by the submission and result schemas."""
    login, name = submission_id.split("/", 1)
    return f"submissions/{login}/{name}.html"


# --- formatting -------------------------------------------------------------------------------

def _tps(v: Any) -> str:
    return "—" if v is None else f"{float(v):,.1f}"


def _ppl(v: Any) -> str:
    if v is None:
        return "—"
    v = float(v)
    return f"{v:.3f}" if v < 10 else f"{v:,.2f}" if v < 1000 else f"{v:,.0f}"


def _pct(v: Any) -> str:
    return "—" if v is None else f"{float(v) * 100:+.1f}%"


def _pct1(v: Any) -> str:
    return "—" if v is None else f"{float(v) * 100:.1f}%"


def _date(ts: str) -> str:
    return instant(ts).strftime("%Y-%m-%d")


def _datetime(ts: str) -> str:
    return instant(ts).strftime("%Y-%m-%d %H:%M UTC")


def _utc(ts: str) -> str:
    return instant(ts).strftime("%Y-%m-%dT%H:%M:%SZ")


def _seconds(v: Any) -> str:
    return f"{float(v):,.1f} s"


def _figure(v: Any) -> str:
    if v is None:
        return "—"
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        return f"{v:.4g}"
    if isinstance(v, list):
        shown = ", ".join(_figure(x) for x in v[:20])
        return f"[{shown}{', …' if len(v) > 20 else ''}]"
    s = str(v)
    return s if len(s) <= 300 else s[:299] + "…"


# Dense, repetitive blocks (a run's fingerprint, timings, check figures) are assembled here
# rather than in templates: one escape per value, by construction, and a tenth of the time.

def _clean(value: Any) -> str:
    text = value if type(value) is str else str(value)
    if not needs_html_escaping(text):  # one search, and most values are left as they are
        return text
    if has_unsafe_characters(text):
        return for_html(text)
    return str(escape(text))  # markupsafe's C escape: the same five characters as for_html


def _fingerprint_dl(fp: Mapping[str, Any]) -> Markup:
    parts = []
    for k, v in fp.items():
        if k == "prompt_sets" and isinstance(v, Mapping):
            for ps, h in v.items():
                parts.append(f"<dt>{_clean(ps)} prompts</dt><dd class=\"mono\">{_clean(h)}</dd>")
        elif v is not None:
            mono = ' class="mono"' if k.endswith("sha256") else ""
            parts.append(f"<dt>{_clean(k.replace('_', ' '))}</dt><dd{mono}>{_clean(v)}</dd>")
    return Markup("".join(parts))


def _timings_dl(timings: Mapping[str, Any]) -> Markup:
    return Markup("".join(
        f"<dt>{_clean(k.removesuffix('_s').replace('_', ' '))}</dt>"
        f"<dd class=\"num\">{_clean(_seconds(v))}</dd>" for k, v in timings.items()))


def _figures_ul(figures: Mapping[str, Any]) -> Markup:
    if not figures:
        return Markup("")
    return Markup('<ul class="figures">' + "".join(
        f"<li><b>{_clean(k)}</b> {_clean(_figure(v))}</li>" for k, v in figures.items())
        + "</ul>")


def _facts_dl(mapping: Mapping[str, Any]) -> Markup:
    return Markup("".join(
        f"<dt>{_clean(k.replace('_', ' '))}</dt><dd class=\"num\">{_clean(_figure(v))}</dd>"
        for k, v in mapping.items() if v is not None))


def _truncate(text: str, length: int) -> str:
    return jinja2.filters.do_truncate(_TRUNCATE_ENV, text, length)


_TRUNCATE_ENV = jinja2.Environment(autoescape=True)


def _badge(status: str) -> str:
    return f'<span class="badge st-{_clean(status)}">{_clean(STATUS_TEXT[status])}</span>'


def _run_card(r: Any, links: "Links") -> Markup:
    """One run on its submission's page: every figure, every check, the fingerprint.

    A site of 10,000 submissions has some 30,000 of these, most of its bytes, so they are
    assembled here (one escape per value, like the other dense blocks) instead of in the
    template; the markup is what submission.html.j2 had, and its tests still judge it."""
    d = r.doc
    rid = _clean(r.run_id)
    out = [f'<section class="run-card" id="run-{rid}" aria-labelledby="run-{rid}-h">\n',
           f'  <header>\n    <h3 id="run-{rid}-h">{rid}</h3>\n    {_badge(r.status)}']
    if r.ranked:
        out.append(' <span class="badge st-pass">ranked run</span>')
    if r.unstable:
        out.append(' <span class="badge st-warn">unstable</span>')
    out.append(f'\n    <span class="muted small"><time datetime="{_clean(r.started_at)}">'
               f'{_clean(_datetime(r.started_at))}</time> · {_clean(r.hardware)}')
    if not r.here:
        out.append(" (not ranked: another challenge or hardware)")
    out.append("</span>\n  </header>\n")
    if r.overridden_by:
        out.append(f'  <p class="small">Decided by maintainer <strong>{_clean(r.overridden_by)}'
                   f'</strong>; the runner said <em>{_clean(d["verdict"])}</em>.</p>\n')
    if r.unstable:
        sd = d["tps"][r.tps_set]["stdev"]
        out.append(f'  <p class="small notice">Unstable: its timed passes scatter (sd {_tps(sd)} '
                   'tok/s) far more than the run-to-run noise the ranking\'s ties rest on. Its '
                   'number stands, but it is left out of the board\'s noise estimate; a re-run '
                   'tells more.</p>\n')
    if r.drift:
        out.append(f'  <p class="small notice bad">Flagged: {_clean(r.drift)} '
                   '(<a href="../../controls.html">control runs</a>).</p>\n')
    tele = d.get("telemetry") or {}
    if tele.get("throttled"):
        seen = ", ".join(f"{_clean(k)} ({_clean(v)})" for k, v in
                         sorted((tele.get("throttle_reasons") or {}).items())
                         if k in THROTTLING_REASONS)
        out.append('  <p class="small notice">GPU throttled during the timed passes'
                   + (f": {seen}" if seen else "") + '. The number may be lower than the '
                   'configuration can reach; a re-run tells more.</p>\n')
    if r.reasons:
        out.append('  <ul class="reasons">' + "".join(f"<li>{_clean(x)}</li>" for x in r.reasons)
                   + "</ul>\n")

    out.append('  <div class="grid2">\n    <div>\n      <h4>Tokens per second</h4>\n')
    if d.get("tps"):
        rows = []
        for set_name, t in d["tps"].items():
            scored = ' <span class="small muted">(scored)</span>' if set_name == r.tps_set else ""
            rows.append(
                f'<tr><td>{_clean(set_name)}{scored}</td><td class="n">{_tps(t["median"])}</td>'
                f'<td class="n">{_tps(t["stdev"])}</td><td class="n">{_tps(t["ci95"][0])}–'
                f'{_tps(t["ci95"][1])}</td><td class="num small">{_clean(_passes(t["passes"]))}'
                f'<span class="spread wrap">{_clean(t["prompts"])} prompts × '
                f'{_clean(t["output_tokens"])} tokens, mean {_tps(t["mean"])}</span></td></tr>')
        out.append('      <div class="table-wrap"><table class="compact"><thead><tr>'
                   '<th scope="col">Set</th><th scope="col" class="n">Median</th>'
                   '<th scope="col" class="n">sd</th><th scope="col" class="n">95% CI of mean</th>'
                   '<th scope="col">Passes</th></tr></thead>\n      <tbody>' + "".join(rows)
                   + "</tbody></table></div>\n")
    else:
        out.append('      <p class="muted">Not measured.</p>\n')
    out.append('    </div>\n    <div>\n      <h4>Perplexity</h4>\n')
    ppl = d.get("ppl") or {}
    if ppl.get("sets"):
        rows = [f'<tr><td>{_clean(k)}</td><td class="n">{_ppl(p["value"])}</td>'
                f'<td class="n">{_clean(p["tokens"])}</td><td class="n">{_clean(p["prompts"])}</td></tr>'
                for k, p in ppl["sets"].items()]
        out.append('      <div class="table-wrap"><table class="compact"><thead><tr>'
                   '<th scope="col">Set</th><th scope="col" class="n">PPL</th>'
                   '<th scope="col" class="n">Tokens</th><th scope="col" class="n">Prompts</th>'
                   '</tr></thead>\n      <tbody>' + "".join(rows) + "</tbody></table></div>\n")
    else:
        out.append('      <p class="muted">Not measured.</p>\n')
    out.append(f'      <p class="small muted">Reference {_ppl(ppl.get("reference"))} · cap '
               f'{_ppl(ppl.get("cap"))}</p>\n    </div>\n  </div>\n  <h4>Checks</h4>\n')
    if d.get("checks"):
        rows = [f'<tr><td class="mono" data-label="Check">{_clean(c["name"])}</td>'
                f'<td data-label="Result"><span class="badge st-{_clean(c["status"])}">'
                f'{_clean(c["status"])}</span></td><td class="wide">{_clean(c["message"])}'
                f'{_figures_ul(c.get("figures") or {})}</td></tr>' for c in d["checks"]]
        out.append('  <div class="table-wrap cards"><table class="compact cards"><thead><tr>'
                   '<th scope="col">Check</th><th scope="col">Result</th>'
                   '<th scope="col">Message and figures</th></tr></thead><tbody>\n'
                   + "\n".join(rows) + "\n  </tbody></table></div>\n")
    else:
        out.append('  <p class="muted">No checks reported.</p>\n')

    out.append('  <div class="grid2">\n    <div>\n      <h4>Fingerprint</h4>\n'
               f'      <dl class="facts small">{_fingerprint_dl(d["fingerprint"])}</dl>\n'
               '    </div>\n    <div>\n      <h4>Provenance and timings</h4>\n'
               '      <dl class="facts small">\n')
    pv = d.get("provenance") or {}
    facts = []
    if pv.get("pr"):
        n = _clean(pv["pr"])
        facts.append('<dt>Pull request</dt><dd>'
                     + (f'<a href="{_clean(links.pr(pv["pr"]))}">#{n}</a>' if links.repo else f"#{n}")
                     + "</dd>")
    if pv.get("head_sha"):
        short = _clean(pv["head_sha"][:12])
        facts.append('<dt>Head commit</dt><dd class="mono">'
                     + (f'<a href="{_clean(links.commit(pv["head_sha"]))}">{short}</a>'
                        if links.repo else short) + "</dd>")
    commit = (d.get("submission") or {}).get("commit")
    if commit:
        facts.append(f'<dt>File commit</dt><dd class="mono">{_clean(commit[:12])}</dd>')
    if pv.get("run_url"):
        safe = links.safe_url(pv["run_url"])
        facts.append('<dt>Workflow run</dt><dd>' + (
            f'<a href="{_clean(safe)}">{_clean(_truncate(pv["run_url"], 60))}</a>' if safe else
            f'<span class="mono">{_clean(_truncate(pv["run_url"], 80))}</span>') + "</dd>")
    if pv.get("requested_by"):
        facts.append(f'<dt>Requested by</dt><dd>{_clean(pv["requested_by"])}</dd>')
    path = _clean(r.store_path)
    facts.append('<dt>Result file</dt><dd class="mono">'
                 + (f'<a href="{_clean(links.result(r.store_path))}">{path}</a>' if links.repo
                    else path) + "</dd>")
    facts.append(f'<dt>Config SHA-256</dt><dd class="mono">'
                 f'{_clean(d["submission"]["config_sha256"][:16])}…</dd>')
    facts.append(f'<dt>Finished</dt><dd><time datetime="{_clean(d["finished_at"])}">'
                 f'{_clean(_datetime(d["finished_at"]))}</time></dd>')
    facts.append(str(_timings_dl(d["timings"])))
    out.append("        " + "\n        ".join(facts) + "\n      </dl>\n    </div>\n  </div>\n")
    if d.get("speculative"):
        out.append('  <h4>Speculative decoding</h4>\n'
                   f'  <dl class="facts small">{_facts_dl(d["speculative"])}</dl>\n')
    # An old result's log_tail is the engine's own text: never shown (what an untrusted
    # engine wrote is never published).
    out.append("</section>\n")
    return Markup("".join(out))


def _pretty_json(value: Any) -> str:
    """JSON for people: indented, sorted, non-ASCII kept; escaped by the template."""
    return json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False)


def _passes(passes: Sequence[Mapping[str, Any]]) -> str:
    return ", ".join(_tps(p["tps"]) for p in passes)


def _finalize(value: Any) -> Any:
    """Every {{ value }} passes here: text with control characters or invisible reordering marks
    gets them replaced (and escaped) by arena.text, the same as everywhere else."""
    if type(value) is str and has_unsafe_characters(value):
        return Markup(for_html(value))
    return value


def environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(PACKAGE / "templates")),
        autoescape=True,
        finalize=_finalize,
        undefined=jinja2.ChainableUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        auto_reload=False,
    )
    env.filters.update(tps=_tps, ppl=_ppl, pct=_pct, pct1=_pct1, date=_date, datetime=_datetime,
                       utc=_utc, seconds=_seconds, figure=_figure,
                       fingerprint_dl=_fingerprint_dl, timings_dl=_timings_dl,
                       figures_ul=_figures_ul, facts_dl=_facts_dl, passes=_passes,
                       pretty_json=_pretty_json, run_card=_run_card,
                       tried_slug=lambda t: tried.slug(str(t)), tried_value=_tried_value)
    return env


# --- pagination -------------------------------------------------------------------------------

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


# --- building ---------------------------------------------------------------------------------

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
    """Read everything, build the model once, render the whole site into `out`.

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
        progress(f"  {len(model.entries)} ranked; writing pages")
        if collecting:
            gc.enable()
        t = time.perf_counter()
        pages, n_files = render_site(model, staging, Links(repo_url, results_ref),
                                     page_size=page_size, runs_page_size=runs_page_size,
                                     csp=csp, jobs=jobs)
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
    progress(f"  {pages} pages, {n_files} files in {seconds:.1f} s")
    return BuildReport(out, pages, n_files, seconds, home, model.counts, warnings, phases)


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


def _json(path: Path, doc: Any, *, indent: int | None = None) -> None:
    sep = (",", ":") if indent is None else (",", ": ")
    _write(path, json.dumps(doc, ensure_ascii=False, indent=indent, separators=sep) + "\n")


def _site_env(model: SiteModel, links: Links, csp: bool) -> jinja2.Environment:
    env = environment()
    ch = model.challenge
    env.globals.update(
        ch=ch, model=model, counts=model.counts, links=links, nav=NAV, csp=csp,
        ppl_cap=ch.ppl_cap, status_text=STATUS_TEXT, statuses=STATUSES, page=page_path,
        generated_at=model.generated_at.astimezone(dt.timezone.utc).strftime(
            "%Y-%m-%d %H:%M UTC"))
    return env


def _page_tasks(env: jinja2.Environment, out: Path) -> Callable[..., Any]:
    def page_task(name: str, path: str, **ctx: Any) -> Callable[[], tuple[int, int]]:
        def run() -> tuple[int, int]:
            text = env.get_template(name).render(root="../" * path.count("/"), **ctx)
            _write(out / path, text)
            return (1 if path.endswith(".html") else 0), 1
        return run
    return page_task


def render_tried_pages(model: SiteModel, out: Path, links: Links | None = None) -> int:
    """Only the tried pages, into `out` (the scale test and the benchmark time them).
    Returns the number of pages."""
    env = _site_env(model, links or Links(None, "results"), True)
    tasks = _tried_tasks(model, _page_tasks(env, out), None, out)
    return sum(t()[0] for t in tasks)


def render_site(model: SiteModel, out: Path, links: Links, *, page_size: int = PAGE_SIZE,
                runs_page_size: int = RUNS_PAGE_SIZE, csp: bool = True,
                jobs: int | None = None) -> tuple[int, int]:
    """Write every page of `model` into the empty folder `out`. Returns (pages, files).

    The work is a list of independent tasks (a page, a chunk of submission pages, a JSON
    document), shared out to forked workers when there is enough of it."""
    env = _site_env(model, links, csp)
    ch = model.challenge
    page_task = _page_tasks(env, out)

    def json_task(path: str, make: Callable[[], Any], indent: int | None = None,
                  ) -> Callable[[], tuple[int, int]]:
        def run() -> tuple[int, int]:
            _json(out / path, make(), indent=indent)
            return 0, 1
        return run

    def submissions_task(chunk: Sequence[Any]) -> Callable[[], tuple[int, int]]:
        def run() -> tuple[int, int]:
            tpl = env.get_template("submission.html.j2")
            for s in chunk:
                _write(out / page_path(s.id), tpl.render(root="../../", section=None, s=s))
            return len(chunk), len(chunk)
        return run

    (out / "assets").mkdir()
    for asset in ("site.css", "site.js", "favicon.svg"):
        shutil.copyfile(PACKAGE / "static" / asset, out / "assets" / asset)
    (out / "api" / "schema").mkdir(parents=True)
    subs = list(model.submissions.values())
    for login in sorted({s.author for s in subs}):
        (out / "submissions" / login).mkdir(parents=True, exist_ok=True)

    def href(sid: str) -> str:
        return page_path(sid)

    # The ranking: page 1 is the home page, with the charts.
    ranking_pages = paginate(model.entries, page_size, "index")
    first_entries = ranking_pages[0][1]
    shown = list(first_entries) + [e for e in model.front if e not in first_entries]
    home_front = charts.tps_vs_ppl(shown, model.front, ppl_cap=ch.ppl_cap,
                                   ppl_reference=ch.ppl_reference, href=href,
                                   total=len(model.entries))
    lead_set = model.entries[0].tps_set if model.entries else "private"
    verified = [r for r in model.runs if r.here and r.status == "verified"
                and r.tps_set == lead_set
                and model.submissions[r.submission_id].state.state == "active"]
    # The home page's copy merges runs within 3 px, to stay light at thousands of runs.
    home_time = charts.best_over_time(verified, model.records, href=href,
                                      now=model.generated_at, cell=3.0)
    time_chart = charts.best_over_time(verified, model.records, href=href,
                                       now=model.generated_at)
    full_front = charts.tps_vs_ppl(model.entries, model.front, ppl_cap=ch.ppl_cap,
                                   ppl_reference=ch.ppl_reference, href=href,
                                   chart_id="tps-ppl-all", cell=1.0)

    tasks: list[Callable[[], tuple[int, int]]] = []
    # Submission pages first (the bulk), in chunks small enough to share out evenly.
    step = max(1, min(250, len(subs) // 16 or 1))
    tasks += [submissions_task(subs[i:i + step]) for i in range(0, len(subs), step)]
    tasks += [page_task("ranking.html.j2", pager_file(p), section="ranking", pager=p,
                        entries=chunk, chart_front=home_front, chart_time=home_time)
              for p, chunk in ranking_pages]
    tasks += [page_task("authors.html.j2", pager_file(p, "authors"), section="authors",
                        pager=p, entries=chunk)
              for p, chunk in paginate(model.author_entries, page_size, "authors")]
    tree_graph = charts.lineage(list(model.submissions.values()), href=href,
                                lead_id=model.entries[0].submission_id if model.entries
                                else None)
    tasks.append(page_task("tree.html.j2", "tree.html", section="tree", tree=model.tree,
                           graph=tree_graph))
    tasks += [page_task("runs.html.j2", pager_file(p, "runs"), section="runs", pager=p,
                        runs=chunk)
              for p, chunk in paginate(model.runs, runs_page_size, "runs")]
    tasks += _tried_tasks(model, page_task, json_task, out)
    tasks.append(page_task("charts.html.j2", "charts.html", section="charts",
                           chart_front=full_front, chart_time=time_chart))
    tasks.append(page_task("controls.html.j2", "controls.html", section="controls",
                           controls=model.controls))
    tasks.append(page_task("notfound.html.j2", "404.html", section=None))
    docs = [
        ("leaderboard", api.LEADERBOARD_FORMAT, "entries", "The ranking, best first; the "
         "per-author view, the Pareto front and the records.", api.leaderboard_doc),
        ("submissions", api.SUBMISSIONS_FORMAT, "submissions", "Every submission: status, "
         "lineage, configuration and the ids of its runs.", api.submissions_doc),
        ("runs", api.RUNS_FORMAT, "runs", "Every run, newest first, with its effective "
         "status, reasons, TPS, PPL and checks.", api.runs_doc),
        ("tried", api.TRIED_FORMAT, "configurations", "Every configuration with its outcome "
         "(the tried pages), engine arguments flattened, identical configurations named.",
         api.tried_doc),
    ]
    schemas = api.schemas(model.challenge)  # with the track fields when there are several
    for name, _, _, _, make in docs:
        tasks.append(json_task(f"api/{name}.json", functools.partial(make, model, page_path)))
        tasks.append(json_task(f"api/schema/{name}.json",
                               functools.partial(lambda n: schemas[n], name), indent=2))
    tasks.append(page_task("api.html.j2", "api/index.html", section="api", docs=[
        dict(name=name, format=fmt, key=key, holds=holds,
             fields=api.field_rows(schemas[name], key))
        for name, fmt, key, holds, _ in docs]))
    # The feed announces a new leader; a submission re-run a little faster is not news.
    recs = [r for r in reversed(model.records)
            if r.previous_submission_id != r.submission_id][:50]
    updated = _utc(recs[0].started_at) if recs else api.stamp(model.generated_at)
    tasks.append(page_task("feed.xml.j2", "feed.xml", recs=recs, updated=updated,
                           lead_set=lead_set, feed_id=f"urn:arena:{ch.id}"))

    for name in ("submission.html.j2", "ranking.html.j2", "runs.html.j2"):
        env.get_template(name)  # compiled once, before any worker forks
    n = worker_count(len(subs) + len(model.runs) // 20, jobs)
    with started(_run_task, range(len(tasks)), n, tasks=tasks) as finish:
        done = finish()
    pages = sum(p for p, _ in done)
    n_files = sum(f for _, f in done) + 3  # + the assets
    _write(out / "llms.txt", _llms_txt(model))
    _json(out / SITE_MARKER, {"format": "arena.site/1", "challenge": ch.id,
                              "generated_at": api.stamp(model.generated_at)})
    return pages, n_files + 2


TRIED_PAGE_SIZE = 250
OUTCOME_TEXT = {"verified": "verified", "invalid": "invalid", "error": "error",
                "withdrawn": "withdrawn", "disqualified": "disqualified",
                "pending": "no run yet", "negative": "negative result"}


def _tried_tasks(model: SiteModel, page_task: Callable[..., Any], json_task: Callable[..., Any],
                 out: Path) -> list[Callable[[], tuple[int, int]]]:
    """The "tried" pages (leaderboard/tried.py): everything, by tag, by engine argument."""
    rows = tried.rows_from_model(model)
    counts = tried.counts(rows)
    tags = tried.by_tag(rows)
    args = tried.by_arg(rows)
    common = dict(section="tried", tried_counts=counts, outcome_text=OUTCOME_TEXT)
    (out / "tried").mkdir(exist_ok=True)
    tasks = [page_task("tried.html.j2", pager_file(p, "tried"), pager=p, rows=chunk,
                       offset=(p.number - 1) * TRIED_PAGE_SIZE, kind=None,
                       heading="What was tried", tag_links=[(t, len(v)) for t, v in tags.items()],
                       arg_links=args, **common)
             for p, chunk in paginate(rows, TRIED_PAGE_SIZE, "tried")]
    for t, trs in tags.items():
        stem = f"tried/tag-{tried.slug(t)}"
        tasks += [page_task("tried.html.j2", pager_file(p, stem), pager=p, rows=chunk,
                            offset=(p.number - 1) * TRIED_PAGE_SIZE, kind="tag",
                            heading=f"Tried with the tag {t}", **common)
                  for p, chunk in paginate(trs, TRIED_PAGE_SIZE, stem)]
    for a in args:
        stem = f"tried/arg-{a.slug}"
        links = tried.value_links(a, TRIED_PAGE_SIZE)
        tasks += [page_task("tried.html.j2", pager_file(p, stem), pager=p, rows=chunk,
                            offset=(p.number - 1) * TRIED_PAGE_SIZE, kind="arg", arg=a.name,
                            values=links, heading=f"Tried with {a.name} set", **common)
                  for p, chunk in paginate(a.rows, TRIED_PAGE_SIZE, stem)]
    return tasks


def _tried_value(v: Any) -> str:
    return tried.compact(v)


def _run_task(i: int) -> tuple[int, int]:
    """Run one rendering task (in a worker process, or here when there are none)."""
    return WORK["tasks"][i]()


def pager_file(pager: Pager, stem: str = "index") -> str:
    return _page_name(stem, pager.number)


def _llms_txt(model: SiteModel) -> str:
    """A plain-text entry point for agents: what this is and where the data lives."""
    ch = model.challenge
    lines = [f"# {ch.title} leaderboard", "",
             f"> Challenge {ch.id} on {ch.hardware} hardware. Score: median decode tokens/s at "
             f"batch 1 on the private prompts; perplexity at most {ch.ppl_cap:.4g}; gaps "
             f"within the run-to-run noise are ties.", "",
             "## Ties", "",
             (model.tie_rule.describe(model.entries[0].tps if model.entries else None)
              if model.tie_rule else "No tie rule."), "",
             "## Data", "",
             f"- [Leaderboard JSON](api/leaderboard.json): format {api.LEADERBOARD_FORMAT}",
             f"- [Submissions JSON](api/submissions.json): format {api.SUBMISSIONS_FORMAT}",
             f"- [Runs JSON](api/runs.json): format {api.RUNS_FORMAT}",
             "- [API documentation](api/index.html), schemas in api/schema/",
             "- [New records (Atom)](feed.xml)", "", "## Top 10", ""]
    for e in model.entries[:10]:
        tie = (f" (tied: {e.group_size} share rank {e.rank}"
               f"{', the fastest of them' if e.fastest else ''})" if e.tied else "")
        lines.append(f"- {e.rank}. [{e.submission_id}]({page_path(e.submission_id)}): "
                     f"{e.tps:.1f} tok/s ({e.tps_set}), ppl "
                     f"{'n/a' if e.ppl is None else f'{e.ppl:.4g}'}{tie}")
    if not model.entries:
        lines.append("- no verified runs yet")
    return "\n".join(lines) + "\n"
