"""The four front ends of a result's description (arena.result.describe): a terminal, GitHub
Markdown (the bot's comment and the digest), HTML (the site's card) and JSON. Each is a plain
function of the description; each escapes every span for its medium (arena.text), so that text
from a run (names, messages) never acts as markup or moves a terminal's cursor."""

from __future__ import annotations

from typing import Any, Mapping

from arena.result import (Block, Description, Fields, Items, Line, Note, Paragraph, Section,
                          Table)
from arena.text import for_html, for_terminal, md_inline, md_text, md_words

DESCRIPTION_FORMAT = "arena.result-description/1"


# -- terminal ------------------------------------------------------------------------------------

def _term(line: Line) -> str:
    return "".join(for_terminal(s.text, s.limit) for s in line)


def _term_table(t: Table) -> list[str]:
    cells = [[_term(c) for c in row] for row in t.rows]
    grid = ([list(t.header)] if t.header else []) + cells
    widths = [max(len(r[i]) for r in grid) for i in range(len(grid[0]))]
    last = len(widths) - 1

    def row(r: list[str]) -> str:
        parts = []
        for j, (c, w) in enumerate(zip(r, widths)):
            if t.align[j] == "right":
                parts.append(c.rjust(w))
            else:
                parts.append(c if j == last else c.ljust(w))
        return ("  " + "  ".join(parts)).rstrip()

    out = []
    if t.header:
        out.append(row(list(t.header)))
        out.append("  " + "  ".join("-" * w for w in widths))
    for i, r in enumerate(cells):
        out.append(row(r))
        detail = t.details[i] if i < len(t.details) else None
        if detail:
            indent = sum(w + 2 for w in widths[:last])
            out.append("  " + " " * indent + f"[{_term(detail)}]")
    return out


def _term_block(b: Block) -> list[str]:
    if isinstance(b, Fields):
        return [f"{label}: {_term(line)}" for label, line in b.rows]
    if isinstance(b, Items):
        return [f"  - {_term(line)}" for line in b.lines]
    if isinstance(b, Table):
        return _term_table(b)
    if isinstance(b, Paragraph):
        return [f"  {_term(b.line)}"]
    if isinstance(b, Note):
        return [f"{b.level}: {_term(b.line)}"]
    raise TypeError(f"not a block: {b!r}")


def to_terminal(d: Description, prog: str = "arena bench") -> str:
    """The description as plain lines for a terminal (the end-of-run summary of `arena bench`)."""
    lines = [f"{prog}: {_term(d.title)}"]
    for i, s in enumerate(d.sections):
        if i:
            lines.append("")
        if s.title:
            lines.append(f"{s.title}:")
        for b in s.blocks:
            lines += _term_block(b)
    return "\n".join(lines)


# -- GitHub Markdown -----------------------------------------------------------------------------

def _md(line: Line) -> str:
    out = []
    for s in line:
        if s.kind == "value":
            out.append(md_inline(s.text, s.limit if s.limit is not None else 300))
        elif s.kind == "strong":
            out.append(f"**{md_text(s.text)}**")
        else:  # arena's own words: a sentence as written, nothing in it acts as markup
            out.append(md_words(s.text))
    return "".join(out)


def _md_table(t: Table) -> list[str]:
    has_details = any(t.details)
    header = list(t.header or ("",) * len(t.align)) + (["figures"] if has_details else [])
    align = [("---:" if a == "right" else "---") for a in t.align] + (["---"] if has_details
                                                                        else [])
    out = ["| " + " | ".join(md_text(h) for h in header) + " |", "|" + "|".join(align) + "|"]
    for i, row in enumerate(t.rows):
        cells = [_md(c) for c in row]
        if has_details:
            detail = t.details[i] if i < len(t.details) else None
            cells.append(_md(detail) if detail else "")
        out.append("| " + " | ".join(cells) + " |")
    return out


def _md_block(b: Block) -> list[str]:
    if isinstance(b, Fields):
        return [f"- **{md_text(label)}:** {_md(line)}" for label, line in b.rows]
    if isinstance(b, Items):
        return [f"- {_md(line)}" for line in b.lines]
    if isinstance(b, Table):
        return _md_table(b)
    if isinstance(b, Paragraph):
        return [_md(b.line)]
    if isinstance(b, Note):
        return [f"> [!{'WARNING' if b.level == 'warning' else 'NOTE'}]", f"> {_md(b.line)}"]
    raise TypeError(f"not a block: {b!r}")


def to_markdown(d: Description, heading: str = "###",
                sections: tuple[str, ...] | None = None) -> str:
    """The description as GitHub Markdown (a comment, a digest entry). With `sections` (keys,
    in the order given), only those sections and no title: a part of a page that has its own
    heading (the bot's result comment)."""
    if sections is None:
        lines = [f"{heading} {_md(d.title)}"]
        chosen = d.sections
    else:
        lines = []
        chosen = tuple(s for k in sections if (s := d.section(k)) is not None)
    for s in chosen:
        if lines:
            lines.append("")
        if s.title:
            lines += [f"**{md_text(s.title)}**", ""]
        for j, b in enumerate(s.blocks):
            if j:
                lines.append("")
            lines += _md_block(b)
    return "\n".join(lines)


# -- HTML ----------------------------------------------------------------------------------------

# Escaped texts, remembered: a site shows the same few (check names, statuses, messages) on
# tens of thousands of cards. Bounded, so that a long-lived process does not keep them all.
_ESCAPED: dict[str, str] = {}
_REMEMBER = 100_000


def _esc(text: str) -> str:
    done = _ESCAPED.get(text)
    if done is None:
        if len(_ESCAPED) >= _REMEMBER:
            _ESCAPED.clear()
        done = _ESCAPED[text] = for_html(text)
    return done


def _html(line: Line) -> str:
    out = []
    for s in line:
        text = s.text
        if s.limit is not None and len(text) > s.limit:
            text = text[: max(0, s.limit - 1)] + "…"
        kind = s.kind
        if kind == "value":
            out.append(f"<code>{_esc(text)}</code>")
        elif kind == "text":
            out.append(_esc(text))
        elif kind == "strong":
            out.append(f"<strong>{_esc(text)}</strong>")
        elif kind == "status":
            out.append(f'<span class="badge st-{_esc(text)}">{_esc(text)}</span>')
        else:
            out.append(_esc(text))
    return "".join(out)


def _cls(*names: str | None) -> str:
    shown = " ".join(for_html(n) for n in names if n)
    return f' class="{shown}"' if shown else ""


def _html_block(b: Block, cls: str | None = None) -> str:
    """One block as HTML; `cls`, a CSS class the page adds to the block's element."""
    if isinstance(b, Fields):
        return f"<dl{_cls(cls)}>" + "".join(f"<dt>{for_html(label)}</dt><dd>{_html(line)}</dd>"
                                            for label, line in b.rows) + "</dl>"
    if isinstance(b, Items):
        return f"<ul{_cls(cls)}>" + "".join(f"<li>{_html(line)}</li>" for line in b.lines) \
            + "</ul>"
    if isinstance(b, Table):
        def cell(tag: str, j: int, content: str) -> str:
            c = ' class="num"' if b.align[j] == "right" else ""
            return f"<{tag}{c}>{content}</{tag}>"
        parts = [f"<table{_cls(cls)}>"]
        if b.header:
            parts.append("<thead><tr>" + "".join(cell("th", j, for_html(h))
                                                  for j, h in enumerate(b.header))
                         + "</tr></thead>")
        parts.append("<tbody>")
        for i, row in enumerate(b.rows):
            parts.append("<tr>" + "".join(cell("td", j, _html(c)) for j, c in enumerate(row))
                         + "</tr>")
            detail = b.details[i] if i < len(b.details) else None
            if detail:
                parts.append(f'<tr class="detail"><td colspan="{len(b.align)}">'
                             f"{_html(detail)}</td></tr>")
        parts.append("</tbody></table>")
        return "".join(parts)
    if isinstance(b, Paragraph):
        return f"<p{_cls(cls)}>{_html(b.line)}</p>"
    if isinstance(b, Note):
        return f'<p{_cls("note", "note-" + b.level, cls)}>{_html(b.line)}</p>'
    raise TypeError(f"not a block: {b!r}")


_KINDS = {Fields: "fields", Items: "items", Table: "table", Paragraph: "paragraph", Note: "note"}


def html_blocks(d: Description, key: str, classes: Mapping[str, str] | None = None, *,
                kinds: tuple[str, ...] | None = None) -> str:
    """One section's blocks as HTML, without its wrapper or title: a part of a page that has
    its own headings and layout (the site's run card). `classes` gives a CSS class by kind of
    block ("fields", "items", "table", "paragraph", "note"); `kinds`, only blocks of those
    kinds. Empty when there is no such section."""
    s = d.section(key)
    if s is None:
        return ""
    return "".join(_html_block(b, (classes or {}).get(_KINDS[type(b)])) for b in s.blocks
                   if kinds is None or _KINDS[type(b)] in kinds)


def _html_section(s: Section) -> str:
    title = f"<h3>{for_html(s.title)}</h3>" if s.title else ""
    return (f'<section class="result-{for_html(s.key)}">{title}'
            + "".join(_html_block(b) for b in s.blocks) + "</section>")


def to_html(d: Description) -> str:
    """The description as an HTML fragment (the site's result card); every string escaped."""
    return (f'<article class="result verdict-{for_html(d.verdict)}"><h2>{_html(d.title)}</h2>'
            + "".join(_html_section(s) for s in d.sections) + "</article>")


# -- JSON ----------------------------------------------------------------------------------------

def _json_line(line: Line) -> list[dict[str, Any]]:
    return [{"text": s.text, "kind": s.kind, **({"limit": s.limit} if s.limit else {})}
            for s in line]


def _json_block(b: Block) -> dict[str, Any]:
    if isinstance(b, Fields):
        return {"type": "fields", "rows": [{"label": label, "line": _json_line(line)}
                                           for label, line in b.rows]}
    if isinstance(b, Items):
        return {"type": "items", "lines": [_json_line(x) for x in b.lines]}
    if isinstance(b, Table):
        return {"type": "table", "header": list(b.header) if b.header else None,
                "align": list(b.align),
                "rows": [[_json_line(c) for c in row] for row in b.rows],
                "details": [_json_line(x) if x else None for x in b.details]}
    if isinstance(b, Paragraph):
        return {"type": "paragraph", "line": _json_line(b.line)}
    if isinstance(b, Note):
        return {"type": "note", "level": b.level, "line": _json_line(b.line)}
    raise TypeError(f"not a block: {b!r}")


def to_json(d: Description) -> dict[str, Any]:
    """The description as a JSON document (`format`: arena.result-description/1); its strings
    are as in the result, for the reader to escape."""
    return {"format": DESCRIPTION_FORMAT, "title": _json_line(d.title), "verdict": d.verdict,
            "sections": [{"key": s.key, "title": s.title,
                          "blocks": [_json_block(b) for b in s.blocks]} for s in d.sections]}
