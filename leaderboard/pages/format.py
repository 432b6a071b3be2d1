"""Formatting for the pages: the template filters, and the dense, repetitive blocks (a run's
card, its fingerprint, timings and check figures) assembled in Python rather than in
templates: one escape per value, by construction, and a tenth of the time."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any, Mapping

import jinja2
from markupsafe import Markup, escape

from arena.render import html_blocks
from arena.result import Description, Fingerprint, Note, Result, describe, throttle_text
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


# The fingerprint's fields in the order the runner writes them (runner.fingerprint).
_FINGERPRINT_ORDER = ("hardware", "accelerator", "driver", "cuda", "cpu", "engine",
                      "engine_version", "harness_version", "python", "torch", "prompt_sets",
                      "submission_sha256", "referee", "sandbox", "patch")


def _nested(value: Any) -> str:
    """A fingerprint's nested record (the referee, the sandbox, the patch) as `key value`."""
    return ", ".join(f"{k.replace('_', ' ')} {_figure(v)}"
                     for k, v in value._asdict().items() if v is not None)


# Each field: its label, its <dd>'s attributes, and whether it is a nested record.
_FINGERPRINT_FIELDS = tuple(
    (k, _clean(k.replace("_", " ")), ' class="mono"' if k.endswith("sha256") else "",
     k in ("referee", "sandbox", "patch")) for k in _FINGERPRINT_ORDER)


def _fingerprint_dl(fp: Fingerprint) -> Markup:
    parts = []
    for k, label, attrs, nested in _FINGERPRINT_FIELDS:
        v = getattr(fp, k)
        if k == "prompt_sets":
            for ps, h in v.items():
                parts.append(f"<dt>{_clean(ps)} prompts</dt><dd class=\"mono\">{_clean(h)}</dd>")
        elif v is not None:
            parts.append(f"<dt>{label}</dt><dd{attrs}>{_clean(_nested(v) if nested else v)}</dd>")
    return Markup("".join(parts))


def _timings_dl(timings: Mapping[str, Any]) -> Markup:
    return Markup("".join(
        f"<dt>{_clean(k.removesuffix('_s').replace('_', ' '))}</dt>"
        f"<dd class=\"num\">{_clean(_seconds(v))}</dd>" for k, v in timings.items()))


def _facts_dl(mapping: Mapping[str, Any]) -> Markup:
    return Markup("".join(
        f"<dt>{_clean(k.replace('_', ' '))}</dt><dd class=\"num\">{_clean(_figure(v))}</dd>"
        for k, v in mapping.items() if v is not None))


def _truncate(text: str, length: int) -> str:
    return jinja2.filters.do_truncate(_TRUNCATE_ENV, text, length)


_TRUNCATE_ENV = jinja2.Environment(autoescape=True)


def _badge(status: str) -> str:
    return f'<span class="badge st-{_clean(status)}">{_clean(STATUS_TEXT[status])}</span>'


# The parts of a result's description (arena.result.describe) a run card shows, rendered by
# its HTML front end (arena.render): the same words as the bot's comment and `arena bench`.
CARD_SECTIONS = ("verdict", "notes", "checks")
_CARD_CLASSES = {"verdict": {"items": "reasons"}, "notes": {"note": "small notice"},
                 "checks": {"table": "compact cards result-checks"}}


def _without_throttle_note(desc: Description, res: Result) -> Description:
    """The description less its throttle warning, which the card words itself."""
    said = throttle_text(res.telemetry)
    if said is None:
        return desc
    return dataclasses.replace(desc, sections=tuple(
        dataclasses.replace(sec, blocks=tuple(
            b for b in sec.blocks
            if not (isinstance(b, Note) and "".join(x.text for x in b.line) == said)))
        for sec in desc.sections))


def _run_card(r: Any, links: "Links") -> Markup:
    """One run on its submission's page: every figure, every check, the fingerprint.

    A site of 10,000 submissions has some 30,000 of these, most of its bytes, so they are
    assembled here (one escape per value, like the other dense blocks) instead of in the
    template. The run is read as its typed result (RunView.result); its reasons, notes and
    checks are its description's, in arena.render's HTML."""
    res: Result = r.result
    desc = describe(res, only=CARD_SECTIONS)
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
                   f'</strong>; the runner said <em>{_clean(res.verdict)}</em>.</p>\n')
    if r.unstable:
        sd = res.tps[r.tps_set].stdev
        out.append(f'  <p class="small notice">Unstable: its timed passes scatter (sd {_tps(sd)} '
                   'tok/s) far more than the run-to-run noise the ranking\'s ties rest on. Its '
                   'number stands, but it is left out of the board\'s noise estimate; a re-run '
                   'tells more.</p>\n')
    if r.drift:
        out.append(f'  <p class="small notice bad">Flagged: {_clean(r.drift)} '
                   '(<a href="../../controls.html">control runs</a>).</p>\n')
    tele = res.telemetry
    if tele is not None and tele.throttled:
        # In the card's own words, as the site has always put it (the description's sentence,
        # which the bot's comment and arena bench show, counts the samples).
        seen = ", ".join(f"{_clean(k)} ({_clean(v)})" for k, v in
                         sorted(tele.throttling.items()))
        out.append('  <p class="small notice">GPU throttled during the timed passes'
                   + (f": {seen}" if seen else "") + '. The number may be lower than the '
                   'configuration can reach; a re-run tells more.</p>\n')
    notes = html_blocks(_without_throttle_note(desc, res), "notes", _CARD_CLASSES["notes"])
    if notes:
        out.append(f"  {notes}\n")
    if r.reasons == tuple(x.message for x in res.reasons):  # the runner's own: described
        reasons = html_blocks(desc, "verdict", _CARD_CLASSES["verdict"], kinds=("items",))
        if reasons:
            out.append(f"  {reasons}\n")
    elif r.reasons:  # a maintainer's decision: not in the result
        out.append('  <ul class="reasons">' + "".join(f"<li>{_clean(x)}</li>" for x in r.reasons)
                   + "</ul>\n")

    out.append('  <div class="grid2">\n    <div>\n      <h4>Tokens per second</h4>\n')
    if res.tps:
        rows = []
        for set_name, t in res.tps.items():
            scored = ' <span class="small muted">(scored)</span>' if set_name == r.tps_set else ""
            rows.append(
                f'<tr><td>{_clean(set_name)}{scored}</td><td class="n">{_tps(t.median)}</td>'
                f'<td class="n">{_tps(t.stdev)}</td><td class="n">{_tps(t.ci95[0])}–'
                f'{_tps(t.ci95[1])}</td><td class="num small">'
                f'{_clean(", ".join(_tps(x) for x in t.pass_tps))}'
                f'<span class="spread wrap">{_clean(t.prompts)} prompts × '
                f'{_clean(t.output_tokens)} tokens, mean {_tps(t.mean)}</span></td></tr>')
        out.append('      <div class="table-wrap"><table class="compact"><thead><tr>'
                   '<th scope="col">Set</th><th scope="col" class="n">Median</th>'
                   '<th scope="col" class="n">sd</th><th scope="col" class="n">95% CI of mean</th>'
                   '<th scope="col">Passes</th></tr></thead>\n      <tbody>' + "".join(rows)
                   + "</tbody></table></div>\n")
    else:
        out.append('      <p class="muted">Not measured.</p>\n')
    out.append('    </div>\n    <div>\n      <h4>Perplexity</h4>\n')
    ppl = res.ppl
    if ppl.sets:
        rows = [f'<tr><td>{_clean(k)}</td><td class="n">{_ppl(p.value)}</td>'
                f'<td class="n">{_clean(p.tokens)}</td><td class="n">{_clean(p.prompts)}</td></tr>'
                for k, p in ppl.sets.items()]
        out.append('      <div class="table-wrap"><table class="compact"><thead><tr>'
                   '<th scope="col">Set</th><th scope="col" class="n">PPL</th>'
                   '<th scope="col" class="n">Tokens</th><th scope="col" class="n">Prompts</th>'
                   '</tr></thead>\n      <tbody>' + "".join(rows) + "</tbody></table></div>\n")
    else:
        out.append('      <p class="muted">Not measured.</p>\n')
    out.append(f'      <p class="small muted">Reference {_ppl(ppl.reference)} · cap '
               f'{_ppl(ppl.cap)}</p>\n    </div>\n  </div>\n  <h4>Checks</h4>\n')
    checks = html_blocks(desc, "checks", _CARD_CLASSES["checks"])
    if checks:
        out.append(f'  <div class="table-wrap cards">{checks}</div>\n')
    else:
        out.append('  <p class="muted">No checks reported.</p>\n')

    out.append('  <div class="grid2">\n    <div>\n      <h4>Fingerprint</h4>\n'
               f'      <dl class="facts small">{_fingerprint_dl(res.fingerprint)}</dl>\n'
               '    </div>\n    <div>\n      <h4>Provenance and timings</h4>\n'
               '      <dl class="facts small">\n')
    pv = res.provenance
    facts = []
    if pv.pr:
        n = _clean(pv.pr)
        facts.append('<dt>Pull request</dt><dd>'
                     + (f'<a href="{_clean(links.pr(pv.pr))}">#{n}</a>' if links.repo else f"#{n}")
                     + "</dd>")
    if pv.head_sha:
        short = _clean(pv.head_sha[:12])
        facts.append('<dt>Head commit</dt><dd class="mono">'
                     + (f'<a href="{_clean(links.commit(pv.head_sha))}">{short}</a>'
                        if links.repo else short) + "</dd>")
    commit = res.submission.commit
    if commit:
        facts.append(f'<dt>File commit</dt><dd class="mono">{_clean(commit[:12])}</dd>')
    if pv.run_url:
        safe = links.safe_url(pv.run_url)
        facts.append('<dt>Workflow run</dt><dd>' + (
            f'<a href="{_clean(safe)}">{_clean(_truncate(pv.run_url, 60))}</a>' if safe else
            f'<span class="mono">{_clean(_truncate(pv.run_url, 80))}</span>') + "</dd>")
    if pv.requested_by:
        facts.append(f'<dt>Requested by</dt><dd>{_clean(pv.requested_by)}</dd>')
    path = _clean(r.store_path)
    facts.append('<dt>Result file</dt><dd class="mono">'
                 + (f'<a href="{_clean(links.result(r.store_path))}">{path}</a>' if links.repo
                    else path) + "</dd>")
    facts.append(f'<dt>Config SHA-256</dt><dd class="mono">'
                 f'{_clean(res.submission.config_sha256[:16])}…</dd>')
    facts.append(f'<dt>Finished</dt><dd><time datetime="{_clean(res.finished_at)}">'
                 f'{_clean(_datetime(res.finished_at))}</time></dd>')
    facts.append(str(_timings_dl(res.timings)))
    out.append("        " + "\n        ".join(facts) + "\n      </dl>\n    </div>\n  </div>\n")
    if res.speculative:
        out.append('  <h4>Speculative decoding</h4>\n'
                   f'  <dl class="facts small">{_facts_dl(dataclasses.asdict(res.speculative))}'
                   '</dl>\n')
    # An old result's log_tail is the engine's own text: never shown (what an untrusted
    # engine wrote is never published).
    out.append("</section>\n")
    return Markup("".join(out))


def _pretty_json(value: Any) -> str:
    """JSON for people: indented, sorted, non-ASCII kept; escaped by the template."""
    return json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False)


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
                       facts_dl=_facts_dl,
                       pretty_json=_pretty_json, run_card=_run_card,
                       tried_slug=lambda t: tried.slug(str(t)), tried_value=tried.compact)
    return env

