"""The JSON API (leaderboard/api.py makes the documents), its published schemas and the page
that documents them."""

from __future__ import annotations

import json
from typing import Any, Callable

from leaderboard import api
from leaderboard.pages import Build, Page
from leaderboard.pages.common import page_path

DOCS = (
    ("leaderboard", api.LEADERBOARD_FORMAT, "entries", "The ranking, best first; the "
     "per-author view, the Pareto front and the records.", api.leaderboard_doc),
    ("submissions", api.SUBMISSIONS_FORMAT, "submissions", "Every submission: status, "
     "lineage, configuration and the ids of its runs.", api.submissions_doc),
    ("runs", api.RUNS_FORMAT, "runs", "Every run, newest first, with its effective "
     "status, reasons, TPS, PPL and checks.", api.runs_doc),
    ("tried", api.TRIED_FORMAT, "configurations", "Every configuration with its outcome "
     "(the tried pages), engine arguments flattened, identical configurations named.",
     api.tried_doc),
)


def dumps(doc: Any, *, indent: int | None = None) -> str:
    sep = (",", ":") if indent is None else (",", ": ")
    return json.dumps(doc, ensure_ascii=False, indent=indent, separators=sep) + "\n"


def pages(b: Build) -> list[Page]:
    out = []
    schemas = api.schemas(b.model.challenge)  # with the track fields when there are several

    def document(make: Callable[..., Any]) -> Callable[[], str]:
        return lambda: dumps(make(b.model, page_path))

    def schema(name: str) -> Callable[[], str]:
        return lambda: dumps(schemas[name], indent=2)

    for name, _, _, _, make in DOCS:
        out.append(Page(f"api/{name}.json", document(make), html=False, stamped=True))
        # A schema is part of the code: the build's settings key covers it.
        out.append(Page(f"api/schema/{name}.json", schema(name), key=lambda: b"schema",
                        html=False))
    out.append(b.page("api.html.j2", "api/index.html", section="api", docs=[
        dict(name=name, format=fmt, key=key, holds=holds,
             fields=api.field_rows(schemas[name], key))
        for name, fmt, key, holds, _ in DOCS]))
    return out
