"""What was already tried: every configuration on the board with its outcome, and the indexes
the "tried" pages are built from.

Outcomes: verified; invalid (with the check that failed); error; withdrawn; disqualified;
pending (no run yet); negative (a negative result: a submission file with a `tried:` block,
filed without a run: what was tried and what happened, in its author's words).

The pages are static and filter without JavaScript: tried.html lists everything (paginated),
tried/tag-<tag>.html every configuration with a tag, and tried/arg-<name>.html every
configuration that sets an engine argument, sorted by its value with a value index at the top
(every run with num_speculative_tokens >= 6: open that page, jump to 6, read down). With
JavaScript, each page's filter also takes `name>=value` (=, >=, <=, >, <) and `tag:name`.

Pure: the site model in, rows and indexes out.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping, Sequence

from arena.result import Result
from arena.submission import sha256_json

OUTCOMES = ("verified", "invalid", "error", "withdrawn", "disqualified", "pending", "negative")
MAX_VALUE_LINKS = 120
_SLUG = re.compile(r"[^a-z0-9_.-]+")


@dataclass
class TriedRow:
    submission_id: str
    author: str
    outcome: str  # one of OUTCOMES
    detail: str | None  # the failed check, the withdrawal's reason, the negative's account
    negative_outcome: str | None  # for a negative result: slower, no-gain, ...
    tps: float | None  # its ranked score, or the best any of its runs measured
    config_sha256: str | None
    tags: tuple[str, ...]
    args: dict[str, Any]  # engine arguments, flattened to dotted names
    parent: str | None
    same_as: list[str] = field(default_factory=list)  # other submissions, same configuration

    def to_json(self, page: str) -> dict[str, Any]:
        return {"submission": self.submission_id, "author": self.author,
                "outcome": self.outcome, "detail": self.detail,
                "negative_outcome": self.negative_outcome, "tps": self.tps,
                "config_sha256": self.config_sha256, "tags": list(self.tags),
                "args": self.args, "parent": self.parent, "same_as": self.same_as,
                "page": page}


def flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    if isinstance(value, Mapping):
        for k in value:
            out.update(flatten(value[k], f"{prefix}.{k}" if prefix else str(k)))
    else:
        out[prefix] = value
    return out


def slug(name: str) -> str:
    return _SLUG.sub("-", name.lower()).strip("-")[:80] or "x"


def _failed_check(result: Result, reasons: Sequence[str]) -> str | None:
    if reasons and reasons[0].startswith("maintainer:"):
        return "maintainer"
    for r in result.reasons:
        return r.check
    failed = [c.name for c in result.checks if c.status == "fail"]
    return failed[0] if failed else None


def rows_from_model(model: Any) -> list[TriedRow]:
    """One row per submission of the site model (leaderboard.model.SiteModel), by id."""
    rows: list[TriedRow] = []
    for s in model.submissions.values():
        sub = s.file.submission if s.file else None
        negative = sub.tried if sub is not None else None
        here = [r for r in s.runs if r.here]
        detail = None
        neg_outcome = None
        if negative is not None and not here:
            outcome, detail, neg_outcome = "negative", negative.what_happened, negative.outcome
        elif s.state.state != "active":
            outcome, detail = s.state.state, s.state.reason
        else:
            outcome = s.status
            if outcome == "invalid" and here:
                detail = _failed_check(here[0].result, here[0].reasons)
            elif outcome == "error" and here:
                detail = (here[0].reasons or ("the engine did not produce a measurement",))[0]
        if s.entry is not None:
            tps = s.entry.tps
        else:
            measured = [r.tps for r in here if r.tps is not None]
            tps = max(measured) if measured else (negative.tps if negative else None)
        cfg = s.config
        sha = sub.config_sha256() if sub is not None else (
            here[0].result.submission.config_sha256 if here else
            (sha256_json(cfg) if cfg is not None else None))
        args = flatten(((cfg or {}).get("engine") or {}).get("args") or {})
        rows.append(TriedRow(s.id, s.author, outcome, detail, neg_outcome, tps, sha,
                             tuple(s.tags), args, s.parent_id))
    by_sha: dict[str, list[str]] = {}
    for r in rows:
        if r.config_sha256:
            by_sha.setdefault(r.config_sha256, []).append(r.submission_id)
    for r in rows:
        if r.config_sha256:
            r.same_as = [x for x in by_sha[r.config_sha256] if x != r.submission_id]
    return rows


def _value_key(v: Any) -> tuple[int, float, str]:
    if isinstance(v, bool):
        return (1, float(v), json.dumps(v))
    if isinstance(v, (int, float)):
        return (0, float(v), "")
    return (2, 0.0, json.dumps(v, sort_keys=True, ensure_ascii=False))


def compact(v: Any) -> str:
    return v if isinstance(v, str) else json.dumps(v, sort_keys=True, ensure_ascii=False)


@dataclass(frozen=True)
class ArgIndex:
    name: str
    slug: str
    rows: list[TriedRow]  # sorted by the argument's value, then id
    values: list[tuple[str, int]]  # (the value as shown, index of its first row)


def by_tag(rows: Iterable[TriedRow]) -> dict[str, list[TriedRow]]:
    out: dict[str, list[TriedRow]] = {}
    for r in rows:
        for t in r.tags:
            out.setdefault(t, []).append(r)
    return dict(sorted(out.items()))


def by_arg(rows: Iterable[TriedRow]) -> list[ArgIndex]:
    groups: dict[str, list[TriedRow]] = {}
    for r in rows:
        for k in r.args:
            groups.setdefault(k, []).append(r)
    out = []
    used: set[str] = set()
    for name in sorted(groups):
        g = sorted(groups[name], key=lambda r: (_value_key(r.args[name]), r.submission_id))
        values: list[tuple[str, int]] = []
        last = object()
        for i, r in enumerate(g):
            v = r.args[name]
            if v != last or type(v) is not type(last):
                values.append((compact(v), i))
                last = v
        s = slug(name)
        while s in used:
            s += "-"
        used.add(s)
        out.append(ArgIndex(name, s, g, values))
    return out


def value_links(index: ArgIndex, page_size: int) -> list[tuple[str, str]]:
    """(value, href fragment or page#anchor) for the value index, at most MAX_VALUE_LINKS,
    evenly spread when there are more distinct values."""
    vals = index.values
    if len(vals) > MAX_VALUE_LINKS:
        step = len(vals) / MAX_VALUE_LINKS
        vals = [vals[int(i * step)] for i in range(MAX_VALUE_LINKS)]
    out = []
    for text, i in vals:
        n = i // page_size + 1
        page = f"tried/arg-{index.slug}.html" if n == 1 else f"tried/arg-{index.slug}-{n}.html"
        out.append((text, f"{page}#r{i}"))
    return out


def counts(rows: Iterable[TriedRow]) -> dict[str, int]:
    out = {o: 0 for o in OUTCOMES}
    for r in rows:
        out[r.outcome] += 1
    return out
