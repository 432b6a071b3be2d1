"""Formatting for the pages: the template filters, and the dense, repetitive blocks (a run's
card, its fingerprint, timings and check figures) assembled in Python rather than in
templates: one escape per value, by construction, and a tenth of the time."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Mapping, Sequence

import jinja2
from markupsafe import Markup, escape

from arena.result import THROTTLING_REASONS
from arena.text import for_html, has_unsafe_characters, needs_html_escaping
from leaderboard import tried
from leaderboard.model import STATUS_TEXT
from leaderboard.ranking import instant

PACKAGE = Path(__file__).resolve().parent.parent  # leaderboard/: templates/ and static/
TEMPLATES = PACKAGE / "templates"

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


# What a text becomes, remembered: a site repeats the same few values (statuses, ids, tags,
# figures) millions of times, and a dictionary look-up costs a fifth of a regular expression's
# search. Bounded, so that a long-lived process does not keep every text it ever showed.
_CLEANED: dict[str, str] = {}
_UNSAFE: dict[str, bool] = {}
_REMEMBER = 200_000


def _clean(value: Any) -> str:
    text = value if type(value) is str else str(value)
    done = _CLEANED.get(text)
    if done is None:
        if not needs_html_escaping(text):  # one search, and most values are left as they are
            done = text
        elif has_unsafe_characters(text):
            done = for_html(text)
        else:
            done = str(escape(text))  # markupsafe's C escape: the five characters for_html does
        if len(_CLEANED) >= _REMEMBER:
            _CLEANED.clear()
        _CLEANED[text] = done
    return done


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
    if type(value) is str:
        unsafe = _UNSAFE.get(value)
        if unsafe is None:
            if len(_UNSAFE) >= _REMEMBER:
                _UNSAFE.clear()
            unsafe = _UNSAFE[value] = has_unsafe_characters(value)
        if unsafe:
            return Markup(for_html(value))
    return value


def environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(TEMPLATES)),
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
                       tried_slug=lambda t: tried.slug(str(t)), tried_value=tried.compact)
    return env

