"""Looking at a built site the way a reader does: served on localhost, in headless Chromium.

Used by the browser tests and `scripts/screenshots.py`. The browser is Debian's Chromium
(`/usr/bin/chromium`, or $ARENA_CHROMIUM), driven by Playwright's Python package, which talks to
it over the DevTools protocol and never downloads a browser of its own. Every request the page
makes, every console message, every uncaught error and every dialog is recorded, so a test can
say "nothing left localhost, nothing ran that should not".
"""

from __future__ import annotations

import contextlib
import functools
import http.server
import os
import shutil
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

CHROMIUM_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--disable-default-apps", "--disable-extensions", "--mute-audio",
]


def chromium_path() -> str | None:
    found = os.environ.get("ARENA_CHROMIUM") or shutil.which("chromium") or (
        "/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None)
    return found


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, fmt: str, *args: Any) -> None:
        pass


@contextlib.contextmanager
def serve_folder(folder: Path) -> Iterator[str]:
    """Serve `folder` on 127.0.0.1 (a free port) in a thread; yields the base URL."""
    handler = functools.partial(_QuietHandler, directory=str(folder))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@dataclass
class Watch:
    """What one page did while it was open."""

    requests: list[str] = field(default_factory=list)
    console_errors: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)
    dialogs: list[str] = field(default_factory=list)
    navigations: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)

    def attach(self, page: Any) -> None:
        page.on("request", lambda r: self.requests.append(r.url))
        page.on("requestfailed", lambda r: self.failed.append(r.url))
        page.on("console", lambda m: self.console_errors.append(m.text)
                if m.type == "error" else None)
        page.on("pageerror", lambda e: self.page_errors.append(str(e)))

        def on_dialog(d: Any) -> None:
            self.dialogs.append(f"{d.type}: {d.message}")
            d.dismiss()

        page.on("dialog", on_dialog)
        page.on("framenavigated", lambda f: self.navigations.append(f.url)
                if f == page.main_frame else None)


@contextlib.contextmanager
def browser() -> Iterator[Any]:
    """A headless Chromium (Playwright gives each launch a fresh, temporary profile), closed on
    exit. Callers open contexts on it: one per viewport, colour scheme or JavaScript setting."""
    from playwright.sync_api import sync_playwright

    exe = chromium_path()
    if exe is None:
        raise RuntimeError("Chromium is not installed: run scripts/setup-test-tools.sh "
                           "(Debian's chromium package) or set ARENA_CHROMIUM.")
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=exe, headless=True, args=CHROMIUM_FLAGS)
        try:
            yield b
        finally:
            b.close()


def open_page(b: Any, url: str, *, width: int = 1440, scheme: str = "light",
              javascript: bool = True) -> tuple[Any, Any, Watch]:
    """A new context and page at `url`, watched from before the first request.
    Returns (context, page, watch); close the context when done."""
    ctx = b.new_context(viewport={"width": width, "height": 900}, color_scheme=scheme,
                        java_script_enabled=javascript, service_workers="block")
    page = ctx.new_page()
    watch = Watch()
    watch.attach(page)
    page.goto(url, wait_until="load")
    return ctx, page, watch


SHOTS = (
    ("home", "index.html"),
    ("tree", "tree.html"),
    ("submission", None),  # the leader's page, or the first submission's
)
WIDTHS = (375, 1440)


def screenshots(b: Any, base: str, out: Path, submission_page: str,
                widths: tuple[int, ...] = WIDTHS, scheme: str = "light",
                ) -> list[tuple[Path, Watch]]:
    """Full-page screenshots of home, tree and one submission page at each width, in the
    given colour scheme (light or dark)."""
    out.mkdir(parents=True, exist_ok=True)
    made = []
    for width in widths:
        for name, path in SHOTS:
            ctx, page, watch = open_page(b, base + (path or submission_page), width=width,
                                         scheme=scheme)
            target = out / f"{name}-{width}.png"
            page.screenshot(path=str(target), full_page=True)
            ctx.close()
            made.append((target, watch))
    return made
