"""The site's pages, one module per page family, each declaring its pages and their inputs.

    submission  one page per submission (most of the site's pages and bytes)
    ranking     the ranking (page 1 is the home page, with its charts) and the best per author
    lineage     the tree page and its graph
    runs        every run, paged
    tried       what was tried: everything, by tag, by engine argument
    charts      the charts page
    controls    the control runs page
    api         the JSON API, its schemas and its documentation page
    extras      the Atom feed, llms.txt and the 404 page

A family is a function `pages(build) -> list[Page]`. A Page names its file, how to render it,
and its inputs: `key()` gives bytes that change whenever anything the page shows changes
(None: the page shows the whole board, so `build.board_key` is its key); a `dated` page
also shows the build's time, which is then part of its key. The build driver
(leaderboard.site) adds the build's settings and the code and templates that shape pages to
every key, and renders only pages whose key differs from the one recorded with the previous
site. A page's key must cover everything its template reads: a template that starts to show
something new must add it to its page's key (tests/leaderboard/test_incremental.py builds a
site incrementally after each kind of change and compares it byte for byte to a full build).
"""

from __future__ import annotations

import hashlib
import io
import pickle
from dataclasses import dataclass, field
from typing import Any, Callable

import jinja2

from arena.result import Result
from leaderboard.model import SiteModel
from leaderboard.pages.common import Links


@dataclass
class Page:
    path: str  # relative to the site's root, forward slashes
    render: Callable[[], str]  # the file's text
    key: Callable[[], bytes] | None = None  # its inputs' digest; None: the whole board
    html: bool = True  # counted among the report's pages
    dated: bool = False  # it shows the build's time (the home page, the time charts)
    # It shows the build's time only as its leading "generated_at" (the JSON documents): an
    # unchanged one is carried over with that stamp rewritten instead of being rendered.
    stamped: bool = False


@dataclass
class Build:
    """What the families read: the model, the compiled templates, the links and settings,
    and the digest of the whole board (page keys are made of it, or of `digest`)."""

    model: SiteModel
    env: jinja2.Environment
    links: Links
    page_size: int
    runs_page_size: int
    board_key: bytes = b""  # every input of the model (results, verdicts, files, controls)
    _memo: dict[str, Any] = field(default_factory=dict)

    def page(self, template: str, path: str, *, key: Callable[[], bytes] | None = None,
             **ctx: Any) -> Page:
        """A page rendered from `template` with `ctx` (and `root`, the way back up)."""
        env = self.env

        def render() -> str:
            return env.get_template(template).render(root="../" * path.count("/"), **ctx)

        return Page(path, render, key, path.endswith(".html"))

    def lazy(self, name: str, make: Callable[[], Any]) -> Any:
        """`make()`, once per process: what several pages share (a chart) is computed only
        when one of them is rendered."""
        if name not in self._memo:
            self._memo[name] = make()
        return self._memo[name]

    def digest(self, *values: Any) -> bytes:
        """A digest of plain values and model objects, result documents (`Doc`) by their own
        digest (so a page's key does not re-read every figure of its runs)."""
        buf = io.BytesIO()
        _KeyPickler(buf).dump(values)
        return hashlib.blake2b(buf.getvalue(), digest_size=20).digest()


class Doc(dict):  # type: ignore[type-arg]
    """A result document that knows its digest (`key`, of its content): in a page's key it is
    written as that digest, not figure by figure. The build reads every result into one."""

    __slots__ = ("key",)

    def __init__(self, doc: dict, key: bytes):  # type: ignore[type-arg]
        super().__init__(doc)
        self.key = key


def _doc_digest(key: bytes) -> None:  # what a Doc stands for in a key; never called
    raise AssertionError("page keys are digested, never loaded")


class _KeyPickler(pickle.Pickler):
    # A Doc by its digest: looked up by type in C, so the millions of other objects of a
    # board's pages are written without a call into Python each.
    dispatch_table = {Doc: lambda d: (_doc_digest, (d.key,)),
                      # A typed result by its document alone (not by the parts read so far).
                      Result: lambda r: (Result, (r.doc,))}

    def __init__(self, f: io.BytesIO):
        super().__init__(f, protocol=5)
        # No memo: an object met twice is written twice, so the bytes depend on the values
        # alone, not on which objects happen to be shared (that differs between a build that
        # parsed its results and one that read them from the validation cache).
        self.fast = True
